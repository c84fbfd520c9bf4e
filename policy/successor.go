package policy

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrTooSoon: a version that loosens the rules claims to take effect
// before the previous version's change_delay has passed.
var ErrTooSoon = errors.New("policy: a loosening change takes effect too soon")

// CheckSuccessor checks what version next may change of prev, besides
// its signatures (Check): it is made after prev, takes effect no sooner
// than it is made, and, when Diff finds a change that loosens the rules,
// no sooner than prev's change_delay after it is made; a revoked
// participant or device stays listed and revoked (its key never comes
// back, not even under a new name: keys are unique in a version).
func CheckSuccessor(prev, next *Policy) error {
	if next.Created <= prev.Created {
		return fmt.Errorf("%w: version %d is made at %v, not after version %d (%v)", ErrBrokenChain, next.Version, rfc(next.Created), prev.Version, rfc(prev.Created))
	}
	if next.NotBefore < next.Created {
		return fmt.Errorf("%w: version %d takes effect at %v, before it is made (%v)", ErrBrokenChain, next.Version, rfc(next.NotBefore), rfc(next.Created))
	}
	// A version never takes effect before the one it follows: else a
	// tightening version 3, in effect at once, would carry a pending
	// loosening version 2 past its delay.
	if next.NotBefore < prev.NotBefore {
		return fmt.Errorf("%w: version %d takes effect at %v, before version %d does (%v)", ErrTooSoon, next.Version, rfc(next.NotBefore), prev.Version, rfc(prev.NotBefore))
	}
	if err := keepRevocations(prev, next); err != nil {
		return err
	}
	loose := Loosening(Diff(prev, next))
	if len(loose) == 0 {
		return nil
	}
	earliest := next.Created + prev.ChangeDelay
	if next.NotBefore < earliest {
		var lines []string
		for _, c := range loose {
			lines = append(lines, c.String())
		}
		return fmt.Errorf("%w: version %d loosens the rules, so it takes effect no sooner than version %d's change_delay (%v) after it is made, at %v; it claims %v. Loosening changes:\n  %s",
			ErrTooSoon, next.Version, prev.Version, prev.Delay(), rfc(earliest), rfc(next.NotBefore), strings.Join(lines, "\n  "))
	}
	return nil
}

// keepRevocations refuses a version that drops or lifts a revocation.
func keepRevocations(prev, next *Policy) error {
	for _, pp := range prev.Participants {
		np, ok := next.Participant(pp.ID)
		if pp.Revoked != nil && (!ok || np.Revoked == nil || *np.Revoked != *pp.Revoked || !bytes.Equal(np.Identity, pp.Identity)) {
			return fmt.Errorf("%w: version %d drops, lifts or re-keys participant %s's revocation; a revoked participant stays listed and revoked", ErrBrokenChain, next.Version, pp.ID)
		}
		for _, pd := range pp.Devices {
			// A revoked participant's devices are revoked with them: they
			// stay listed with their keys, so no key of theirs comes back.
			if pd.Revoked == nil && pp.Revoked == nil {
				continue
			}
			var nd *Device
			if ok {
				for i := range np.Devices {
					if np.Devices[i].ID == pd.ID {
						nd = &np.Devices[i]
					}
				}
			}
			if nd == nil || nd.Key != pd.Key || nd.Ethereum != pd.Ethereum || (pd.Revoked != nil && (nd.Revoked == nil || *nd.Revoked != *pd.Revoked)) {
				return fmt.Errorf("%w: version %d drops or lifts device %s/%s's revocation; a revoked device stays listed and revoked", ErrBrokenChain, next.Version, pp.ID, pd.ID)
			}
		}
	}
	return nil
}

// TakesEffect says when a version made at created that changes prev as
// next does may take effect at the earliest.
func TakesEffect(prev, next *Policy) time.Time {
	t := next.Created
	if len(Loosening(Diff(prev, next))) > 0 {
		t += prev.ChangeDelay
	}
	return unixUTC(max(t, prev.NotBefore))
}
