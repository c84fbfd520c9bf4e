package policy

import "slices"

// Endorser reports whether participant pid may endorse proposals for vault
// v: approve or reject them with their identity key alone, without a chain
// signature. An endorsement counts for the approval groups the policy's
// rules name ("2 of treasury AND 1 of compliance") and never toward the
// vault's on-chain threshold. Only a participant who holds no signer of
// the vault (nor its recovery path) and is a member of at least one group
// endorses; a signer approves with a chain signature or not at all.
func (p *Policy) Endorser(v *Vault, pid string) (*Participant, bool) {
	if _, ok := p.SignerFor(v, pid); ok {
		return nil, false
	}
	part, ok := p.Participant(pid)
	if !ok {
		return nil, false
	}
	for _, g := range p.Groups {
		if slices.Contains(g.Members, pid) {
			return part, true
		}
	}
	return nil, false
}
