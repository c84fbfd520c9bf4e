package station

import (
	"context"
	"fmt"

	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

// decide runs the policy's transaction rules (policy.Evaluate, the one
// place they are decided) on the station's own decoding of the proposal,
// with the station's own history: what it approved before, read from its
// verified log. A rule that denies, or rules that cannot decide, is a
// refusal.
func (s *Station) decide(ctx context.Context, res *Result) error {
	hist, refusal, err := s.velocityHistory(ctx, res)
	if err != nil {
		return err
	}
	if refusal != "" {
		res.Refusals = append(res.Refusals, refusal)
	}
	v, err := policy.Evaluate(res.Policy, policy.Input{Vault: res.Proposal.Vault, Effects: res.Review.Effects}, hist.Ledger, s.Now())
	if err != nil {
		res.Refusals = append(res.Refusals, fmt.Sprintf("the policy's rules cannot decide this transaction: %v", err))
		return nil
	}
	res.Verdict = v
	if !v.Allowed {
		res.Refusals = append(res.Refusals, fmt.Sprintf("policy: %s (%s)%s", v.Reason, v.Rule, hist.note(v)))
	}
	return nil
}

// history is what this station approved, per vault and asset, from the
// "spent" of its approval.created entries: its velocity memory, derived
// from its log like its claims, so deleting rows cannot make it forget.
func (s *Station) history(ctx context.Context) (*policy.Ledger, error) {
	var entries []policy.Entry
	err := s.WS.View(ctx, func(r store.Reader) (err error) {
		entries, err = workspace.Spending(r, "approval.created", nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	return policy.NewLedger(entries)
}
