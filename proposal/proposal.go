// Package proposal defines the artifacts of one signing round and the rules
// that bind them: a coordinator's Proposal, a participant's Approval (or
// rejection), and the coordinator's threshold Proof.
//
// Each travels in an envelope signed by its author's identity key. A
// proposal cites the policy version it was made under by id; a station
// refuses one that cites a policy it does not hold, or an older version
// whose change touched the proposal's vault (stale.go), that a listed
// coordinator did not sign, that has expired or that claims a lifetime
// over the policy's maximum. An approval names the proposal id, the
// policy id and the participant's device, and carries the chain signatures;
// a rejection carries a reason instead. Nothing in these checks reads a
// clock directly: callers pass the time.
package proposal

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

// ClockSkew is how far in the future a proposal's creation time may lie.
const ClockSkew = 5 * time.Minute

// MaxPayload bounds a chain payload inside a proposal.
const MaxPayload = 4 << 20

// Errors callers branch on.
var (
	ErrExpired      = errors.New("proposal: expired")
	ErrWrongPolicy  = errors.New("proposal: cites another policy")
	ErrNotProposal  = errors.New("proposal: not a proposal")
	ErrUnauthorized = errors.New("proposal: not signed by a coordinator of the policy")
)

// Proposal is an unsigned transaction for a vault, as a coordinator offers it.
type Proposal struct {
	Format        int    `cbor:"1,keyasint"`
	Chain         string `cbor:"2,keyasint"`
	Vault         string `cbor:"3,keyasint"`
	Policy        []byte `cbor:"4,keyasint"` // policy id
	PolicyVersion uint64 `cbor:"5,keyasint"`
	Payload       []byte `cbor:"6,keyasint"` // the chain's own form: PSBT bytes
	Created       int64  `cbor:"7,keyasint"` // unix seconds
	Expires       int64  `cbor:"8,keyasint"`
	Coordinator   string `cbor:"9,keyasint"`
	Intent        string `cbor:"10,keyasint,omitempty"` // the coordinator's claim; stations show their own reading
	Nonce         []byte `cbor:"11,keyasint"`
	// History is the coordinator's proven spend history, for a vault with
	// velocity rules (history.go).
	History *History `cbor:"12,keyasint,omitempty"`
	// Template names the policy's template the transaction is made
	// under ("" when none); stations decide it against the template.
	Template string `cbor:"13,keyasint,omitempty"`
	// Urgent marks an emergency proposal: every station shows it, every
	// audit entry about it says so. It changes no rule.
	Urgent bool `cbor:"14,keyasint,omitempty"`
	// State is the chain's attestation of the vault's on-chain state at
	// proposal time, in the chain's own versioned form (for a Safe,
	// chain/safe/stateproof: a block header and EIP-1186 proofs). It is
	// optional and covered by the coordinator's signature; the chain
	// adapter verifies it (chain.StateReviewer), and a proposal without
	// one is flagged by an adapter that reads states.
	State []byte `cbor:"15,keyasint,omitempty"`
}

// MaxState bounds a proposal's state attestation.
const MaxState = 1 << 20

// CreatedTime and ExpiresTime convert the stored seconds.
func (p *Proposal) CreatedTime() time.Time { return time.Unix(p.Created, 0).UTC() }
func (p *Proposal) ExpiresTime() time.Time { return time.Unix(p.Expires, 0).UTC() }

// Params are what a coordinator chooses for a new proposal.
type Params struct {
	Vault       string
	Payload     []byte
	Intent      string
	Lifetime    time.Duration // the policy's maximum when zero
	Now         time.Time
	Coordinator string
	Template    string
	Urgent      bool
	State       []byte // the chain's state attestation, if any
}

// New builds a proposal under pol (whose id is polID).
func New(pol *policy.Policy, polID [32]byte, prm Params) (*Proposal, error) {
	v, ok := pol.Vault(prm.Vault)
	if !ok {
		return nil, fmt.Errorf("proposal: policy %s has no vault %q", pol.Name, prm.Vault)
	}
	if len(prm.Payload) == 0 || len(prm.Payload) > MaxPayload {
		return nil, fmt.Errorf("proposal: payload of %d bytes outside 1..%d", len(prm.Payload), MaxPayload)
	}
	if len(prm.State) > MaxState {
		return nil, fmt.Errorf("proposal: state attestation of %d bytes, over %d", len(prm.State), MaxState)
	}
	lt := prm.Lifetime
	if lt == 0 {
		lt = pol.Lifetime()
	}
	if lt <= 0 || lt > pol.Lifetime() {
		return nil, fmt.Errorf("proposal: lifetime %v outside the policy's maximum %v", lt, pol.Lifetime())
	}
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	now := prm.Now.UTC().Truncate(time.Second)
	return &Proposal{
		Format: 1, Chain: v.Chain, Vault: v.Name, Policy: polID[:], PolicyVersion: pol.Version,
		Payload: prm.Payload, Created: now.Unix(), Expires: now.Add(lt).Unix(),
		Coordinator: prm.Coordinator, Intent: prm.Intent, Nonce: nonce, Template: prm.Template, Urgent: prm.Urgent, State: prm.State,
	}, nil
}

// Seal encodes p and signs it with the coordinator's identity key.
func Seal(p *Proposal, key crypto.Signer) (*envelope.Envelope, error) {
	b, err := envelope.Marshal(p)
	if err != nil {
		return nil, err
	}
	e, err := envelope.New(envelope.TypeProposal, b)
	if err != nil {
		return nil, err
	}
	return e, e.Sign(key)
}

// Decode reads the proposal in an envelope without judging it.
func Decode(e *envelope.Envelope) (*Proposal, error) {
	if e.Type != envelope.TypeProposal {
		return nil, fmt.Errorf("%w: envelope holds %s", ErrNotProposal, e.Type)
	}
	var p Proposal
	if err := envelope.Unmarshal(e.Payload, &p); err != nil {
		return nil, fmt.Errorf("proposal: malformed payload: %v", err)
	}
	if p.Format != 1 {
		return nil, fmt.Errorf("proposal: format %d, want 1", p.Format)
	}
	if len(p.Payload) == 0 || len(p.Payload) > MaxPayload {
		return nil, fmt.Errorf("proposal: payload of %d bytes outside 1..%d", len(p.Payload), MaxPayload)
	}
	if len(p.State) > MaxState {
		return nil, fmt.Errorf("proposal: state attestation of %d bytes, over %d", len(p.State), MaxState)
	}
	if p.Template != "" && !templateName.MatchString(p.Template) {
		return nil, fmt.Errorf("proposal: template name %q is not a policy name", p.Template)
	}
	return &p, nil
}

// templateName is what a policy's template may be named: a station
// prints it, so nothing else gets that far.
var templateName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Open decodes a proposal envelope and checks it against the policy the
// caller holds: the coordinator's signature, the policy id it cites, the
// vault and chain, and the times.
func Open(e *envelope.Envelope, pol *policy.Policy, polID [32]byte, now time.Time) (*Proposal, error) {
	p, err := Decode(e)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p.Policy, polID[:]) {
		if err := checkSigner(e, pol, p.Coordinator); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: it cites policy %s version %d, this workspace holds %s version %d (%s)", ErrWrongPolicy, short(p.Policy), p.PolicyVersion, pol.Name, pol.Version, short(polID[:]))
	}
	return open(e, p, pol, now)
}

// open checks a decoded proposal under pol, the version in effect.
func open(e *envelope.Envelope, p *Proposal, pol *policy.Policy, now time.Time) (*Proposal, error) {
	if err := checkSigner(e, pol, p.Coordinator); err != nil {
		return nil, err
	}
	v, ok := pol.Vault(p.Vault)
	if !ok {
		return nil, fmt.Errorf("proposal: policy %s has no vault %q", pol.Name, p.Vault)
	}
	if v.Chain != p.Chain {
		return nil, fmt.Errorf("proposal: vault %q is on %s, the proposal says %s", v.Name, v.Chain, p.Chain)
	}
	if err := CheckTimes(p, pol, now); err != nil {
		return nil, err
	}
	return p, nil
}

// CheckTimes checks a proposal's creation and expiry against now and the
// policy's maximum lifetime.
func CheckTimes(p *Proposal, pol *policy.Policy, now time.Time) error {
	if p.Expires <= p.Created {
		return fmt.Errorf("proposal: expires (%v) before it is created (%v)", p.ExpiresTime(), p.CreatedTime())
	}
	if time.Duration(p.Expires-p.Created)*time.Second > pol.Lifetime() {
		return fmt.Errorf("proposal: lifetime %v exceeds the policy's maximum %v", time.Duration(p.Expires-p.Created)*time.Second, pol.Lifetime())
	}
	if p.CreatedTime().After(now.Add(ClockSkew)) {
		return fmt.Errorf("proposal: created %v, in the future (now %v)", p.CreatedTime(), now.UTC().Truncate(time.Second))
	}
	if !now.Before(p.ExpiresTime()) {
		return fmt.Errorf("%w at %v (now %v)", ErrExpired, p.ExpiresTime(), now.UTC().Truncate(time.Second))
	}
	return nil
}

func checkSigner(e *envelope.Envelope, pol *policy.Policy, coordinator string) error {
	if len(e.Signatures) != 1 {
		return fmt.Errorf("%w: %d signatures, want exactly one", ErrUnauthorized, len(e.Signatures))
	}
	c, ok := pol.CoordinatorByKey(e.Signatures[0].KeyID)
	if !ok {
		return fmt.Errorf("%w: key %s is not a coordinator in policy %s", ErrUnauthorized, e.Signatures[0].KeyID, pol.Name)
	}
	if c.ID != coordinator {
		return fmt.Errorf("%w: signed by %q but names %q", ErrUnauthorized, c.ID, coordinator)
	}
	if err := e.Verify(c.Identity); err != nil {
		return fmt.Errorf("proposal: %w", err)
	}
	return nil
}

func short(b []byte) string {
	if len(b) > 8 {
		b = b[:8]
	}
	return hex.EncodeToString(b)
}

// ChainVault resolves the proposal's vault in pol for its chain adapter.
func ChainVault(p *Proposal, pol *policy.Policy) (chain.Vault, error) {
	v, ok := pol.Vault(p.Vault)
	if !ok {
		return chain.Vault{}, fmt.Errorf("proposal: policy %s has no vault %q", pol.Name, p.Vault)
	}
	return pol.ChainVault(v)
}

// Review has the proposal's chain adapter decode its payload for the
// vault pol names.
func Review(ctx context.Context, reg *chain.Registry, p *Proposal, pol *policy.Policy) (*chain.Review, error) {
	a, err := reg.Lookup(p.Chain)
	if err != nil {
		return nil, err
	}
	cv, err := ChainVault(p, pol)
	if err != nil {
		return nil, err
	}
	return ReviewWith(ctx, a, cv, p)
}

// ReviewWith has adapter a review the proposal's payload for vault cv,
// and, when a reads on-chain states (chain.StateReviewer), the state the
// proposal attests (or its absence). A state for a chain whose adapter
// reads none is refused.
func ReviewWith(ctx context.Context, a chain.Adapter, cv chain.Vault, p *Proposal) (*chain.Review, error) {
	rv, err := a.Review(ctx, cv, p.Payload)
	if err != nil {
		return nil, err
	}
	sr, ok := a.(chain.StateReviewer)
	if !ok {
		if p.State != nil {
			return nil, fmt.Errorf("proposal: a %s proposal carries a state attestation, which its chain does not read", p.Chain)
		}
		return rv, nil
	}
	if err := sr.ReviewState(cv, p.Payload, p.State, p.CreatedTime(), rv); err != nil {
		return nil, err
	}
	return rv, nil
}
