package drill_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/drill"
)

// TestBybitDelegatecallIsStoppedOnTheSafe: a compromised station tries a
// Bybit-style delegatecall (and an over-limit and an unknown-address
// payment) on a Safe 1.4.1 on go-ethereum's simulated chain. The other
// stations refuse the delegatecall with the blocking flag, no attack
// reaches the threshold, every legitimate payment is executed on chain,
// and the Safe ends with the owners, threshold and singleton the policy
// says.
func TestBybitDelegatecallIsStoppedOnTheSafe(t *testing.T) {
	rep, err := drill.Run(ctx, load(t, "../drills/safe-bybit.yaml"), drill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	rep.Text(&b)
	if !rep.Passed {
		t.Fatalf("the drill failed (seed %d):\n%s", rep.Seed, b.String())
	}
	sc := rep.History.Safe
	if sc == nil {
		t.Fatal("no on-chain reading of the Safe in the history")
	}
	if !sc.Singleton || sc.Threshold != 2 || !slices.Equal(sc.Owners, []string{"alice", "bob", "dave"}) {
		t.Fatalf("the Safe on chain: %+v", sc)
	}
	if sc.Executed == 0 || sc.Executed != rep.Proposals.Finalized || len(sc.Waiting) != 0 || len(sc.Reverted) != 0 {
		t.Fatalf("%d finalized, %d executed on chain (waiting %v, reverted %v)", rep.Proposals.Finalized, sc.Executed, sc.Waiting, sc.Reverted)
	}
	// The chain's blocks are stamped with the drill's clock: the last
	// execution happened within the simulated period.
	if start, end := rep.Start, rep.End; sc.LastBlock.Format(time.RFC3339) < start || sc.LastBlock.Format(time.RFC3339) > end {
		t.Errorf("the simulated chain's last block is at %s, outside the drill's %s..%s", sc.LastBlock.Format(time.RFC3339), start, end)
	}
	var dc *drill.Attack
	for i := range rep.Attacks {
		if rep.Attacks[i].Attack == drill.AttackDelegatecall {
			dc = &rep.Attacks[i]
		}
	}
	if dc == nil || !dc.Stopped || len(dc.RejectedBy) != 2 {
		t.Fatalf("the delegatecall attack: %+v\n%s", dc, b.String())
	}
	for _, r := range dc.RejectedBy {
		if !strings.Contains(r.Reason, "delegatecall-untrusted") {
			t.Errorf("%s refused the delegatecall for another reason: %s", r.Station, r.Reason)
		}
	}
	found := false
	for _, inv := range rep.Invariants {
		if inv.Name == drill.InvSafe {
			found = inv.Held && inv.Checked >= 3
		}
	}
	if !found {
		t.Fatalf("the %s invariant was not checked:\n%s", drill.InvSafe, b.String())
	}
}

// TestBrokenSafePolicyLetsTheTakeoverThroughAndIsCaught: the same attack
// against a policy that pins the attacker's contract as trusted: the
// stations sign it, it is executed, the Safe's singleton is replaced, and
// the checker fails the drill naming the seed.
func TestBrokenSafePolicyLetsTheTakeoverThroughAndIsCaught(t *testing.T) {
	rep, err := drill.Run(ctx, load(t, "testdata/safe-bybit-broken.yaml"), drill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	rep.Text(&b)
	if rep.Passed {
		t.Fatalf("a policy trusting the attacker's contract passed the drill:\n%s", b.String())
	}
	failed := rep.Failed()
	for _, want := range []string{drill.InvAttacks, drill.InvSafe} {
		if !slices.Contains(failed, want) {
			t.Errorf("failed %v, want %s among them", failed, want)
		}
	}
	if sc := rep.History.Safe; sc == nil || sc.Singleton {
		t.Fatalf("the Safe's singleton is still in place after the takeover: %+v", sc)
	}
	if !strings.Contains(b.String(), "reproduce with --seed 26") {
		t.Fatalf("the report does not name the seed:\n%s", b.String())
	}
}

// TestSafeDrillSameSeedSameReport: the Safe's addresses and hashes are
// fresh in every run, yet one seed gives the same JSON and HTML, byte for
// byte; another seed another history.
func TestSafeDrillSameSeedSameReport(t *testing.T) {
	sc := load(t, "../drills/safe-bybit.yaml")
	j1, h1 := render(t, sc, nil)
	j2, h2 := render(t, load(t, "../drills/safe-bybit.yaml"), nil)
	if !bytes.Equal(j1, j2) || !bytes.Equal(h1, h2) {
		t.Fatal("same seed, different report")
	}
	seed := uint64(99)
	j3, _ := render(t, load(t, "../drills/safe-bybit.yaml"), &seed)
	if bytes.Equal(j1, j3) {
		t.Fatal("another seed gave the same report")
	}
}

// TestSafeScenarioRefusesWhatItCannotRehearse: a delegatecall attack
// without a Safe, a Bitcoin destination on a Safe, an unknown Safe
// version, a policy change lowering a Safe's threshold (its
// changeThreshold would need the old threshold's signatures on chain, the
// coordinator would finalize it with fewer), the recovery path.
func TestSafeScenarioRefusesWhatItCannotRehearse(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"duration: 1d\nfaults:\n  - {kind: compromised, at: 1h, person: carol, attacks: [delegatecall]}\n", "faults[0].attacks: delegatecall is an attack on a Safe"},
		{"duration: 1d\nquorum: {safe: {}}\nworkload:\n  - {kind: routine, every: 12h, amount: \"0.1\", to: bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080}\n", "workload[0].to"},
		{"duration: 1d\nquorum: {safe: {version: \"0.9\"}}\n", "quorum.safe.version"},
		{"duration: 1d\nquorum: {people: [a, b, c], threshold: 3, safe: {}}\nfaults:\n  - {kind: policy-change, at: 1h, threshold: 2}\n", "lowering vault ops's threshold"},
		{"duration: 1d\nquorum: {safe: {}}\nfaults:\n  - {kind: recovery, at: 1h}\n", "faults[0]"},
	} {
		_, err := drill.ParseScenario([]byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.yaml, err, c.want)
		}
	}
}

// safeRun runs a Safe scenario and returns its report and text.
func safeRun(t *testing.T, path string) (*drill.Report, string) {
	t.Helper()
	rep, err := drill.Run(ctx, load(t, path), drill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	rep.Text(&b)
	return rep, b.String()
}

// checkRotatedOnChain: the drill passed, the Safe's owners on chain are
// want (the policy in force), every finalized transaction executed, and
// the one rotation restored quorum only once it executed on chain.
func checkRotatedOnChain(t *testing.T, rep *drill.Report, text string, want []string) {
	t.Helper()
	if !rep.Passed {
		t.Fatalf("the drill failed (seed %d):\n%s", rep.Seed, text)
	}
	sc := rep.History.Safe
	if sc == nil || !sc.Singleton || sc.Threshold != 2 || !slices.Equal(sc.Owners, want) || !slices.Equal(sc.WantOwners, want) || len(sc.Revoked) != 0 {
		t.Fatalf("the Safe on chain: %+v, want owners %v", sc, want)
	}
	if sc.Executed != rep.Proposals.Finalized || len(sc.Waiting) != 0 || len(sc.Reverted) != 0 {
		t.Fatalf("%d finalized, %d executed on chain (waiting %v, reverted %v)\n%s", rep.Proposals.Finalized, sc.Executed, sc.Waiting, sc.Reverted, text)
	}
	if len(rep.Rotations) != 1 {
		t.Fatalf("rotations: %+v", rep.Rotations)
	}
	r := rep.Rotations[0]
	if r.OnChainAt == "" || r.RestoredAt != r.OnChainAt || r.OnChainAt < r.RotatedAt || r.TimeToRestore <= 0 {
		t.Fatalf("the rotation was not restored on chain, or its time to restore leaves the execution out: %+v", r)
	}
	kinds := map[string]int{}
	for _, e := range rep.Notable {
		kinds[e.Kind]++
	}
	if kinds["safe-rotation-proposed"] != 1 || kinds["safe-rotation-executed"] != 1 {
		t.Fatalf("notable events %v: want one owner rotation proposed and executed", kinds)
	}
	for _, inv := range rep.Invariants {
		if inv.Name == drill.InvSafe && (!inv.Held || inv.Checked < 4) {
			t.Fatalf("%s: %+v", drill.InvSafe, inv)
		}
	}
}

// TestCompromisedSafeOwnerIsSwappedOutOnChain: carol's station is
// compromised; a day later the version that revokes her and lists dave is
// adopted, the coordinator proposes swapOwner(carol -> dave) at the next
// nonce, alice and bob sign it and it executes on the simulated chain:
// the Safe's owners are the policy's, carol's key is no owner, and the
// time to restore quorum runs until that execution.
func TestCompromisedSafeOwnerIsSwappedOutOnChain(t *testing.T) {
	rep, text := safeRun(t, "../drills/safe-bybit.yaml")
	checkRotatedOnChain(t, rep, text, []string{"alice", "bob", "dave"})
	if r := rep.Rotations[0]; r.Person != "carol" || r.Replacement != "dave" || r.Fault != drill.Compromised {
		t.Fatalf("rotation %+v", r)
	}
}

// TestLostSafeOwnerIsRotatedOutOnChain: bob's station is lost; alice and
// carol rotate him out for bob-2, on chain too. A payment still open
// under version 1 is withdrawn, not left holding its nonce.
func TestLostSafeOwnerIsRotatedOutOnChain(t *testing.T) {
	rep, text := safeRun(t, "testdata/safe-rotation-key-lost.yaml")
	checkRotatedOnChain(t, rep, text, []string{"alice", "bob-2", "carol"})
}

// TestPaymentOpenAcrossSafeRotationDoesNotBlockTheNonces: a payment open
// under version 1 when the rotation is adopted is stale. Left as it was,
// its nonce would never be used and the Safe would execute nothing after
// it, the rotation included. It is withdrawn (the stations free their
// claim on its nonce), the rotation takes that nonce, and the payment is
// proposed again under version 2 and executed after the rotation.
func TestPaymentOpenAcrossSafeRotationDoesNotBlockTheNonces(t *testing.T) {
	rep, text := safeRun(t, "testdata/safe-rotation-stale.yaml")
	checkRotatedOnChain(t, rep, text, []string{"alice", "bob", "dave"})
	var withdrawn, again int
	for _, e := range rep.Notable {
		switch e.Kind {
		case "withdrawn":
			withdrawn++
		case "proposed-again":
			again++
		}
	}
	if withdrawn == 0 || again != withdrawn {
		t.Fatalf("%d stale payments withdrawn, %d proposed again: the scenario no longer has a payment open across the rotation\n%s", withdrawn, again, text)
	}
}

// TestSafeRotationNotExecutedIsCaught: the policy rotates carol out but
// the Safe's owners are never changed on chain. The checker fails the
// drill: carol's key still owns the Safe, the owners are not the
// policy's, and the seed is named.
func TestSafeRotationNotExecutedIsCaught(t *testing.T) {
	rep, text := safeRun(t, "testdata/safe-rotation-broken.yaml")
	if rep.Passed {
		t.Fatalf("a rotation never executed on chain passed the drill:\n%s", text)
	}
	if !slices.Contains(rep.Failed(), drill.InvSafe) {
		t.Fatalf("failed %v, want %s", rep.Failed(), drill.InvSafe)
	}
	if sc := rep.History.Safe; sc == nil || !slices.Equal(sc.Revoked, []string{"carol"}) || !slices.Contains(sc.Owners, "carol") {
		t.Fatalf("the Safe on chain: %+v, want carol's revoked key reported as still an owner", sc)
	}
	if r := rep.Rotations; len(r) != 1 || r[0].OnChainAt != "" || r[0].RestoredAt != "" {
		t.Fatalf("a rotation never executed counts as restored: %+v", r)
	}
	if !strings.Contains(text, "reproduce with --seed 27") {
		t.Fatalf("the report does not name the seed:\n%s", text)
	}
}

// TestSafeThresholdRaisedByPolicyChangeIsRaisedOnChain: a policy change
// raises vault ops's threshold to 3 of 3: the coordinator proposes
// changeThreshold(3), the owners sign it, it executes, and the Safe's
// threshold on chain is the policy's. A later rules-only change asks
// nothing of the chain.
func TestSafeThresholdRaisedByPolicyChangeIsRaisedOnChain(t *testing.T) {
	rep, text := safeRun(t, "testdata/safe-policy-change.yaml")
	if !rep.Passed {
		t.Fatalf("the drill failed (seed %d):\n%s", rep.Seed, text)
	}
	sc := rep.History.Safe
	if sc == nil || sc.Threshold != 3 || sc.WantThreshold != 3 || !slices.Equal(sc.Owners, []string{"alice", "bob", "carol"}) {
		t.Fatalf("the Safe on chain: %+v, want 3 of alice, bob, carol", sc)
	}
	if sc.Executed != rep.Proposals.Finalized || len(sc.Waiting) != 0 || len(sc.Reverted) != 0 {
		t.Fatalf("%d finalized, %d executed on chain (waiting %v, reverted %v)", rep.Proposals.Finalized, sc.Executed, sc.Waiting, sc.Reverted)
	}
	if len(rep.Versions) != 2 {
		t.Fatalf("policy versions %+v", rep.Versions)
	}
	n := 0
	for _, e := range rep.Notable {
		if e.Kind == "safe-rotation-executed" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d owner or threshold changes executed on chain, want 1 (the threshold's; the rules change needs none)", n)
	}
}
