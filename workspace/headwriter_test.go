package workspace_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/workspace"
)

// TestHeadsWrittenBehindStillCatchARollback: with DIR/head written behind
// the commits (the service's mode), the head after a flush is the log's
// newest, and a state.db put back to a copy older than that head is
// still refused at the next open.
func TestHeadsWrittenBehindStillCatchARollback(t *testing.T) {
	ctx := context.Background()
	q := quorum.New(t, quorum.Options{})
	ws := q.Coord.WS
	flush := ws.WriteHeadsBehind()
	logSome := func(from, to int) {
		for i := from; i < to; i++ {
			if err := ws.Log(ctx, "drill.note", fmt.Sprint(i), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	logSome(0, 5)
	backup := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", filepath.Join(ws.Dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("VACUUM INTO ?", backup); err != nil {
		t.Fatal(err)
	}
	db.Close()
	logSome(5, 40)
	flush()
	want, err := ws.CurrentHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(ws.Dir, "head"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Fatalf("after the flush DIR/head is\n%s\nnot the log's head\n%s", got, want.String())
	}
	// After the flush, changes write the head themselves again.
	logSome(40, 41)
	if want, err = ws.CurrentHead(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ = os.ReadFile(filepath.Join(ws.Dir, "head")); string(got) != want.String() {
		t.Fatalf("a change after the flush left DIR/head at\n%s\nnot\n%s", got, want.String())
	}
	if err := ws.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"state.db-wal", "state.db-shm"} {
		os.Remove(filepath.Join(ws.Dir, f))
	}
	old, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws.Dir, "state.db"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	w2, err := workspace.Open(ws.Dir, workspace.Options{})
	if err == nil {
		w2.Close()
		t.Fatal("a state.db rolled back behind the head written behind the commits was opened")
	}
	if !errors.Is(err, workspace.ErrRolledBack) {
		t.Fatalf("the rollback refused with %v, want ErrRolledBack", err)
	}
}
