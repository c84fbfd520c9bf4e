package coordinator_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/internal/testws"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

var (
	reg = chain.NewRegistry(bitcoin.Adapter{}, safe.Adapter{})
	ctx = context.Background()
)

// fixture opens the first-release coordinator at a given time.
func fixture(t *testing.T, now time.Time) (*coordinator.Coordinator, *keystore.Keystore, string) {
	t.Helper()
	dir := testws.V1(t)
	ws, err := workspace.Open(filepath.Join(dir, "coord"), workspace.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ks, err := keystore.Open(ws.KeystorePath(), []byte(testws.Passphrase))
	if err != nil {
		t.Fatal(err)
	}
	return &coordinator.Coordinator{WS: ws, Reg: reg}, ks, dir
}

func state(t *testing.T, c *coordinator.Coordinator) (coordinator.Row, []coordinator.Row) {
	t.Helper()
	rows, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("no proposals")
	}
	return rows[0], rows
}

// TestThresholdMetThenFinalizedOnce: the collected approval that meets the
// threshold moves the proposal to approved; finalize makes one proof, and
// finalizing again gives back the same transaction and proof.
func TestThresholdMetThenFinalizedOnce(t *testing.T) {
	c, ks, dir := fixture(t, testws.Time)
	row, _ := state(t, c)
	if row.State != proposal.StateOpen || row.Decisions != "1/2 of 3" {
		t.Fatalf("migrated proposal: %s %s", row.State, row.Decisions)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "carol.approval"))
	if _, err := c.Collect(ctx, raw, nil); err != nil {
		t.Fatal(err)
	}
	row, _ = state(t, c)
	if row.State != proposal.StateApproved || row.Decisions != "2/2 of 3" || row.Left <= 0 {
		t.Fatalf("after carol: %s %s left %v", row.State, row.Decisions, row.Left)
	}
	f1, err := c.Finalize(ctx, row.ID, ks.Identity())
	if err != nil {
		t.Fatal(err)
	}
	f2, err := c.Finalize(ctx, row.ID, ks.Identity())
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := f1.Env.Encode()
	b2, _ := f2.Env.Encode()
	if !f2.Again || !bytes.Equal(b1, b2) || !bytes.Equal(f1.Final.Raw, f2.Final.Raw) {
		t.Fatal("a second finalize made a different transaction or proof")
	}
	row, _ = state(t, c)
	if row.State != proposal.StateFinalized || row.Left != 0 {
		t.Fatalf("finalized proposal shows %s with %v left", row.State, row.Left)
	}
	if err := c.MarkBroadcast(ctx, f1.Env.ID(), f1.Final.TxID, "test"); err == nil {
		t.Fatal("broadcast recorded under the proof's id instead of the proposal's")
	}
	var pid [32]byte
	copy(pid[:], f1.Proof.Proposal)
	if err := c.MarkBroadcast(ctx, pid, f1.Final.TxID, "test"); err != nil {
		t.Fatal(err)
	}
	if row, _ = state(t, c); row.State != proposal.StateBroadcast {
		t.Fatalf("after broadcast: %s", row.State)
	}
	if _, err := c.Withdraw(ctx, row.ID, "too late", ks.Identity()); !errors.Is(err, proposal.ErrTransition) {
		t.Fatalf("a broadcast proposal was withdrawn: %v", err)
	}
	if err := c.WS.VerifyState(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestExpiredProposalIsReleasedAndTakesNoDecision: past its expiry a
// proposal is moved to expired (logged), takes no decision, never
// finalizes, and its signed release says why.
func TestExpiredProposalIsReleasedAndTakesNoDecision(t *testing.T) {
	c, ks, dir := fixture(t, time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC))
	row, _ := state(t, c)
	if row.State != proposal.StateExpired || row.Left != 0 {
		t.Fatalf("past expiry: %s, %v left", row.State, row.Left)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "carol.approval"))
	if _, err := c.Collect(ctx, raw, nil); err == nil {
		t.Fatal("an expired proposal took a decision")
	}
	if _, err := c.Finalize(ctx, row.ID, ks.Identity()); err == nil {
		t.Fatal("an expired proposal finalized")
	}
	rel, err := c.Release(ctx, row.ID, ks.Identity())
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Release(ctx, row.ID, ks.Identity())
	if err != nil || again.ID() != rel.ID() {
		t.Fatalf("a second release differs: %v", err)
	}
	var n int
	c.WS.View(ctx, func(r store.Reader) error {
		idx, err := r.EntriesOfKind("proposal.expired")
		n = len(idx)
		return err
	})
	if n != 1 {
		t.Fatalf("%d proposal.expired entries", n)
	}
}

// TestWithdrawNeedsAReasonAndEndsTheProposal.
func TestWithdrawNeedsAReasonAndEndsTheProposal(t *testing.T) {
	c, ks, dir := fixture(t, testws.Time)
	row, _ := state(t, c)
	if _, err := c.Withdraw(ctx, row.ID, " ", ks.Identity()); err == nil {
		t.Fatal("withdrawn without a reason")
	}
	if _, err := c.Withdraw(ctx, row.ID, "vendor changed bank details", ks.Identity()); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "carol.approval"))
	if _, err := c.Collect(ctx, raw, nil); !errors.Is(err, proposal.ErrTransition) {
		t.Fatalf("a withdrawn proposal took a decision: %v", err)
	}
	if row, _ = state(t, c); row.State != proposal.StateWithdrawn || row.Left != 0 {
		t.Fatalf("withdrawn proposal: %s, %v left", row.State, row.Left)
	}
}
