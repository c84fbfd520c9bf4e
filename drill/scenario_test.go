package drill_test

import (
	"os"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/drill"
)

// TestScenarioParserRefusesWhatItDoesNotKnow: an unknown field, a
// misspelt fault, a person not in the quorum, a malformed duration or
// amount, a second document, an outsized file: each refused with the
// field's path.
func TestScenarioParserRefusesWhatItDoesNotKnow(t *testing.T) {
	base := "duration: 2d\n"
	for name, c := range map[string]struct{ src, want string }{
		"unknown field":       {base + "colour: blue\n", "field colour not found"},
		"unknown fault":       {base + "faults: [{kind: meteor, at: 1d}]\n", "faults[0].kind"},
		"fault after the end": {base + "faults: [{kind: media-lost, at: 3d}]\n", "faults[0].at"},
		"stranger":            {base + "faults: [{kind: key-lost, at: 1d, person: mallory}]\n", "faults[0].person"},
		"absence without for": {base + "faults: [{kind: absent, at: 1d, person: bob}]\n", "faults[0].for"},
		"negative duration":   {"duration: -2h\n", "non-negative"},
		"no duration":         {"name: x\n", "duration"},
		"amount as float":     {base + "workload: [{kind: routine, every: 1h, amount: 1e-3}]\n", "workload[0].amount"},
		"nine decimals":       {base + "workload: [{kind: routine, every: 1h, amount: \"0.000000001\"}]\n", "workload[0].amount"},
		"too often":           {base + "workload: [{kind: routine, every: 1m, amount: \"0.01\"}]\n", "workload[0].every"},
		"two documents":       {base + "---\n" + base, "one YAML document"},
		"hours backwards":     {base + "actors: [{person: alice, hours: {from: \"18:00\", until: \"09:00\"}}]\n", "hours.until"},
		"bad zone":            {base + "actors: [{person: alice, hours: {from: \"09:00\", until: \"17:00\", zone: Mars/Olympus}}]\n", "hours.zone"},
		"p95 below p50":       {base + "actors: [{person: alice, latency: {p50: 2h, p95: 1h}}]\n", "latency.p95"},
		"threshold too high":  {base + "quorum: {threshold: 4}\n", "quorum.threshold"},
		"attack on a replay":  {base + "faults: [{kind: media-replayed, at: 1d, attacks: [over-limit]}]\n", "faults[0]"},
		"too big":             {base + "name: " + strings.Repeat("x", drill.MaxScenarioBytes) + "\n", "bytes, over"},
	} {
		_, err := drill.ParseScenario([]byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// TestSampleScenariosParse: the scenarios shipped with the docs and the
// tests parse.
func TestSampleScenariosParse(t *testing.T) {
	for _, f := range []string{"testdata/small.yaml", "../docs/drills/treasury-month.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := drill.ParseScenario(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// FuzzParseScenario: no input makes the parser panic or accept a
// scenario outside its bounds.
func FuzzParseScenario(f *testing.F) {
	for _, p := range []string{"../docs/drills/treasury-month.yaml", "testdata/small.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("duration: 1d12h\nfaults: [{kind: absent, at: 1d, for: 3h, person: bob}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := drill.ParseScenario(b)
		if err != nil {
			return
		}
		if sc.Duration.D() <= 0 || sc.Duration.D() > drill.MaxDuration || len(sc.Quorum.People) < 2 || len(sc.Quorum.People) > drill.MaxPeople ||
			sc.Quorum.Threshold < 1 || sc.Quorum.Threshold > len(sc.Quorum.People) || len(sc.Actors) != len(sc.Quorum.People) ||
			len(sc.Faults) > drill.MaxFaults || sc.Reach.Runs < 1 || sc.Reach.Runs > drill.MaxRuns {
			t.Fatalf("accepted out of bounds: %+v", sc)
		}
		for _, fl := range sc.Workload {
			if fl.Every.D() < drill.MinEvery {
				t.Fatalf("flow every %v accepted", fl.Every.D())
			}
		}
	})
}
