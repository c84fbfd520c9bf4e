package vault_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/testws"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/vault"
	"github.com/airlock-vault/airlock/workspace"
)

// synthetic is a synthetic 1 BTC coin of vault v, and its funding
// transaction as a node gives it (hex).
func synthetic(t *testing.T, v *vault.Vault, seed uint64) (*vault.Synthetic, []byte) {
	t.Helper()
	s, err := v.Synthetic(vault.SyntheticRequest{Seed: seed, Amount: 30_000_000, Fee: 2_000})
	if err != nil {
		t.Fatal(err)
	}
	return s, []byte(hex.EncodeToString(s.Funding) + "\n")
}

func TestSyntheticIsDeterministicPerSeed(t *testing.T) {
	q := newQuorum(t)
	v := q.vault(t, "ops")
	a, _ := synthetic(t, v, 1)
	b, _ := synthetic(t, v, 1)
	c, _ := synthetic(t, v, 2)
	if !bytes.Equal(a.PSBT, b.PSBT) || a.FundingTxID != b.FundingTxID {
		t.Fatal("one seed gave two rehearsals")
	}
	if a.FundingTxID == c.FundingTxID || bytes.Equal(a.PSBT, c.PSBT) {
		t.Fatal("two seeds gave one funding transaction")
	}
	if _, err := v.Synthetic(vault.SyntheticRequest{Seed: 1, Amount: 100_000_000, Fee: 1}); err == nil {
		t.Fatal("a synthetic spend of more than its coin")
	}
}

func TestBuildSpendsEveryVaultCoin(t *testing.T) {
	q := newQuorum(t)
	v := q.vault(t, "ops")
	_, f1 := synthetic(t, v, 1)
	_, f2 := synthetic(t, v, 2)
	dest, err := bitcoin.DemoDestination("regtest")
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.Build(context.Background(), vault.BuildRequest{Funding: [][]byte{f1, f2}, To: dest, Amount: 150_000_000, Fee: 3_000, ChangeIndex: 4})
	if err != nil {
		t.Fatal(err)
	}
	if b.Coins != 2 || b.Total != 200_000_000 || b.Change != 50_000_000-3_000 || len(b.Depths) != 0 {
		t.Fatalf("built %d coins, %d in, %d change, depths %v", b.Coins, b.Total, b.Change, b.Depths)
	}
	pkt, err := psbt.Decode(b.PSBT)
	if err != nil {
		t.Fatal(err)
	}
	tx := pkt.UnsignedTx
	if len(tx.TxIn) != 2 || len(tx.TxOut) != 2 || tx.TxOut[0].Value != 150_000_000 || tx.TxOut[1].Value != b.Change {
		t.Fatalf("transaction %d inputs, outputs %v", len(tx.TxIn), tx.TxOut)
	}
	for _, in := range tx.TxIn {
		if in.Sequence != 0xffffffff {
			t.Fatalf("a primary-path spend waits nSequence %d", in.Sequence)
		}
	}
}

func TestBuildRefused(t *testing.T) {
	q := newQuorum(t)
	ops, rec := q.vault(t, "ops"), q.vault(t, "vault")
	_, opsCoin := synthetic(t, ops, 1)
	_, recCoin := synthetic(t, rec, 1)
	_, coldCoin := synthetic(t, q.vault(t, "cold"), 1)
	dest, _ := bitcoin.DemoDestination("regtest")
	mainnetDest, _ := bitcoin.DemoDestination("mainnet")
	for _, tc := range []struct {
		name  string
		vault *vault.Vault
		req   vault.BuildRequest
		want  string
	}{
		{"a PSBT build whose amount+fee exceeds the coins", ops,
			vault.BuildRequest{Funding: [][]byte{opsCoin}, To: dest, Amount: 100_000_000, Fee: 1},
			"bitcoin: the vault's coins hold 100000000 sat, less than 100000000 + 1 fee"},
		{"funding that pays another vault", ops,
			vault.BuildRequest{Funding: [][]byte{coldCoin}, To: dest, Amount: 1_000, Fee: 1_000},
			`bitcoin: no output of the funding transactions pays vault "ops"`},
		{"funding that is not hex", ops,
			vault.BuildRequest{Funding: [][]byte{[]byte("not hex")}, To: dest, Amount: 1_000, Fee: 1_000},
			"bitcoin: funding transaction 1 is not raw hex"},
		{"a destination on another network", ops,
			vault.BuildRequest{Funding: [][]byte{opsCoin}, To: mainnetDest, Amount: 1_000, Fee: 1_000},
			"bitcoin: address"},
		{"no fee", ops,
			vault.BuildRequest{Funding: [][]byte{opsCoin}, To: dest, Amount: 1_000},
			"bitcoin: amount 1000 and fee 0 must be positive"},
		{"a recovery spend of a vault without a recovery path", ops,
			vault.BuildRequest{Funding: [][]byte{opsCoin}, To: dest, Amount: 1_000, Fee: 1_000, Recovery: true, RPC: "http://127.0.0.1:1"},
			`bitcoin: vault "ops" has no recovery path`},
		{"a recovery spend without a node", rec,
			vault.BuildRequest{Funding: [][]byte{recCoin}, To: dest, Amount: 1_000, Fee: 1_000, Recovery: true},
			"bitcoin: a recovery spend needs a node for its maturity proof"},
		{"a recovery spend whose node's certificate is missing", rec,
			vault.BuildRequest{Funding: [][]byte{recCoin}, To: dest, Amount: 1_000, Fee: 1_000, Recovery: true, RPC: "https://127.0.0.1:1", RPCCert: filepath.Join(t.TempDir(), "rpc.cert")},
			"rpc: ca file"},
		{"a recovery spend whose node does not answer", rec,
			vault.BuildRequest{Funding: [][]byte{recCoin}, To: dest, Amount: 1_000, Fee: 1_000, Recovery: true, RPC: "http://127.0.0.1:1"},
			"127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b, err := tc.vault.Build(ctx, tc.req)
			if err == nil {
				t.Fatalf("built %d coins, change %d", b.Coins, b.Change)
			}
			wantErr(t, err, tc.want)
		})
	}
}

// TestProposalPSBTIsTheProposed: the PSBT for an external device is the
// one the coordinator proposed, byte for byte, in a workspace written by
// airlock's first release.
func TestProposalPSBTIsTheProposed(t *testing.T) {
	dir := testws.V1(t)
	ws, err := workspace.Open(filepath.Join(dir, "coord"), workspace.Options{Now: func() time.Time { return testws.Time }})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ps, err := ws.Proposals()
	if err != nil || len(ps) != 1 {
		t.Fatalf("%d proposals, %v", len(ps), err)
	}
	x, err := vault.ProposalPSBT(ws, ps[0].IDHex()[:16])
	if err != nil {
		t.Fatal(err)
	}
	if x.ProposalID != ps[0].IDHex() {
		t.Fatalf("proposal %s, want %s", x.ProposalID, ps[0].IDHex())
	}
	raw, err := os.ReadFile(filepath.Join(dir, "spend.proposal"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := envelope.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := proposal.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.PSBT, p.Payload) {
		t.Fatal("the exported PSBT is not the proposed one")
	}
	if _, err := psbt.Decode(x.PSBT); err != nil {
		t.Fatal(err)
	}
	v, err := vault.Resolve(ws, reg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Address(0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := vault.ProposalPSBT(ws, "00000000"); err == nil {
		t.Fatal("a PSBT for a proposal that does not exist")
	}
	if _, err := vault.Resolve(ws, reg, "cold"); err == nil {
		t.Fatal("resolved a vault the policy does not have")
	}
}
