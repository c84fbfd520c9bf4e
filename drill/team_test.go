package drill

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTabletopFacilitatorAtTheTerminal: the facilitator's terminal
// session of the sample tabletop, typed line by line: the answers, the
// go-ahead after each module, the notes, the ratings (a word outside
// HSEEP's four is asked again) and a corrective action (a due date that
// is no date is asked again) all reach the report. The team did nothing,
// so the checks rate every capability U, and the facilitator's P cannot
// raise it.
func TestTabletopFacilitatorAtTheTerminal(t *testing.T) {
	b, err := os.ReadFile("../docs/drills/tabletop-stolen-station.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ParseScenario(b)
	if err != nil {
		t.Fatal(err)
	}
	typed := strings.Join([]string{
		"the address is not in the address book", "", // module 1's questions
		"", // the team acted
		"bob saw it at once",
		"any two", "", // module 2's questions
		"", "", // acted, notes
		"", "", "", // module 3: one question, acted, notes
		"excellent", "P", // refuse: asked again
		"", "", "", // revoke, continuity, evidence: keep the checks'
		"", // no corrective action for refuse
		"rehearse revocation monthly", "alice", "next week", "2027-03-31",
		"", "", "",
	}, "\n") + "\n"
	var out bytes.Buffer
	f := NewTerminalFacilitator(strings.NewReader(typed), &out)
	aar, err := RunTabletop(context.Background(), sc, TabletopOptions{Dir: filepath.Join(t.TempDir(), "tt"), Out: &out, Facilitator: f})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got := aar.Modules[0].Answers[0].Answer; got != "the address is not in the address book" {
		t.Fatalf("answer %q\n%s", got, out.String())
	}
	if aar.Modules[0].Notes != "bob saw it at once" || aar.Modules[1].Answers[0].Answer != "any two" {
		t.Fatalf("notes %q, answer %q\n%s", aar.Modules[0].Notes, aar.Modules[1].Answers[0].Answer, out.String())
	}
	for _, c := range aar.Capabilities {
		if c.Checked != RatingU || c.Rating != RatingU {
			t.Fatalf("the team did nothing: %+v", c)
		}
	}
	if aar.Capabilities[0].Facilitator != RatingP {
		t.Fatalf("the facilitator's rating was not kept: %+v\n%s", aar.Capabilities[0], out.String())
	}
	if len(aar.Corrective) != 1 || aar.Corrective[0].Due != "2027-03-31" || aar.Corrective[0].Capability != "revoke" {
		t.Fatalf("corrective %+v\n%s", aar.Corrective, out.String())
	}
	if !strings.Contains(out.String(), `want P, S, M or U`) || aar.Ready {
		t.Fatalf("ready %v\n%s", aar.Ready, out.String())
	}
}

// TestSplitCommandRefusesAShell: the scripted team's commands are words,
// never a shell line.
func TestSplitCommandRefusesAShell(t *testing.T) {
	w, err := SplitCommand(`airlock -C bob sign p.proposal --reject --reason "not ours, \"never\"" --out 'a b'`)
	if err != nil || strings.Join(w, "|") != `airlock|-C|bob|sign|p.proposal|--reject|--reason|not ours, "never"|--out|a b` {
		t.Fatalf("%q %v", w, err)
	}
	for _, bad := range []string{"airlock status; rm -rf /", "airlock status $(id)", "airlock status > x", `airlock "open`} {
		if _, err := SplitCommand(bad); err == nil {
			t.Errorf("%q was split", bad)
		}
	}
}
