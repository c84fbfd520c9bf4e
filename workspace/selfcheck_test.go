package workspace_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/vault"
	"github.com/airlock-vault/airlock/workspace"
)

// TestFailedSelfCheckHaltsProposalsUntilAcknowledged: a scheduled
// verification that finds the log broken (its signed checkpoints deleted
// behind the workspace's back) halts new proposals; a broken log cannot
// be acknowledged; once repaired (a new checkpoint), an operator's
// acknowledgement, logged with its reason, lifts the halt.
func TestFailedSelfCheckHaltsProposalsUntilAcknowledged(t *testing.T) {
	ctx := context.Background()
	q := quorum.New(t, quorum.Options{})
	ws := q.Coord.WS
	if _, err := ws.Checkpoint(ctx, q.CoordKeys.Identity); err != nil {
		t.Fatal(err)
	}
	v, err := ws.SelfCheck(ctx)
	if err != nil || v.Err != nil || v.Halted != "" || v.LastOK.IsZero() {
		t.Fatalf("a sound workspace: %+v, %v", v, err)
	}
	db, err := sql.Open("sqlite", filepath.Join(ws.Dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM audit_checkpoints"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	v, err = ws.SelfCheck(ctx)
	if err != nil || v.Err == nil || v.Failures != 1 || !strings.Contains(v.Halted, "checkpoint") {
		t.Fatalf("after the checkpoints were deleted: %+v, %v", v, err)
	}
	pay := func() error {
		vt, err := vault.Resolve(ws, quorum.Reg, "ops")
		if err != nil {
			t.Fatal(err)
		}
		syn, err := vt.Synthetic(vault.SyntheticRequest{Seed: 5, Amount: 100_000, Fee: 1000})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = q.Coord.Propose(ctx, coordinator.ProposeParams{Vault: "ops", Payload: syn.PSBT}, q.CoordKeys.Identity)
		return err
	}
	if err := pay(); !errors.Is(err, workspace.ErrHalted) {
		t.Fatalf("a proposal while halted: %v", err)
	}
	if err := ws.AcknowledgeHalt(ctx, "looked into it"); err == nil {
		t.Fatal("a broken log was acknowledged")
	}
	if _, err := ws.Checkpoint(ctx, q.CoordKeys.Identity); err != nil {
		t.Fatal(err)
	}
	if err := pay(); !errors.Is(err, workspace.ErrHalted) {
		t.Fatalf("repaired but not acknowledged: %v", err)
	}
	if err := ws.AcknowledgeHalt(ctx, "checkpoints restored; the records were intact"); err != nil {
		t.Fatal(err)
	}
	if err := pay(); err != nil {
		t.Fatalf("after the acknowledgement: %v", err)
	}
}
