package policy

import (
	"errors"
	"fmt"
	"time"
)

// MaxSignAge is how old a policy version may be when a station co-signs
// it: a version back-dated further would shorten its own change delay.
const MaxSignAge = 7 * 24 * time.Hour

// signSkew is how far in the future a version's creation time may lie by
// the signer's clock.
const signSkew = 5 * time.Minute

// A version a station must not co-sign for its creation time.
var (
	ErrMadeInFuture = errors.New("policy: version made in the future")
	ErrBackdated    = errors.New("policy: version made too long ago")
)

// timeRefusal is ErrMadeInFuture or ErrBackdated, read as its message.
type timeRefusal struct {
	msg  string
	kind error
}

func (e *timeRefusal) Error() string        { return e.msg }
func (e *timeRefusal) Is(target error) bool { return target == e.kind }

// CheckSignTime refuses to co-sign a version (after the first) made in
// the future by the signer's clock now, beyond a few minutes' skew
// (ErrMadeInFuture), or more than MaxSignAge ago (ErrBackdated).
func CheckSignTime(p *Policy, now time.Time) error {
	if p.Version < 2 {
		return nil
	}
	made := time.Unix(p.Created, 0).UTC()
	if made.After(now.Add(signSkew)) {
		return &timeRefusal{fmt.Sprintf("policy %s version %d says it was made at %s, in the future by this station's clock (%s); refusing to sign", p.Name, p.Version, made.Format(time.RFC3339), now.UTC().Format(time.RFC3339)), ErrMadeInFuture}
	}
	if now.Sub(made) > MaxSignAge {
		return &timeRefusal{fmt.Sprintf("policy %s version %d was made at %s, over %v ago; a back-dated version would shorten its own change delay, so stations sign only fresh ones", p.Name, p.Version, made.Format(time.RFC3339), MaxSignAge), ErrBackdated}
	}
	return nil
}
