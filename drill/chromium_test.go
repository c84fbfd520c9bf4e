package drill

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/internal/browser"
)

// writePage writes a report's HTML to a file for the browser.
func writePage(t *testing.T, name string, html func(f *os.File) error) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := html(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestDrillReportInChromium: the report of a real short drill — an
// absent signer, a coordinator outage, a compromised station — opened in
// Debian's Chromium (test/browser/drill.js): its SVG plots render, with
// the fault windows shaded and painted; its verdict table has a row per
// invariant, every one held; it requests nothing beyond its own file (no
// CDN, no font, no script). The screenshot is kept in $AIRLOCK_ARTIFACTS
// (default under the system's temporary folder), not in the repository.
func TestDrillReportInChromium(t *testing.T) {
	sc, err := ParseScenario([]byte(`name: chromium
seed: 4
duration: 3d
quorum:
  rules: |
    address_book:
      - {label: cold, chain: bitcoin, address: bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080}
    transaction_rules:
      - {name: known, kind: allowlist}
workload:
  - {kind: routine, every: 8h, amount: "0.05", to: bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080}
faults:
  - {kind: absent, at: 12h, for: 1d, person: bob}
  - {kind: coordinator-down, at: 2d, for: 6h}
  - {kind: compromised, at: 1d, person: carol, attacks: [unknown-address]}
reachability: {runs: 200, deadline: 12h}
`))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed {
		t.Fatalf("the drill failed: %v", rep.Failed())
	}
	var names []string
	for _, inv := range rep.Invariants {
		names = append(names, inv.Name)
	}
	file := writePage(t, "drill.html", func(f *os.File) error { return rep.HTML(f) })
	s := browser.Start(t, "drill.js", map[string]any{
		"kind": "run", "file": file, "out": browser.Artifacts(t, "drill"),
		"plots": 3, "windows": 2, "invariants": names,
	})
	t.Log(s.Expect("DONE", 2*time.Minute))
	s.Wait(30 * time.Second)
}

// TestTabletopReportInChromium: the after-action report of the sample
// tabletop, where the team never revoked the missing station's key, in
// Chromium: the verdict says not ready, the ratings table has one row
// per capability with the rating the checks gave (revocation: U), every
// module and task is there, and nothing is requested beyond the file.
func TestTabletopReportInChromium(t *testing.T) {
	tm := newTeam(t)
	tm.skip[1] = true
	aar := runTeam(t, tm)
	var caps []map[string]string
	for _, c := range aar.Capabilities {
		caps = append(caps, map[string]string{"name": c.Name, "rating": c.Rating})
	}
	tasks := 0
	for _, m := range aar.Modules {
		tasks += len(m.Tasks)
	}
	file := writePage(t, "aar.html", func(f *os.File) error { return aar.HTML(f) })
	s := browser.Start(t, "drill.js", map[string]any{
		"kind": "tabletop", "file": file, "out": browser.Artifacts(t, "drill"),
		"verdict": "NOT READY: a capability was unable to be performed", "capabilities": caps,
		"tasks": tasks, "modules": len(aar.Modules),
	})
	t.Log(s.Expect("DONE", 2*time.Minute))
	s.Wait(30 * time.Second)
}
