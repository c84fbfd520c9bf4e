package policy

import (
	"fmt"
	"time"

	"github.com/airlock-vault/airlock/chain"
)

// rotation sets the rotation fields of p from the file: the change delay,
// and for the version after prev its number, previous id and creation
// time.
func (f *File) rotation(p *Policy, prev *Policy, now time.Time) error {
	if f.ChangeDelay != "" {
		d, err := parseDays(f.ChangeDelay)
		if err != nil {
			return fieldErr("change_delay", "%v", err)
		}
		if d < 0 || d > MaxChangeDelay || d%time.Second != 0 {
			return fieldErr("change_delay", "%v outside 0..%v (whole seconds)", d, MaxChangeDelay)
		}
		p.ChangeDelay = int64(d / time.Second)
	}
	if prev == nil {
		return nil
	}
	if f.Name != prev.Name {
		return fieldErr("name", "%q: version %d of policy %q keeps its name", f.Name, prev.Version+1, prev.Name)
	}
	if f.Network != prev.Network {
		return fieldErr("network", "%q: version %d of policy %s keeps network %s", f.Network, prev.Version+1, prev.Name, prev.Network)
	}
	id, err := ID(prev)
	if err != nil {
		return err
	}
	p.Version, p.Previous = prev.Version+1, id[:]
	p.Created = now.Unix()
	if p.Created <= prev.Created {
		return fmt.Errorf("policy: version %d would be made at %v, not after version %d (%v): check the clock", p.Version, rfc(p.Created), prev.Version, rfc(prev.Created))
	}
	return nil
}

// revocations sets the revocations of participant part (number i in the
// file, read from fp): a revocation already in prev is kept as it was
// (its time and reason); a new one is made at now. A genesis revokes
// nothing.
func (f *File) revocations(part *Participant, i int, fp FileParticipant, prev *Policy, now time.Time) error {
	var held *Participant
	if prev != nil {
		held, _ = prev.Participant(part.ID)
	}
	revocation := func(path, reason string, old *Revocation) (*Revocation, error) {
		if reason == "" {
			return nil, nil
		}
		if prev == nil {
			return nil, fieldErr(path, "a genesis revokes nothing; revoke in a later version (airlock policy revoke)")
		}
		if len(reason) > MaxRevokeReason {
			return nil, fieldErr(path, "reason longer than %d characters", MaxRevokeReason)
		}
		if old != nil {
			if old.Reason != reason {
				return nil, fieldErr(path, "%q: revoked in an earlier version as %q; a revocation is never rewritten", reason, old.Reason)
			}
			return old, nil
		}
		return &Revocation{Time: now.Unix(), Reason: reason}, nil
	}
	var old *Revocation
	if held != nil {
		old = held.Revoked
	}
	r, err := revocation(fmt.Sprintf("participants[%d].revoked", i), fp.Revoked, old)
	if err != nil {
		return err
	}
	part.Revoked = r
	for j, fd := range fp.Devices {
		old = nil
		if held != nil {
			for k := range held.Devices {
				if held.Devices[k].ID == fd.ID {
					old = held.Devices[k].Revoked
				}
			}
		}
		if part.Devices[j].Revoked, err = revocation(fmt.Sprintf("participants[%d].devices[%d].revoked", i, j), fd.Revoked, old); err != nil {
			return err
		}
	}
	return nil
}

// Next turns an edited source file into the version after prev, made at
// now, and lists what it changes. It takes effect at notBefore, or when
// zero at the earliest time it may: at once when it only tightens the
// rules, else prev's change_delay after now. A notBefore earlier than
// that is refused (ErrTooSoon), naming the loosening changes. A refused
// field names its line in a YAML source.
func Next(prev *Policy, f *File, reg *chain.Registry, now, notBefore time.Time) (*Policy, []Change, error) {
	p, err := f.build(reg, prev, now)
	if err != nil {
		return nil, nil, err
	}
	changes := Diff(prev, p)
	if len(changes) == 0 {
		return nil, nil, fmt.Errorf("policy: the file changes nothing in %s version %d", prev.Name, prev.Version)
	}
	p.NotBefore = TakesEffect(prev, p).Unix()
	if !notBefore.IsZero() {
		p.NotBefore = notBefore.Unix()
	}
	if err := CheckSuccessor(prev, p); err != nil {
		return nil, changes, err
	}
	if err := p.Validate(reg); err != nil {
		return nil, changes, err
	}
	return p, changes, nil
}
