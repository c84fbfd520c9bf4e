package station

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
)

// automatedRefusal says why an automated station (role automation) must
// not sign what verdict decided: anything but a proposal that matches a
// template listing it. It is "" for a person's station, or when the
// template allows it. A person cannot talk such a station into signing
// by hand either: Sign refuses the same.
func automatedRefusal(pol *policy.Policy, participant string, v *policy.Verdict) string {
	if !pol.IsAutomated(participant) {
		return ""
	}
	if v == nil || v.Template == "" {
		return fmt.Sprintf("%s is an automated station: it signs only proposals that match a template listing it, and this one matches none", participant)
	}
	t, ok := pol.Template(v.Template)
	if !ok || !slices.Contains(t.Automated, participant) {
		return fmt.Sprintf("%s is an automated station that template %q does not list", participant, v.Template)
	}
	return ""
}

// AutoResult is what Auto did with one proposal.
type AutoResult struct {
	ID       [32]byte
	Signed   *envelope.Envelope // nil when refused
	Result   *Result            // nil when the proposal could not be reviewed
	Template string             // the template it matched
	Reasons  []string           // why it was refused
}

// Auto is the automated station's round: it reviews a proposal and signs
// it (approve) only when this station's participant has the role
// automation, the proposal matches a template that lists it and nothing
// else stands against it (a conflict is never overridden). Anything else
// is refused and logged ("proposal.auto-refused" with the reasons), never
// skipped in silence. The signature is logged as every approval is
// (Sign).
func (s *Station) Auto(ctx context.Context, raw []byte, from string, id keys.Identity, signer keys.ChainSigner) (*AutoResult, error) {
	out := &AutoResult{}
	res, err := s.Review(ctx, raw)
	var ref *Refusal
	switch {
	case errors.As(err, &ref):
		out.Reasons = ref.Reasons
	case err != nil:
		out.Reasons = []string{err.Error()}
	default:
		out.ID, out.Result = res.ID, res
		if res.Verdict != nil {
			out.Template = res.Verdict.Template
		}
		out.Reasons = append(out.Reasons, res.Refusals...)
		if len(res.Refusals) == 0 {
			// Review adds it only for an automated participant; Auto
			// demands one.
			if !res.Policy.IsAutomated(s.WS.Config.Name) {
				out.Reasons = append(out.Reasons, fmt.Sprintf("%s is not an automated station (role %s): a person signs with 'airlock sign'", s.WS.Config.Name, policy.RoleAutomation))
			}
		}
		for _, c := range res.Conflicts {
			out.Reasons = append(out.Reasons, fmt.Sprintf("%s is already spent by approved proposal %s", c.Resource, hex.EncodeToString(c.Proposal[:8])))
		}
	}
	if len(out.Reasons) == 0 {
		env, _, err := s.Sign(ctx, raw, Decision{Approve: true, Reason: "template " + out.Template}, id, signer)
		var ref *Refusal
		switch {
		case errors.As(err, &ref):
			out.Reasons = ref.Reasons
		case err != nil:
			out.Reasons = []string{err.Error()}
		default:
			out.Signed = env
			return out, nil
		}
	}
	subject := ""
	if out.Result != nil {
		subject = hex.EncodeToString(out.ID[:])
	}
	detail := map[string]string{"file": from, "reason": strings.Join(out.Reasons, "; ")}
	if out.Template != "" {
		detail["template"] = out.Template
	}
	if err := s.WS.Log(ctx, "proposal.auto-refused", subject, detail); err != nil {
		return nil, err
	}
	return out, nil
}
