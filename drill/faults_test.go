package drill_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/drill"
)

// run runs a scenario that must hold every invariant.
func run(t *testing.T, sc *drill.Scenario) *drill.Report {
	t.Helper()
	rep, err := drill.Run(ctx, sc, drill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed {
		var b bytes.Buffer
		rep.Text(&b)
		t.Fatalf("the drill failed:\n%s", b.String())
	}
	return rep
}

func noted(rep *drill.Report, kind string) []drill.Event {
	var out []drill.Event
	for _, e := range rep.Notable {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// TestRestoredDatabaseLosesNoDecision: the coordinator's database is put
// back to a backup ten hours old. Opening it is refused as rolled back
// until it is accepted; decisions it had collected on proposals it still
// knows are handed in again from the stations' exports; proposals it
// lost that a station keeps are re-adopted from that copy; payments
// whose proposals no station held yet are proposed again on the same
// coin, and the stations that approved the lost proposal later refuse the
// second one (their double-sign guard): nothing is lost unnoticed,
// nothing signed twice.
func TestRestoredDatabaseLosesNoDecision(t *testing.T) {
	rep := run(t, load(t, "testdata/restore.yaml"))
	if len(rep.Restores) != 1 {
		t.Fatalf("restores %+v", rep.Restores)
	}
	r := rep.Restores[0]
	if !r.Detected || r.DecisionsLost == 0 || r.Recollected == 0 || r.ProposalsLost == 0 || r.Readopted == 0 || r.ProposedAgain == 0 || r.GuardHeld == 0 {
		t.Fatalf("the restore did not exercise detection, loss, re-collection and the guard: %+v", r)
	}
	if len(noted(rep, "restore-refused")) != 1 {
		t.Fatal("the rolled-back store was not refused before it was accepted")
	}
}

// TestQRFramesDroppedAreShownAgain: with 60% of the QR frames missed,
// every proposal and decision still crosses through the real encoder and
// reader (UR and BBQr), showings that end short are retried, and more
// frames are shown than needed.
func TestQRFramesDroppedAreShownAgain(t *testing.T) {
	for _, format := range []string{"ur", "bbqr"} {
		t.Run(format, func(t *testing.T) {
			sc := load(t, "testdata/small.yaml")
			sc.Faults = append(sc.Faults, drill.Fault{Kind: drill.QRDropped, Rate: 0.6, Format: format, Fragment: 120})
			rep := run(t, sc)
			q := rep.QR
			if q == nil || q.Carries == 0 || q.Retries == 0 || q.FramesShown <= q.FramesNeeded || q.FramesDropped == 0 {
				t.Fatalf("QR figures %+v", q)
			}
			if rep.Proposals.Finalized == 0 {
				t.Fatalf("nothing finalized over a lossy QR link: %+v", rep.Proposals)
			}
		})
	}
}

// TestPolicyChangeMakesOpenProposalsStale: a version raising the
// threshold to 3 of 3 is adopted while proposals are open: they are stale
// from then on (their vault changed), refused by the coordinator and the
// stations, and nothing is finalized against the superseded version.
func TestPolicyChangeMakesOpenProposalsStale(t *testing.T) {
	sc := load(t, "testdata/restore.yaml")
	sc.Faults = []drill.Fault{{Kind: drill.PolicyChange, At: drill.Duration(36 * time.Hour), Threshold: 3}}
	rep := run(t, sc)
	if len(rep.Versions) != 1 || rep.Versions[0].Version != 2 || rep.Versions[0].Stale == 0 {
		t.Fatalf("versions %+v: want version 2 making open proposals stale", rep.Versions)
	}
	refused := 0
	for _, e := range rep.Notable {
		if strings.Contains(e.Note, "made under an older policy version") {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no stale proposal was refused")
	}
}

// TestRevokedKeyIsRefusedAfterRotation: a compromised station is rotated
// out; the attacker's approval with the revoked key is refused by the
// coordinator, and the quorum is restored under the new version (the
// time to restore it is measured).
func TestRevokedKeyIsRefusedAfterRotation(t *testing.T) {
	sc := load(t, "../drills/compromise-and-restore.yaml")
	rep := run(t, sc)
	if len(rep.Rotations) != 1 || rep.Rotations[0].TimeToRestore <= 0 || rep.Rotations[0].RestoredAt == "" {
		t.Fatalf("rotations %+v", rep.Rotations)
	}
	if len(noted(rep, "revoked-refused")) == 0 {
		t.Fatal("the revoked key's approval was not tried, or not refused")
	}
	for _, inv := range rep.Invariants {
		if inv.Name == drill.InvRevoked && inv.Checked == 0 {
			t.Fatal("revoked-refused checked nothing")
		}
	}
}

// TestRecoveryPathOnlyAfterItsTimeLock: the recovery signer spends a
// reserve coin before its lock matures (the coordinator refuses to
// propose it, the station refuses to sign it when forced) and after (it
// is finalized on the recovery path), with maturity proofs from the
// drill's regtest chain.
func TestRecoveryPathOnlyAfterItsTimeLock(t *testing.T) {
	rep := run(t, load(t, "../drills/emergency-recovery.yaml"))
	if len(rep.Recoveries) != 2 {
		t.Fatalf("recoveries %+v", rep.Recoveries)
	}
	early, late := rep.Recoveries[0], rep.Recoveries[1]
	if early.Mature || early.Finalized || !strings.Contains(early.Coordinator, "recovery-immature") || !strings.Contains(early.Station, "recovery-immature") {
		t.Errorf("before the lock: %+v", early)
	}
	if !late.Mature || !late.Finalized || late.Station != "signed" {
		t.Errorf("after the lock: %+v", late)
	}
}

// TestCheckerCatchesLostDecisionsRevokedKeysAndEarlyRecovery: a history
// with a restore nobody noticed, a lost decision nobody accounted for, an
// approval by a revoked key taken in, a recovery spend before its lock
// and one refused after it: the three invariants fail.
func TestCheckerCatchesLostDecisionsRevokedKeysAndEarlyRecovery(t *testing.T) {
	at := time.Date(2026, 12, 8, 8, 0, 0, 0, time.UTC)
	h := &drill.History{
		Proposals: map[string]*drill.ProposalRecord{"aa": {Name: "#1 (routine)", Expires: at.Add(time.Hour)}},
		Logs: []drill.WorkspaceLog{{Name: "coord", Role: "coordinator", Entries: []audit.Event{
			{Time: at.Add(time.Minute), Kind: "approval.collected", Subject: "d2", Detail: map[string]string{"proposal": "aa", "participant": "carol"}},
		}}},
		Decisions: []drill.DecisionRecord{{Station: "bob", Proposal: "aa", Approval: "d1", Lost: true}},
		Restores:  []drill.RestoreCheck{{At: at, Detected: false}},
		Attempts: []drill.Attempt{
			{What: "collect", By: "carol", Proposal: "aa", Revoked: true, Accepted: true},
			{What: "recovery", By: "dave", Recovery: true, Mature: false, Accepted: true},
			{What: "recovery", By: "dave", Recovery: true, Mature: true, Accepted: false},
		},
		Revocations: []drill.Revocation{{Participant: "carol", At: at}},
	}
	got := verdicts(drill.Check(ctx, h))
	for name, want := range map[string][]string{
		drill.InvNoLost:   {"without refusing it as rolled back", "bob's decision on #1 (routine) was lost in a restore"},
		drill.InvRevoked:  {"#1 (routine): an approval with carol's revoked key was accepted", "collected carol's decision at 2026-12-08T08:01:00Z, after the revocation"},
		drill.InvTimelock: {"went through before its time lock allowed it", "did not go through, though its time lock allowed it"},
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
	}
}
