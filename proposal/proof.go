package proposal

import (
	"crypto"
	"fmt"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
)

// Proof records who approved a final transaction under which policy
// version, and what each approval was verified to cover. The coordinator
// signs it; an auditor can check every approval it lists against the
// policy and the proposal on their own.
type Proof struct {
	Format        int             `cbor:"1,keyasint" json:"format"`
	Proposal      []byte          `cbor:"2,keyasint" json:"proposal"`
	Chain         string          `cbor:"3,keyasint" json:"chain"`
	Vault         string          `cbor:"4,keyasint" json:"vault"`
	Policy        []byte          `cbor:"5,keyasint" json:"policy"`
	PolicyVersion uint64          `cbor:"6,keyasint" json:"policyVersion"`
	Threshold     int             `cbor:"7,keyasint" json:"threshold"`
	TxID          string          `cbor:"8,keyasint" json:"txid"`
	Transaction   []byte          `cbor:"9,keyasint" json:"transaction"`
	Approvals     []ProofApproval `cbor:"10,keyasint" json:"approvals"`
	Time          int64           `cbor:"11,keyasint" json:"time"`
	// Path is "recovery" when the vault's recovery signer alone approved
	// (Threshold is then 1); empty for the threshold path.
	Path string `cbor:"12,keyasint,omitempty" json:"path,omitempty"`
	// Rule is the policy rule the assembly met and what it required
	// (policy.Evaluate at assembly), e.g. `vault rule 2 "large"
	// (approve): 2 of signers {…} AND 1 of compliance {…}`.
	Rule string `cbor:"13,keyasint,omitempty" json:"rule,omitempty"`
	// Endorsements are the approvals of participants who hold no signer
	// of the vault (policy.Endorser) that the rule counted: identity
	// signatures only, no device, nothing verified on chain.
	Endorsements []ProofApproval `cbor:"14,keyasint,omitempty" json:"endorsements,omitempty"`
}

// ProofApproval is one approval used in an assembly.
type ProofApproval struct {
	Participant string           `cbor:"1,keyasint" json:"participant"`
	Device      string           `cbor:"2,keyasint" json:"device"`
	Approval    []byte           `cbor:"3,keyasint" json:"approval"` // approval id
	Envelope    []byte           `cbor:"4,keyasint" json:"envelope"` // the signed approval, for independent checking
	Verified    []chain.Verified `cbor:"5,keyasint" json:"verified"`
}

// SealProof encodes and signs a proof with the coordinator's identity key.
func SealProof(p *Proof, key crypto.Signer) (*envelope.Envelope, error) {
	b, err := envelope.Marshal(p)
	if err != nil {
		return nil, err
	}
	e, err := envelope.New(envelope.TypeProof, b)
	if err != nil {
		return nil, err
	}
	return e, e.Sign(key)
}

// DecodeProof reads the proof in an envelope.
func DecodeProof(e *envelope.Envelope) (*Proof, error) {
	if e.Type != envelope.TypeProof {
		return nil, fmt.Errorf("proposal: envelope holds %s, not a threshold proof", e.Type)
	}
	var p Proof
	if err := envelope.Unmarshal(e.Payload, &p); err != nil {
		return nil, fmt.Errorf("proposal: malformed proof: %v", err)
	}
	return &p, nil
}
