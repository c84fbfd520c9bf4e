package proposal

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

// Decisions.
const (
	Approve = "approve"
	Reject  = "reject"
)

// MaxReason bounds a rejection's or override's rationale.
const MaxReason = 1024

// Approval is a participant's signed decision on one proposal.
type Approval struct {
	Format        int               `cbor:"1,keyasint"`
	Proposal      []byte            `cbor:"2,keyasint"` // proposal id
	Decision      string            `cbor:"3,keyasint"`
	Reason        string            `cbor:"4,keyasint,omitempty"`
	Participant   string            `cbor:"5,keyasint"`
	Device        string            `cbor:"6,keyasint"`
	Policy        []byte            `cbor:"7,keyasint"`
	PolicyVersion uint64            `cbor:"8,keyasint"`
	Signatures    []chain.Signature `cbor:"9,keyasint,omitempty"`
	Time          int64             `cbor:"10,keyasint"`
	// Review is the SHA-256 of the review the station computed and showed:
	// it commits the approval to what the person saw.
	Review []byte `cbor:"11,keyasint"`
	// Override is the rationale given for signing despite a conflicting
	// proposal that spends the same resources.
	Override string `cbor:"12,keyasint,omitempty"`
	// Flags are the codes of the (non-blocking) flags the person saw.
	Flags []string `cbor:"13,keyasint,omitempty"`
	// Transfers is the station's record of every hand-off with the
	// coordinator, signed inside the approval for reconciliation.
	Transfers []Transfer `cbor:"14,keyasint,omitempty"`
	// Witness is the station's cosignature of the latest coordinator
	// checkpoint it saw and checked.
	Witness *Witness `cbor:"15,keyasint,omitempty"`
	// Health is the station's latest device check.
	Health *Health `cbor:"16,keyasint,omitempty"`
}

// MaxTransfers bounds the transfer record an approval carries.
const MaxTransfers = 1024

// Transfer is one hand-off as a workspace recorded it.
type Transfer struct {
	Direction string `cbor:"1,keyasint" json:"direction"` // "in" or "out"
	Peer      string `cbor:"2,keyasint" json:"peer"`      // "coordinator/coord"
	Sequence  uint64 `cbor:"3,keyasint" json:"sequence"`
	Kind      string `cbor:"4,keyasint" json:"kind"`
	Digest    []byte `cbor:"5,keyasint" json:"digest"`
}

// Witness is a C2SP cosignature/v1 of a coordinator checkpoint.
type Witness struct {
	Checkpoint []byte `cbor:"1,keyasint"` // the signed checkpoint note, as received
	Time       int64  `cbor:"2,keyasint"`
	Signature  []byte `cbor:"3,keyasint"`
}

// SealApproval encodes a and signs it with the participant's identity key.
func SealApproval(a *Approval, key crypto.Signer) (*envelope.Envelope, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	b, err := envelope.Marshal(a)
	if err != nil {
		return nil, err
	}
	e, err := envelope.New(envelope.TypeApproval, b)
	if err != nil {
		return nil, err
	}
	return e, e.Sign(key)
}

func (a *Approval) check() error {
	if a.Format != 1 {
		return fmt.Errorf("proposal: approval format %d, want 1", a.Format)
	}
	if len(a.Proposal) != 32 || len(a.Policy) != 32 {
		return errors.New("proposal: approval must name a 32-byte proposal id and policy id")
	}
	if len(a.Reason) > MaxReason || len(a.Override) > MaxReason {
		return fmt.Errorf("proposal: reason longer than %d bytes", MaxReason)
	}
	if h := a.Health; h != nil && (len(h.Challenge) != 32 || len(h.Info) > MaxHealthInfo || len(h.Signature) > 80 || len(h.Device) > 64 || len(h.Key) > 256) {
		return errors.New("proposal: malformed device health record")
	}
	if len(a.Transfers) > MaxTransfers {
		return fmt.Errorf("proposal: %d transfers recorded, over %d", len(a.Transfers), MaxTransfers)
	}
	switch a.Decision {
	case Approve:
		// An endorsement (policy.Endorser) names no device and carries no
		// chain signature; every other approval carries both.
		if len(a.Signatures) == 0 && a.Device != "" {
			return errors.New("proposal: an approval without signatures")
		}
		if len(a.Signatures) != 0 && a.Device == "" {
			return errors.New("proposal: an approval with chain signatures names no device")
		}
	case Reject:
		if a.Reason == "" {
			return errors.New("proposal: a rejection needs a reason")
		}
		if len(a.Signatures) != 0 {
			return errors.New("proposal: a rejection carries signatures")
		}
	default:
		return fmt.Errorf("proposal: decision %q, want approve or reject", a.Decision)
	}
	return nil
}

// DecodeApproval reads the approval in an envelope without judging it.
func DecodeApproval(e *envelope.Envelope) (*Approval, error) {
	if e.Type == envelope.TypeExternal {
		return decodeExternal(e)
	}
	if e.Type != envelope.TypeApproval {
		return nil, fmt.Errorf("proposal: envelope holds %s, not an approval", e.Type)
	}
	var a Approval
	if err := envelope.Unmarshal(e.Payload, &a); err != nil {
		return nil, fmt.Errorf("proposal: malformed approval: %v", err)
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return &a, nil
}

// Checked is an approval whose every claim was verified.
type Checked struct {
	Approval    *Approval
	ID          [32]byte
	Participant *policy.Participant
	Key         string // the device's chain key
	Device      *policy.Device
	Verified    []chain.Verified // empty for a rejection
	Witnessed   *audit.Checkpoint
	// Endorsement: the participant holds no signer of the vault and
	// approved (or rejected) with the identity key alone; it counts for
	// the policy's approval groups, never toward the chain threshold.
	// Key and Device are then empty.
	Endorsement bool
}

// CheckApproval verifies an approval envelope for proposal p (id pid) under
// pol: the participant's identity signature, that the participant holds a
// signer of the vault on the named device, the proposal and policy ids, the
// time, and — through the chain adapter — every chain signature against the
// right pubkey and digest.
func CheckApproval(e *envelope.Envelope, p *Proposal, pid [32]byte, pol *policy.Policy, polID [32]byte, reg *chain.Registry, now time.Time) (*Checked, error) {
	a, err := reg.Lookup(p.Chain)
	if err != nil {
		return nil, err
	}
	ap, err := DecodeApproval(e)
	if err != nil {
		return nil, err
	}
	part, ok := pol.Participant(ap.Participant)
	if !ok {
		return nil, fmt.Errorf("proposal: approval by %q, who is not a participant of policy %s", ap.Participant, pol.Name)
	}
	if len(e.Signatures) != 1 {
		return nil, fmt.Errorf("proposal: approval carries %d signatures, want 1", len(e.Signatures))
	}
	external := e.Type == envelope.TypeExternal
	if external {
		// Recorded by the coordinator that made the proposal; the device's
		// chain signatures, checked below, are what count.
		coord, ok := pol.Coordinator(p.Coordinator)
		if !ok {
			return nil, fmt.Errorf("proposal: coordinator %q is not in the policy", p.Coordinator)
		}
		if err := e.Verify(coord.Identity); err != nil {
			return nil, fmt.Errorf("proposal: external approval for %q not recorded by coordinator %q: %w", part.ID, coord.ID, err)
		}
	} else if err := e.Verify(part.Identity); err != nil {
		return nil, fmt.Errorf("proposal: approval by %q: %w", part.ID, err)
	}
	if !bytes.Equal(ap.Proposal, pid[:]) {
		return nil, fmt.Errorf("proposal: approval is for proposal %s, not %s", short(ap.Proposal), short(pid[:]))
	}
	if !bytes.Equal(ap.Policy, polID[:]) || !bytes.Equal(p.Policy, polID[:]) {
		return nil, fmt.Errorf("%w: approval cites %s, proposal %s, policy is %s", ErrWrongPolicy, short(ap.Policy), short(p.Policy), short(polID[:]))
	}
	if !now.Before(p.ExpiresTime()) {
		return nil, fmt.Errorf("%w at %v: approvals are no longer accepted", ErrExpired, p.ExpiresTime())
	}
	t := time.Unix(ap.Time, 0)
	if t.Before(p.CreatedTime().Add(-ClockSkew)) || !t.Before(p.ExpiresTime()) {
		return nil, fmt.Errorf("proposal: approval made at %v, outside the proposal's life %v..%v", t.UTC(), p.CreatedTime(), p.ExpiresTime())
	}
	v, _ := pol.Vault(p.Vault)
	if v == nil {
		return nil, fmt.Errorf("proposal: policy %s has no vault %q", pol.Name, p.Vault)
	}
	signer, ok := pol.SignerFor(v, part.ID)
	if !ok {
		if _, endorser := pol.Endorser(v, part.ID); !endorser {
			return nil, fmt.Errorf("proposal: %q is not a signer of vault %q nor in any approval group of the policy", part.ID, v.Name)
		}
		if external || ap.Device != "" || len(ap.Signatures) != 0 {
			return nil, fmt.Errorf("proposal: %q is not a signer of vault %q: an endorsement names no device and carries no chain signature", part.ID, v.Name)
		}
		c := &Checked{Approval: ap, ID: e.ID(), Participant: part, Endorsement: true}
		if c.Witnessed, err = witnessed(ap, p, pol, part); err != nil {
			return nil, err
		}
		return c, nil
	}
	if signer.Device.ID != ap.Device {
		return nil, fmt.Errorf("proposal: %q signed with device %q, but the vault's device is %q", part.ID, ap.Device, signer.Device.ID)
	}
	if external != (signer.Device.Kind == policy.KindExternal) {
		return nil, fmt.Errorf("proposal: %q's device %q is of kind %s; only external devices approve through a signed PSBT, and they only so", part.ID, signer.Device.ID, signer.Device.Kind)
	}
	c := &Checked{Approval: ap, ID: e.ID(), Participant: part, Key: signer.Device.KeyFor(v.Chain), Device: signer.Device}
	if c.Witnessed, err = witnessed(ap, p, pol, part); err != nil {
		return nil, err
	}
	if ap.Decision == Reject {
		return c, nil
	}
	if err := CheckHealth(ap.Health, pol, v, signer, reg, t); err != nil {
		return nil, err
	}
	cv, err := pol.ChainVault(v)
	if err != nil {
		return nil, err
	}
	c.Verified, err = a.Verify(cv, p.Payload, signer.Device.KeyFor(v.Chain), ap.Signatures)
	if err != nil {
		return nil, fmt.Errorf("proposal: approval by %q: %w", part.ID, err)
	}
	return c, nil
}

// witnessed checks the cosignature of the coordinator's checkpoint an
// approval carries, if any.
func witnessed(ap *Approval, p *Proposal, pol *policy.Policy, part *policy.Participant) (*audit.Checkpoint, error) {
	if ap.Witness == nil {
		return nil, nil
	}
	coord, ok := pol.Coordinator(p.Coordinator)
	if !ok {
		return nil, fmt.Errorf("proposal: coordinator %q is not in the policy", p.Coordinator)
	}
	cp, err := audit.OpenCheckpoint(ap.Witness.Checkpoint, "airlock/coordinator/"+coord.ID, coord.Identity)
	if err != nil {
		return nil, fmt.Errorf("proposal: approval by %q witnesses a checkpoint that does not verify: %w", part.ID, err)
	}
	if !audit.VerifyCosignature(part.Identity, cp.Body, audit.Cosignature{Time: ap.Witness.Time, Signature: ap.Witness.Signature}) {
		return nil, fmt.Errorf("proposal: approval by %q carries a cosignature that does not verify", part.ID)
	}
	return cp, nil
}
