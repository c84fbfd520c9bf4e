package proposal

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

// ErrProofInvalid wraps every way a threshold proof fails to verify.
var ErrProofInvalid = errors.New("proposal: the threshold proof does not verify")

// Version is one verified policy version with its id.
type Version struct {
	Policy *policy.Policy
	ID     [32]byte
}

// ProofReport is what VerifyProof established.
type ProofReport struct {
	Proof        *Proof
	Policy       *policy.Policy
	Coordinator  string
	Approvals    []string // participants whose approvals verified and count
	Endorsements []string
	TxID         string
}

func invalidProof(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProofInvalid, fmt.Sprintf(format, args...))
}

// VerifyProof checks a threshold proof end to end against a verified
// chain of policy versions and the proposal it names: the proof is signed
// by a coordinator of the version it cites; that version is in the chain;
// every approval it lists verifies (identity signature, proposal and
// policy ids, its time within the proposal's life, each chain signature
// against the signer's key in that version); they are distinct signers
// and meet the vault's threshold (or are its recovery signer); and the
// final transaction is exactly what the chain adapter assembles from
// those signatures again, so no byte of it was edited or swapped.
func VerifyProof(pe *envelope.Envelope, versions []Version, prop *envelope.Envelope, reg *chain.Registry) (*ProofReport, error) {
	pr, err := DecodeProof(pe)
	if err != nil {
		return nil, err
	}
	var ver *Version
	for i := range versions {
		if bytes.Equal(versions[i].ID[:], pr.Policy) {
			ver = &versions[i]
		}
	}
	if ver == nil {
		return nil, invalidProof("it cites policy %s version %d, which is not in this chain of %d verified versions", short(pr.Policy), pr.PolicyVersion, len(versions))
	}
	pol := ver.Policy
	if pol.Version != pr.PolicyVersion {
		return nil, invalidProof("it cites policy version %d, but the id it names is version %d's", pr.PolicyVersion, pol.Version)
	}
	rep := &ProofReport{Proof: pr, Policy: pol}
	for _, c := range pol.Coordinators {
		if pe.Verify(c.Identity) == nil {
			rep.Coordinator = c.ID
		}
	}
	if rep.Coordinator == "" {
		return nil, invalidProof("it is not signed by a coordinator of policy %s version %d", pol.Name, pol.Version)
	}
	pid := prop.ID()
	if !bytes.Equal(pr.Proposal, pid[:]) {
		return nil, invalidProof("it is for proposal %s, not %s", short(pr.Proposal), short(pid[:]))
	}
	p, err := Decode(prop)
	if err != nil {
		return nil, err
	}
	if err := prop.Verify(coordinatorKey(pol, p.Coordinator)); err != nil {
		return nil, invalidProof("the proposal is not signed by its coordinator %q: %v", p.Coordinator, err)
	}
	if p.Vault != pr.Vault || p.Chain != pr.Chain || !bytes.Equal(p.Policy, pr.Policy) {
		return nil, invalidProof("it names vault %q on %s under %s; the proposal, %q on %s under %s", pr.Vault, pr.Chain, short(pr.Policy), p.Vault, p.Chain, short(p.Policy))
	}
	v, ok := pol.Vault(p.Vault)
	if !ok {
		return nil, invalidProof("policy version %d has no vault %q", pol.Version, p.Vault)
	}
	a, err := reg.Lookup(p.Chain)
	if err != nil {
		return nil, err
	}
	// Approvals are judged at the time the proof was made (within the
	// proposal's life), not now.
	at := time.Unix(pr.Time, 0)
	if at.After(p.ExpiresTime()) {
		at = p.ExpiresTime().Add(-time.Second)
	}
	sets := map[string][]chain.Signature{}
	seen := map[string]bool{}
	recovery := false
	for i, pa := range pr.Approvals {
		ae, err := envelope.Decode(pa.Envelope)
		if err != nil {
			return nil, invalidProof("approval %d: %v", i+1, err)
		}
		if aid := ae.ID(); !bytes.Equal(aid[:], pa.Approval) {
			return nil, invalidProof("approval %d: its id is %s, the proof says %s", i+1, short(aid[:]), short(pa.Approval))
		}
		ch, err := CheckApproval(ae, p, pid, pol, ver.ID, reg, at)
		if err != nil {
			return nil, invalidProof("approval %d (%s): %v", i+1, pa.Participant, err)
		}
		if ch.Approval.Decision != Approve || ch.Endorsement {
			return nil, invalidProof("approval %d (%s) is not a signer's approval", i+1, pa.Participant)
		}
		if ch.Participant.ID != pa.Participant || ch.Device.ID != pa.Device || seen[ch.Participant.ID] {
			return nil, invalidProof("approval %d names %s/%s, or repeats a signer", i+1, pa.Participant, pa.Device)
		}
		seen[ch.Participant.ID] = true
		if s, ok := pol.SignerFor(v, ch.Participant.ID); ok && s.Recovery {
			recovery = true
		}
		sets[ch.Key] = ch.Approval.Signatures
		rep.Approvals = append(rep.Approvals, ch.Participant.ID)
	}
	for i, pa := range pr.Endorsements {
		ae, err := envelope.Decode(pa.Envelope)
		if err != nil {
			return nil, invalidProof("endorsement %d: %v", i+1, err)
		}
		ch, err := CheckApproval(ae, p, pid, pol, ver.ID, reg, at)
		if err != nil || !ch.Endorsement || ch.Approval.Decision != Approve || ch.Participant.ID != pa.Participant {
			return nil, invalidProof("endorsement %d (%s) does not verify: %v", i+1, pa.Participant, err)
		}
		rep.Endorsements = append(rep.Endorsements, pa.Participant)
	}
	switch {
	case pr.Path == "recovery":
		if !recovery || len(sets) != 1 || pr.Threshold != 1 {
			return nil, invalidProof("a recovery-path proof needs the vault's recovery signer's approval alone")
		}
	case pr.Path != "":
		return nil, invalidProof("unknown path %q", pr.Path)
	case pr.Threshold != v.Threshold || len(sets) < v.Threshold || recovery:
		return nil, invalidProof("%d signers' approvals for vault %q, whose threshold in version %d is %d (the proof says %d)", len(sets), v.Name, pol.Version, v.Threshold, pr.Threshold)
	}
	cv, err := pol.ChainVault(v)
	if err != nil {
		return nil, err
	}
	final, err := a.Assemble(cv, p.Payload, sets)
	if err != nil {
		return nil, invalidProof("the approvals do not assemble: %v", err)
	}
	if final.TxID != pr.TxID || !bytes.Equal(final.Raw, pr.Transaction) {
		return nil, invalidProof("its final transaction (%s) is not what its approvals assemble (%s): edited or swapped", pr.TxID, final.TxID)
	}
	rep.TxID = final.TxID
	return rep, nil
}

func coordinatorKey(pol *policy.Policy, id string) []byte {
	if c, ok := pol.Coordinator(id); ok {
		return c.Identity
	}
	return nil
}
