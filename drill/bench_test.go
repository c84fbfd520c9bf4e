package drill_test

import (
	"os"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/drill"
)

// BenchmarkMonthDrill: the sample month (docs/drills/treasury-month.yaml)
// end to end, or the scenario $AIRLOCK_BENCH_DRILL names; reports
// proposal rounds per second and simulated time per real time.
func BenchmarkMonthDrill(b *testing.B) {
	path := "../docs/drills/treasury-month.yaml"
	if p := os.Getenv("AIRLOCK_BENCH_DRILL"); p != "" {
		path = p
	}
	sc := load(b, path)
	rounds, simulated := 0, time.Duration(0)
	began := time.Now()
	for b.Loop() {
		rep, err := drill.Run(ctx, sc, drill.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if !rep.Passed {
			b.Fatalf("the drill failed: %v", rep.Failed())
		}
		rounds += rep.Proposals.Proposed + rep.Proposals.Attacks
		simulated += time.Duration(rep.SimulatedSeconds) * time.Second
	}
	real := time.Since(began)
	b.ReportMetric(float64(rounds)/real.Seconds(), "rounds/s")
	b.ReportMetric(simulated.Seconds()/real.Seconds(), "sim-s/real-s")
}
