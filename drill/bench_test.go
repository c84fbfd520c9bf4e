package drill_test

import (
	"testing"
	"time"

	"github.com/airlock-vault/airlock/drill"
)

// BenchmarkMonthDrill: the sample month (docs/drills/treasury-month.yaml)
// end to end; reports proposal rounds per second and simulated time per
// real time.
func BenchmarkMonthDrill(b *testing.B) {
	sc := load(b, "../docs/drills/treasury-month.yaml")
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
