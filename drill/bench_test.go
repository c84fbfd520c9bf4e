package drill_test

import (
	"fmt"
	"os"
	"runtime"
	"sync"
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

// BenchmarkTenThousandRounds: 10,000 proposal rounds with faults (an
// absence, an outage, a lost and a replayed decision, QR frames dropped,
// a compromised station), as runs of drill/testdata/bench.yaml (a day of
// a payment every 30 minutes) with seeds 1, 2, 3... on the machine's
// cores (GOMAXPROCS, 2 here), with one worker more than cores: a run
// waits on its databases' fsyncs, and the spare worker uses the core
// meanwhile. Each run builds its own quorum. Reports rounds
// per second, simulated per real seconds, and the wall time of the
// 10,000 rounds (the bound: 60 s on 2 cores). Every run must
// hold its invariants.
func BenchmarkTenThousandRounds(b *testing.B) {
	const want = 10_000
	workers := runtime.GOMAXPROCS(0) + 1
	for b.Loop() {
		var mu sync.Mutex
		rounds, runs, simulated := 0, 0, time.Duration(0)
		var failed error
		next := uint64(0)
		began := time.Now()
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for {
					mu.Lock()
					if rounds >= want || failed != nil {
						mu.Unlock()
						return
					}
					next++
					seed := next
					mu.Unlock()
					rep, err := drill.Run(ctx, load(b, "testdata/bench.yaml"), drill.Options{Seed: &seed})
					mu.Lock()
					switch {
					case err != nil:
						failed = err
					case !rep.Passed:
						failed = fmt.Errorf("seed %d: the drill failed: %v", seed, rep.Failed())
					default:
						rounds += rep.Proposals.Proposed + rep.Proposals.Attacks
						runs++
						simulated += time.Duration(rep.SimulatedSeconds) * time.Second
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if failed != nil {
			b.Fatal(failed)
		}
		real := time.Since(began)
		b.ReportMetric(float64(rounds)/real.Seconds(), "rounds/s")
		b.ReportMetric(simulated.Seconds()/real.Seconds(), "sim-s/real-s")
		b.ReportMetric(real.Seconds()*want/float64(rounds), "s/10k-rounds")
		b.ReportMetric(float64(runs), "runs")
		b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "cores")
	}
}
