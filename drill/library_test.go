package drill_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/drill"
	"github.com/rogpeppe/go-internal/txtar"
)

// TestLibraryScenariosHoldTheirInvariants: every scenario of the library
// (drills/ at the repository's root) runs on the real code and holds
// every invariant; a failure names the scenario and its seed.
func TestLibraryScenariosHoldTheirInvariants(t *testing.T) {
	files, err := filepath.Glob("../drills/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 6 {
		t.Fatalf("the library holds %d scenarios; want at least 6", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			sc := load(t, f)
			if raceDetector && sc.Duration.D() > 5*24*time.Hour {
				sc.Duration = drill.Duration(5 * 24 * time.Hour)
				var kept []drill.Fault
				for _, fl := range sc.Faults {
					if fl.At.D()+fl.Rotate.D() < sc.Duration.D() {
						kept = append(kept, fl)
					}
				}
				sc.Faults = kept
			}
			rep, err := drill.Run(ctx, sc, drill.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Passed {
				var b bytes.Buffer
				rep.Text(&b)
				t.Fatalf("%s failed (seed %d):\n%s", f, rep.Seed, b.String())
			}
		})
	}
}

// TestBrokenPolicyIsCaughtWithItsSeed: a test-only scenario whose policy
// change lowers the threshold to one key (and has no allowlist): the
// compromised station's payment to the attacker is finalized, and the
// checker fails the drill naming the invariant and the seed that replays
// it.
func TestBrokenPolicyIsCaughtWithItsSeed(t *testing.T) {
	rep, err := drill.Run(ctx, load(t, "testdata/broken-policy.yaml"), drill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Passed {
		t.Fatal("a policy that lets one stolen key pay the attacker passed the drill")
	}
	if got := rep.Failed(); len(got) != 1 || got[0] != drill.InvAttacks {
		t.Fatalf("failed %v, want exactly %s", got, drill.InvAttacks)
	}
	var b bytes.Buffer
	rep.Text(&b)
	if !strings.Contains(b.String(), "reproduce with --seed 13") {
		t.Fatalf("the report does not name the seed:\n%s", b.String())
	}
}

// TestLibraryScriptRunsTheLibrarysFile: the CLI's testscript
// (cmd/airlock/testdata/drill_library.txt) runs copies of library
// scenarios; each copy must be the file itself.
func TestLibraryScriptRunsTheLibrarysFile(t *testing.T) {
	a, err := txtar.ParseFile("../cmd/airlock/testdata/drill_library.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range a.Files {
		if !strings.HasPrefix(f.Name, "drills/") {
			continue
		}
		n++
		want, err := os.ReadFile(filepath.Join("..", f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Data, want) {
			t.Errorf("%s in drill_library.txt differs from the library's file", f.Name)
		}
	}
	if n == 0 {
		t.Fatal("drill_library.txt carries no drills/ scenario")
	}
}

// TestNewFaultsKeepTheReportByteForByte: a scenario with every fault of
// the second slice (a QR link dropping frames, a restore, a policy
// change, a rotation) gives the same JSON and HTML for a seed.
func TestNewFaultsKeepTheReportByteForByte(t *testing.T) {
	// The library's file crosses on media; on media the restore's
	// accepted logs must replay byte for byte too.
	media := load(t, "../drills/compromise-and-restore.yaml")
	if raceDetector {
		media.Duration = drill.Duration(9 * 24 * time.Hour)
	}
	m1, _ := render(t, media, nil)
	m2, _ := render(t, media, nil)
	if !bytes.Equal(m1, m2) || !bytes.Contains(m1, []byte(`"restoredLogs":3`)) {
		t.Fatalf("the restore on media: same seed, different report, or no restored log taken:\n%s", m1)
	}
	// QR frames cross in memory (a QR fault does not combine with media).
	sc := load(t, "../drills/compromise-and-restore.yaml")
	sc.Carry = drill.CarryMemory
	sc.Faults = append(sc.Faults, drill.Fault{Kind: drill.QRDropped, At: drill.Duration(24 * time.Hour), For: drill.Duration(2 * 24 * time.Hour), Rate: 0.3, Format: "ur", Fragment: 120})
	if raceDetector {
		sc.Duration = drill.Duration(9 * 24 * time.Hour)
	}
	j1, h1 := render(t, sc, nil)
	j2, h2 := render(t, sc, nil)
	if !bytes.Equal(j1, j2) || !bytes.Equal(h1, h2) {
		t.Fatal("same seed, different report")
	}
	for _, want := range []string{`"qr"`, `"restores"`, `"policyVersions"`, `"rotations"`, `"timeToRestoreSeconds"`} {
		if !bytes.Contains(j1, []byte(want)) {
			t.Errorf("the JSON lacks %s", want)
		}
	}
}
