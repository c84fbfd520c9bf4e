package drill_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/drill"
)

var ctx = context.Background()

func load(t testing.TB, path string) *drill.Scenario {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := drill.ParseScenario(b)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestMonthWithEveryFaultHoldsItsInvariants: 30 simulated days with a
// compromised station, a lost key, an absent signer, a coordinator
// outage, a lost and a replayed approval: every invariant holds, the
// attacks were tried and stopped, and it runs in well under a minute.
func TestMonthWithEveryFaultHoldsItsInvariants(t *testing.T) {
	sc := load(t, "testdata/quarter.yaml")
	began := time.Now()
	rep, err := drill.Run(ctx, sc, drill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	t.Logf("30 simulated days in %v: %d events, %+v", took, rep.Events, rep.Proposals)
	rep.Text(testWriter{t})
	if !rep.Passed {
		t.Fatalf("the drill failed: %v", rep.Failed())
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }
