package policy

import (
	"errors"
	"fmt"
)

// A revocation that names a participant, or a device of a participant,
// the policy does not list.
var (
	ErrNoParticipant = errors.New("policy: no such participant")
	ErrNoDevice      = errors.New("policy: no such device")
)

// notListed is ErrNoParticipant or ErrNoDevice, read as its message alone.
type notListed struct {
	msg  string
	kind error
}

func (e *notListed) Error() string        { return e.msg }
func (e *notListed) Is(target error) bool { return target == e.kind }

// Revoke marks in f, for the next version, participant pid revoked (did
// "") or its device did, with the reason. A participant or device
// revoked already is refused, and so is one f does not list
// (ErrNoParticipant, ErrNoDevice).
func (f *File) Revoke(pid, did, reason string) error {
	for i := range f.Participants {
		fp := &f.Participants[i]
		if fp.ID != pid {
			continue
		}
		if did == "" {
			if fp.Revoked != "" {
				return fmt.Errorf("participant %s is already revoked (%s)", pid, fp.Revoked)
			}
			fp.Revoked = reason
			return nil
		}
		for j := range fp.Devices {
			if fp.Devices[j].ID == did {
				if fp.Devices[j].Revoked != "" || fp.Revoked != "" {
					return fmt.Errorf("device %s/%s is already revoked", pid, did)
				}
				fp.Devices[j].Revoked = reason
				return nil
			}
		}
		return &notListed{fmt.Sprintf("participant %s has no device %q", pid, did), ErrNoDevice}
	}
	return &notListed{fmt.Sprintf("the policy has no participant %q", pid), ErrNoParticipant}
}
