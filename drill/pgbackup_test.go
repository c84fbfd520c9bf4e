package drill_test

import (
	"os"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/drill"
	"github.com/airlock-vault/airlock/internal/pgtest"
)

// TestRestoredPostgresCoordinatorIsRefusedThenAccepted: the coordinator
// the service runs keeps its store on PostgreSQL; a backup taken with
// pg_dump and put back with pg_restore is an older log, which the
// coordinator refuses as rolled back until "store accept", and the run
// recovers what the restore lost, as with a restored state.db.
func TestRestoredPostgresCoordinatorIsRefusedThenAccepted(t *testing.T) {
	if os.Getenv(pgtest.Env) == "" {
		t.Fatal(pgtest.ErrNoServer)
	}
	dsn := pgtest.Schema(t, "drill")
	sc := load(t, "testdata/restore.yaml")
	rep, err := drill.Run(ctx, sc, drill.Options{Database: dsn})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Text(&b)
	if !rep.Passed {
		t.Fatalf("the drill on PostgreSQL failed (seed %d):\n%s", rep.Seed, b.String())
	}
	if len(rep.Restores) != 1 || !rep.Restores[0].Detected {
		t.Fatalf("the pg_restore'd database was not refused as rolled back: %+v\n%s", rep.Restores, b.String())
	}
	if rep.Restores[0].ProposalsLost == 0 && rep.Restores[0].DecisionsLost == 0 {
		t.Fatalf("the restore lost nothing: the backup was not older than the log: %+v", rep.Restores[0])
	}
	// The same scenario on SQLite loses the same proposals and decisions.
	lite, err := drill.Run(ctx, load(t, "testdata/restore.yaml"), drill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Restores[0], lite.Restores[0]; got.ProposalsLost != want.ProposalsLost || got.DecisionsLost != want.DecisionsLost {
		t.Fatalf("PostgreSQL restore %+v, SQLite restore %+v: they lost different things", got, want)
	}
}
