package drill_test

import (
	"bytes"
	"context"
	"encoding/json"
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
	sc := load(t, "../docs/drills/treasury-month.yaml")
	if raceDetector {
		// Ten times slower under the race detector: the first 12 days
		// (the compromise and the absence; later faults fall outside).
		sc.Duration = drill.Duration(12 * 24 * time.Hour)
	}
	began := time.Now()
	rep, err := drill.Run(ctx, sc, drill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	t.Logf("%v simulated in %v: %d events, %+v", sc.Duration.D(), took, rep.Events, rep.Proposals)
	rep.Text(testWriter{t})
	if !rep.Passed {
		t.Fatalf("the drill failed: %v", rep.Failed())
	}
	if rep.Proposals.Attacks != 3 || rep.Proposals.Expired == 0 || rep.Proposals.Finalized == 0 {
		t.Fatalf("the month did not exercise attacks, expiries and finals: %+v", rep.Proposals)
	}
	for _, a := range rep.Attacks {
		if !a.Stopped || len(a.RejectedBy) == 0 {
			t.Errorf("attack %+v: not stopped by an honest station's review", a)
		}
	}
	if !raceDetector && took > 50*time.Second {
		t.Errorf("30 simulated days took %v; the bound is well under a minute", took)
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

// render is a run's JSON and HTML.
func render(t *testing.T, sc *drill.Scenario, seed *uint64) ([]byte, []byte) {
	t.Helper()
	rep, err := drill.Run(ctx, sc, drill.Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed {
		var b bytes.Buffer
		rep.Text(&b)
		t.Fatalf("the drill failed:\n%s", b.String())
	}
	j, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var h bytes.Buffer
	if err := rep.HTML(&h); err != nil {
		t.Fatal(err)
	}
	return j, h.Bytes()
}

// TestSameSeedSameReportByteForByte: two runs of one scenario with one
// seed, on fresh quorums with fresh keys, give the same JSON and the same
// HTML, byte for byte; another seed gives another history. The page is
// self-contained: no script, no external resource.
func TestSameSeedSameReportByteForByte(t *testing.T) {
	sc := load(t, "testdata/small.yaml")
	j1, h1 := render(t, sc, nil)
	sc = load(t, "testdata/small.yaml")
	j2, h2 := render(t, sc, nil)
	if !bytes.Equal(j1, j2) {
		t.Fatalf("same seed, different JSON:\n%s\n%s", j1, j2)
	}
	if !bytes.Equal(h1, h2) {
		t.Fatal("same seed, different HTML")
	}
	other := uint64(8)
	j3, h3 := render(t, load(t, "testdata/small.yaml"), &other)
	if bytes.Equal(j1, j3) || bytes.Equal(h1, h3) {
		t.Fatal("seeds 7 and 8 gave the same report")
	}
	for _, bad := range []string{"<script", "http://", "https://", "src=", "@import", "url("} {
		if bytes.Contains(bytes.ReplaceAll(h1, []byte(`xmlns="http://www.w3.org/2000/svg"`), nil), []byte(bad)) {
			t.Errorf("the page holds %q: not self-contained", bad)
		}
	}
	for _, want := range []string{"<svg", `class="fault`, "Invariants", "PASSED"} {
		if !bytes.Contains(h1, []byte(want)) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
