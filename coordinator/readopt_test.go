package coordinator_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/vault"
	"github.com/airlock-vault/airlock/workspace"
)

// restored is a quorum whose coordinator lost a proposal (lost) that
// alice approved (aliceDecision): its database was copied cold, the
// proposal made and approved, a second one made, and the copy put back
// and accepted (store accept).
type restored struct {
	q             *quorum.Quorum
	lost          *envelope.Envelope
	aliceDecision []byte
}

var stateFiles = []string{"state.db", "state.db-wal", "state.db-shm"}

// coldCopy closes the coordinator's workspace, runs fn on its folder and
// opens it again with open.
func coldCopy(t *testing.T, q *quorum.Quorum, fn func(dir string), open func(dir string) (*workspace.Workspace, error)) {
	t.Helper()
	dir := q.Coord.WS.Dir
	if err := q.Coord.WS.Close(); err != nil {
		t.Fatal(err)
	}
	fn(dir)
	ws, err := open(dir)
	if err != nil {
		t.Fatal(err)
	}
	q.Coord.WS = ws
	t.Cleanup(func() { ws.Close() })
}

func propose(t *testing.T, q *quorum.Quorum, seed uint64, amount int64) *envelope.Envelope {
	t.Helper()
	v, err := vault.Resolve(q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	syn, err := v.Synthetic(vault.SyntheticRequest{Seed: seed, Amount: amount, Fee: 1_000})
	if err != nil {
		t.Fatal(err)
	}
	pe, _, err := q.Coord.Propose(ctx, coordinator.ProposeParams{Vault: "ops", Payload: syn.PSBT}, q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	return pe
}

func restoreFixture(t *testing.T) *restored {
	t.Helper()
	return restoreWith(t, quorum.Options{}, 1_000_000)
}

// restoreWith is restoreFixture with a quorum made with o, the lost
// proposal paying amount.
func restoreWith(t *testing.T, o quorum.Options, amount int64) *restored {
	t.Helper()
	q := quorum.New(t, o)
	backup := map[string][]byte{}
	reopen := func(dir string) (*workspace.Workspace, error) { return workspace.Open(dir, q.WorkspaceOptions()) }
	coldCopy(t, q, func(dir string) {
		for _, name := range stateFiles {
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				backup[name] = b
			}
		}
	}, reopen)
	q.Advance(time.Minute)
	lost := propose(t, q, 1, amount)
	raw, _ := lost.Encode()
	alice := q.Decide(t, "alice", raw, station.Decision{Approve: true})
	propose(t, q, 2, 10_000_000)
	q.Advance(time.Minute)
	coldCopy(t, q, func(dir string) {
		for _, name := range stateFiles {
			os.Remove(filepath.Join(dir, name))
		}
		for name, b := range backup {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}, func(dir string) (*workspace.Workspace, error) {
		if _, err := workspace.Open(dir, q.WorkspaceOptions()); !errors.Is(err, workspace.ErrRolledBack) {
			t.Fatalf("the restored store opened without a word: %v", err)
		}
		return workspace.Accept(dir, "restored from the cold copy", q.CoordKeys.Identity, q.WorkspaceOptions())
	})
	if _, err := q.Coord.WS.Proposal(lost.IDHex()); !errors.Is(err, workspace.ErrNotFound) {
		t.Fatalf("the coordinator still knows the lost proposal: %v", err)
	}
	return &restored{q: q, lost: lost, aliceDecision: alice}
}

// TestReadoptTakesBackALostProposalAndItCompletes: the proposal a
// restore lost is taken back from a station's copy, logged once as
// proposal.readopted with its reason; the decisions handed in again meet
// the threshold, it finalizes, and state and log agree.
func TestReadoptTakesBackALostProposalAndItCompletes(t *testing.T) {
	r := restoreFixture(t)
	c := r.q.Coord
	kept, err := r.q.Stations["alice"].WS.Proposal(r.lost.IDHex())
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Readopt(ctx, kept, coordinator.ReasonRestore)
	if err != nil {
		t.Fatal(err)
	}
	if got.Env.ID() != r.lost.ID() {
		t.Fatal("re-adopted another proposal")
	}
	if _, err := c.Readopt(ctx, kept, coordinator.ReasonRestore); !errors.Is(err, coordinator.ErrAlreadyKnown) {
		t.Fatalf("re-adopting twice: %v, want already known", err)
	}
	var n int
	c.WS.View(ctx, func(rd store.Reader) error {
		idx, err := rd.EntriesOfKind("proposal.readopted")
		n = len(idx)
		if err == nil && n == 1 {
			rec, _ := rd.Audit().Record(idx[0])
			if !strings.Contains(string(rec), "restore") {
				t.Errorf("the entry does not cite the restore: %s", rec)
			}
		}
		return err
	})
	if n != 1 {
		t.Fatalf("%d proposal.readopted entries, want 1", n)
	}
	if _, err := c.Collect(ctx, r.aliceDecision, nil); err != nil {
		t.Fatalf("alice's decision handed in again: %v", err)
	}
	raw, _ := r.lost.Encode()
	r.q.Decide(t, "bob", raw, station.Decision{Approve: true})
	f, err := c.Finalize(ctx, r.lost.IDHex(), r.q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if f.Again {
		t.Fatal("finalized before?")
	}
	if err := c.WS.VerifyState(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestReadoptRefusesAnotherCoordinatorsProposal: a proposal signed by a
// key that is not this coordinator's, whatever coordinator it names, is
// not taken.
func TestReadoptRefusesAnotherCoordinatorsProposal(t *testing.T) {
	r := restoreFixture(t)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	p, err := proposal.Decode(r.lost)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := proposal.Seal(p, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.q.Coord.Readopt(ctx, forged, ""); !errors.Is(err, coordinator.ErrNotReadoptable) || !strings.Contains(err.Error(), "not signed by this coordinator") {
		t.Fatalf("a proposal signed by another key: %v", err)
	}
	p.Coordinator = "someone-else"
	named, _ := proposal.Seal(p, other)
	if _, err := r.q.Coord.Readopt(ctx, named, ""); !errors.Is(err, coordinator.ErrNotReadoptable) {
		t.Fatalf("a proposal by another coordinator: %v", err)
	}
	assertNotKnown(t, r.q.Coord, forged, named)
}

// TestReadoptRefusesATamperedProposal: a copy whose bytes changed after
// signing fails its signature, and is not taken.
func TestReadoptRefusesATamperedProposal(t *testing.T) {
	r := restoreFixture(t)
	p, _ := proposal.Decode(r.lost)
	p.Intent = "pay the attacker"
	b, err := envelope.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	tampered := &envelope.Envelope{Type: r.lost.Type, Payload: b, Signatures: r.lost.Signatures}
	if _, err := r.q.Coord.Readopt(ctx, tampered, ""); err == nil || !strings.Contains(err.Error(), "tampered") {
		t.Fatalf("a tampered proposal: %v", err)
	}
	assertNotKnown(t, r.q.Coord, tampered)
}

// TestReadoptRefusesACoinSpentByAnotherProposal: once another proposal
// spends the lost one's coin, taking the lost one back would let two
// payments of one coin run; it is refused.
func TestReadoptRefusesACoinSpentByAnotherProposal(t *testing.T) {
	r := restoreFixture(t)
	again := propose(t, r.q, 1, 3_000_000)
	_, err := r.q.Coord.Readopt(ctx, r.lost, "")
	if !errors.Is(err, coordinator.ErrNotReadoptable) || !strings.Contains(err.Error(), again.IDHex()[:16]) {
		t.Fatalf("a lost proposal whose coin another spends: %v", err)
	}
	assertNotKnown(t, r.q.Coord, r.lost)
}

// TestReadoptRefusesAnExpiredProposal: past its expiry a lost proposal
// stays lost: no station may decide on it any more.
func TestReadoptRefusesAnExpiredProposal(t *testing.T) {
	r := restoreFixture(t)
	r.q.Advance(25 * time.Hour)
	if _, err := r.q.Coord.Readopt(ctx, r.lost, ""); !errors.Is(err, proposal.ErrExpired) || !errors.Is(err, coordinator.ErrNotReadoptable) {
		t.Fatalf("an expired proposal: %v", err)
	}
	assertNotKnown(t, r.q.Coord, r.lost)
}

func assertNotKnown(t *testing.T, c *coordinator.Coordinator, es ...*envelope.Envelope) {
	t.Helper()
	for _, e := range es {
		if _, err := c.WS.Proposal(e.IDHex()); !errors.Is(err, workspace.ErrNotFound) {
			t.Fatalf("proposal %s was recorded: %v", e.IDHex()[:16], err)
		}
	}
}

// TestReadoptedPaymentCountsAgainstVelocity: a re-adopted proposal's
// spending counts in the coordinator's history as a proposal made does,
// so a restore cannot be used to spend a day's limit twice.
func TestReadoptedPaymentCountsAgainstVelocity(t *testing.T) {
	rules := "transaction_rules:\n  - {name: daily, kind: velocity, asset: BTC, max: \"0.7\", period: 24h}\n"
	r := restoreWith(t, quorum.Options{Rules: rules}, 50_000_000)
	v, err := vault.Resolve(r.q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	syn, err := v.Synthetic(vault.SyntheticRequest{Seed: 7, Amount: 30_000_000, Fee: 1_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.q.Coord.Readopt(ctx, r.lost, ""); err != nil {
		t.Fatal(err)
	}
	_, _, err = r.q.Coord.Propose(ctx, coordinator.ProposeParams{Vault: "ops", Payload: syn.PSBT}, r.q.CoordKeys.Identity)
	if !errors.Is(err, coordinator.ErrDenied) || !strings.Contains(err.Error(), "daily") {
		t.Fatalf("0.3 BTC after a re-adopted 0.5 BTC under a 0.7 BTC daily limit: %v", err)
	}
}
