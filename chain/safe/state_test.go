package safe

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/safe/gethdev"
	"github.com/airlock-vault/airlock/chain/safe/safesim"
	"github.com/airlock-vault/airlock/chain/safe/stateproof"
)

// stateNode is a 2-of-3 Safe of version on a geth --dev node, funded,
// with two ERC-20 tokens it holds.
type stateNode struct {
	node           *gethdev.Node
	o              *onchain
	token1, token2 common.Address
}

func newStateNode(t testing.TB, version string) *stateNode {
	t.Helper()
	node := gethdev.Start(t, gethdev.Options{})
	deployer, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	node.Fund(t, crypto.PubkeyToAddress(deployer.PublicKey), new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18)))
	env := safesim.OnNode(t, safesim.Artifacts(t), version, node.Client, deployer)
	o := newOnchain(t, env, []string{"alice", "bob", "carol"}, 2)
	env.Fund(t, o.safe, big.NewInt(1e18))
	return &stateNode{node: node, o: o, token1: env.DeployERC20(t, o.safe, big.NewInt(1000)), token2: env.DeployERC20(t, o.safe, big.NewInt(1000))}
}

// batch is a MultiSendCallOnly batch paying both tokens: three call
// targets (the library and two tokens).
func (s *stateNode) batch(t testing.TB) []byte {
	to := common.HexToAddress("0x000000000000000000000000000000000000dEaD")
	b := PackMultiSend([]BatchCall{
		{To: s.token1, Value: new(big.Int), Data: call("transfer(address,uint256)", to, big.NewInt(5))},
		{To: s.token2, Value: new(big.Int), Data: call("transfer(address,uint256)", to, big.NewInt(7))},
	})
	return s.o.payloadTB(t, s.o.env.MultiSendCallOnly, new(big.Int), b, 1, nil)
}

// exec runs a Safe transaction signed by the first two owners, outside
// airlock (as another owner's wallet would).
func (s *stateNode) exec(t testing.TB, to common.Address, data []byte) {
	t.Helper()
	env, o := s.o.env, s.o
	tx := safesim.SafeTx{To: to, Value: new(big.Int), Data: data, Nonce: env.Nonce(t, o.safe)}
	h := env.GetTransactionHash(t, o.safe, tx)
	signers := []keySigner{o.signers[0], o.signers[1]}
	sort.Slice(signers, func(i, j int) bool {
		return bytes.Compare(crypto.PubkeyToAddress(signers[i].k.PublicKey).Bytes(), crypto.PubkeyToAddress(signers[j].k.PublicKey).Bytes()) < 0
	})
	var sigs []byte
	for _, k := range signers {
		sig, err := crypto.Sign(h[:], k.k)
		if err != nil {
			t.Fatal(err)
		}
		sig[64] += 27
		sigs = append(sigs, sig...)
	}
	rcpt, err := env.ExecTransaction(t, s.node.DevKey, o.safe, tx, sigs)
	if err != nil || rcpt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("execTransaction: %v", err)
	}
}

func (s *stateNode) attest(t testing.TB, v chain.Vault, pl []byte) []byte {
	t.Helper()
	att, err := Attest(context.Background(), s.node.URL, v, pl, nil)
	if err != nil {
		t.Fatal(err)
	}
	return att
}

func reviewState(t testing.TB, v chain.Vault, pl, state []byte) *chain.Review {
	t.Helper()
	r, err := Adapter{}.Review(context.Background(), v, pl)
	if err != nil {
		t.Fatal(err)
	}
	if err := (Adapter{}).ReviewState(v, pl, state, time.Now(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func stateFlags(r *chain.Review) []chain.Flag {
	var out []chain.Flag
	for _, f := range r.Flags {
		if strings.HasPrefix(f.Code, "state-") {
			out = append(out, f)
		}
	}
	return out
}

func flagged(r *chain.Review, code string) (chain.Flag, bool) {
	for _, f := range r.Flags {
		if f.Code == code {
			return f, true
		}
	}
	return chain.Flag{}, false
}

// TestStateProofOnNode runs every station check of an attested state
// against proofs a real geth --dev node gave, for each Safe layout.
func TestStateProofOnNode(t *testing.T) {
	s := newStateNode(t, "1.4.1")
	v, pl := s.o.vault, s.batch(t)

	t.Run("honest state verifies and matches the vault", func(t *testing.T) {
		r := reviewState(t, v, pl, s.attest(t, v, pl))
		if f := stateFlags(r); len(f) != 0 {
			t.Fatalf("state flags on an honest Safe: %v\n%s", f, strings.Join(r.Lines, "\n"))
		}
		d := r.Details.(Details).State
		if d == nil || len(d.Owners) != 3 || d.Threshold != 2 || len(d.Modules) != 0 || d.Nonce != "0" || d.FallbackHandler != s.o.env.FallbackHandler.Hex() {
			t.Fatalf("state details %+v", d)
		}
		if len(d.Accounts) != 5 { // MultiSendCallOnly, two tokens, singleton, handler
			t.Fatalf("accounts proven: %v", d.Accounts)
		}
	})

	t.Run("no attestation warns, and blocks where the policy requires one", func(t *testing.T) {
		r := reviewState(t, v, pl, nil)
		if f, ok := flagged(r, FlagStateUnattested); !ok || f.Severity != chain.Warn {
			t.Fatalf("flags %v", r.Flags)
		}
		req := v
		acc := *v.Account
		acc.Severities = map[string]chain.Severity{FlagStateUnattested: chain.Block}
		req.Account = &acc
		if f, ok := flagged(reviewState(t, req, pl, nil), FlagStateUnattested); !ok || f.Severity != chain.Block {
			t.Fatalf("require_state_proof: %v", f)
		}
	})

	t.Run("a forged proof cannot be waved through by the policy", func(t *testing.T) {
		acc := *v.Account
		acc.Severities = map[string]chain.Severity{FlagStateProofInvalid: chain.Warn}
		if _, err := (Adapter{}).PrepareVault(chain.Vault{Name: v.Name, Chain: v.Chain, Threshold: v.Threshold, Keys: v.Keys, Account: &acc}); err == nil {
			t.Fatal("a policy lowered state-proof-invalid")
		}
	})

	honest := s.attest(t, v, pl)
	forge := func(t *testing.T, f func(a *stateproof.Attestation)) *chain.Review {
		a, err := stateproof.Decode(honest)
		if err != nil {
			t.Fatal(err)
		}
		f(a)
		b, err := a.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return reviewState(t, v, pl, b)
	}
	slot := func(a *stateproof.Attestation, k common.Hash) *stateproof.SlotProof {
		for i := range a.Safe.Slots {
			if common.BytesToHash(a.Safe.Slots[i].Slot) == k {
				return &a.Safe.Slots[i]
			}
		}
		t.Fatalf("no proof of slot %s", k.Hex())
		return nil
	}
	refused := func(t *testing.T, r *chain.Review, want string) {
		t.Helper()
		f, ok := flagged(r, FlagStateProofInvalid)
		if !ok || f.Severity != chain.Block || !strings.Contains(f.Message, want) {
			t.Fatalf("want state-proof-invalid with %q, flags %v", want, r.Flags)
		}
		if r.Details.(Details).State != nil {
			t.Fatal("a refused state is shown")
		}
	}
	t.Run("forged: the threshold's value changed in its leaf", func(t *testing.T) {
		refused(t, forge(t, func(a *stateproof.Attestation) {
			p := slot(a, stateproof.SlotThreshold)
			leaf := p.Nodes[len(p.Nodes)-1]
			if leaf[len(leaf)-1] != 2 {
				t.Fatalf("threshold leaf ends %x", leaf[len(leaf)-1])
			}
			leaf[len(leaf)-1] = 1
		}), "threshold")
	})
	t.Run("forged: a node dropped from the owners list's proof", func(t *testing.T) {
		refused(t, forge(t, func(a *stateproof.Attestation) {
			p := slot(a, stateproof.MappingSlot(stateproof.Sentinel, stateproof.SlotOwners))
			if len(p.Nodes) < 2 {
				t.Fatalf("proof of %d nodes", len(p.Nodes))
			}
			p.Nodes = append(p.Nodes[:1:1], p.Nodes[2:]...)
		}), "owners list")
	})
	t.Run("forged: a node from another proof", func(t *testing.T) {
		refused(t, forge(t, func(a *stateproof.Attestation) {
			// The modules list's leaf swapped for the nonce's: a real
			// node of this very trie, on another path.
			mods := slot(a, stateproof.MappingSlot(stateproof.Sentinel, stateproof.SlotModules))
			other := slot(a, stateproof.SlotNonce)
			if last := other.Nodes[len(other.Nodes)-1]; !bytes.Equal(mods.Nodes[len(mods.Nodes)-1], last) {
				mods.Nodes[len(mods.Nodes)-1] = last
				return
			}
			t.Fatal("the proofs share every node")
		}), "modules list")
	})
	t.Run("forged: the module list's proof left out", func(t *testing.T) {
		refused(t, forge(t, func(a *stateproof.Attestation) {
			k := stateproof.MappingSlot(stateproof.Sentinel, stateproof.SlotModules)
			var keep []stateproof.SlotProof
			for _, p := range a.Safe.Slots {
				if common.BytesToHash(p.Slot) != k {
					keep = append(keep, p)
				}
			}
			a.Safe.Slots = keep
		}), "no storage proof for modules list")
	})
	t.Run("forged: a call target's account proof left out", func(t *testing.T) {
		refused(t, forge(t, func(a *stateproof.Attestation) {
			var keep []stateproof.Proof
			for _, p := range a.Accounts {
				if common.BytesToAddress(p.Address) != s.token2 {
					keep = append(keep, p)
				}
			}
			a.Accounts = keep
		}), "no account proof for a call target "+s.token2.Hex())
	})
	t.Run("forged: a header whose hash is not the block's", func(t *testing.T) {
		refused(t, forge(t, func(a *stateproof.Attestation) {
			h, err := stateproof.DecodeHeader(a.Header)
			if err != nil {
				t.Fatal(err)
			}
			h.Root = common.HexToHash("0x1234")
			if a.Header, err = rlp.EncodeToBytes(h); err != nil {
				t.Fatal(err)
			}
		}), "the header was altered")
		a, _ := stateproof.Decode(honest)
		a.Header[len(a.Header)-1] ^= 1
		if _, err := stateproof.Verify(a, v.Account.ChainID, s.o.safe, "1.4.1", nil); !errors.Is(err, stateproof.ErrHeader) {
			t.Fatalf("altered header: %v", err)
		}
	})
	t.Run("forged: another chain's state", func(t *testing.T) {
		refused(t, forge(t, func(a *stateproof.Attestation) { a.ChainID = 1 }), "chain 1")
	})

	t.Run("a pinned target whose code differs on chain blocks", func(t *testing.T) {
		pv := v
		acc := *v.Account
		acc.Trusted = append(append([]chain.Trusted{}, acc.Trusted...), chain.Trusted{Name: "Token one", Address: s.token1.Hex(), CodeHash: common.HexToHash("0xbad").Hex()})
		pv.Account = &acc
		r := reviewState(t, pv, pl, s.attest(t, pv, pl))
		if f, ok := flagged(r, FlagStateTargetCode); !ok || f.Severity != chain.Block || !strings.Contains(f.Message, s.token1.Hex()) {
			t.Fatalf("flags %v", r.Flags)
		}
	})

	// The Safe gains a module after the first proposal was made: the
	// first attestation still shows the state it was made at, the next
	// proposal's shows the module, and the station blocks it.
	t.Run("a Safe that gained a module after the proposal is flagged", func(t *testing.T) {
		before := s.attest(t, v, pl)
		module := common.HexToAddress("0x00000000000000000000000000000000000C0DE5")
		s.exec(t, s.o.safe, call("enableModule(address)", module))

		if f := stateFlags(reviewState(t, v, pl, before)); len(f) != 0 {
			t.Fatalf("the earlier attestation: %v", f)
		}
		// A coordinator who hides the module behind that older block in
		// a proposal made two hours later: refused as stale.
		r0, err := Adapter{}.Review(context.Background(), v, pl)
		if err != nil {
			t.Fatal(err)
		}
		if err := (Adapter{}).ReviewState(v, pl, before, time.Now().Add(2*time.Hour), r0); err != nil {
			t.Fatal(err)
		}
		if f, ok := flagged(r0, FlagStateStale); !ok || f.Severity != chain.Block {
			t.Fatalf("an old block: %v", r0.Flags)
		}
		next := s.batch(t) // nonce 1 now
		r := reviewState(t, v, next, s.attest(t, v, next))
		f, ok := flagged(r, FlagStateModule)
		if !ok || f.Severity != chain.Block || !strings.Contains(f.Message, module.Hex()) {
			t.Fatalf("flags %v", r.Flags)
		}
		if len(r.Blocking()) == 0 {
			t.Fatal("nothing blocks")
		}
		// A module the policy expects (an emergency path's Delay) passes.
		mv := v
		macc := *v.Account
		macc.Modules = []string{module.Hex()}
		mv.Account = &macc
		if f, ok := flagged(reviewState(t, mv, next, s.attest(t, mv, next)), FlagStateModule); ok {
			t.Fatalf("an expected module flagged: %v", f)
		}
		if d := r.Details.(Details).State; len(d.Modules) != 1 || d.Modules[0] != module.Hex() || d.Nonce != "1" {
			t.Fatalf("state %+v", d)
		}
		// The first proposal, attested again now: its nonce was used.
		if f, ok := flagged(reviewState(t, v, pl, s.attest(t, v, pl)), FlagStateNonceUsed); !ok || f.Severity != chain.Block {
			t.Fatalf("nonce used: %v", f)
		}
	})

	t.Run("a nonce ahead of the chain is a gap", func(t *testing.T) {
		ahead := s.o.payloadTB(t, s.token1, new(big.Int), call("transfer(address,uint256)", common.HexToAddress("0xdead"), big.NewInt(1)), 0, big.NewInt(5))
		r := reviewState(t, v, ahead, s.attest(t, v, ahead))
		if f, ok := flagged(r, FlagStateNonceGap); !ok || f.Severity != chain.Warn || !strings.Contains(f.Message, "4 earlier") {
			t.Fatalf("flags %v", r.Flags)
		}
	})

	t.Run("an owner added outside airlock is flagged", func(t *testing.T) {
		stranger := common.HexToAddress("0x000000000000000000000000000000000000bEEF")
		s.exec(t, s.o.safe, call("addOwnerWithThreshold(address,uint256)", stranger, big.NewInt(2)))
		next := s.batch(t)
		r := reviewState(t, v, next, s.attest(t, v, next))
		if f, ok := flagged(r, FlagStateOwners); !ok || !strings.Contains(f.Message, stranger.Hex()) {
			t.Fatalf("flags %v", r.Flags)
		}
	})
}

// TestStateProofLayouts: the older layout (no guard slot) and the newest
// (module guard) verify on real Safes.
func TestStateProofLayouts(t *testing.T) {
	node := gethdev.Start(t, gethdev.Options{})
	for _, version := range []string{"1.3.0", "1.5.0"} {
		deployer, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		node.Fund(t, crypto.PubkeyToAddress(deployer.PublicKey), new(big.Int).Mul(big.NewInt(100), big.NewInt(1e18)))
		env := safesim.OnNode(t, safesim.Artifacts(t), version, node.Client, deployer)
		o := newOnchain(t, env, []string{"dan", "erin"}, 1)
		pl := o.payloadTB(t, common.HexToAddress("0xdead"), big.NewInt(0), nil, 0, nil)
		att, err := Attest(context.Background(), node.URL, o.vault, pl, nil)
		if err != nil {
			t.Fatalf("%s: %v", version, err)
		}
		r := reviewState(t, o.vault, pl, att)
		if f := stateFlags(r); len(f) != 0 {
			t.Fatalf("%s: %v\n%s", version, f, strings.Join(r.Lines, "\n"))
		}
		// A proof of a layout the Safe does not have is refused: 1.3.0's
		// attestation lacks the module guard slot 1.5.0 reads.
		if version == "1.3.0" {
			a, _ := stateproof.Decode(att)
			if _, err := stateproof.Verify(a, env.ChainID.Uint64(), o.safe, "1.5.0", nil); err == nil || !strings.Contains(err.Error(), "module guard") {
				t.Fatalf("1.3.0 proofs read as 1.5.0: %v", err)
			}
		}
	}
}
