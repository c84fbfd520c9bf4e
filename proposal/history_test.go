package proposal_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/proposal"
)

var (
	histKey    = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	histOrigin = "airlock/coordinator/coord"
	histT0     = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
)

// histLog is a coordinator's log of events, with a checkpoint.
func histLog(t testing.TB, evs []audit.Event) *audit.Log {
	t.Helper()
	l, err := audit.Open(t.TempDir(), histOrigin, histKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for _, ev := range evs {
		if _, err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	return l
}

func created(i int, vault, spent string) audit.Event {
	return audit.Event{Time: histT0.Add(time.Duration(i) * time.Minute), Kind: "proposal.created", Subject: fmt.Sprintf("%064x", i),
		Detail: map[string]string{"vault": vault, "spent": spent}}
}

func verified(t testing.TB, l *audit.Log, from int64) *audit.VerifiedRange {
	t.Helper()
	r, err := l.ProveRange(from, l.Size())
	if err != nil {
		t.Fatal(err)
	}
	// Through the proposal's CBOR form and back.
	b, err := envelope.Marshal(proposal.NewHistory(r, nil))
	if err != nil {
		t.Fatal(err)
	}
	var h proposal.History
	if err := envelope.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	rg, _, err := h.Range()
	if err != nil {
		t.Fatal(err)
	}
	v, err := audit.VerifyRange(rg, histOrigin, histKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestHistoryCountsWhatDidNotEndWithoutEffect: the coordinator's open
// and approved proposals count; withdrawn, rejected, expired and released
// ones do not, nor another vault's.
func TestHistoryCountsWhatDidNotEndWithoutEffect(t *testing.T) {
	l := histLog(t, []audit.Event{
		created(1, "ops", "BTC=100"),
		created(2, "ops", "BTC=200"),
		created(3, "ops", "BTC=400"),
		created(4, "cold", "BTC=800"),
		created(5, "ops", "BTC=1600"),
		{Time: histT0.Add(time.Hour), Kind: "proposal.withdrawn", Subject: fmt.Sprintf("%064x", 2)},
		{Time: histT0.Add(time.Hour), Kind: "proposal.rejected", Subject: fmt.Sprintf("%064x", 3)},
		{Time: histT0.Add(time.Hour), Kind: "proposal.released", Subject: fmt.Sprintf("%064x", 5)},
	})
	spends, err := proposal.Spends(verified(t, l, 0), "ops")
	if err != nil {
		t.Fatal(err)
	}
	if len(spends) != 1 || spends[fmt.Sprintf("%064x", 1)][0].Amount.Cmp(big.NewInt(100)) != 0 {
		t.Fatalf("spends %v, want only proposal 1's 100", spends)
	}
}

// TestHistoryWithAnUnreadableSpendingIsTampering: a proposal.created
// entry whose spending does not read back is never skipped.
func TestHistoryWithAnUnreadableSpendingIsTampering(t *testing.T) {
	l := histLog(t, []audit.Event{created(1, "ops", "BTC=0100")})
	if _, err := proposal.Spends(verified(t, l, 0), "ops"); !errors.Is(err, audit.ErrTampered) {
		t.Fatalf("got %v, want tampering", err)
	}
}

// TestHistoryBoundsRefuseOversizedParts: a history said missing, with a
// short hash, or with too many proofs is not proven.
func TestHistoryBoundsRefuseOversizedParts(t *testing.T) {
	for name, h := range map[string]*proposal.History{
		"missing":         {Missing: "too many entries"},
		"no checkpoint":   {},
		"short hash":      {Checkpoint: []byte("x"), Frontier: [][]byte{{1, 2}}},
		"too many proofs": {Checkpoint: []byte("x"), From: 100, Consistency: make([]proposal.Consistency, proposal.MaxHistoryProofs+1)},
		"proof from 0":    {Checkpoint: []byte("x"), From: 100, Consistency: []proposal.Consistency{{From: 0}}},
	} {
		if _, _, err := h.Range(); !errors.Is(err, proposal.ErrNoHistory) {
			t.Errorf("%s: got %v, want ErrNoHistory", name, err)
		}
	}
}

// FuzzHistory: any bytes decode, bound and verify without panicking, and
// only the coordinator's genuine range verifies.
func FuzzHistory(f *testing.F) {
	l := histLog(f, []audit.Event{created(1, "ops", "BTC=100"), created(2, "ops", "BTC=200"), created(3, "ops", "BTC=300")})
	for _, from := range []int64{0, 1, 3} {
		r, err := l.ProveRange(from, l.Size())
		if err != nil {
			f.Fatal(err)
		}
		b, err := envelope.Marshal(proposal.NewHistory(r, nil))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	pub := histKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, b []byte) {
		var h proposal.History
		if err := envelope.Unmarshal(b, &h); err != nil {
			return
		}
		rg, _, err := h.Range()
		if err != nil {
			return
		}
		v, err := audit.VerifyRange(rg, histOrigin, pub)
		if err != nil {
			return
		}
		if v.Checkpoint.Size != l.Size() {
			t.Fatalf("a range of a tree of %d entries verified; the key signed only %d", v.Checkpoint.Size, l.Size())
		}
		_, _ = proposal.Spends(v, "ops")
	})
}

// TestHistoryCountsReadoptedProposals: a proposal the coordinator took
// back after a restore of its database (proposal.readopted) counts as
// one it made, so a restore does not hide a payment from the stations'
// velocity rules.
func TestHistoryCountsReadoptedProposals(t *testing.T) {
	readopted := created(2, "ops", "BTC=200")
	readopted.Kind = "proposal.readopted"
	l := histLog(t, []audit.Event{created(1, "ops", "BTC=100"), readopted})
	spends, err := proposal.Spends(verified(t, l, 0), "ops")
	if err != nil {
		t.Fatal(err)
	}
	if len(spends) != 2 || spends[fmt.Sprintf("%064x", 2)][0].Amount.Cmp(big.NewInt(200)) != 0 {
		t.Fatalf("spends %v, want proposal 2's 200 counted", spends)
	}
}
