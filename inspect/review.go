package inspect

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/station"
)

// Review is a station's review of a proposal as "airlock review --json"
// prints it (docs/schemas/review.schema.json): lists never null.
func Review(res *station.Result) any {
	// Lists are [] in JSON, never null (a copy: the review's own encoding
	// is what its digest commits to).
	rv := *res.Review
	if rv.Flags == nil {
		rv.Flags = []chain.Flag{}
	}
	if rv.Spends == nil {
		rv.Spends = []string{}
	}
	if rv.Effects != nil {
		fx := *rv.Effects
		if fx.Transfers == nil {
			fx.Transfers = []chain.Transfer{}
		}
		if fx.Actions == nil {
			fx.Actions = []chain.Action{}
		}
		rv.Effects = &fx
	}
	var conflicts []string
	for _, c := range res.Conflicts {
		conflicts = append(conflicts, c.Resource+" spent by "+hex.EncodeToString(c.Proposal[:]))
	}
	return struct {
		Proposal      string   `json:"proposal"`
		Vault         string   `json:"vault"`
		PolicyVersion uint64   `json:"policyVersion"`
		Policy        string   `json:"policy"`
		Created       string   `json:"created"`
		Expires       string   `json:"expires"`
		Intent        string   `json:"intent,omitempty"`
		Urgent        bool     `json:"urgent,omitempty"`
		Review        any      `json:"review"`
		Refusals      []string `json:"refusals"`
		Conflicts     []string `json:"conflicts"`
		Verdict       any      `json:"verdict"`
		MaySign       bool     `json:"maySign"`
		Endorsement   bool     `json:"endorsement,omitempty"`
		Template      any      `json:"template,omitempty"`
	}{hex.EncodeToString(res.ID[:]), res.Proposal.Vault, res.Proposal.PolicyVersion, hex.EncodeToString(res.PolicyID[:]),
		res.Proposal.CreatedTime().Format(time.RFC3339), res.Proposal.ExpiresTime().Format(time.RFC3339), res.Proposal.Intent,
		res.Proposal.Urgent, &rv, orEmpty(res.Refusals), orEmpty(conflicts), res.Verdict, res.MaySign(), res.Endorser, templateJSON(res)}
}

// ReviewText writes a station's review of a proposal as "airlock review"
// prints it: what the proposal says, what the chain adapter decoded, the
// policy's verdict, and whether this station may sign; now is the
// station's clock, for the time left.
func ReviewText(w io.Writer, res *station.Result, now time.Time) {
	p := res.Proposal
	if p.Urgent {
		fmt.Fprintln(w, "*** URGENT: the coordinator marks this an emergency proposal; review it as carefully as any other ***")
	}
	fmt.Fprintf(w, "proposal %s\n", hex.EncodeToString(res.ID[:]))
	fmt.Fprintf(w, "signed by coordinator %q under policy %s version %d (%s)\n", p.Coordinator, res.Policy.Name, p.PolicyVersion, hex.EncodeToString(res.PolicyID[:8]))
	if p.PolicyVersion != res.Policy.Version {
		fmt.Fprintf(w, "policy version %d is in effect now: its rules and signers decide (the vault's signers and threshold are unchanged)\n", res.Policy.Version)
	}
	fmt.Fprintf(w, "created %s, expires %s (%v left)\n", p.CreatedTime().Format(time.RFC3339), p.ExpiresTime().Format(time.RFC3339), p.ExpiresTime().Sub(now).Truncate(time.Second))
	if p.Intent != "" {
		fmt.Fprintf(w, "the coordinator says: %q (not verified; what follows is)\n", p.Intent)
	}
	for _, l := range res.Review.Lines {
		fmt.Fprintln(w, l)
	}
	for _, f := range res.Review.Flags {
		fmt.Fprintf(w, "flag %s [%s]: %s\n", f.Code, f.Severity, f.Message)
	}
	if t := res.Proposal.Template; t != "" {
		fmt.Fprintf(w, "template: %s (%s)\n", t, templateState(res))
	}
	if res.Verdict != nil {
		for _, l := range strings.Split(strings.TrimSpace(res.Verdict.String()), "\n") {
			fmt.Fprintf(w, "policy: %s\n", l)
		}
	}
	for _, c := range res.Conflicts {
		fmt.Fprintf(w, "conflict: %s is already spent by approved proposal %s\n", c.Resource, hex.EncodeToString(c.Proposal[:8]))
	}
	for _, r := range res.Refusals {
		fmt.Fprintf(w, "refusal: %s\n", r)
	}
	if res.Endorser {
		fmt.Fprintf(w, "endorsement: this station holds no signer of vault %s; an approval from here counts for the policy's approval groups, never toward the on-chain threshold\n", p.Vault)
	}
	if res.MaySign() {
		fmt.Fprintln(w, "verdict: may sign")
	} else {
		fmt.Fprintln(w, "verdict: REFUSE")
	}
}

// templateState says whether a reviewed proposal matched the template it
// names.
func templateState(res *station.Result) string {
	if res.Verdict != nil && res.Verdict.Template == res.Proposal.Template {
		return "matched"
	}
	return "NOT matched"
}

// templateJSON is the review's template, for --json (nil: none named).
func templateJSON(res *station.Result) any {
	if res.Proposal.Template == "" {
		return nil
	}
	return struct {
		Name    string `json:"name"`
		Matched bool   `json:"matched"`
	}{res.Proposal.Template, templateState(res) == "matched"}
}
