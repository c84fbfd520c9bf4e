package drill_test

import (
	"os"
	"path/filepath"
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
		"unknown field":        {base + "colour: blue\n", "field colour not found"},
		"unknown fault":        {base + "faults: [{kind: meteor, at: 1d}]\n", "faults[0].kind"},
		"fault after the end":  {base + "faults: [{kind: media-lost, at: 3d}]\n", "faults[0].at"},
		"stranger":             {base + "faults: [{kind: key-lost, at: 1d, person: mallory}]\n", "faults[0].person"},
		"absence without for":  {base + "faults: [{kind: absent, at: 1d, person: bob}]\n", "faults[0].for"},
		"negative duration":    {"duration: -2h\n", "non-negative"},
		"no duration":          {"name: x\n", "duration"},
		"amount as float":      {base + "workload: [{kind: routine, every: 1h, amount: 1e-3}]\n", "workload[0].amount"},
		"nine decimals":        {base + "workload: [{kind: routine, every: 1h, amount: \"0.000000001\"}]\n", "workload[0].amount"},
		"too often":            {base + "workload: [{kind: routine, every: 1m, amount: \"0.01\"}]\n", "workload[0].every"},
		"two documents":        {base + "---\n" + base, "one YAML document"},
		"hours backwards":      {base + "actors: [{person: alice, hours: {from: \"18:00\", until: \"09:00\"}}]\n", "hours.until"},
		"bad zone":             {base + "actors: [{person: alice, hours: {from: \"09:00\", until: \"17:00\", zone: Mars/Olympus}}]\n", "hours.zone"},
		"p95 below p50":        {base + "actors: [{person: alice, latency: {p50: 2h, p95: 1h}}]\n", "latency.p95"},
		"threshold too high":   {base + "quorum: {threshold: 4}\n", "quorum.threshold"},
		"attack on a replay":   {base + "faults: [{kind: media-replayed, at: 1d, attacks: [over-limit]}]\n", "faults[0]"},
		"too big":              {base + "name: " + strings.Repeat("x", drill.MaxScenarioBytes) + "\n", "bytes, over"},
		"restore before start": {base + "faults: [{kind: database-restored, at: 1d, from: 2d}]\n", "faults[0].from"},
		"restore without from": {base + "faults: [{kind: database-restored, at: 1d}]\n", "faults[0].from"},
		"from on an outage":    {base + "faults: [{kind: coordinator-down, at: 1d, for: 1h, from: 1h}]\n", "faults[0].from"},
		"qr rate of one":       {base + "faults: [{kind: qr-dropped, at: 1d, rate: 1}]\n", "faults[0].rate"},
		"qr format":            {base + "faults: [{kind: qr-dropped, at: 1d, rate: 0.2, format: gif}]\n", "faults[0].format"},
		"qr tiny fragment":     {base + "faults: [{kind: qr-dropped, at: 1d, rate: 0.2, fragment: 5}]\n", "faults[0].fragment"},
		"rate on a key loss":   {base + "faults: [{kind: key-lost, at: 1d, person: bob, rate: 0.2}]\n", "faults[0]"},
		"empty policy change":  {base + "faults: [{kind: policy-change, at: 1d}]\n", "needs rules or threshold"},
		"threshold of four":    {base + "faults: [{kind: policy-change, at: 1d, threshold: 4}]\n", "faults[0].threshold"},
		"rules on an absence":  {base + "faults: [{kind: absent, at: 1d, for: 1h, person: bob, rules: \"default: deny\"}]\n", "faults[0]"},
		"rotate an outage":     {base + "faults: [{kind: coordinator-down, at: 1d, for: 1h, rotate: 1h}]\n", "faults[0]"},
		"replacement is known": {base + "faults: [{kind: key-lost, at: 1d, person: bob, rotate: 1h, replacement: alice}]\n", "faults[0].replacement"},
		"replacement alone":    {base + "faults: [{kind: key-lost, at: 1d, person: bob, replacement: bob-2}]\n", "needs rotate"},
		"recovery, no path":    {base + "faults: [{kind: recovery, at: 1d}]\n", "needs quorum.recovery"},
		"recovery by a signer": {base + "quorum: {recovery: {person: alice, after_blocks: 10}}\n", "quorum.recovery.person"},
		"lock of zero":         {base + "quorum: {recovery: {person: dave, after_blocks: 0}}\n", "quorum.recovery.after_blocks"},
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
	library, _ := filepath.Glob("../drills/*.yaml")
	tests, _ := filepath.Glob("testdata/*.yaml")
	for _, f := range append(append([]string{"../docs/drills/treasury-month.yaml"}, tests...), library...) {
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
