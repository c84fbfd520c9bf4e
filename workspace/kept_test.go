package workspace_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/airlock-vault/airlock/workspace"
)

// TestFindNamesOneThingOrRefuses: a proposal's id gives the coordinator
// the proposal; an id that names nothing is ErrNotFound; a reference too
// short to be unique is refused. (A station's reference to a proposal
// gives its own decision: the crash test exports decisions that way after
// every kill.)
func TestFindNamesOneThingOrRefuses(t *testing.T) {
	ctx := context.Background()
	dir := untar(t)
	coord := open(t, filepath.Join(dir, "coord"))
	defer coord.Close()
	ps, err := coord.Proposals()
	if err != nil || len(ps) != 1 {
		t.Fatalf("fixture proposals: %v %d", err, len(ps))
	}
	ref := ps[0].IDHex()[:8]
	k, err := coord.Find(ctx, ref)
	if err != nil || k.Kind != "proposal" || k.Env.ID() != ps[0].ID() {
		t.Fatalf("coordinator: %v %+v", err, k)
	}
	if _, err := coord.Find(ctx, "ffffffff"); !errors.Is(err, workspace.ErrNotFound) {
		t.Fatalf("nothing named: %v", err)
	}
	if _, err := coord.Find(ctx, ref[:3]); err == nil {
		t.Fatal("a 3-digit reference was taken")
	}
}
