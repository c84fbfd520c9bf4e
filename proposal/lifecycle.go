package proposal

import (
	"crypto"
	"errors"
	"fmt"
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

// State is where a proposal is in its life at the coordinator:
//
//	open ──threshold met──▶ approved ──finalize──▶ finalized ──broadcast──▶ broadcast
//	  │ ╲                      │  ╲
//	  │  ╲ threshold out of     │   withdraw / expire
//	  │   ╲ reach: rejected     ▼
//	  └──── withdraw ──▶ withdrawn     expired
//
// rejected, withdrawn, expired and broadcast are ends; a finalized
// proposal's transaction is signed, so it can only be broadcast (or left).
type State string

// The states.
const (
	StateOpen      State = "open"
	StateApproved  State = "approved"
	StateFinalized State = "finalized"
	StateBroadcast State = "broadcast"
	StateRejected  State = "rejected"
	StateWithdrawn State = "withdrawn"
	StateExpired   State = "expired"
)

// States lists every state, in lifecycle order.
var States = []State{StateOpen, StateApproved, StateFinalized, StateBroadcast, StateRejected, StateWithdrawn, StateExpired}

// Step is what happens to a proposal.
type Step string

// The steps.
const (
	StepThresholdMet   Step = "threshold met"
	StepOutOfReach     Step = "threshold out of reach"
	StepWithdraw       Step = "withdraw"
	StepExpire         Step = "expire"
	StepFinalize       Step = "finalize"
	StepBroadcast      Step = "broadcast"
	StepCollectReject  Step = "collect a rejection"
	StepCollectApprove Step = "collect an approval"
)

// Steps lists every step.
var Steps = []Step{StepThresholdMet, StepOutOfReach, StepWithdraw, StepExpire, StepFinalize, StepBroadcast, StepCollectReject, StepCollectApprove}

// ErrTransition is returned for a step a state does not allow.
var ErrTransition = errors.New("proposal: not allowed")

// End reports whether no step leaves s.
func (s State) End() bool {
	return s == StateBroadcast || s == StateRejected || s == StateWithdrawn || s == StateExpired
}

// Releases reports whether s ends a proposal without a transaction, so
// stations may free what it claimed.
func (s State) Releases() bool { return s == StateRejected || s == StateWithdrawn || s == StateExpired }

// Transition is the one place the lifecycle is decided: the state a step
// leads to from s, or ErrTransition with why.
func Transition(s State, step Step) (State, error) {
	switch s {
	case StateOpen:
		switch step {
		case StepCollectApprove, StepCollectReject:
			return StateOpen, nil
		case StepThresholdMet:
			return StateApproved, nil
		case StepOutOfReach:
			return StateRejected, nil
		case StepWithdraw:
			return StateWithdrawn, nil
		case StepExpire:
			return StateExpired, nil
		case StepFinalize:
			return s, fmt.Errorf("%w: cannot %s: the proposal is open, its threshold not met", ErrTransition, step)
		}
	case StateApproved:
		switch step {
		case StepCollectApprove, StepCollectReject:
			return StateApproved, nil
		case StepThresholdMet:
			return StateApproved, nil
		case StepFinalize:
			return StateFinalized, nil
		case StepWithdraw:
			return StateWithdrawn, nil
		case StepExpire:
			return StateExpired, nil
		}
	case StateFinalized:
		if step == StepBroadcast {
			return StateBroadcast, nil
		}
		return s, fmt.Errorf("%w: cannot %s: the proposal is finalized, its transaction signed; it can only be broadcast", ErrTransition, step)
	}
	if s.End() {
		return s, fmt.Errorf("%w: cannot %s: the proposal is %s, which ends it", ErrTransition, step, s)
	}
	if _, ok := stateSet[s]; !ok {
		return s, fmt.Errorf("%w: unknown state %q", ErrTransition, s)
	}
	return s, fmt.Errorf("%w: cannot %s: the proposal is %s", ErrTransition, step, s)
}

var stateSet = func() map[State]bool {
	m := map[State]bool{}
	for _, s := range States {
		m[s] = true
	}
	return m
}()

// Tally counts a proposal's decisions against its vault.
type Tally struct {
	Approvals, Rejections, Signers, Threshold int
}

// Reachable reports whether the threshold can still be met: enough
// signers have not rejected.
func (t Tally) Reachable() bool { return t.Signers-t.Rejections >= t.Threshold }

// String shows approvals against the threshold, never more than it
// ("2/2 of 3": two of the two needed, three signers).
func (t Tally) String() string {
	a := t.Approvals
	if a > t.Threshold {
		a = t.Threshold
	}
	return fmt.Sprintf("%d/%d of %d", a, t.Threshold, t.Signers)
}

// Release is the coordinator's signed notice that a proposal ended without
// a transaction: withdrawn by its proposer, rejected (the threshold out of
// reach) or expired. A station that verifies it frees the coins or nonce
// it claimed for the proposal, so a new proposal of the same spend needs
// no override.
type Release struct {
	Format        int    `cbor:"1,keyasint" json:"format"`
	Proposal      []byte `cbor:"2,keyasint" json:"proposal"`
	State         State  `cbor:"3,keyasint" json:"state"`
	Reason        string `cbor:"4,keyasint" json:"reason"`
	Coordinator   string `cbor:"5,keyasint" json:"coordinator"`
	Policy        []byte `cbor:"6,keyasint" json:"policy"`
	PolicyVersion uint64 `cbor:"7,keyasint" json:"policyVersion"`
	Time          int64  `cbor:"8,keyasint" json:"time"`
}

// SealRelease encodes and signs a release with the coordinator's identity.
func SealRelease(r *Release, key crypto.Signer) (*envelope.Envelope, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	b, err := envelope.Marshal(r)
	if err != nil {
		return nil, err
	}
	e, err := envelope.New(envelope.TypeRelease, b)
	if err != nil {
		return nil, err
	}
	return e, e.Sign(key)
}

func (r *Release) check() error {
	switch {
	case r.Format != 1:
		return fmt.Errorf("proposal: release format %d", r.Format)
	case len(r.Proposal) != 32:
		return errors.New("proposal: release names no proposal")
	case !r.State.Releases():
		return fmt.Errorf("proposal: a %s proposal is not released", r.State)
	case r.Reason == "" || len(r.Reason) > MaxReason:
		return fmt.Errorf("proposal: a release needs a reason of 1 to %d bytes", MaxReason)
	}
	return nil
}

// OpenRelease decodes a release and verifies it: signed by the coordinator
// it names, under a policy version the station holds. A station verifies
// it itself; nothing the coordinator says is taken on trust.
func OpenRelease(e *envelope.Envelope, pol *policy.Policy) (*Release, error) {
	if e.Type != envelope.TypeRelease {
		return nil, fmt.Errorf("proposal: envelope holds %s, not a release", e.Type)
	}
	var r Release
	if err := envelope.Unmarshal(e.Payload, &r); err != nil {
		return nil, fmt.Errorf("proposal: malformed release: %v", err)
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	if err := checkSigner(e, pol, r.Coordinator); err != nil {
		return nil, err
	}
	return &r, nil
}

// TimeOf is a release's time.
func (r *Release) TimeOf() time.Time { return time.Unix(r.Time, 0).UTC() }

// DecodeRelease reads the release in an envelope without verifying its
// signature (OpenRelease verifies).
func DecodeRelease(e *envelope.Envelope) (*Release, error) {
	if e.Type != envelope.TypeRelease {
		return nil, fmt.Errorf("proposal: envelope holds %s, not a release", e.Type)
	}
	var r Release
	if err := envelope.Unmarshal(e.Payload, &r); err != nil {
		return nil, fmt.Errorf("proposal: malformed release: %v", err)
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return &r, nil
}
