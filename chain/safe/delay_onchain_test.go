package safe

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/safe/safesim"
)

// setupExec signs pl with the owners at idx without a review and executes
// it: for the setup steps a station rightly blocks (enabling a module).
func (o *onchain) setupExec(t *testing.T, pl []byte, idx ...int) {
	t.Helper()
	h := common.Hash(o.env.GetTransactionHash(t, o.safe, simTx(t, pl)))
	var parts []OwnerSignature
	for _, i := range idx {
		ok, _ := ParseOwnerKey(o.vault.Keys[i])
		sig, err := SignHash(o.signers[i], ok, h)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, OwnerSignature{Owner: ok.Address, Sig: sig})
	}
	blob, err := EncodeSignatures(parts)
	if err != nil {
		t.Fatal(err)
	}
	if rcpt, err := o.env.ExecTransaction(t, o.env.Deployer, o.safe, simTx(t, pl), blob); err != nil || rcpt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("setup transaction failed: %v", err)
	}
}

// delaySetup is the emergency path on chain: the main Safe S (alice, bob,
// carol, 2 of 3) with the Zodiac Delay modifier D (avatar and target S,
// owner S, cooldown one day, no expiration) enabled as its module, and the
// emergency Safe G (erin, frank, 2 of 2) enabled as D's module.
type delaySetup struct {
	env        *safesim.Env
	main, emer *onchain
	delay      common.Address
	cold       common.Address
}

const delayCooldown = 24 * 60 * 60

func newDelaySetup(t *testing.T, env *safesim.Env) *delaySetup {
	t.Helper()
	d := &delaySetup{env: env, cold: common.HexToAddress("0x00000000000000000000000000000000C01dC01d")}
	d.main = newOnchain(t, env, []string{"alice", "bob", "carol"}, 2)
	d.emer = newOnchain(t, env, []string{"erin", "frank"}, 2)
	env.Fund(t, d.main.safe, big.NewInt(3e18))
	d.delay = env.DeployDelay(t, d.main.safe, d.main.safe, d.main.safe, delayCooldown, 0)
	d.main.setupExec(t, d.main.payload(t, d.main.safe, new(big.Int), call("enableModule(address)", d.delay), OpCall), 0, 1)
	d.main.setupExec(t, d.main.payload(t, d.delay, new(big.Int), call("enableModule(address)", d.emer.safe), OpCall), 0, 1)
	var on bool
	env.Read(t, safesim.NameDelay, d.delay, "isModuleEnabled", &on, d.emer.safe)
	if !on {
		t.Fatal("G is not a module of D")
	}
	acc := *d.emer.vault.Account
	acc.Delay = &chain.Delay{Address: d.delay.Hex(), Avatar: d.main.safe.Hex()}
	d.emer.vault.Account = &acc
	return d
}

// queue has G's owners sign and execute D.execTransactionFromModule(to,
// value, data, call): the transaction enters D's queue.
func (d *delaySetup) queue(t *testing.T, to common.Address, value *big.Int, data []byte) *chain.Review {
	t.Helper()
	inner := call("execTransactionFromModule(address,uint256,bytes,uint8)", to, value, data, uint8(0))
	pl := d.emer.payload(t, d.delay, new(big.Int), inner, OpCall)
	r, err := Adapter{}.Review(context.Background(), d.emer.vault, pl)
	if err != nil {
		t.Fatal(err)
	}
	if !hasFlag(r, FlagDelayQueued, chain.Warn) || !r.Effects.Has(chain.ActionDelayed) {
		t.Fatalf("not reviewed as queued: flags %v, effects %+v", r.Flags, r.Effects)
	}
	d.emer.roundTrip(t, pl, 0, 1)
	return r
}

// executeNext calls D.executeNextTx from an account that is nobody's
// owner.
func (d *delaySetup) executeNext(t *testing.T, to common.Address, value *big.Int, data []byte) error {
	t.Helper()
	rcpt, err := d.env.Transact(t, safesim.NameDelay, d.delay, "executeNextTx", to, value, data, uint8(0))
	if err == nil && rcpt.Status != types.ReceiptStatusSuccessful {
		return errStatus
	}
	return err
}

var errStatus = errorString("reverted")

type errorString string

func (e errorString) Error() string { return string(e) }

// TestOnChainEmergencyMoveThroughDelay: the emergency group moves
// everything S holds to the cold vault through the Delay modifier; it
// cannot execute before the cooldown; anyone can after it; and S's
// owners veto a queued move with setTxNonce.
func TestOnChainEmergencyMoveThroughDelay(t *testing.T) {
	dir := safesim.Artifacts(t)
	for _, ver := range onchainVersions {
		t.Run(ver, func(t *testing.T) {
			env := safesim.New(t, dir, ver)
			d := newDelaySetup(t, env)
			all := env.Balance(t, d.main.safe)

			// G queues the move, reviewed as S's transfer to the cold
			// vault; before the cooldown it does not run.
			r := d.queue(t, d.cold, all, nil)
			checkEffects(t, r.Effects, []chain.Transfer{{Asset: "ETH", To: d.cold.Hex(), Amount: all}}, []chain.Action{chain.ActionDelayed}, nil)
			if !strings.Contains(strings.Join(r.Lines, "\n"), "QUEUED in Delay modifier "+d.delay.Hex()) {
				t.Fatalf("review does not show the queue:\n%s", strings.Join(r.Lines, "\n"))
			}
			if err := d.executeNext(t, d.cold, all, nil); err == nil || !strings.Contains(err.Error(), "cooldown") {
				t.Fatalf("executed before the cooldown: %v", err)
			}
			env.AdjustTime(t, (delayCooldown+1)*time.Second)
			if err := d.executeNext(t, d.cold, all, nil); err != nil {
				t.Fatalf("executeNextTx after the cooldown: %v", err)
			}
			if got := env.Balance(t, d.cold); got.Cmp(all) != 0 || env.Balance(t, d.main.safe).Sign() != 0 {
				t.Fatalf("cold vault has %s of %s", got, all)
			}

			// Veto: G queues a threshold change of S; S's owners skip it.
			env.Fund(t, d.main.safe, big.NewInt(1e18))
			pause := call("changeThreshold(uint256)", big.NewInt(3))
			r = d.queue(t, d.main.safe, new(big.Int), pause)
			checkEffects(t, r.Effects, nil, []chain.Action{chain.ActionDelayed, chain.ActionThresholdChange}, nil)
			if !hasFlag(r, FlagThresholdChange, chain.Warn) {
				t.Fatalf("flags %v", r.Flags)
			}
			var queued *big.Int
			env.Read(t, safesim.NameDelay, d.delay, "queueNonce", &queued)
			d.main.roundTrip(t, d.main.payload(t, d.delay, new(big.Int), call("setTxNonce(uint256)", queued), OpCall), 0, 2)
			env.AdjustTime(t, (delayCooldown+1)*time.Second)
			if err := d.executeNext(t, d.main.safe, new(big.Int), pause); err == nil {
				t.Fatal("a vetoed transaction executed")
			}
			if env.Threshold(t, d.main.safe) != 2 {
				t.Fatal("the vetoed threshold change took effect")
			}

			// The pause itself, queued again and not vetoed, runs.
			d.queue(t, d.main.safe, new(big.Int), pause)
			env.AdjustTime(t, (delayCooldown+1)*time.Second)
			if err := d.executeNext(t, d.main.safe, new(big.Int), pause); err != nil {
				t.Fatalf("pause: %v", err)
			}
			if env.Threshold(t, d.main.safe) != 3 {
				t.Fatal("threshold not raised")
			}
			// Only G is D's module: an owner of S cannot queue on D.
			rcpt, _ := env.Transact(t, safesim.NameDelay, d.delay, "execTransactionFromModule", d.cold, big.NewInt(1), []byte{}, uint8(0))
			if rcpt.Status == types.ReceiptStatusSuccessful {
				t.Fatal("an account that is not D's module queued a transaction")
			}
		})
	}
}

// TestDelayModuleTxRefusedUnlessToTheListedModifier: an emergency Safe's
// module transaction to another contract (a look-alike modifier with no
// cooldown, or the main Safe directly) is refused; a queued delegatecall
// or owner change of the avatar is refused too.
func TestDelayModuleTxRefusedUnlessToTheListedModifier(t *testing.T) {
	f := newFixture(t, "1.4.1")
	delay, avatar := common.HexToAddress("0x00000000000000000000000000000000000De1a7"), common.HexToAddress("0x00000000000000000000000000000000000A7A7A")
	f.vault.Account.Delay = &chain.Delay{Address: delay.Hex(), Avatar: avatar.Hex()}
	cold := common.HexToAddress("0x00000000000000000000000000000000C01dC01d")
	module := func(to common.Address, op uint8, data []byte) []byte {
		return call("execTransactionFromModule(address,uint256,bytes,uint8)", to, big.NewInt(5), data, op)
	}
	cases := []struct {
		name, to string
		data     []byte
		want     string
	}{
		{"a look-alike modifier", "0x0000000000000000000000000000000000BADBAD", module(cold, 0, nil), FlagDelayUnlisted},
		{"the avatar directly", avatar.Hex(), module(cold, 0, nil), FlagDelayUnlisted},
		{"a queued delegatecall", delay.Hex(), module(cold, 1, nil), FlagDelegatecallUntrusted},
		{"a queued owner swap", delay.Hex(), module(avatar, 0, call("swapOwner(address,address,address)", Sentinel, cold, cold)), FlagOwnerChange},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pl := txJSON(c.to, 0, c.data, "")
			r := review(t, f, pl)
			if !hasFlag(r, c.want, chain.Block) {
				t.Fatalf("flags %v", r.Flags)
			}
			if _, err := (Adapter{}).Sign(f.vault, pl, f.vault.Keys[0], f.signers[0]); err == nil {
				t.Fatal("signed")
			}
		})
	}
	r := review(t, f, txJSON(delay.Hex(), 0, module(cold, 0, nil), ""))
	checkEffects(t, r.Effects, []chain.Transfer{{Asset: "ETH", To: cold.Hex(), Amount: big.NewInt(5)}}, []chain.Action{chain.ActionDelayed}, nil)
	// On a vault with no emergency path, a module transaction is a
	// contract call, and a warning says what it would run.
	plain := newFixture(t, "1.4.1")
	r = review(t, plain, txJSON(delay.Hex(), 0, module(cold, 0, nil), ""))
	if !hasFlag(r, FlagModuleTransaction, chain.Warn) || r.Effects.Has(chain.ActionDelayed) || !r.Effects.Has(chain.ActionContractCall) {
		t.Fatalf("flags %v, effects %+v", r.Flags, r.Effects)
	}
}
