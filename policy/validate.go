package policy

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/airlock-vault/airlock/chain"
)

var (
	idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	fpPattern = regexp.MustCompile(`^\[([0-9a-fA-F]{8})[/\]]`)
)

// ErrInvalid wraps every validation failure.
var ErrInvalid = errors.New("policy: invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Validate checks a policy's own consistency, and each vault with its chain
// adapter. It does not check signatures (see Verify).
func (p *Policy) Validate(reg *chain.Registry) error {
	if p.Format != FormatVersion {
		return invalid("format %d, want %d", p.Format, FormatVersion)
	}
	if !idPattern.MatchString(p.Name) {
		return fieldErr("name", "name %q: want lower-case letters, digits, '.', '_' or '-'", p.Name)
	}
	if p.Version == 0 {
		return invalid("version 0: versions start at 1")
	}
	if p.Version == 1 && p.Previous != nil {
		return invalid("genesis names a previous version")
	}
	if p.Version > 1 && len(p.Previous) != 32 {
		return invalid("version %d does not name its previous version", p.Version)
	}
	lt := p.Lifetime()
	if lt < MinLifetime || lt > MaxLifetime {
		return fieldErr("max_proposal_lifetime", "max proposal lifetime %v outside %v..%v", lt, MinLifetime, MaxLifetime)
	}
	if err := p.validateMembers(); err != nil {
		return err
	}
	if err := p.validateRotation(); err != nil {
		return err
	}
	if err := p.validateVaults(reg); err != nil {
		return err
	}
	return p.validateTxRules()
}

// validateMembers checks coordinators and participants: ids, keys, devices,
// and that no key or master fingerprint appears twice.
func (p *Policy) validateMembers() error {
	n := len(p.Participants)
	if n == 0 || n > MaxParticipants {
		return fieldErr("participants", "%d participants, want 1..%d", n, MaxParticipants)
	}
	if p.PolicyThreshold < 1 || p.PolicyThreshold > n {
		return fieldErr("policy_threshold", "policy threshold %d outside 1..%d (the participants)", p.PolicyThreshold, n)
	}
	if len(p.Coordinators) == 0 {
		return fieldErr("coordinators", "no coordinator")
	}
	ids := map[string]string{}
	identities := map[string]string{}
	claim := func(set map[string]string, key, what, who, at string) error {
		if prev, dup := set[key]; dup {
			return fieldErr(at, "duplicate %s: %s and %s", what, prev, who)
		}
		set[key] = who
		return nil
	}
	for ci, c := range p.Coordinators {
		at := fmt.Sprintf("coordinators[%d]", ci)
		if !idPattern.MatchString(c.ID) {
			return fieldErr(at+".id", "coordinator id %q", c.ID)
		}
		if len(c.Identity) != ed25519.PublicKeySize {
			return fieldErr(at+".identity", "coordinator %q: identity key is %d bytes, want 32", c.ID, len(c.Identity))
		}
		if err := claim(ids, c.ID, "id", "coordinator "+c.ID, at+".id"); err != nil {
			return err
		}
		if err := claim(identities, string(c.Identity), "identity key", "coordinator "+c.ID, at+".identity"); err != nil {
			return err
		}
	}
	deviceKeys := map[string]string{}
	fingerprints := map[string]string{}
	for pi, part := range p.Participants {
		at := fmt.Sprintf("participants[%d]", pi)
		if !idPattern.MatchString(part.ID) {
			return fieldErr(at+".id", "participant id %q: want lower-case letters, digits, '.', '_' or '-'", part.ID)
		}
		if err := claim(ids, part.ID, "id", "participant "+part.ID, at+".id"); err != nil {
			return err
		}
		if len(part.Identity) != ed25519.PublicKeySize {
			return fieldErr(at+".identity", "participant %q: identity key is %d bytes, want 32", part.ID, len(part.Identity))
		}
		if err := claim(identities, string(part.Identity), "identity key", "participant "+part.ID, at+".identity"); err != nil {
			return err
		}
		if len(part.Devices) == 0 || len(part.Devices) > MaxDevices {
			return fieldErr(at+".devices", "participant %q has %d devices, want 1..%d", part.ID, len(part.Devices), MaxDevices)
		}
		devIDs := map[string]bool{}
		for di, d := range part.Devices {
			who := part.ID + "/" + d.ID
			dat := fmt.Sprintf("%s.devices[%d]", at, di)
			if !idPattern.MatchString(d.ID) || devIDs[d.ID] {
				return fieldErr(dat+".id", "participant %q: device id %q missing, malformed or repeated", part.ID, d.ID)
			}
			devIDs[d.ID] = true
			switch d.Kind {
			case KindSoftware, KindPKCS11, KindExternal:
			default:
				return fieldErr(dat+".kind", "device %s: kind %q, want software, pkcs11 or external", who, d.Kind)
			}
			if d.Key == "" && d.Ethereum == "" {
				return fieldErr(dat+".key", "device %s has no key", who)
			}
			for _, k := range []string{d.Key, d.Ethereum} {
				if k == "" {
					continue
				}
				if err := claim(deviceKeys, k, "device key", who, dat+".key"); err != nil {
					return err
				}
			}
			if d.Ethereum != "" {
				if m := fpPattern.FindStringSubmatch(d.Ethereum); m != nil && d.Key != "" && !strings.HasPrefix(d.Key, m[0][:9]) {
					return fieldErr(dat+".ethereum", "device %s: its Ethereum key's fingerprint %s is not its Bitcoin key's", who, m[1])
				}
			}
			if m := fpPattern.FindStringSubmatch(d.Key); m != nil {
				if err := claim(fingerprints, strings.ToLower(m[1]), "master fingerprint "+strings.ToLower(m[1]), who, dat+".key"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// validateVaults checks each vault, with its chain adapter.
func (p *Policy) validateVaults(reg *chain.Registry) error {
	if len(p.Vaults) == 0 || len(p.Vaults) > MaxVaults {
		return fieldErr("vaults", "%d vaults, want 1..%d", len(p.Vaults), MaxVaults)
	}
	names := map[string]bool{}
	for i := range p.Vaults {
		v := &p.Vaults[i]
		at := fmt.Sprintf("vaults[%d]", i)
		if !idPattern.MatchString(v.Name) || names[v.Name] {
			return fieldErr(at+".name", "vault name %q missing, malformed or repeated", v.Name)
		}
		names[v.Name] = true
		if len(v.Signers) == 0 {
			return fieldErr(at+".signers", "vault %q has no signers", v.Name)
		}
		if (v.Chain == "ethereum") != (v.Safe != nil) {
			return fieldErr(at+".safe", "vault %q: a Safe section goes with chain ethereum, and only there", v.Name)
		}
		if v.Threshold < 1 || v.Threshold > len(v.Signers) {
			return fieldErr(at+".threshold", "vault %q: threshold %d outside 1..%d (its signers)", v.Name, v.Threshold, len(v.Signers))
		}
		signers, err := p.Signers(v)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, strings.TrimPrefix(err.Error(), "policy: "))
		}
		seen := map[string]bool{}
		for _, s := range signers {
			if s.Device.KeyFor(v.Chain) == "" {
				return fieldErr(at+".signers", "vault %q: device %s/%s has no %s key", v.Name, s.Participant.ID, s.Device.ID, v.Chain)
			}
			if seen[s.Participant.ID] {
				return fieldErr(at+".signers", "vault %q: participant %q signs twice", v.Name, s.Participant.ID)
			}
			seen[s.Participant.ID] = true
		}
		if err := p.validateRules(at, v, signers); err != nil {
			return err
		}
		if err := p.validateRecovery(at, v, seen); err != nil {
			return err
		}
		if v.Limits.MaxFee < 0 || v.Limits.MaxFeeRate < 0 || v.Limits.MaxFeePercent < 0 || v.Limits.MaxFeePercent > 100 {
			return fieldErr(at+".limits", "vault %q: negative or out-of-range limit", v.Name)
		}
		a, err := reg.Lookup(v.Chain)
		if err != nil {
			return fieldErr(at+".chain", "vault %q: %v", v.Name, err)
		}
		cv, err := p.ChainVault(v)
		if err != nil {
			return fieldErr(at, "vault %q: %v", v.Name, err)
		}
		prepared, err := a.PrepareVault(cv)
		if err != nil {
			return fieldErr(at, "vault %q: %v", v.Name, err)
		}
		if v.Descriptor != prepared.Descriptor {
			return fieldErr(at+".descriptor", "vault %q: descriptor %q is not the one its signers' keys give, %q", v.Name, v.Descriptor, prepared.Descriptor)
		}
	}
	return nil
}

// validateRecovery checks a vault's recovery path: Bitcoin only, a lock
// of 1..65535 blocks, a signer with a Bitcoin key who is not one of the
// vault's threshold signers (signers holds their participant ids).
func (p *Policy) validateRecovery(at string, v *Vault, signers map[string]bool) error {
	if v.Recovery == nil {
		return nil
	}
	if v.Chain != "bitcoin" {
		return fieldErr(at+".recovery", "vault %q: a recovery path is for Bitcoin vaults (a Safe has its own modules)", v.Name)
	}
	if v.Recovery.After < 1 || v.Recovery.After > 0xffff {
		return fieldErr(at+".recovery.after_blocks", "vault %q: recovery after %d blocks, want 1..65535 (a BIP-68 block-based lock)", v.Name, v.Recovery.After)
	}
	r, _, err := p.RecoverySigner(v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, strings.TrimPrefix(err.Error(), "policy: "))
	}
	if signers[r.Participant.ID] {
		return fieldErr(at+".recovery.signer", "vault %q: recovery signer %q is one of the vault's signers; the recovery key must belong to someone else", v.Name, r.Participant.ID)
	}
	if r.Device.KeyFor(v.Chain) == "" {
		return fieldErr(at+".recovery.signer", "vault %q: recovery device %s has no %s key", v.Name, v.Recovery.Signer, v.Chain)
	}
	return nil
}

// validateRules checks that a vault's device rules can be met by its own
// signers: a rule no set of threshold signers satisfies would lock the
// funds, and is refused.
func (p *Policy) validateRules(at string, v *Vault, signers []Signer) error {
	r := v.Rules
	if r.MinVendors < 0 || r.MinKinds < 0 || r.MinVendors > v.Threshold || r.MinKinds > v.Threshold {
		return fieldErr(at+".rules", "vault %q: min_vendors %d and min_kinds %d must be within 0..%d (the threshold)", v.Name, r.MinVendors, r.MinKinds, v.Threshold)
	}
	if r.HealthMaxAge != 0 && (r.HealthAge() < MinHealthAge || r.HealthAge() > MaxHealthAge) {
		return fieldErr(at+".rules.health_max_age", "vault %q: health_max_age %v outside %v..%v", v.Name, r.HealthAge(), MinHealthAge, MaxHealthAge)
	}
	var devs []*Device
	for _, s := range signers {
		if r.ForbidSoftware && s.Device.Kind == KindSoftware {
			return fieldErr(at+".rules.forbid_software", "vault %q forbids software keys, but signer %s/%s is a software keystore", v.Name, s.Participant.ID, s.Device.ID)
		}
		if r.MinVendors > 0 && strings.TrimSpace(s.Device.Vendor) == "" {
			return fieldErr(at+".rules.min_vendors", "vault %q has a vendor rule, but device %s/%s names no vendor", v.Name, s.Participant.ID, s.Device.ID)
		}
		devs = append(devs, s.Device)
	}
	if r.MinVendors > 0 || r.MinKinds > 0 {
		if _, ok := SelectDiverse(v, devs); !ok {
			return fieldErr(at+".rules", "vault %q: no %d of its signers' devices span %d vendors and %d kinds; the vault could never spend", v.Name, v.Threshold, r.MinVendors, r.MinKinds)
		}
	}
	return nil
}
