package policy

import (
	"slices"
	"strconv"
	"strings"
)

// Op is how a Requirement combines its parts.
type Op string

// Requirement operators.
const (
	OpAll   Op = "all"   // every part
	OpAny   Op = "any"   // at least one part
	OpGroup Op = "group" // Count approvals from the members of Group
)

// Requirement is a tree of approvals a transaction needs, evaluated
// against the approvals gathered so far.
type Requirement struct {
	Op Op             `json:"op"`
	Of []*Requirement `json:"of,omitempty"`
	// Group is a leaf's group: a group of the policy, or SignersGroup
	// for the vault's signers.
	Group string `json:"group,omitempty"`
	// Count is how many approvals from Members the leaf needs (in a
	// Verdict's Missing: how many more).
	Count int `json:"count,omitempty"`
	// Members are who counts, sorted (in Missing: who has yet to approve).
	Members []string `json:"members,omitempty"`
	// Excluded are members whose approval does not count here: the
	// proposer, under separation of duties.
	Excluded []string `json:"excluded,omitempty"`
	// Automated are members who are automated stations, whose approval
	// counts only under a template that lists them.
	Automated []string `json:"automated,omitempty"`
	// Approved are the members whose approval counts and is given.
	Approved []string `json:"approved,omitempty"`
	// Met says whether the approvals gathered satisfy this part.
	Met bool `json:"met"`
}

// reachable says whether the requirement can still be met by the members
// who count.
func (r *Requirement) reachable() bool {
	switch r.Op {
	case OpGroup:
		return len(r.Members) >= r.Count
	case OpAll:
		for _, c := range r.Of {
			if !c.reachable() {
				return false
			}
		}
		return true
	default:
		for _, c := range r.Of {
			if c.reachable() {
				return true
			}
		}
		return false
	}
}

// missing is what r still needs: nil when it is met; for a leaf, how many
// more approvals and from whom; for all, the parts unmet; for any, every
// part (any one of them would do).
func (r *Requirement) missing() *Requirement {
	if r.Met {
		return nil
	}
	switch r.Op {
	case OpGroup:
		left := make([]string, 0, len(r.Members))
		for _, m := range r.Members {
			if !slices.Contains(r.Approved, m) {
				left = append(left, m)
			}
		}
		return &Requirement{Op: OpGroup, Group: r.Group, Count: r.Count - len(r.Approved), Members: left}
	default:
		out := &Requirement{Op: r.Op}
		for _, c := range r.Of {
			if m := c.missing(); m != nil {
				out.Of = append(out.Of, m)
			}
		}
		if len(out.Of) == 1 {
			return out.Of[0]
		}
		return out
	}
}

// setMet computes Met through the tree.
func (r *Requirement) setMet() bool {
	switch r.Op {
	case OpGroup:
		r.Met = len(r.Approved) >= r.Count
	case OpAll:
		r.Met = true
		for _, c := range r.Of {
			r.Met = c.setMet() && r.Met
		}
	default:
		r.Met = false
		for _, c := range r.Of {
			r.Met = c.setMet() || r.Met
		}
	}
	return r.Met
}

// String writes the requirement for a person:
// "2 of signers {alice, bob, carol} AND (1 of compliance {dave} OR 2 of board {erin, frank})".
func (r *Requirement) String() string {
	if r == nil {
		return "nothing"
	}
	switch r.Op {
	case OpGroup:
		var b strings.Builder
		b.WriteString(strconv.Itoa(r.Count) + " of " + r.Group + " {" + strings.Join(r.Members, ", "))
		if len(r.Members) == 0 && len(r.Excluded) == 0 && len(r.Automated) == 0 {
			b.WriteString("nobody")
		}
		if len(r.Excluded) > 0 {
			if len(r.Members) > 0 {
				b.WriteString("; ")
			}
			b.WriteString("not " + strings.Join(r.Excluded, ", ") + ": proposer")
		}
		if len(r.Automated) > 0 {
			if len(r.Members) > 0 || len(r.Excluded) > 0 {
				b.WriteString("; ")
			}
			b.WriteString("not " + strings.Join(r.Automated, ", ") + ": automated, outside its templates")
		}
		b.WriteString("}")
		return b.String()
	default:
		sep := " AND "
		if r.Op == OpAny {
			sep = " OR "
		}
		parts := make([]string, len(r.Of))
		for i, c := range r.Of {
			parts[i] = c.String()
			if c.Op != OpGroup && c.Op != r.Op {
				parts[i] = "(" + parts[i] + ")"
			}
		}
		return strings.Join(parts, sep)
	}
}
