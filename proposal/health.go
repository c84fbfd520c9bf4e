package proposal

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/policy"
)

// Health is a station's latest device check, carried inside its approvals
// so the coordinator can apply a vault's HealthMaxAge rule. The device's
// chain key signed a fresh challenge at Time; the approval's identity
// signature covers the whole record.
type Health struct {
	Device    string `cbor:"1,keyasint" json:"device"`
	Key       string `cbor:"2,keyasint" json:"key"` // the chain key checked, as the policy writes it
	Time      int64  `cbor:"3,keyasint" json:"time"`
	Challenge []byte `cbor:"4,keyasint" json:"challenge"` // 32 random bytes
	Signature []byte `cbor:"5,keyasint" json:"signature"` // by the chain key over Digest
	// Info is what the device reported: token, model, serial, firmware.
	Info string `cbor:"6,keyasint,omitempty" json:"info,omitempty"`
}

// MaxHealthInfo bounds Health.Info.
const MaxHealthInfo = 512

// Digest is what the device's chain key signs: a domain-separated hash of
// the device, key, time, challenge and reported information.
func (h *Health) Digest() []byte {
	d := sha256.New()
	d.Write([]byte("airlock device-check/v1\x00"))
	for _, s := range []string{h.Device, h.Key, h.Info} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		d.Write(n[:])
		d.Write([]byte(s))
	}
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(h.Time))
	d.Write(t[:])
	d.Write(h.Challenge)
	return d.Sum(nil)
}

// ErrHealth wraps every refusal of a device health record.
var ErrHealth = errors.New("proposal: device health")

// CheckHealth verifies h for the vault signer s at time at (the
// approval's time): the device and key are the policy's, the signature by
// that key verifies, and the check is no older than the vault allows.
func CheckHealth(h *Health, pol *policy.Policy, v *policy.Vault, s policy.Signer, reg *chain.Registry, at time.Time) error {
	who := s.Participant.ID + "/" + s.Device.ID
	if h == nil {
		if v.Rules.HealthMaxAge > 0 {
			return fmt.Errorf("%w: vault %q needs a device check younger than %v, and %s's approval carries none (run 'airlock device check' at the station)", ErrHealth, v.Name, v.Rules.HealthAge(), who)
		}
		return nil
	}
	if h.Device != s.Device.ID || h.Key != s.Device.Key {
		return fmt.Errorf("%w: %s's check is of device %q key %s, not the policy's", ErrHealth, who, h.Device, h.Key)
	}
	if len(h.Challenge) != 32 || len(h.Info) > MaxHealthInfo {
		return fmt.Errorf("%w: %s's check is malformed", ErrHealth, who)
	}
	kp, err := reg.KeyProver(pol.Network, s.Device.Key)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrHealth, err)
	}
	if err := kp.VerifyKeyProof(pol.Network, s.Device.Key, h.Digest(), h.Signature); err != nil {
		return fmt.Errorf("%w: %s's check: %v", ErrHealth, who, err)
	}
	t := time.Unix(h.Time, 0)
	if t.After(at.Add(ClockSkew)) {
		return fmt.Errorf("%w: %s's check is dated %v, after the approval", ErrHealth, who, t.UTC())
	}
	if age := at.Sub(t); v.Rules.HealthMaxAge > 0 && age > v.Rules.HealthAge() {
		return fmt.Errorf("%w: %s's last device check is %v old at the approval; vault %q accepts at most %v (run 'airlock device check' at the station)", ErrHealth, who, age.Truncate(time.Hour), v.Name, v.Rules.HealthAge())
	}
	return nil
}
