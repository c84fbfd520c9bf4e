package drill

import (
	"context"
	"os"
	"testing"
)

// TestRestoreReadoptsTheProposalsStationsKept: after the coordinator's
// database is put back to an older copy, each lost proposal a station
// keeps is taken back (coordinator.Readopt) instead of proposed again:
// its decisions are handed in again and it is finalized, under its own
// id, so no station's double-sign guard has anything to hold. Only the
// proposals no station held yet are proposed again.
func TestRestoreReadoptsTheProposalsStationsKept(t *testing.T) {
	b, err := os.ReadFile("testdata/restore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ParseScenario(b)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed {
		t.Fatalf("the drill failed: %+v", rep.Invariants)
	}
	if len(rep.Restores) != 1 || rep.Restores[0].Readopted == 0 {
		t.Fatalf("no proposal re-adopted: %+v", rep.Restores)
	}
	r := rep.Restores[0]
	readopted := map[int]bool{}
	for _, e := range rep.Notable {
		if e.Kind == "readopted" {
			readopted[e.Proposal] = true
		}
	}
	if len(readopted) != r.Readopted {
		t.Fatalf("%d readopted events, the restore counts %d", len(readopted), r.Readopted)
	}
	found := 0
	for _, p := range rep.props {
		if !readopted[p.N] {
			continue
		}
		found++
		if p.Lost || p.State != "finalized" {
			t.Errorf("re-adopted %s ended %s (lost %v), want finalized", p.name(), p.State, p.Lost)
		}
		for _, d := range rep.History.Decisions {
			if d.Proposal == p.hex() && d.Lost && !d.Collected {
				t.Errorf("%s's decision on re-adopted %s was not handed in again (%s)", d.Station, p.name(), d.Recovered)
			}
		}
		for _, q := range rep.props {
			if q.again && q.Coin == p.Coin && q.Flow == p.Flow {
				t.Errorf("re-adopted %s was proposed again as %s too", p.name(), q.name())
			}
		}
	}
	if found != len(readopted) {
		t.Fatalf("%d of %d re-adopted proposals found in the run", found, len(readopted))
	}
}
