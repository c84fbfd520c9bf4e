package policy

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Revocation marks a participant or device that signs nothing any more:
// when (unix seconds; the version that revoked it was made then) and
// why.
type Revocation struct {
	Time   int64  `cbor:"1,keyasint" json:"time"`
	Reason string `cbor:"2,keyasint" json:"reason"`
}

// Bounds on rotation.
const (
	MaxChangeDelay   = 90 * 24 * time.Hour
	MaxRevokeReason  = 200
	maxUnixTime      = 1 << 40 // year ~36812: refuses absurd times
	MaxEffectWaiting = 366 * 24 * time.Hour
)

// Revoked says whether the signer's participant or device is revoked.
func (s Signer) Revoked() bool {
	return s.Participant.Revoked != nil || s.Device.Revoked != nil
}

// RevokedDevice says whether participant pid's device did may not sign in
// p, and why (a participant's revocation covers their devices). An
// unknown participant or device counts as revoked: it signs nothing.
func (p *Policy) RevokedDevice(pid, did string) (bool, string) {
	part, ok := p.Participant(pid)
	if !ok {
		return true, fmt.Sprintf("%q is not a participant of %s version %d", pid, p.Name, p.Version)
	}
	if part.Revoked != nil {
		return true, fmt.Sprintf("participant %s is revoked in %s version %d (%s, %s)", pid, p.Name, p.Version, rfc(part.Revoked.Time), part.Revoked.Reason)
	}
	if did == "" {
		// An endorsement: the identity key alone, no device.
		return false, ""
	}
	for i := range part.Devices {
		if d := &part.Devices[i]; d.ID == did {
			if d.Revoked != nil {
				return true, fmt.Sprintf("device %s/%s is revoked in %s version %d (%s, %s)", pid, did, p.Name, p.Version, rfc(d.Revoked.Time), d.Revoked.Reason)
			}
			return false, ""
		}
	}
	return true, fmt.Sprintf("participant %s has no device %q in %s version %d", pid, did, p.Name, p.Version)
}

// Active lists the participants who are not revoked.
func (p *Policy) Active() []*Participant {
	var out []*Participant
	for i := range p.Participants {
		if p.Participants[i].Revoked == nil {
			out = append(out, &p.Participants[i])
		}
	}
	return out
}

// Delay is how long a loosening change waits before it takes effect.
func (p *Policy) Delay() time.Duration { return time.Duration(p.ChangeDelay) * time.Second }

// EffectiveAt is when the version takes effect (the genesis, without a
// time, at once).
func (p *Policy) EffectiveAt() time.Time {
	if p.NotBefore == 0 {
		return time.Unix(0, 0).UTC()
	}
	return unixUTC(p.NotBefore)
}

// InEffect says whether the version has taken effect at now.
func (p *Policy) InEffect(now time.Time) bool { return p.NotBefore <= now.Unix() }

func unixUTC(s int64) time.Time { return time.Unix(s, 0).UTC() }

// rfc writes unix seconds as people read them in messages.
func rfc(s int64) string { return unixUTC(s).Format(time.RFC3339) }

// validateRotation checks the rotation fields: bounded times and delay,
// well-formed revocations, and a policy threshold the participants who
// are not revoked can still reach (else the policy could never change
// again).
func (p *Policy) validateRotation() error {
	if p.ChangeDelay < 0 || p.Delay() > MaxChangeDelay {
		return invalid("change_delay %v outside 0..%v", p.Delay(), MaxChangeDelay)
	}
	if p.Created < 0 || p.Created > maxUnixTime || p.NotBefore < 0 || p.NotBefore > maxUnixTime {
		return invalid("created %d or not_before %d out of range", p.Created, p.NotBefore)
	}
	if p.NotBefore != 0 && p.NotBefore < p.Created {
		return invalid("version %d takes effect (%v) before it is made (%v)", p.Version, rfc(p.NotBefore), rfc(p.Created))
	}
	if p.NotBefore-p.Created > int64(MaxEffectWaiting/time.Second) {
		return invalid("version %d takes effect %v after it is made, over %v", p.Version, time.Duration(p.NotBefore-p.Created)*time.Second, MaxEffectWaiting)
	}
	check := func(who string, r *Revocation) error {
		if r == nil {
			return nil
		}
		if r.Time <= 0 || r.Time > maxUnixTime || (p.Created != 0 && r.Time > p.Created) {
			return invalid("%s: revocation time %d outside 1..the version's creation", who, r.Time)
		}
		if r.Reason == "" || len(r.Reason) > MaxRevokeReason || strings.IndexFunc(r.Reason, func(c rune) bool { return !unicode.IsPrint(c) }) >= 0 {
			return invalid("%s: revocation reason must be 1..%d printable characters", who, MaxRevokeReason)
		}
		return nil
	}
	for _, part := range p.Participants {
		if err := check("participant "+part.ID, part.Revoked); err != nil {
			return err
		}
		for _, d := range part.Devices {
			if err := check("device "+part.ID+"/"+d.ID, d.Revoked); err != nil {
				return err
			}
		}
	}
	if n := len(p.Active()); p.PolicyThreshold > n {
		return invalid("policy threshold %d above the %d participants who are not revoked: the policy could never change again", p.PolicyThreshold, n)
	}
	return nil
}

// WithRevocations returns p with the revocations later versions make of
// its participants and devices (the same ids with the same keys), or p
// itself when there are none. The copy shares everything else with p.
func WithRevocations(p *Policy, later ...*Policy) *Policy {
	var out *Policy
	for _, l := range later {
		for _, lp := range l.Participants {
			for i := range p.Participants {
				cp := &p.Participants[i]
				if cp.ID != lp.ID || string(cp.Identity) != string(lp.Identity) {
					continue
				}
				if lp.Revoked != nil && cp.Revoked == nil {
					out = copyParticipants(p, out)
					out.Participants[i].Revoked = lp.Revoked
				}
				for _, ld := range lp.Devices {
					for j := range cp.Devices {
						cd := &cp.Devices[j]
						if ld.Revoked != nil && cd.Revoked == nil && cd.ID == ld.ID && cd.Key == ld.Key && cd.Ethereum == ld.Ethereum {
							out = copyParticipants(p, out)
							if out.Participants[i].Devices[j].Revoked == nil {
								out.Participants[i].Devices[j].Revoked = ld.Revoked
							}
						}
					}
				}
			}
		}
	}
	if out == nil {
		return p
	}
	return out
}

// copyParticipants copies p with its own participants and devices, once.
func copyParticipants(p, out *Policy) *Policy {
	if out != nil {
		return out
	}
	q := *p
	q.Participants = make([]Participant, len(p.Participants))
	for i, part := range p.Participants {
		part.Devices = append([]Device(nil), part.Devices...)
		q.Participants[i] = part
	}
	return &q
}
