package policy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/policy"
)

// TestCheckSignTimeRefusesABackdatedVersion: a version back-dated past
// MaxSignAge (it would shorten its own change delay) or dated in the
// future is refused for co-signing; a fresh one, and the genesis at any
// date, is not.
func TestCheckSignTimeRefusesABackdatedVersion(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	at := func(v uint64, made time.Time) *policy.Policy {
		return &policy.Policy{Name: "treasury", Version: v, Created: made.Unix()}
	}
	for _, c := range []struct {
		p    *policy.Policy
		want error
	}{
		{at(2, now.Add(-policy.MaxSignAge-time.Minute)), policy.ErrBackdated},
		{at(2, now.Add(time.Hour)), policy.ErrMadeInFuture},
		{at(2, now.Add(-time.Hour)), nil},
		{at(2, now.Add(time.Minute)), nil}, // clocks differ a little
		{at(1, now.Add(-365*24*time.Hour)), nil},
	} {
		err := policy.CheckSignTime(c.p, now)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("version %d made %s: %v, want %v", c.p.Version, time.Unix(c.p.Created, 0).UTC(), err, c.want)
		}
	}
}
