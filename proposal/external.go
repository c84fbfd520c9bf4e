package proposal

import (
	"crypto"
	"errors"
	"fmt"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
)

// External is an approval from an external PSBT device (a Coldcard, a
// Sparrow wallet, a Keystone): the device has no airlock identity, so the
// coordinator records the signed PSBT it received and signs the record;
// the chain signatures in it, checked against the device's key in the
// policy, are what make it count.
type External struct {
	Format        int               `cbor:"1,keyasint"`
	Proposal      []byte            `cbor:"2,keyasint"`
	Participant   string            `cbor:"3,keyasint"`
	Device        string            `cbor:"4,keyasint"`
	Policy        []byte            `cbor:"5,keyasint"`
	PolicyVersion uint64            `cbor:"6,keyasint"`
	Signatures    []chain.Signature `cbor:"7,keyasint"`
	Time          int64             `cbor:"8,keyasint"`
	// SignedPSBT is the SHA-256 of the signed PSBT as the device returned it.
	SignedPSBT []byte `cbor:"9,keyasint"`
}

// SealExternal encodes x and signs it with the coordinator's identity.
func SealExternal(x *External, key crypto.Signer) (*envelope.Envelope, error) {
	if err := x.check(); err != nil {
		return nil, err
	}
	b, err := envelope.Marshal(x)
	if err != nil {
		return nil, err
	}
	e, err := envelope.New(envelope.TypeExternal, b)
	if err != nil {
		return nil, err
	}
	return e, e.Sign(key)
}

func (x *External) check() error {
	if x.Format != 1 {
		return fmt.Errorf("proposal: external approval format %d, want 1", x.Format)
	}
	if len(x.Proposal) != 32 || len(x.Policy) != 32 || len(x.SignedPSBT) != 32 {
		return errors.New("proposal: an external approval names a 32-byte proposal id, policy id and PSBT digest")
	}
	if len(x.Signatures) == 0 {
		return errors.New("proposal: an external approval without signatures")
	}
	return nil
}

// decodeExternal reads an external approval as the Approval it stands for.
func decodeExternal(e *envelope.Envelope) (*Approval, error) {
	var x External
	if err := envelope.Unmarshal(e.Payload, &x); err != nil {
		return nil, fmt.Errorf("proposal: malformed external approval: %v", err)
	}
	if err := x.check(); err != nil {
		return nil, err
	}
	a := &Approval{Format: 1, Proposal: x.Proposal, Decision: Approve, Participant: x.Participant, Device: x.Device,
		Policy: x.Policy, PolicyVersion: x.PolicyVersion, Signatures: x.Signatures, Time: x.Time, Review: x.SignedPSBT}
	return a, a.check()
}
