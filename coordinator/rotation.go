package coordinator

import (
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
)

// checkApproval verifies an approval under the version the proposal
// cites (pol), as every approval is, then against the version in effect:
// a key it revokes has its approvals refused, whatever version the
// proposal cites and whenever the approval claims to be made; and a
// proposal the version in effect made stale (its vault's signers or
// threshold changed) takes no more approvals.
func (c *Coordinator) checkApproval(e *envelope.Envelope, p *proposal.Proposal, pid [32]byte, pol *policy.Policy, polID [32]byte, now time.Time) (*proposal.Checked, error) {
	checked, err := proposal.CheckApproval(e, p, pid, pol, polID, c.Reg, now)
	if err != nil {
		return nil, err
	}
	cur, _, err := c.WS.Policy(c.Reg)
	if err != nil {
		return nil, err
	}
	if err := proposal.CheckApprover(checked, cur); err != nil {
		return nil, err
	}
	if err := proposal.CheckStale(p, pol, cur); err != nil {
		return nil, err
	}
	return checked, nil
}

// rules is the version whose transaction rules decide on a proposal
// citing pol: the version in effect when it is newer (a proposal goes on
// under a newer version only when its vault is the same in both: see
// checkApproval), else pol. It reads the policy in effect, so it must be
// called before a store transaction, never inside one (where the read
// fails and the rules would silently be pol's).
func (c *Coordinator) rules(pol *policy.Policy) *policy.Policy {
	cur, _, err := c.WS.Policy(c.Reg)
	if err != nil {
		return pol
	}
	return newer(cur, pol)
}

// newer is cur, the version in effect, when it is newer than pol, the
// version a proposal cites; else pol.
func newer(cur, pol *policy.Policy) *policy.Policy {
	if cur == nil || cur.Version <= pol.Version {
		return pol
	}
	return cur
}
