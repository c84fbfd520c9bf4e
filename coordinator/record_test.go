package coordinator_test

import (
	"errors"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/vault"
)

// batchQuorum is a quorum with n open proposals of vault ops.
func batchQuorum(t *testing.T, n int) (*quorum.Quorum, [][]byte) {
	t.Helper()
	q := quorum.New(t, quorum.Options{})
	v, err := vault.Resolve(q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i := range n {
		syn, err := v.Synthetic(vault.SyntheticRequest{Seed: uint64(i + 1), Amount: 1_000_000, Fee: 1_000})
		if err != nil {
			t.Fatal(err)
		}
		pe, _, err := q.Coord.Propose(ctx, coordinator.ProposeParams{Vault: "ops", Payload: syn.PSBT}, q.CoordKeys.Identity)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := pe.Encode()
		out = append(out, raw)
	}
	return q, out
}

func sign(t *testing.T, q *quorum.Quorum, who string, raw []byte, d station.Decision) []byte {
	t.Helper()
	m := q.Stations[who]
	ae, res, err := m.Sign(ctx, raw, d, m.Keys.Identity, m.Keys.Chain)
	if err != nil {
		t.Fatalf("%s: %v (%+v)", who, err, res)
	}
	b, _ := ae.Encode()
	return b
}

func pending(t *testing.T, c *coordinator.Coordinator, raw []byte, verify bool) *coordinator.Pending {
	t.Helper()
	pd, err := c.PrepareCollect(raw)
	if err != nil {
		t.Fatal(err)
	}
	if verify {
		if err := pd.Verify(); err != nil {
			t.Fatal(err)
		}
	}
	return pd
}

func collected(t *testing.T, c *coordinator.Coordinator) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := c.WS.AuditLog(ctx, func(l *audit.Log) error {
		for i := range l.Size() {
			e, err := l.Entry(i)
			if err != nil {
				return err
			}
			if e.Event.Kind == "approval.collected" {
				out[e.Event.Subject]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRecordKeepsEachDecisionAlone: decisions recorded in one commit are
// each kept or refused alone. A second, different decision by a
// participant who decided, the same approval twice in one batch, and a
// decision never verified are refused with their own errors and leave
// no trace, while the good ones beside them are stored with their
// entries, and the threshold they meet moves the proposal.
func TestRecordKeepsEachDecisionAlone(t *testing.T) {
	q, props := batchQuorum(t, 2)
	c := q.Coord
	carolFirst := sign(t, q, "carol", props[1], station.Decision{Approve: true})
	if _, err := c.Collect(ctx, carolFirst, nil); err != nil {
		t.Fatal(err)
	}
	// carol's second decision on the same proposal: a rejection, signed
	// with her identity key (her station would not sign twice).
	e, _ := envelope.Decode(carolFirst)
	ap, _ := proposal.DecodeApproval(e)
	ap.Decision, ap.Reason, ap.Signatures = proposal.Reject, "changed my mind", nil
	second, err := proposal.SealApproval(ap, q.Stations["carol"].Keys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	carolSecond, _ := second.Encode()

	alice := sign(t, q, "alice", props[0], station.Decision{Approve: true})
	bob := sign(t, q, "bob", props[0], station.Decision{Approve: true})
	batch := []*coordinator.Pending{
		pending(t, c, alice, true),
		pending(t, c, carolSecond, true),
		pending(t, c, bob, true),
		pending(t, c, alice, true),
		pending(t, c, sign(t, q, "carol", props[0], station.Decision{Approve: true}), false),
	}
	errs := c.Record(ctx, batch)
	if errs[0] != nil || errs[2] != nil {
		t.Fatalf("good decisions refused: %v, %v", errs[0], errs[2])
	}
	if !errors.Is(errs[1], store.ErrDuplicate) || errors.Is(errs[1], coordinator.ErrAlreadyCollected) {
		t.Errorf("a second, different decision: %v", errs[1])
	}
	if !errors.Is(errs[3], coordinator.ErrAlreadyCollected) {
		t.Errorf("the same approval twice in one batch: %v", errs[3])
	}
	if errs[4] == nil {
		t.Error("a decision never verified was recorded")
	}
	if batch[2].State != proposal.StateApproved {
		t.Errorf("after alice and bob, the proposal is %q", batch[2].State)
	}
	var ds0, ds1 map[string]store.Decision
	c.WS.View(ctx, func(r store.Reader) (err error) {
		if ds0, err = r.Decisions(batch[0].ProposalID()); err != nil {
			return err
		}
		ds1, err = r.Decisions(batch[1].ProposalID())
		return err
	})
	if len(ds0) != 2 || len(ds1) != 1 {
		t.Fatalf("stored: %d decisions on the first proposal (want alice, bob), %d on the second (want carol's first)", len(ds0), len(ds1))
	}
	got := collected(t, c)
	if len(got) != 3 {
		t.Fatalf("approval.collected entries: %v, want carol's first, alice's and bob's", got)
	}
	for sub, n := range got {
		if n != 1 {
			t.Errorf("approval %s has %d entries", sub[:12], n)
		}
	}
}

// TestRecordRefusesWhatExpiredAfterVerify: an approval verified while
// its proposal was open, recorded once the proposal expired, is refused
// (its signatures are verified outside the workspace's lock, so time
// passes between the two) and leaves no trace.
func TestRecordRefusesWhatExpiredAfterVerify(t *testing.T) {
	q, props := batchQuorum(t, 1)
	c := q.Coord
	pd := pending(t, c, sign(t, q, "alice", props[0], station.Decision{Approve: true}), true)
	q.Advance(25 * time.Hour)
	if errs := c.Record(ctx, []*coordinator.Pending{pd}); !errors.Is(errs[0], proposal.ErrExpired) {
		t.Fatalf("recorded after expiry: %v", errs[0])
	}
	if got := collected(t, c); len(got) != 0 {
		t.Fatalf("an expired proposal's approval was recorded: %v", got)
	}
}
