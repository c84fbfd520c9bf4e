package inspect

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/policy"
)

// PolicyText writes a policy and the state of its signatures as
// "airlock policy show" prints them: the text beside Policy's JSON.
func PolicyText(w io.Writer, st *policy.Status) {
	p := st.Policy
	fmt.Fprintf(w, "policy %s version %d on %s\n", p.Name, p.Version, p.Network)
	fmt.Fprintf(w, "id        %s\n", st.ID)
	if p.Previous != nil {
		fmt.Fprintf(w, "previous  %x\n", p.Previous)
	}
	fmt.Fprintf(w, "proposals live at most %v; the next version needs %d signatures\n", p.Lifetime(), p.PolicyThreshold)
	for _, c := range p.Coordinators {
		fmt.Fprintf(w, "coordinator %s  %s\n", c.ID, policy.EncodeIdentity(c.Identity))
	}
	if p.ChangeDelay != 0 {
		fmt.Fprintf(w, "a later version that loosens the rules waits %v before it takes effect\n", p.Delay())
	}
	if p.Version > 1 {
		fmt.Fprintf(w, "made %s, in effect from %s\n", time.Unix(p.Created, 0).UTC().Format(time.RFC3339), p.EffectiveAt().Format(time.RFC3339))
	}
	for _, part := range p.Participants {
		fmt.Fprintf(w, "participant %s (%s)  %s\n", part.ID, part.Name, policy.EncodeIdentity(part.Identity))
		if r := part.Revoked; r != nil {
			fmt.Fprintf(w, "    REVOKED %s: %s\n", time.Unix(r.Time, 0).UTC().Format(time.RFC3339), r.Reason)
		}
		for _, d := range part.Devices {
			fmt.Fprintf(w, "    device %s: %s %s %s  %s\n", d.ID, d.Kind, d.Vendor, d.Model, d.Key)
			if r := d.Revoked; r != nil {
				fmt.Fprintf(w, "        REVOKED %s: %s\n", time.Unix(r.Time, 0).UTC().Format(time.RFC3339), r.Reason)
			}
		}
	}
	for _, v := range p.Vaults {
		fmt.Fprintf(w, "vault %s on %s: %d of %v\n    %s\n", v.Name, v.Chain, v.Threshold, v.Signers, v.Descriptor)
		if r := v.Recovery; r != nil {
			fmt.Fprintf(w, "    recovery: %s alone, once the coins are %d blocks old\n", r.Signer, r.After)
		}
	}
	state := "INCOMPLETE"
	if st.Complete {
		state = "complete"
	}
	fmt.Fprintf(w, "signatures: %d of %d needed, %s; signed: %s; missing: %s\n", len(st.Signed), st.Needed, state, names(st.Signed), names(st.Missing))
}

// ChangesText writes the changes from prev to p (policy.Diff) and when p
// takes effect: at once if it only tightens the rules, else no sooner
// than prev's change delay after it was made.
func ChangesText(w io.Writer, prev, p *policy.Policy, changes []policy.Change) {
	fmt.Fprintf(w, "changes from version %d:\n", prev.Version)
	for _, c := range changes {
		fmt.Fprintf(w, "  %s\n", c)
	}
	at := time.Unix(p.NotBefore, 0).UTC().Format(time.RFC3339)
	if loose := policy.Loosening(changes); len(loose) > 0 {
		fmt.Fprintf(w, "version %d loosens the rules (%d changes): it takes effect at %s, no sooner than version %d's change_delay (%v) after it was made (%s)\n",
			p.Version, len(loose), at, prev.Version, prev.Delay(), time.Unix(p.Created, 0).UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintf(w, "version %d only tightens the rules: it takes effect at %s, once imported\n", p.Version, at)
	}
}

// names lists names with commas, "none" for none.
func names(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
