package proposal

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

// Errors callers branch on.
var (
	// ErrStale: the proposal was made under an older policy version, and
	// the version in effect changed what it depends on (as Squads does:
	// a change of signers or threshold voids open proposals).
	ErrStale = errors.New("proposal: made under an older policy version")
	// ErrRevoked: an approval by a participant or device the version in
	// effect revokes.
	ErrRevoked = errors.New("proposal: approval by a revoked key")
)

// CheckStale says whether a proposal made under version cited may still
// go on under current, the version in effect. Only when, for its vault,
// the chain, signers, threshold, descriptor, script, Safe and recovery
// path are the same in both, none of its signers is revoked in current,
// and its coordinator is still listed with the same key; its rules are
// then current's. A proposal citing a version newer than current (one
// still pending) is refused too.
func CheckStale(p *Proposal, cited, current *policy.Policy) error {
	if cited.Version == current.Version {
		return nil
	}
	if cited.Version > current.Version {
		return fmt.Errorf("%w: proposal made under policy version %d, which takes effect only at %v (version %d is in effect)", ErrWrongPolicy, cited.Version, cited.EffectiveAt(), current.Version)
	}
	refuse := func(what string) error {
		return fmt.Errorf("%w: proposal made under policy version %d; version %d %s: proposals made before a change of signers or threshold are refused", ErrStale, cited.Version, current.Version, what)
	}
	a, ok := cited.Vault(p.Vault)
	if !ok {
		return fmt.Errorf("proposal: policy %s version %d has no vault %q", cited.Name, cited.Version, p.Vault)
	}
	b, ok := current.Vault(p.Vault)
	if !ok {
		return refuse(fmt.Sprintf("removes vault %s", p.Vault))
	}
	for _, c := range []struct {
		same bool
		what string
	}{
		{a.Chain == b.Chain, "chain"},
		{slices.Equal(a.Signers, b.Signers), "signers"},
		{a.Threshold == b.Threshold, "threshold"},
		{a.Descriptor == b.Descriptor, "descriptor"},
		{a.Script == b.Script, "script"},
		{reflect.DeepEqual(a.Safe, b.Safe), "Safe"},
		{reflect.DeepEqual(a.Recovery, b.Recovery), "recovery path"},
	} {
		if !c.same {
			return refuse(fmt.Sprintf("changes the %s of vault %s", c.what, p.Vault))
		}
	}
	for _, ref := range b.Signers {
		pid, did, _ := cutRef(ref)
		if revoked, why := current.RevokedDevice(pid, did); revoked {
			return refuse(fmt.Sprintf("revokes a signer of vault %s (%s)", p.Vault, why))
		}
	}
	ca, ok1 := cited.Coordinator(p.Coordinator)
	cb, ok2 := current.Coordinator(p.Coordinator)
	if !ok1 || !ok2 || !bytes.Equal(ca.Identity, cb.Identity) {
		return refuse(fmt.Sprintf("no longer lists coordinator %s with its key", p.Coordinator))
	}
	return nil
}

func cutRef(ref string) (string, string, bool) {
	for i := range len(ref) {
		if ref[i] == '/' {
			return ref[:i], ref[i+1:], true
		}
	}
	return ref, "", false
}

// OpenAt is Open for a proposal citing version cited (id citedID) while
// current is in effect: the proposal must not be stale (CheckStale), the
// coordinator's signature must verify under current, and its times and
// vault are read under current.
func OpenAt(e *envelope.Envelope, cited *policy.Policy, citedID [32]byte, current *policy.Policy, now time.Time) (*Proposal, error) {
	p, err := Decode(e)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p.Policy, citedID[:]) || p.PolicyVersion != cited.Version {
		return nil, fmt.Errorf("%w: it cites policy %s version %d, this workspace holds %s version %d (%s)", ErrWrongPolicy, short(p.Policy), p.PolicyVersion, cited.Name, cited.Version, short(citedID[:]))
	}
	if err := CheckStale(p, cited, current); err != nil {
		return nil, err
	}
	return open(e, p, current, now)
}

// CheckApprover refuses an approval by a participant or device that
// current, the version in effect, revokes, whatever version the
// proposal cites and whenever the approval says it was made: the
// coordinator collects and finalizes nothing a revoked key signed.
func CheckApprover(c *Checked, current *policy.Policy) error {
	did := "" // an endorsement names no device: the participant's revocation decides
	if c.Device != nil {
		did = c.Device.ID
	}
	if revoked, why := current.RevokedDevice(c.Participant.ID, did); revoked {
		return fmt.Errorf("%w: %s; its approvals are refused", ErrRevoked, why)
	}
	return nil
}
