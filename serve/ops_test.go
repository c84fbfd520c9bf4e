package serve_test

import (
	"bytes"
	"context"
	gocrypto "crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain/bitcoin/regtest"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/serve"
	"github.com/airlock-vault/airlock/vault"
)

// TestBroadcastThroughTheAPI: coins mined by a real btcd (regtest) to the
// vault, a PSBT spending them proposed through the API, approved,
// finalized, and broadcast through the API to the node, which mines it.
// Broadcasting before finalization is refused (409) and a service
// without a node says so (501).
func TestBroadcastThroughTheAPI(t *testing.T) { eachStore(t, broadcastThroughTheAPI) }

func broadcastThroughTheAPI(t *testing.T, o quorum.Options) {
	ctx := context.Background()
	q := quorum.New(t, o)
	v, err := vault.Resolve(q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	addr, err := v.Address(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	node := regtest.Start(t, regtest.Options{MiningAddr: addr, NoTLS: true, Args: []string{"--addrindex", "--txindex"}})
	blocks := node.Mine(t, 101)
	var funding bytes.Buffer
	node.Coinbase(t, blocks[0]).Serialize(&funding)
	built, err := v.Build(ctx, vault.BuildRequest{Funding: [][]byte{[]byte(hex.EncodeToString(funding.Bytes()))},
		To: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", Amount: 100_000_000, Fee: 5000})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := serve.New(serve.Config{Coord: q.Coord, Identity: q.CoordKeys.Identity, Node: &coordinator.Node{URL: node.URL},
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(validating(t, srv))
	defer ts.Close()
	c := func(who string) *serve.Client {
		k := q.CoordKeys.Identity
		if who != "coord" {
			k = q.Stations[who].Keys.Identity
		}
		return &serve.Client{Base: ts.URL, Key: k, Now: q.Now}
	}
	var p serve.Proposal
	if err := c("coord").JSON(ctx, "POST", "/v1/proposals", serve.ProposeRequest{Vault: "ops", PSBT: base64.StdEncoding.EncodeToString(built.PSBT), Intent: "pay the supplier"}, &p); err != nil {
		t.Fatal(err)
	}
	var pr *serve.Problem
	if err := c("coord").JSON(ctx, "POST", "/v1/proposals/"+p.ID+"/broadcast", nil, nil); !errors.As(err, &pr) || pr.Status != http.StatusConflict {
		t.Fatalf("broadcast before finalization: %v", err)
	}
	_, env, err := c("alice").Do(ctx, "GET", "/v1/proposals/"+p.ID+"/envelope", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice", "bob"} {
		f := &fixture{t: t, q: q}
		if resp, b, err := c(who).Do(ctx, "POST", "/v1/proposals/"+p.ID+"/decisions", f.approve(who, env), "application/octet-stream"); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s's hand-in: %v %v %s", who, resp.Status, err, b)
		}
	}
	var fin serve.Finalized
	if err := c("bob").JSON(ctx, "POST", "/v1/proposals/"+p.ID+"/finalize", nil, &fin); err != nil {
		t.Fatal(err)
	}
	var b serve.Broadcast
	if err := c("alice").JSON(ctx, "POST", "/v1/proposals/"+p.ID+"/broadcast", nil, &b); err != nil {
		t.Fatal(err)
	}
	if b.TxID != fin.TxID || bytes.Contains([]byte(b.Node), []byte("@")) {
		t.Fatalf("broadcast %+v, finalized %s (the node's URL must carry no credentials)", b, fin.TxID)
	}
	h, err := chainhash.NewHashFromStr(b.TxID)
	if err != nil {
		t.Fatal(err)
	}
	node.Mine(t, 1)
	if n := node.Confirmations(t, *h); n != 1 {
		t.Fatalf("the broadcast transaction has %d confirmations after a block", n)
	}
	var got serve.Proposal
	if err := c("carol").JSON(ctx, "GET", "/v1/proposals/"+p.ID, nil, &got); err != nil || got.State != "broadcast" {
		t.Fatalf("after the broadcast: %v %+v", err, got.State)
	}
	// The dashboard's vault page reads the balance from the same node:
	// 102 coinbases of 50 BTC to the vault, 1 BTC paid out (the fee came
	// back in the last coinbase).
	page := httptest.NewRecorder()
	srv.ServeHTTP(page, httptest.NewRequest("GET", "http://127.0.0.1/vaults/ops", nil))
	if page.Code != 200 || !strings.Contains(page.Body.String(), "5099.00000000 BTC in ") {
		t.Fatalf("the vault page's balance (%d):\n%s", page.Code, page.Body.String())
	}

	// A service started without a node.
	bare, err := serve.New(serve.Config{Coord: q.Coord, Identity: q.CoordKeys.Identity, Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts2 := httptest.NewServer(validating(t, bare))
	defer ts2.Close()
	cl := &serve.Client{Base: ts2.URL, Key: q.CoordKeys.Identity, Now: q.Now}
	if err := cl.JSON(ctx, "POST", "/v1/proposals/"+p.ID+"/broadcast", nil, nil); !errors.As(err, &pr) || pr.Status != http.StatusNotImplemented {
		t.Fatalf("broadcast without a node: %v", err)
	}
}

// TestTemplatePaymentThroughTheAPI: the service builds a Safe payment
// under the policy's template (as "propose --template --to --amount
// --nonce"); a payment to a label the template does not list is refused
// and nothing is stored.
func TestTemplatePaymentThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, quorum.Options{Rules: `assets:
  - {symbol: USDC, chain: ethereum, token: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", decimals: 6}
address_book:
  - {label: alice-eth, chain: ethereum, address: "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"}
  - {label: stranger, chain: ethereum, address: "0x000000000000000000000000000000000000dEaD"}
templates:
  - name: usdc-payroll
    vault: treasury
    asset: USDC
    to: [alice-eth]
    max: "5000"
    rate: {count: 4, period: 30d}
    require: {group: signers, count: 2}
`, Vaults: `vaults:
  - name: treasury
    chain: ethereum
    threshold: 2
    signers: [alice/keystore, bob/keystore, carol/keystore]
    safe:
      address: "0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4"
      chain_id: 31337
      version: 1.3.0
`})
	nonce := uint64(7)
	var p serve.Proposal
	if err := f.clients["coord"].JSON(ctx, "POST", "/v1/proposals", serve.ProposeRequest{Template: "usdc-payroll", To: "alice-eth", Amount: "1250.50", Nonce: &nonce, Intent: "December payroll"}, &p); err != nil {
		t.Fatal(err)
	}
	if p.Vault != "treasury" || p.Chain != "ethereum" {
		t.Fatalf("proposal %+v", p)
	}
	size := f.logSize()
	var pr *serve.Problem
	err := f.clients["coord"].JSON(ctx, "POST", "/v1/proposals", serve.ProposeRequest{Template: "usdc-payroll", To: "stranger", Amount: "1", Nonce: &nonce}, nil)
	if !errors.As(err, &pr) || pr.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a template payment to a label the template does not list: %v", err)
	}
	err = f.clients["coord"].JSON(ctx, "POST", "/v1/proposals", serve.ProposeRequest{Template: "usdc-payroll", To: "alice-eth", Amount: "1"}, nil)
	if !errors.As(err, &pr) || pr.Status != http.StatusBadRequest {
		t.Fatalf("a template payment without a nonce: %v", err)
	}
	if f.logSize() != size {
		t.Fatal("a refused template payment was recorded")
	}
}

// TestTransfersAndReconciliation: the chain of custody and the
// reconciliation report read through the API (no transfers yet: an empty
// list and no alarm).
func TestTransfersAndReconciliation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, quorum.Options{})
	var e serve.Entries
	if err := f.clients["carol"].JSON(ctx, "GET", "/v1/transfers?limit=10", nil, &e); err != nil {
		t.Fatal(err)
	}
	if len(e.Entries) != 0 || e.Size == 0 {
		t.Fatalf("transfers of a fresh quorum: %+v", e)
	}
	var r serve.Reconciliation
	if err := f.clients["carol"].JSON(ctx, "GET", "/v1/reconciliation", nil, &r); err != nil {
		t.Fatal(err)
	}
	if r.Alarms != 0 || len(r.Findings) != 0 {
		t.Fatalf("reconciliation of a fresh quorum: %+v", r)
	}
	var pr *serve.Problem
	if err := f.clients["carol"].JSON(ctx, "GET", "/v1/transfers?limit=0", nil, nil); !errors.As(err, &pr) || pr.Status != 400 {
		t.Fatalf("limit 0: %v", err)
	}
}

// TestConsistencyProofThroughTheAPI: an auditor who saw a checkpoint
// earlier gets a proof that the log now extends it, and checks it with
// the coordinator's key alone; a size the log never had is refused.
func TestConsistencyProofThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, quorum.Options{})
	carol := f.clients["carol"]
	pub, _ := keys.IdentityPublic(f.q.CoordKeys.Identity)
	origin := f.q.Coord.WS.Config.LogOrigin()
	_, cp1, err := carol.Do(ctx, "GET", "/v1/audit/checkpoint", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	older, err := audit.OpenCheckpoint(cp1, origin, pub)
	if err != nil {
		t.Fatal(err)
	}
	f.propose("rent")
	f.propose("payroll")
	var c serve.Consistency
	if err := carol.JSON(ctx, "GET", "/v1/audit/consistency?from="+itoa(older.Size), nil, &c); err != nil {
		t.Fatal(err)
	}
	newer, err := audit.OpenCheckpoint([]byte(c.Checkpoint), origin, pub)
	if err != nil || newer.Size <= older.Size || c.From != older.Size || c.To != newer.Size {
		t.Fatalf("consistency %+v, checkpoint %v %+v", c, err, newer)
	}
	proof := make(tlog.TreeProof, len(c.Proof))
	for i, h := range c.Proof {
		copy(proof[i][:], h)
	}
	if err := audit.CheckConsistency(older, newer, proof); err != nil {
		t.Fatalf("the proof does not check: %v", err)
	}
	// A tampered proof fails the check.
	proof[0][0] ^= 1
	if err := audit.CheckConsistency(older, newer, proof); err == nil {
		t.Fatal("a tampered consistency proof checked")
	}
	var pr *serve.Problem
	if err := carol.JSON(ctx, "GET", "/v1/audit/consistency?from="+itoa(newer.Size+100), nil, nil); !errors.As(err, &pr) || pr.Status != http.StatusNotFound {
		t.Fatalf("a size beyond the log: %v", err)
	}
	if err := carol.JSON(ctx, "GET", "/v1/audit/consistency", nil, nil); !errors.As(err, &pr) || pr.Status != http.StatusBadRequest {
		t.Fatalf("no from: %v", err)
	}
}

// TestSafeOwnerSignatureHandedIn: a Ledger owner's EIP-712 signature (65
// bytes in hex) handed in for its proposal through the API is recorded
// as the owner's external approval; a stranger's is refused (422) and
// nothing is recorded.
func TestSafeOwnerSignatureHandedIn(t *testing.T) {
	ctx := context.Background()
	owner := func(seed string) (*ecdsa.PrivateKey, common.Address) {
		k, err := crypto.ToECDSA(crypto.Keccak256([]byte(seed)))
		if err != nil {
			t.Fatal(err)
		}
		return k, crypto.PubkeyToAddress(k.PublicKey)
	}
	daveKey, dave := owner("dave's ledger")
	strangerKey, _ := owner("mallory")
	pub, priv, _ := ed25519.GenerateKey(strings.NewReader(strings.Repeat("dave", 32)))
	f := newFixture(t, quorum.Options{
		Rules: fmt.Sprintf("  - id: dave\n    name: dave\n    identity: %s\n    devices:\n      - id: ledger\n        kind: external\n        vendor: Ledger\n        model: Nano X\n        ethereum: \"%s\"\n",
			policy.EncodeIdentity(pub), dave.Hex()),
		Cosigners: []gocrypto.Signer{priv},
		Vaults: `vaults:
  - name: treasury
    chain: ethereum
    threshold: 2
    signers: [alice/keystore, bob/keystore, dave/ledger]
    safe:
      address: "0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4"
      chain_id: 1
      version: 1.4.1
`})
	transfer := `{"to":"0x000000000000000000000000000000000000dEaD","value":"1","data":null,"operation":0,"safeTxGas":"0","baseGas":"0","gasPrice":"0","gasToken":"0x0000000000000000000000000000000000000000","refundReceiver":"0x0000000000000000000000000000000000000000","nonce":3}`
	var p serve.Proposal
	if err := f.clients["coord"].JSON(ctx, "POST", "/v1/proposals", serve.ProposeRequest{Vault: "treasury", SafeTx: json.RawMessage(transfer)}, &p); err != nil {
		t.Fatal(err)
	}
	h := common.HexToHash(p.TxID)
	sign := func(k *ecdsa.PrivateKey) []byte {
		sig, err := crypto.Sign(h[:], k)
		if err != nil {
			t.Fatal(err)
		}
		sig[64] += 27
		return []byte("0x" + hex.EncodeToString(sig))
	}
	size := f.logSize()
	resp, b, err := f.clients["coord"].Do(ctx, "POST", "/v1/proposals/"+p.ID+"/decisions", sign(strangerKey), "text/plain")
	if err != nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a stranger's signature: %v %v %s", resp.Status, err, b)
	}
	if f.logSize() != size {
		t.Fatal("a refused signature was recorded")
	}
	resp, b, err = f.clients["coord"].Do(ctx, "POST", "/v1/proposals/"+p.ID+"/decisions", sign(daveKey), "text/plain")
	if err != nil || resp.StatusCode != http.StatusCreated || !strings.Contains(string(b), `"participant": "dave"`) {
		t.Fatalf("dave's Ledger signature: %v %v %s", resp.Status, err, b)
	}
}
