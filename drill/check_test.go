package drill_test

import (
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/drill"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
)

func verdicts(invs []drill.Invariant) map[string]drill.Invariant {
	m := map[string]drill.Invariant{}
	for _, inv := range invs {
		m[inv.Name] = inv
	}
	return m
}

// TestCheckerCatchesAFabricatedHistory: a history written by hand with a
// station that approved two spends of one coin, a decision missing from
// its log, a late approval the coordinator took, a replay accepted, an
// attacker's proposal finalized and a log that does not verify: each
// invariant fails, naming the proposal by its number.
func TestCheckerCatchesAFabricatedHistory(t *testing.T) {
	exp := time.Date(2026, 12, 8, 8, 0, 0, 0, time.UTC)
	h := &drill.History{
		Proposals: map[string]*drill.ProposalRecord{
			"aa": {Name: "#1 (routine)", Expires: exp},
			"bb": {Name: "#2 (attack:double-spend)", Expires: exp, Attack: true},
		},
		Finals: []drill.FinalRecord{{Proposal: "bb", At: exp.Add(-time.Hour)}},
		Logs: []drill.WorkspaceLog{
			{Name: "coord", Role: "coordinator", Entries: []audit.Event{
				{Time: exp.Add(time.Minute), Kind: "approval.collected", Subject: "d2", Detail: map[string]string{"proposal": "aa"}},
			}},
			{Name: "alice", Role: "station", VerifyErr: "audit: entry 7 tampered", Entries: []audit.Event{
				{Kind: "approval.created", Subject: "d1", Detail: map[string]string{"proposal": "aa", "claims": "coin:0"}},
				{Kind: "approval.created", Subject: "d3", Detail: map[string]string{"proposal": "bb", "claims": "coin:0"}},
			}},
		},
		Decisions: []drill.DecisionRecord{
			{Station: "alice", Proposal: "aa", Approval: "d1", Collected: true},
			{Station: "bob", Proposal: "aa", Approval: "d9"},
		},
		Attempts: []drill.Attempt{
			{What: "collect", By: "bob", Proposal: "aa", Late: true, Accepted: true},
			{What: "collect", By: "alice", Proposal: "aa", Replay: true, Accepted: true},
		},
	}
	got := verdicts(drill.Check(ctx, h))
	for name, want := range map[string]string{
		drill.InvPolicy:      "#2 (attack:double-spend): the proposal is not in the history",
		drill.InvDoubleSpend: "alice approved #1 (routine) and #2 (attack:double-spend), which both spend coin:0",
		drill.InvAudited:     "bob's decision on #1 (routine) is not in its audit log",
		drill.InvLogs:        "alice: audit: entry 7 tampered",
		drill.InvExpired:     "#1 (routine): a collect after its expiry was accepted (bob)",
		drill.InvAttacks:     "#2 (attack:double-spend) was finalized",
		drill.InvReplay:      "#1 (routine): a replayed collect was accepted (alice)",
	} {
		inv := got[name]
		if inv.Held || !strings.Contains(strings.Join(inv.Violations, "\n"), want) {
			t.Errorf("%s: held %v, violations %q; want %q", name, inv.Held, inv.Violations, want)
		}
	}
	if !strings.Contains(strings.Join(got[drill.InvAudited].Violations, "\n"), "the coordinator collected alice's decision on #1 (routine) but its log does not say so") {
		t.Errorf("a collection missing from the coordinator's log passed: %q", got[drill.InvAudited].Violations)
	}
	if !strings.Contains(strings.Join(got[drill.InvExpired].Violations, "\n"), "approval.collected at 2026-12-08T08:01:00Z, at or after its expiry") {
		t.Errorf("a late collection in the coordinator's log passed: %q", got[drill.InvExpired].Violations)
	}
}

// TestCheckerCatchesFinalsOutsideABrokenPolicy: the real finals and
// threshold proofs of a run, judged against the same policy with a cap
// of 0.00001 BTC added (what a policy the coordinator ignored would
// look like): every final is outside it and the drill fails.
func TestCheckerCatchesFinalsOutsideABrokenPolicy(t *testing.T) {
	rep, err := drill.Run(ctx, load(t, "testdata/small.yaml"), drill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := rep.History
	if !rep.Passed || len(h.Finals) == 0 {
		t.Fatalf("the run: passed %v, %d finals", rep.Passed, len(h.Finals))
	}
	last := h.Versions[len(h.Versions)-1]
	strict := *last.Policy
	strict.TxRules = append(append([]policy.TxRule(nil), strict.TxRules...), policy.TxRule{Name: "tiny", Kind: policy.RuleLimit, Asset: "BTC", Max: "1000"})
	h.Versions = append(append([]proposal.Version(nil), h.Versions[:len(h.Versions)-1]...), proposal.Version{Policy: &strict, ID: last.ID})
	inv := verdicts(drill.Check(ctx, h))[drill.InvPolicy]
	if inv.Held || len(inv.Violations) != len(h.Finals) || !strings.Contains(inv.Violations[0], `"tiny"`) {
		t.Fatalf("finals outside a 1000-satoshi cap: held %v, %d of %d flagged: %q", inv.Held, len(inv.Violations), len(h.Finals), inv.Violations)
	}
}
