package station

import (
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
)

// open checks a proposal envelope against the policy chain the station
// holds: it returns the version in effect (whose rules and signers
// decide), the id of the version the proposal cites (its approval cites
// the same), and the proposal. A proposal made under an older version is
// accepted only when that version's change left it standing
// (proposal.CheckStale).
func (s *Station) open(e *envelope.Envelope) (*policy.Policy, [32]byte, *proposal.Proposal, error) {
	c, err := s.WS.PolicyChain(s.Reg)
	if err != nil {
		return nil, [32]byte{}, nil, err
	}
	cur, curID := c.Current(), c.IDs[c.InEffect]
	p, err := proposal.Decode(e)
	if err != nil {
		return nil, [32]byte{}, nil, err
	}
	cited, citedID, ok := c.ByID(p.Policy)
	if !ok || cited.Version == cur.Version {
		p, err := proposal.Open(e, cur, curID, s.Now())
		return cur, curID, p, err
	}
	p, err = proposal.OpenAt(e, cited, citedID, cur, s.Now())
	return cur, citedID, p, err
}
