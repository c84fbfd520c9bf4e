package coordinator_test

import (
	"context"
	gocrypto "crypto"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/transport/qr/ur"
)

// externalSafe is a quorum whose Safe vault has, beside the stations'
// owners, dave's and erin's hardware wallets (external devices: a Ledger
// and a Keystone, owner keys the tests hold), threshold 2.
type externalSafe struct {
	q          *quorum.Quorum
	dave, erin *externalOwner
}

type externalOwner struct {
	key  []byte // secp256k1 private key
	addr common.Address
}

func newExternalOwner(t *testing.T, seed string) *externalOwner {
	k := crypto.Keccak256([]byte(seed))
	pk, err := crypto.ToECDSA(k)
	if err != nil {
		t.Fatal(err)
	}
	return &externalOwner{key: k, addr: crypto.PubkeyToAddress(pk.PublicKey)}
}

// sign is what the wallet returns for an EIP-712 SafeTx: r||s||v, v 27/28.
func (o *externalOwner) sign(t *testing.T, h common.Hash) []byte {
	pk, _ := crypto.ToECDSA(o.key)
	sig, err := crypto.Sign(h[:], pk)
	if err != nil {
		t.Fatal(err)
	}
	sig[64] += 27
	return sig
}

const extSafe = "0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4"

func newExternalSafe(t *testing.T) *externalSafe {
	x := &externalSafe{dave: newExternalOwner(t, "dave's ledger"), erin: newExternalOwner(t, "erin's keystone")}
	var cosigners []gocrypto.Signer
	person := func(name, device, model string, o *externalOwner) string {
		pub, priv, _ := ed25519.GenerateKey(strings.NewReader(strings.Repeat(name, 32)))
		cosigners = append(cosigners, priv)
		return fmt.Sprintf("  - id: %s\n    name: %s\n    identity: %s\n    devices:\n      - id: %s\n        kind: external\n        vendor: %s\n        model: %s\n        ethereum: \"%s\"\n",
			name, name, policy.EncodeIdentity(pub), device, strings.Fields(model)[0], model, o.addr.Hex())
	}
	// Rules lands right after the stations' participant entries.
	rules := person("dave", "ledger", "Ledger Nano X", x.dave) + person("erin", "keystone", "Keystone 3 Pro", x.erin)
	x.q = quorum.New(t, quorum.Options{
		Rules: rules, Cosigners: cosigners,
		Vaults: fmt.Sprintf(`vaults:
  - name: treasury
    chain: ethereum
    threshold: 2
    signers: [alice/keystore, dave/ledger, erin/keystone]
    safe:
      address: "%s"
      chain_id: 1
      version: 1.4.1
`, extSafe)})
	return x
}

// propose proposes a plain ETH transfer at nonce n and returns the
// proposal's id and its safeTxHash.
func (x *externalSafe) propose(t *testing.T, n int, safeTx []byte) (string, common.Hash) {
	t.Helper()
	if safeTx == nil {
		safeTx = transferJSON(n)
	}
	pe, rv, err := x.q.Coord.Propose(context.Background(), coordinator.ProposeParams{Vault: "treasury", SafeTx: safeTx, Intent: "pay"}, x.q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	return pe.IDHex(), common.HexToHash(rv.TxID)
}

func transferJSON(n int) []byte {
	return []byte(fmt.Sprintf(`{"to":"0x000000000000000000000000000000000000dEaD","value":"1000000000000000000","data":"0x","operation":0,"safeTxGas":"0","baseGas":"0","gasPrice":"0","gasToken":"0x0000000000000000000000000000000000000000","refundReceiver":"0x0000000000000000000000000000000000000000","nonce":%d}`, n))
}

func (x *externalSafe) collect(t *testing.T, ref string, raw []byte) ([]coordinator.Collected, error) {
	t.Helper()
	return x.q.Coord.CollectAnyFor(context.Background(), ref, raw, func() (keys.Identity, error) { return x.q.CoordKeys.Identity, nil })
}

// TestLedgerSignatureCollected: dave's Ledger signs the SafeTx (EIP-712)
// and the 65-byte hex goes to collect for its proposal; erin's Keystone
// answers with an ur:eth-signature; both are recorded as external
// approvals, the proposal is approved and finalizes with their
// signatures.
func TestLedgerSignatureCollected(t *testing.T) {
	x := newExternalSafe(t)
	id, h := x.propose(t, 0, nil)
	got, err := x.collect(t, id, []byte("0x"+hex.EncodeToString(x.dave.sign(t, h))+"\n"))
	if err != nil || len(got) != 1 || got[0].Participant.ID != "dave" || !got[0].External {
		t.Fatalf("dave's Ledger signature: %v %+v", err, got)
	}
	cb, err := (&ur.EthSignature{RequestID: make([]byte, 16), Signature: x.erin.sign(t, h), Origin: "Keystone"}).CBOR()
	if err != nil {
		t.Fatal(err)
	}
	parts, err := ur.Encode("eth-signature", cb, 1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, err = x.collect(t, id[:16], []byte(parts[0])); err != nil || len(got) != 1 || got[0].Participant.ID != "erin" {
		t.Fatalf("erin's ur:eth-signature: %v %+v", err, got)
	}
	f, err := x.q.Coord.Finalize(context.Background(), id, x.q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Proof.Approvals) != 2 {
		t.Fatalf("the proof counts %d approvals", len(f.Proof.Approvals))
	}
}

// TestWrongOwnerSignatureRefused: a signature by a key that owns nothing,
// a signature over another transaction (the next nonce) by a real owner,
// and a bare signature without its proposal are refused, and nothing is
// recorded.
func TestWrongOwnerSignatureRefused(t *testing.T) {
	x := newExternalSafe(t)
	id, h := x.propose(t, 0, nil)
	_, other := x.propose(t, 1, nil)
	stranger := newExternalOwner(t, "mallory")
	for name, sig := range map[string][]byte{
		"a stranger's signature":              stranger.sign(t, h),
		"dave's signature of another payment": x.dave.sign(t, other),
	} {
		if got, err := x.collect(t, id, []byte(hex.EncodeToString(sig))); err == nil {
			t.Errorf("%s was collected: %+v", name, got)
		}
	}
	if _, err := x.collect(t, "", []byte(hex.EncodeToString(x.dave.sign(t, h)))); err == nil || !strings.Contains(err.Error(), "--proposal") {
		t.Errorf("a bare signature without its proposal: %v", err)
	}
	ds, err := x.q.Coord.WS.Approvals(mustID(t, id))
	if err != nil || len(ds) != 0 {
		t.Fatalf("decisions after refusals: %v %v", ds, err)
	}
}

// TestTransactionServiceJSONAsItComes: the Service's response, with its
// proposer, dataDecoded and confirmations, is proposed whole: its
// safeTxHash is recomputed, dave's confirmation becomes his approval, and a
// response whose safeTxHash is not the transaction's is blocked.
func TestTransactionServiceJSONAsItComes(t *testing.T) {
	x := newExternalSafe(t)
	// The hash first, from the plain transaction at nonce 5.
	_, h := x.propose(t, 5, nil)
	service := func(hash common.Hash, sigs ...string) []byte {
		var tx map[string]any
		json.Unmarshal(transferJSON(7), &tx)
		tx["nonce"] = 5
		tx["safe"] = extSafe
		tx["safeTxHash"] = hash.Hex()
		tx["proposer"] = "0x0000000000000000000000000000000000000001"
		tx["submissionDate"] = "2026-12-04T09:00:00Z"
		tx["isExecuted"] = false
		tx["confirmationsRequired"] = 2
		tx["dataDecoded"] = map[string]any{"method": "transfer", "parameters": []any{}}
		var cs []map[string]any
		for _, s := range sigs {
			cs = append(cs, map[string]any{"owner": x.dave.addr.Hex(), "signature": s, "signatureType": "EOA", "submissionDate": "2026-12-04T09:00:00Z"})
		}
		tx["confirmations"] = cs
		b, _ := json.Marshal(tx)
		return b
	}
	raw := service(h, "0x"+hex.EncodeToString(x.dave.sign(t, h)))
	pe, rv, err := x.q.Coord.Propose(context.Background(), coordinator.ProposeParams{Vault: "treasury", SafeTx: raw}, x.q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if rv.TxID != h.Hex() {
		t.Fatalf("safeTxHash %s, want %s", rv.TxID, h.Hex())
	}
	ds, err := x.q.Coord.WS.Approvals(pe.ID())
	if _, ok := ds["dave"]; err != nil || !ok {
		t.Fatalf("the Service's confirmation by dave was not collected: %v %v\n%s", ds, err, strings.Join(rv.Lines, "\n"))
	}
	if !strings.Contains(strings.Join(rv.Lines, "\n"), "the Transaction Service decodes the call as transfer") {
		t.Errorf("the Service's decoding (transfer) differs from airlock's (a plain ETH send) and is not shown:\n%s", strings.Join(rv.Lines, "\n"))
	}
	// A response whose safeTxHash is not the transaction's.
	forged := service(common.HexToHash("0x" + strings.Repeat("ab", 32)))
	if _, _, err := x.q.Coord.Propose(context.Background(), coordinator.ProposeParams{Vault: "treasury", SafeTx: forged}, x.q.CoordKeys.Identity); err == nil || !strings.Contains(err.Error(), "hash") {
		t.Fatalf("a Service response with a safeTxHash not its transaction's: %v", err)
	}
	// An unknown field in a Service response is refused.
	var m map[string]any
	json.Unmarshal(raw, &m)
	m["operationOverride"] = 1
	b, _ := json.Marshal(m)
	if _, err := safe.ParseService(b); err == nil {
		t.Fatal("a Service response with an unknown field was read")
	}
}

func mustID(t *testing.T, h string) [32]byte {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		t.Fatal(h)
	}
	return [32]byte(b)
}
