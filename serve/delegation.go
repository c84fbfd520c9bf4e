package serve

import (
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

// A Delegation lets an online key sign requests for a participant: the
// participant's station signs it, offline, with the identity key the
// policy lists for them, so that key never goes online. A client sends it
// with every request (DelegationHeader) and signs the request with the
// delegate key; the service then acts for the participant, with the
// roles the current policy gives them narrowed to the delegation's. It
// ends at its expiry, or when the policy revokes the participant.
type Delegation struct {
	Format      int    `cbor:"1,keyasint"`
	Participant string `cbor:"2,keyasint"`
	// Delegate is the Ed25519 public key that may sign requests.
	Delegate []byte `cbor:"3,keyasint"`
	// Roles narrow the participant's service roles; none: all of them.
	Roles   []string `cbor:"4,keyasint,omitempty"`
	Created int64    `cbor:"5,keyasint"`
	Expires int64    `cbor:"6,keyasint"`
}

// DelegationHeader carries a delegation envelope, in base64, with each
// request signed by its delegate key.
const DelegationHeader = "Airlock-Delegation"

// MaxDelegation bounds a delegation's lifetime: it is renewed at the
// station, never extended online.
const MaxDelegation = 366 * 24 * time.Hour

// ServiceRoles are the roles a delegation may name.
var ServiceRoles = []string{RoleInitiator, RoleApprover, RoleAuditor, RoleAdmin}

// ErrDelegation refuses a delegation sent with a request.
var ErrDelegation = errors.New("serve: the request's delegation is refused")

// Delegate makes and signs a delegation: key is the participant's
// identity key (at their station).
func Delegate(participant string, delegate ed25519.PublicKey, roles []string, created time.Time, lifetime time.Duration, key crypto.Signer) (*envelope.Envelope, error) {
	if len(delegate) != ed25519.PublicKeySize {
		return nil, errors.New("serve: a delegate is an Ed25519 public key")
	}
	if lifetime <= 0 || lifetime > MaxDelegation {
		return nil, fmt.Errorf("serve: a delegation lasts up to %v", MaxDelegation)
	}
	for _, r := range roles {
		if !slices.Contains(ServiceRoles, r) {
			return nil, fmt.Errorf("serve: role %q is none of %v", r, ServiceRoles)
		}
	}
	if pub, ok := key.Public().(ed25519.PublicKey); ok && pub.Equal(delegate) {
		return nil, errors.New("serve: a key cannot be its own delegate: the delegate is a new, online key")
	}
	created = created.UTC().Truncate(time.Second)
	d := Delegation{Format: 1, Participant: participant, Delegate: delegate, Roles: roles,
		Created: created.Unix(), Expires: created.Add(lifetime).Unix()}
	b, err := envelope.Marshal(d)
	if err != nil {
		return nil, err
	}
	e, err := envelope.New(envelope.TypeDelegation, b)
	if err != nil {
		return nil, err
	}
	return e, e.Sign(key)
}

// DecodeDelegation reads a delegation without judging it.
func DecodeDelegation(e *envelope.Envelope) (*Delegation, error) {
	if e.Type != envelope.TypeDelegation {
		return nil, fmt.Errorf("serve: envelope holds %s, not a delegation", e.Type)
	}
	var d Delegation
	if err := envelope.Unmarshal(e.Payload, &d); err != nil {
		return nil, fmt.Errorf("serve: malformed delegation: %v", err)
	}
	if d.Format != 1 || len(d.Delegate) != ed25519.PublicKeySize || d.Expires <= d.Created {
		return nil, errors.New("serve: malformed delegation")
	}
	return &d, nil
}

// ExpiresTime is when the delegation ends.
func (d *Delegation) ExpiresTime() time.Time { return time.Unix(d.Expires, 0).UTC() }

// delegated is the principal a delegation sent with a request makes: the
// participant, under their delegate key, with the roles both grant. The
// request's own signature, checked next against that key, proves the
// sender holds it.
func delegated(header string, pol *policy.Policy, ps map[string]*Principal, now time.Time, skew time.Duration) (*Principal, error) {
	raw, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64", ErrDelegation)
	}
	e, err := envelope.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDelegation, err)
	}
	d, err := DecodeDelegation(e)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDelegation, err)
	}
	var part *policy.Participant
	for i := range pol.Participants {
		if pol.Participants[i].ID == d.Participant {
			part = &pol.Participants[i]
		}
	}
	switch {
	case part == nil:
		return nil, fmt.Errorf("%w: participant %q is not in the policy", ErrDelegation, d.Participant)
	case part.Revoked != nil:
		return nil, fmt.Errorf("%w: participant %q is revoked", ErrDelegation, d.Participant)
	}
	if err := e.Verify(ed25519.PublicKey(part.Identity)); err != nil {
		return nil, fmt.Errorf("%w: not signed by %s's identity key: %v", ErrDelegation, d.Participant, err)
	}
	if time.Unix(d.Created, 0).After(now.Add(skew)) {
		return nil, fmt.Errorf("%w: made in the future (%v)", ErrDelegation, time.Unix(d.Created, 0).UTC())
	}
	if !now.Before(d.ExpiresTime()) {
		return nil, fmt.Errorf("%w: %s's delegation expired %v", ErrDelegation, d.Participant, d.ExpiresTime())
	}
	kid := keyID(d.Delegate)
	if _, listed := ps[kid]; listed {
		return nil, fmt.Errorf("%w: the delegate key is itself in the policy", ErrDelegation)
	}
	base := ps[keyID(part.Identity)]
	roles := base.Roles
	if len(d.Roles) > 0 {
		roles = nil
		for _, r := range d.Roles {
			// Reading (auditor) is every principal's; the others only
			// where the policy grants them.
			if (r == RoleAuditor || base.May(r)) && !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
	}
	if len(roles) == 0 {
		return nil, fmt.Errorf("%w: it grants %v, and the policy gives %s %v", ErrDelegation, d.Roles, d.Participant, base.Roles)
	}
	return &Principal{ID: d.Participant, Key: ed25519.PublicKey(d.Delegate), Roles: roles, Via: kid}, nil
}
