package drill_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/drill"
)

// mediaRun runs testdata/media.yaml (carry: media, a lost medium, a tampered
// artifact, a tampered manifest, a replayed medium) once per test binary.
var mediaReport *drill.Report

func mediaRun(t *testing.T) *drill.Report {
	t.Helper()
	if mediaReport == nil {
		mediaReport = run(t, load(t, "testdata/media.yaml"))
	}
	return mediaReport
}

func notes(rep *drill.Report, kind string) string {
	var b strings.Builder
	for _, e := range noted(rep, kind) {
		b.WriteString(e.Note + "\n")
	}
	return b.String()
}

func invariant(t *testing.T, rep *drill.Report, name string) drill.Invariant {
	t.Helper()
	for _, inv := range rep.Invariants {
		if inv.Name == name {
			return inv
		}
	}
	t.Fatalf("the report has no %s invariant", name)
	return drill.Invariant{}
}

// TestEveryCrossingGoesThroughTheGap: under carry: media every decision
// the coordinator collected came off a medium its Gap imported (a
// transfer.imported entry from a station for each approval.collected but
// the attacker's, handed straight in), and every station took its
// proposals from media.
func TestEveryCrossingGoesThroughTheGap(t *testing.T) {
	rep := mediaRun(t)
	if rep.Media == nil || rep.Media.Carried == 0 || rep.Media.Imported == 0 {
		t.Fatalf("media figures %+v", rep.Media)
	}
	forged := len(rep.Attacks)
	for _, l := range rep.History.Logs {
		imported, collected, decided := map[string]int{}, 0, 0
		for _, ev := range l.Entries {
			switch ev.Kind {
			case "transfer.imported":
				imported[ev.Detail["kind"]]++
			case "approval.collected":
				collected++
			case "approval.created", "rejection.created":
				decided++
			}
		}
		if l.Role == "coordinator" {
			if got := imported["airlock.approval/v1"]; got == 0 || got != collected-forged {
				t.Errorf("the coordinator collected %d decisions (%d forged) and imported %d from media: %v", collected, forged, got, imported)
			}
			continue
		}
		if decided > 0 && imported["airlock.proposal/v1"] < decided {
			t.Errorf("%s made %d decisions on %d proposals imported from media", l.Name, decided, imported["airlock.proposal/v1"])
		}
	}
	for _, name := range []string{drill.InvMedia, drill.InvCustody} {
		if inv := invariant(t, rep, name); !inv.Held || inv.Checked == 0 {
			t.Errorf("%s: %+v", name, inv)
		}
	}
}

// TestReplayedMediumIsRefusedByTheGap: an old medium with bob's decision
// is handed to the coordinator again, and the medium with that proposal
// to bob's station again: both Gaps refuse them as replays.
func TestReplayedMediumIsRefusedByTheGap(t *testing.T) {
	rep := mediaRun(t)
	if rep.Media.Replayed != 2 {
		t.Fatalf("replayed %d media, want 2 (to the coordinator, to the station)", rep.Media.Replayed)
	}
	got := notes(rep, "replay-refused")
	if strings.Count(got, "media: replayed transfer") != 2 {
		t.Fatalf("replays refused:\n%s", got)
	}
	if inv := invariant(t, rep, drill.InvReplay); !inv.Held || inv.Checked != 2 {
		t.Fatalf("%+v", inv)
	}
}

// TestTamperedArtifactIsRefusedByTheManifestCheck: one byte of the
// decision on the medium is changed: the coordinator's Gap refuses it
// (its digest is not the manifest's), collects nothing from it, and the
// station's decision, exported again, is collected.
func TestTamperedArtifactIsRefusedByTheManifestCheck(t *testing.T) {
	rep := mediaRun(t)
	got := notes(rep, "tamper-refused")
	if !strings.Contains(got, "media: artifact does not match its manifest") {
		t.Fatalf("tampered media refused:\n%s", got)
	}
	if n := len(noted(rep, "tamper-accepted")); n != 0 {
		t.Fatalf("%d tampered media accepted", n)
	}
	if rep.Media.Reexported < rep.Media.Tampered+rep.Media.Lost {
		t.Fatalf("media %+v: a decision lost or refused was not exported again", rep.Media)
	}
}

// TestTamperedManifestIsRefused: one byte of the manifest is changed: its
// signature does not verify and the coordinator's Gap imports nothing
// from the medium.
func TestTamperedManifestIsRefused(t *testing.T) {
	got := notes(mediaRun(t), "tamper-refused")
	if !strings.Contains(got, "signature does not verify") || !strings.Contains(got, "nothing imported") {
		t.Fatalf("tampered manifest not refused by its signature:\n%s", got)
	}
}

// TestLostMediumIsExportedAgainAndReconciled: the medium with bob's
// decision is lost (its folder removed); bob's station exports the kept
// decision again, the coordinator reports the gap in bob's sequence, and
// the custody records still reconcile: the one transfer the coordinator
// never received is the lost medium's.
func TestLostMediumIsExportedAgainAndReconciled(t *testing.T) {
	rep := mediaRun(t)
	if rep.Media.Lost != 1 || len(noted(rep, "media-lost")) != 1 {
		t.Fatalf("media %+v", rep.Media)
	}
	if !strings.Contains(notes(rep, "media-gap"), "from station/bob never arrived") {
		t.Fatal("the coordinator did not report the gap the lost medium left")
	}
	m := rep.History.Media
	explained := 0
	for _, f := range m.Findings {
		if !f.Explained {
			t.Errorf("unexplained custody finding: %s", f.Text)
		}
		if strings.Contains(f.Text, "bob sent a transfer the coordinator never received") {
			explained++
		}
	}
	if explained == 0 {
		t.Errorf("the lost medium is not among the custody findings: %+v", m.Findings)
	}
}

// TestMediaRunKeepsTheReportByteForByte: under carry: media (real
// folders under a fresh temporary folder each run) the same seed gives the
// same JSON and HTML, naming no folder.
func TestMediaRunKeepsTheReportByteForByte(t *testing.T) {
	sc := load(t, "testdata/media.yaml")
	j1, h1 := render(t, sc, nil)
	j2, h2 := render(t, load(t, "testdata/media.yaml"), nil)
	if !bytes.Equal(j1, j2) || !bytes.Equal(h1, h2) {
		t.Fatal("same seed, different report")
	}
	for _, b := range [][]byte{j1, h1} {
		if bytes.Contains(b, []byte("airlock-drill-")) || bytes.Contains(b, []byte("/media/")) {
			t.Fatal("the report names a temporary folder")
		}
	}
	if !bytes.Contains(j1, []byte(`"media":{`)) || !bytes.Contains(h1, []byte("Removable media")) {
		t.Fatal("the report lacks the media figures")
	}
}

// TestMediaTamperedNeedsMedia: media-tampered in a scenario carried in
// memory, and carry: media with a fault it does not combine with yet, are
// refused when the scenario is read.
func TestMediaTamperedNeedsMedia(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"duration: 1d\nfaults: [{kind: media-tampered, at: 1h}]\n", "needs carry: media"},
		{"duration: 1d\ncarry: media\nfaults: [{kind: qr-dropped, at: 1h, rate: 0.1}]\n", "does not combine with carry: media"},
		{"duration: 1d\ncarry: stick\n", `"stick": want memory or media`},
		{"duration: 1d\ncarry: media\nfaults: [{kind: media-tampered, at: 1h, part: label}]\n", "want artifact or manifest"},
		{"duration: 1d\ncarry: media\nfaults: [{kind: media-lost, at: 1h, part: manifest}]\n", "part and toward are for media-tampered"},
		{"duration: 1d\ncarry: media\nfaults: [{kind: media-tampered, at: 1h, toward: bob}]\n", "want coordinator or station"},
	} {
		_, err := drill.ParseScenario([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// TestCheckerCatchesAnAcceptedTamperedMediumAndABrokenCustodyChain: a
// history where a tampered medium was imported, a transfer was imported
// twice and the custody records differ: both media invariants fail.
func TestCheckerCatchesAnAcceptedTamperedMediumAndABrokenCustodyChain(t *testing.T) {
	h := &drill.History{
		Proposals: map[string]*drill.ProposalRecord{},
		Logs:      []drill.WorkspaceLog{{Name: "coord", Role: "coordinator", Entries: []audit.Event{{Time: time.Unix(0, 0), Kind: "key.created"}}}},
		Media: &drill.MediaCheck{
			Handins: []drill.MediaHandin{
				{Kind: drill.MediaTampered, Receiver: "coord", Peer: "station/bob", Sequence: 3, Proposal: "#2 (routine)"},
				{Kind: drill.MediaReplayed, Receiver: "alice", Peer: "coordinator/coord", Proposal: "#1 (routine)", Refused: true},
			},
			Transfers: []string{"coord station/bob 1", "coord station/bob 1", "coord station/bob 2"},
			Compared:  4,
			Findings: []drill.CustodyFinding{
				{Text: "DIFFERS  bob transfer 2 (approval)", Explained: false},
				{Text: "UNKNOWN  bob sent a transfer the coordinator never received: #3", Explained: true},
			},
			Signed:  2,
			Unnamed: []string{"alice's decision on #3 (routine) does not name the transfer that brought the proposal in its custody record"},
		},
	}
	got := verdicts(drill.Check(ctx, h))
	for name, want := range map[string][]string{
		drill.InvMedia:   {"#2 (routine): a tampered medium (transfer 3 from station/bob) was imported by coord", "imported twice: coord station/bob 1"},
		drill.InvCustody: {"DIFFERS  bob transfer 2", "alice's decision on #3 (routine) does not name the transfer"},
	} {
		inv := got[name]
		if inv.Held {
			t.Errorf("%s held", name)
		}
		all := strings.Join(inv.Violations, "\n")
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: violations %q lack %q", name, all, w)
			}
		}
		if strings.Contains(all, "UNKNOWN") || strings.Contains(all, "#1 (routine)") {
			t.Errorf("%s: an explained finding or a refused replay counted: %q", name, all)
		}
	}
}

// TestTamperedProposalIsRefusedByTheStation: in a 2-of-2, on the way to
// alice's station a byte of a proposal (or of its manifest) is changed:
// her station's Gap refuses it, the coordinator exports the proposal to
// her again, she decides on the new medium, and the payment is finalized.
func TestTamperedProposalIsRefusedByTheStation(t *testing.T) {
	for _, part := range []string{"artifact", "manifest"} {
		t.Run(part, func(t *testing.T) {
			sc, err := drill.ParseScenario([]byte(`name: a tampered proposal
seed: 3
duration: 2d
carry: media
quorum: {people: [alice, bob], threshold: 2}
actors:
  - {person: alice, latency: {p50: 1h, p95: 2h}}
  - {person: bob, latency: {p50: 1h, p95: 2h}}
workload:
  - {kind: routine, every: 12h, amount: "0.05"}
faults:
  - {kind: media-tampered, at: 1h, person: alice, toward: station, part: ` + part + `, reexport: 1h}
`))
			if err != nil {
				t.Fatal(err)
			}
			rep := run(t, sc)
			refused := noted(rep, "tamper-refused")
			want := map[string]string{"artifact": "media: artifact does not match its manifest", "manifest": "nothing imported"}[part]
			if len(refused) != 1 || refused[0].Who != "alice" || !strings.Contains(refused[0].Note, want) {
				t.Fatalf("refused %+v, want alice's station refusing with %q", refused, want)
			}
			n := refused[0].Proposal
			if !strings.Contains(notes(rep, "reexported"), "the coordinator exports the proposal to alice again") {
				t.Fatal("the coordinator did not export the proposal again")
			}
			var id string
			for k, p := range rep.History.Proposals {
				if strings.HasPrefix(p.Name, fmt.Sprintf("#%d ", n)) {
					id = k
				}
			}
			decided := false
			for _, d := range rep.History.Decisions {
				decided = decided || (d.Station == "alice" && d.Proposal == id && d.Collected)
			}
			finalized := false
			for _, f := range rep.History.Finals {
				finalized = finalized || f.Proposal == id
			}
			if !decided || !finalized {
				t.Fatalf("#%d: alice's decision collected %v, finalized %v", n, decided, finalized)
			}
		})
	}
}
