package policy

import (
	"fmt"
	"slices"
	"strings"
)

// required builds the requirement of an allowed transaction: the vault's
// threshold of its signers, and need (nil: nothing more), with the
// approvals gathered counted in.
func (e *evaluation) required(need *Need) (*Requirement, error) {
	base, err := e.leaf(SignersGroup, e.v.Threshold)
	if err != nil {
		return nil, err
	}
	if need == nil {
		return base, nil
	}
	r, err := e.build(need, 1)
	if err != nil {
		return nil, err
	}
	// The vault's threshold is implied when need already asks as many of
	// its signers, at its top.
	covers := func(n *Need) bool { return n.Group == SignersGroup && n.Count >= e.v.Threshold }
	if covers(need) || slices.ContainsFunc(need.All, func(n Need) bool { return covers(&n) }) {
		return r, nil
	}
	if r.Op == OpAll {
		r.Of = append([]*Requirement{base}, r.Of...)
		return r, nil
	}
	return &Requirement{Op: OpAll, Of: []*Requirement{base, r}}, nil
}

// build turns a Need into a Requirement.
func (e *evaluation) build(n *Need, depth int) (*Requirement, error) {
	if depth > MaxNeedDepth {
		return nil, fmt.Errorf("policy: a requirement nests deeper than %d", MaxNeedDepth)
	}
	if n.Group != "" {
		return e.leaf(n.Group, n.Count)
	}
	r := &Requirement{Op: OpAll}
	list := n.All
	if len(n.Any) > 0 {
		r.Op, list = OpAny, n.Any
	}
	if len(list) == 0 || (len(n.All) > 0 && len(n.Any) > 0) {
		return nil, fmt.Errorf("policy: a requirement with neither all, any nor group")
	}
	for i := range list {
		c, err := e.build(&list[i], depth+1)
		if err != nil {
			return nil, err
		}
		r.Of = append(r.Of, c)
	}
	return r, nil
}

// leaf is count approvals from group, with who counts and who approved.
func (e *evaluation) leaf(group string, count int) (*Requirement, error) {
	if count < 1 {
		return nil, fmt.Errorf("policy: group %q: count %d", group, count)
	}
	var members []string
	devices := map[string]string{} // for signers: the device that signs for the vault
	if group == SignersGroup {
		for _, ref := range e.v.Signers {
			pid, did, _ := strings.Cut(ref, "/")
			members = append(members, pid)
			devices[pid] = did
		}
	} else {
		g, ok := e.p.group(group)
		if !ok {
			return nil, fmt.Errorf("policy: no group %q", group)
		}
		members = slices.Clone(g.Members)
	}
	slices.Sort(members)
	members = slices.Compact(members)
	r := &Requirement{Op: OpGroup, Group: group, Count: count}
	for _, m := range members {
		if e.revoked(m, devices[m]) {
			continue // signs nothing any more: not a member who counts
		}
		if m == e.proposer && !e.p.ProposerCounts {
			r.Excluded = append(r.Excluded, m)
			continue
		}
		if e.excludedAutomated(m) {
			r.Automated = append(r.Automated, m)
			continue
		}
		r.Members = append(r.Members, m)
		devs := e.approvers[m]
		if did, ok := devices[m]; ok {
			if slices.Contains(devs, did) {
				r.Approved = append(r.Approved, m)
			}
		} else if len(devs) > 0 {
			r.Approved = append(r.Approved, m)
		}
	}
	return r, nil
}

// String is the verdict for a person, as a station prints it:
//
//	ALLOWED by vault rule 3 "large" (approve): it moves 150 BTC, above 100 BTC
//	required: 2 of signers {alice, bob, carol} AND 1 of compliance {dave}
//	missing:  1 of compliance {dave}
//	[info] policy-tier: 150 BTC is above the 100 BTC tier of rule "large"
func (vd *Verdict) String() string {
	var b strings.Builder
	if vd.Allowed {
		fmt.Fprintf(&b, "ALLOWED by %s: %s\n", vd.Rule, vd.Reason)
	} else {
		fmt.Fprintf(&b, "DENIED by %s: %s\n", vd.Rule, vd.Reason)
		for _, d := range vd.Denials[min(1, len(vd.Denials)):] {
			fmt.Fprintf(&b, "also denied by %s: %s\n", d.Rule, d.Reason)
		}
	}
	if vd.Required != nil {
		fmt.Fprintf(&b, "required: %s\n", vd.Required)
		if vd.Met {
			b.WriteString("missing:  nothing, the approvals gathered meet it\n")
		} else {
			fmt.Fprintf(&b, "missing:  %s\n", vd.Missing)
		}
	}
	for _, f := range vd.Flags {
		fmt.Fprintf(&b, "[%s] %s: %s\n", f.Severity, f.Code, f.Message)
	}
	return b.String()
}

// revoked says whether participant pid (with device did, for the vault's
// signers) is revoked.
func (e *evaluation) revoked(pid, did string) bool {
	part, ok := e.p.Participant(pid)
	if !ok {
		return false // not a participant: validation refuses such a policy
	}
	if part.Revoked != nil {
		return true
	}
	for _, d := range part.Devices {
		if d.ID == did && d.Revoked != nil {
			return true
		}
	}
	return false
}
