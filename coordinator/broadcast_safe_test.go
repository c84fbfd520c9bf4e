package coordinator_test

import (
	"context"
	gocrypto "crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/chain/safe/gethdev"
	"github.com/airlock-vault/airlock/chain/safe/safesim"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
)

// onGeth is a quorum whose Safe vaults live on a real geth --dev node,
// with one Safe version's contracts deployed from their npm artifacts. The
// vaults' owners are external wallets whose keys the test holds (dave,
// erin, frank); oldie owns the rotating Safe on chain but is in no
// policy.
//
//	treasury  Safe A, owners dave erin frank, 2 of 3; pins the real MultiSendCallOnly
//	rotating  Safe B, owners dave erin oldie on chain, the policy says dave erin frank
//	forged    Safe C, owners dave erin frank; pins MultiSendCallOnly's code hash at
//	          an address whose code is something else
//	mainnet   Safe A's address on chain 1
type onGeth struct {
	node                     *gethdev.Node
	env                      *safesim.Env
	q                        *quorum.Quorum
	executor                 *ecdsa.PrivateKey
	dave, erin, frank, oldie *externalOwner
	a, b, c, forgedLib       common.Address
}

func newOnGeth(t *testing.T, version string) *onGeth {
	t.Helper()
	g := &onGeth{node: gethdev.Start(t, gethdev.Options{})}
	deployer, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	g.node.Fund(t, crypto.PubkeyToAddress(deployer.PublicKey), ether(1000))
	g.env = safesim.OnNode(t, safesim.Artifacts(t), version, g.node.Client, deployer)
	if g.executor, err = crypto.GenerateKey(); err != nil {
		t.Fatal(err)
	}
	g.node.Fund(t, crypto.PubkeyToAddress(g.executor.PublicKey), ether(10))
	g.dave, g.erin, g.frank, g.oldie = newExternalOwner(t, "dave's ledger"), newExternalOwner(t, "erin's keystone"), newExternalOwner(t, "frank's ledger"), newExternalOwner(t, "oldie's lost phone")
	g.a = g.env.CreateSafe(t, []common.Address{g.dave.addr, g.erin.addr, g.frank.addr}, 2)
	g.b = g.env.CreateSafe(t, []common.Address{g.dave.addr, g.erin.addr, g.oldie.addr}, 2)
	g.c = g.env.CreateSafe(t, []common.Address{g.dave.addr, g.erin.addr, g.frank.addr}, 2)
	for _, s := range []common.Address{g.a, g.b, g.c} {
		g.env.Fund(t, s, ether(2))
	}
	code, err := g.node.Client.CodeAt(context.Background(), g.env.MultiSendCallOnly, nil)
	if err != nil || len(code) == 0 {
		t.Fatalf("MultiSendCallOnly: %v", err)
	}
	msco := crypto.Keccak256Hash(code).Hex()
	// The forged library: MultiSend's code (a batch library that can
	// delegatecall) where the policy pins MultiSendCallOnly's hash.
	other, err := g.node.Client.CodeAt(context.Background(), g.env.MultiSend, nil)
	if err != nil || len(other) == 0 {
		t.Fatalf("MultiSend: %v", err)
	}
	g.forgedLib = g.env.DeployCode(t, other)

	var cosigners []gocrypto.Signer
	person := func(name, device, model string, o *externalOwner) string {
		pub, priv, _ := ed25519.GenerateKey(strings.NewReader(strings.Repeat(name, 32)))
		cosigners = append(cosigners, priv)
		return fmt.Sprintf("  - id: %s\n    name: %s\n    identity: %s\n    devices:\n      - id: %s\n        kind: external\n        vendor: %s\n        model: %s\n        ethereum: \"%s\"\n",
			name, name, policy.EncodeIdentity(pub), device, strings.Fields(model)[0], model, o.addr.Hex())
	}
	rules := person("dave", "ledger", "Ledger Nano X", g.dave) + person("erin", "keystone", "Keystone 3 Pro", g.erin) + person("frank", "ledger", "Ledger Flex", g.frank)
	vault := func(name string, safeAddr common.Address, chainID uint64, lib, hash string) string {
		return fmt.Sprintf(`  - name: %s
    chain: ethereum
    threshold: 2
    signers: [dave/ledger, erin/keystone, frank/ledger]
    safe:
      address: "%s"
      chain_id: %d
      version: "%s"
      trusted:
        - name: MultiSendCallOnly
          address: "%s"
          code_hash: "%s"
`, name, safeAddr.Hex(), chainID, version, lib, hash)
	}
	mscoAddr := g.env.MultiSendCallOnly.Hex()
	g.q = quorum.New(t, quorum.Options{Rules: rules, Cosigners: cosigners, Vaults: "vaults:\n" +
		vault("treasury", g.a, 1337, mscoAddr, msco) +
		vault("rotating", g.b, 1337, mscoAddr, msco) +
		vault("forged", g.c, 1337, g.forgedLib.Hex(), msco) +
		vault("mainnet", g.a, 1, mscoAddr, msco)})
	return g
}

func ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(1e18)) }

func safeTxJSON(to common.Address, value *big.Int, data []byte, op uint8, safeTxGas int64, nonce uint64) []byte {
	return fmt.Appendf(nil, `{"to":"%s","value":"%s","data":"0x%s","operation":%d,"safeTxGas":"%d","baseGas":"0","gasPrice":"0","gasToken":"0x0000000000000000000000000000000000000000","refundReceiver":"0x0000000000000000000000000000000000000000","nonce":%d}`,
		to.Hex(), value, hex.EncodeToString(data), op, safeTxGas, nonce)
}

// finalized proposes payload on vault, collects the owners' EIP-712
// signatures as their wallets return them, and finalizes; it returns the
// proposal's id.
func (g *onGeth) finalized(t *testing.T, vault string, payload []byte, owners ...*externalOwner) string {
	t.Helper()
	ctx := context.Background()
	pe, rv, err := g.q.Coord.Propose(ctx, coordinator.ProposeParams{Vault: vault, SafeTx: payload, Intent: "on geth"}, g.q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	h := common.HexToHash(rv.TxID)
	for _, o := range owners {
		if _, err := g.q.Coord.CollectAnyFor(ctx, pe.IDHex(), []byte("0x"+hex.EncodeToString(o.sign(t, h))), func() (keys.Identity, error) { return g.q.CoordKeys.Identity, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.q.Coord.Finalize(ctx, pe.IDHex(), g.q.CoordKeys.Identity); err != nil {
		t.Fatal(err)
	}
	return pe.IDHex()
}

func (g *onGeth) broadcast(id string) (*coordinator.SafeSent, error) {
	return g.q.Coord.BroadcastSafe(context.Background(), id, nil, coordinator.EthNode{URL: g.node.URL}, coordinator.KeyExecutor{Key: g.executor})
}

// state is the proposal's state and its broadcast audit entries.
func (g *onGeth) state(t *testing.T, id string) (proposal.State, []audit.Event) {
	t.Helper()
	ctx := context.Background()
	rows, err := g.q.Coord.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var st proposal.State
	for _, r := range rows {
		if r.ID == id {
			st = r.State
		}
	}
	var evs []audit.Event
	if err := g.q.Coord.WS.AuditLog(ctx, func(l *audit.Log) error {
		es, err := l.Entries()
		for _, e := range es {
			if e.Event.Subject == id && (e.Event.Kind == "proposal.broadcast" || e.Event.Kind == "transaction.broadcast") {
				evs = append(evs, e.Event)
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return st, evs
}

// wantNothingRecorded: the proposal is still finalized, with no
// broadcast entry in the audit log.
func (g *onGeth) wantNothingRecorded(t *testing.T, id string) {
	t.Helper()
	if st, evs := g.state(t, id); st != proposal.StateFinalized || len(evs) != 0 {
		t.Fatalf("after a failed broadcast the proposal is %s with broadcast entries %v", st, evs)
	}
}

func (g *onGeth) executorNonce(t *testing.T) uint64 {
	n, err := g.node.Client.NonceAt(context.Background(), crypto.PubkeyToAddress(g.executor.PublicKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var (
	erc20ABI, _ = abi.JSON(strings.NewReader(`[{"type":"function","name":"transfer","inputs":[{"name":"to","type":"address"},{"name":"amount","type":"uint256"}],"outputs":[{"type":"bool"}]}]`))
)

// TestSafeBroadcastOnGeth: finalized Safe proposals executed through
// BroadcastSafe on a real geth --dev node: a transfer, an ERC-20 batch
// through the pinned MultiSendCallOnly and an owner swap execute and are
// recorded (state broadcast, one audit entry with the transaction hash
// and block); a proposal whose signer is no owner on chain reverts with
// GS026 before anything is sent; a pinned library whose code on chain is
// other code, a node on another chain and a spent nonce are refused;
// an inner call that fails is reported as ExecutionFailure. Nothing is
// recorded on any failure. Safe 1.3.0 (whose events do not index the
// safeTxHash), 1.4.1 and 1.5.0.
func TestSafeBroadcastOnGeth(t *testing.T) {
	for _, v := range []string{"1.3.0", "1.4.1", "1.5.0"} {
		t.Run(v, func(t *testing.T) { safeBroadcastOnGeth(t, v) })
	}
}

func safeBroadcastOnGeth(t *testing.T, version string) {
	g := newOnGeth(t, version)
	ctx := context.Background()
	dest := common.HexToAddress("0x000000000000000000000000000000000000dEaD")

	t.Run("transfer", func(t *testing.T) {
		id := g.finalized(t, "treasury", safeTxJSON(dest, big.NewInt(1e17), nil, 0, 0, 0), g.dave, g.frank)
		before := g.node.Balance(t, dest)
		sent, err := g.broadcast(id)
		if err != nil {
			t.Fatal(err)
		}
		if got := new(big.Int).Sub(g.node.Balance(t, dest), before); got.Cmp(big.NewInt(1e17)) != 0 {
			t.Fatalf("the recipient got %s wei", got)
		}
		if n := g.env.Nonce(t, g.a); n.Cmp(big.NewInt(1)) != 0 {
			t.Fatalf("Safe nonce %s after the transfer", n)
		}
		rcpt, err := g.node.Client.TransactionReceipt(ctx, common.HexToHash(sent.TxHash))
		if err != nil || rcpt.BlockNumber.Uint64() != sent.Block || rcpt.Type != 2 {
			t.Fatalf("receipt %+v (%v), reported block %d", rcpt, err, sent.Block)
		}
		st, evs := g.state(t, id)
		if st != proposal.StateBroadcast || len(evs) != 1 || evs[0].Detail["txid"] != sent.TxHash ||
			evs[0].Detail["block"] != fmt.Sprint(sent.Block) || evs[0].Detail["node"] != g.node.URL {
			t.Fatalf("recorded: state %s, entries %v; sent %+v", st, evs, sent)
		}
		if !slices.ContainsFunc(sent.Checked, func(s string) bool { return strings.HasPrefix(s, "Safe nonce 0") }) {
			t.Errorf("checks reported: %v", sent.Checked)
		}
		// Again: the nonce moved on; refused, nothing new recorded.
		if _, err := g.broadcast(id); !errors.Is(err, coordinator.ErrSafeNonce) {
			t.Fatalf("a second broadcast of an executed transaction: %v", err)
		}
		if _, evs := g.state(t, id); len(evs) != 1 {
			t.Fatalf("the refused second broadcast was recorded: %v", evs)
		}
	})

	token := g.env.DeployERC20(t, g.a, big.NewInt(1000))
	t.Run("erc20 batch through MultiSendCallOnly", func(t *testing.T) {
		x, y := common.HexToAddress("0x00000000000000000000000000000000000000a1"), common.HexToAddress("0x00000000000000000000000000000000000000a2")
		t1, _ := erc20ABI.Pack("transfer", x, big.NewInt(100))
		t2, _ := erc20ABI.Pack("transfer", y, big.NewInt(250))
		batch := (safe.PackMultiSend([]safe.BatchCall{{To: token, Value: new(big.Int), Data: t1}, {To: token, Value: new(big.Int), Data: t2}}))
		id := g.finalized(t, "treasury", safeTxJSON(g.env.MultiSendCallOnly, new(big.Int), batch, 1, 0, 1), g.erin, g.frank)
		sent, err := g.broadcast(id)
		if err != nil {
			t.Fatal(err)
		}
		if bx, by := g.env.TokenBalance(t, token, x), g.env.TokenBalance(t, token, y); bx.Int64() != 100 || by.Int64() != 250 {
			t.Fatalf("token balances %s %s", bx, by)
		}
		if !slices.ContainsFunc(sent.Checked, func(s string) bool { return strings.Contains(s, "MultiSendCallOnly") }) {
			t.Errorf("the library's code was not checked: %v", sent.Checked)
		}
		if st, _ := g.state(t, id); st != proposal.StateBroadcast {
			t.Fatalf("state %s", st)
		}
	})

	t.Run("a pinned library with other code on chain is refused", func(t *testing.T) {
		t1, _ := erc20ABI.Pack("transfer", dest, big.NewInt(1))
		batch := (safe.PackMultiSend([]safe.BatchCall{{To: token, Value: new(big.Int), Data: t1}}))
		id := g.finalized(t, "forged", safeTxJSON(g.forgedLib, new(big.Int), batch, 1, 0, 0), g.dave, g.erin)
		before := g.executorNonce(t)
		_, err := g.broadcast(id)
		var ref *coordinator.Refusal
		if !errors.Is(err, coordinator.ErrCodeMismatch) || !errors.As(err, &ref) || !strings.Contains(err.Error(), g.forgedLib.Hex()) {
			t.Fatalf("a delegatecall to a library with other code: %v", err)
		}
		if g.executorNonce(t) != before || g.env.Nonce(t, g.c).Sign() != 0 {
			t.Fatal("something was sent")
		}
		g.wantNothingRecorded(t, id)
	})

	t.Run("a signer who is no owner on chain: GS026 before sending", func(t *testing.T) {
		// The rotating Safe's owners on chain are dave, erin and oldie;
		// frank is an owner in the policy only.
		id := g.finalized(t, "rotating", safeTxJSON(dest, big.NewInt(1), nil, 0, 0, 0), g.dave, g.frank)
		before := g.executorNonce(t)
		_, err := g.broadcast(id)
		var rev *coordinator.SafeRevert
		if !errors.As(err, &rev) || rev.Code != "GS026" || rev.Meaning != "Invalid owner provided" || rev.TxHash != (common.Hash{}) || !errors.Is(err, coordinator.ErrReverted) {
			t.Fatalf("a signature by a non-owner: %v", err)
		}
		if !strings.Contains(err.Error(), `GS026 "Invalid owner provided"`) || !strings.Contains(err.Error(), "nothing was sent") {
			t.Errorf("the message does not say it: %v", err)
		}
		if g.executorNonce(t) != before {
			t.Fatal("a reverting transaction was sent")
		}
		g.wantNothingRecorded(t, id)
	})

	t.Run("owner swap", func(t *testing.T) {
		pol, err := policy.Open(g.q.Policy)
		if err != nil {
			t.Fatal(err)
		}
		onChain := g.env.Owners(t, g.b)
		payload, err := coordinator.SafeRotation(pol, "rotating", onChain, 2, g.env.Nonce(t, g.b).Uint64())
		if err != nil {
			t.Fatal(err)
		}
		id := g.finalized(t, "rotating", payload, g.dave, g.erin)
		if _, err := g.broadcast(id); err != nil {
			t.Fatal(err)
		}
		owners := g.env.Owners(t, g.b)
		if !slices.Contains(owners, g.frank.addr) || slices.Contains(owners, g.oldie.addr) || len(owners) != 3 {
			t.Fatalf("owners after the swap: %v", owners)
		}
		if st, evs := g.state(t, id); st != proposal.StateBroadcast || len(evs) != 1 {
			t.Fatalf("state %s, entries %v", st, evs)
		}
	})

	t.Run("the inner call fails with safeTxGas 0: GS013 (1.5.0: its own revert)", func(t *testing.T) {
		id := g.finalized(t, "treasury", safeTxJSON(dest, ether(50), nil, 0, 0, 2), g.dave, g.erin)
		_, err := g.broadcast(id)
		var rev *coordinator.SafeRevert
		if !errors.As(err, &rev) || rev.TxHash != (common.Hash{}) {
			t.Fatalf("a transfer beyond the Safe's balance: %v", err)
		}
		if version == "1.5.0" {
			// 1.5.0 passes the call's own revert on instead of GS013.
			if rev.Code != "" || !rev.Inner || !strings.Contains(err.Error(), "own call reverted") {
				t.Fatalf("Safe 1.5.0, a transfer beyond the Safe's balance: %v", err)
			}
		} else if rev.Code != "GS013" || rev.Inner || !strings.Contains(rev.Meaning, "gasPrice and safeTxGas were 0") {
			t.Fatalf("a transfer beyond the Safe's balance: %v", err)
		}
		g.wantNothingRecorded(t, id)
	})

	t.Run("the inner call fails with safeTxGas set: ExecutionFailure", func(t *testing.T) {
		id := g.finalized(t, "treasury", safeTxJSON(dest, ether(50), nil, 0, 60_000, 2), g.dave, g.erin)
		_, err := g.broadcast(id)
		var fail *coordinator.SafeExecutionFailure
		if !errors.As(err, &fail) || !errors.Is(err, coordinator.ErrExecutionFailure) || fail.TxHash == (common.Hash{}) {
			t.Fatalf("a failing inner call with safeTxGas: %v", err)
		}
		if n := g.env.Nonce(t, g.a); n.Cmp(big.NewInt(3)) != 0 {
			t.Fatalf("the Safe's nonce is %s: ExecutionFailure spends it", n)
		}
		g.wantNothingRecorded(t, id)
	})

	t.Run("a node on another chain is refused", func(t *testing.T) {
		id := g.finalized(t, "mainnet", safeTxJSON(dest, big.NewInt(1), nil, 0, 0, 3), g.dave, g.erin)
		_, err := g.broadcast(id)
		if !errors.Is(err, coordinator.ErrWrongChain) || !strings.Contains(err.Error(), "chain 1337") {
			t.Fatalf("a chain 1 Safe sent through a chain 1337 node: %v", err)
		}
		g.wantNothingRecorded(t, id)
	})
}
