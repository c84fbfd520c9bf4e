package station

import (
	"context"
	"fmt"

	"github.com/airlock-vault/airlock/policy"
)

// decide runs the policy's transaction rules (policy.Evaluate, the one
// place they are decided) on the station's own decoding of the proposal,
// with the station's history: what it approved before, read from its
// verified log, and what the coordinator's proven spend history shows
// (history.go). A rule that denies, rules that cannot decide, or a
// history that cannot be proven for a vault with velocity rules, is a
// refusal.
func (s *Station) decide(ctx context.Context, res *Result) error {
	hist, refusal, err := s.velocityHistory(ctx, res)
	if err != nil {
		return err
	}
	if refusal != "" {
		res.Refusals = append(res.Refusals, refusal)
	}
	v, err := policy.Evaluate(res.Policy, policy.Input{Vault: res.Proposal.Vault, Effects: res.Review.Effects, Template: res.Proposal.Template}, hist.Ledger, s.Now())
	if err != nil {
		res.Refusals = append(res.Refusals, fmt.Sprintf("the policy's rules cannot decide this transaction: %v", err))
		return nil
	}
	res.Verdict = v
	if !v.Allowed {
		res.Refusals = append(res.Refusals, fmt.Sprintf("policy: %s (%s)%s", v.Reason, v.Rule, hist.note(v)))
	}
	if why := automatedRefusal(res.Policy, s.WS.Config.Name, v); why != "" {
		res.Refusals = append(res.Refusals, why)
	}
	return nil
}
