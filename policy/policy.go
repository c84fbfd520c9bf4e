// Package policy holds the quorum's rules: who the participants are, which
// keys and devices they hold, which vaults exist, how many approvals each
// needs, and how long a proposal may live.
//
// A policy is versioned. Version 1, the genesis, is valid only once every
// participant it lists has signed it. Version N+1 names version N's id in
// Previous and is valid only once PolicyThreshold participants of version N
// have signed it, so a policy rotates without invalidating history: every
// approval cites the version it was made under, and that version stays
// verifiable.
//
// A policy travels as an envelope of type airlock.policy/v1 whose payload is
// the deterministic CBOR encoding of Policy; participants co-sign the same
// payload bytes, so the policy id (the SHA-256 of the payload) never changes
// as signatures are added.
//
// People write the genesis as YAML or JSON (see ParseFile); anything the
// format does not define is refused, as are a threshold of 0 or above the
// number of signers, duplicate ids, identity keys, device keys or master
// fingerprints.
package policy

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
)

// FormatVersion is the schema version of Policy.
const FormatVersion = 1

// Bounds on a policy.
const (
	MaxParticipants = 32
	MaxDevices      = 8
	MaxVaults       = 32
	MinLifetime     = time.Minute
	MaxLifetime     = 90 * 24 * time.Hour
)

// Device kinds.
const (
	KindSoftware = "software"
	KindPKCS11   = "pkcs11"
	KindExternal = "external"
)

// Policy is one version of the quorum's rules.
type Policy struct {
	Format              int           `cbor:"1,keyasint"`
	Name                string        `cbor:"2,keyasint"`
	Version             uint64        `cbor:"3,keyasint"`
	Previous            []byte        `cbor:"4,keyasint,omitempty"`
	Network             string        `cbor:"5,keyasint"`
	MaxProposalLifetime int64         `cbor:"6,keyasint"` // seconds
	PolicyThreshold     int           `cbor:"7,keyasint"`
	Coordinators        []Coordinator `cbor:"8,keyasint"`
	Participants        []Participant `cbor:"9,keyasint"`
	Vaults              []Vault       `cbor:"10,keyasint"`

	// The transaction rules (rules.go, Evaluate). Every field is new
	// since the first policies and omitted when empty, so a policy without
	// rules keeps the bytes, and the id, it always had.

	// Assets are the ERC-20 tokens rules may name.
	Assets []Asset `cbor:"11,keyasint,omitempty"`
	// Groups are named sets of participants approvals are counted in.
	Groups []Group `cbor:"12,keyasint,omitempty"`
	// AddressBook is the quorum's list of known destinations.
	AddressBook []AddressEntry `cbor:"13,keyasint,omitempty"`
	// TxRules apply to every vault, before each vault's own.
	TxRules []TxRule `cbor:"14,keyasint,omitempty"`
	// DefaultDeny refuses a transaction no approve rule allows; without
	// it, such a transaction needs the vault's threshold of its signers.
	DefaultDeny bool `cbor:"15,keyasint,omitempty"`
	// ProposerCounts lets the proposer's own approval count; without it
	// (separation of duties, the default) it does not.
	ProposerCounts bool `cbor:"16,keyasint,omitempty"`
	// Templates are routine payments agreed in advance (templates.go).
	Templates []Template `cbor:"20,keyasint,omitempty"`

	// Rotation (versions.go, diff.go): how long a version that loosens
	// the rules waits after it is made before it takes effect, when this
	// version was made, and when it takes effect (unix seconds; a
	// genesis may leave both 0).
	ChangeDelay int64 `cbor:"17,keyasint,omitempty"`
	Created     int64 `cbor:"18,keyasint,omitempty"`
	NotBefore   int64 `cbor:"19,keyasint,omitempty"`
}

// Coordinator is an online machine allowed to issue proposals.
type Coordinator struct {
	ID       string `cbor:"1,keyasint"`
	Identity []byte `cbor:"2,keyasint"`
}

// Participant is a person in the quorum.
type Participant struct {
	ID       string   `cbor:"1,keyasint"`
	Name     string   `cbor:"2,keyasint"`
	Roles    []string `cbor:"3,keyasint,omitempty"`
	Identity []byte   `cbor:"4,keyasint"`
	Devices  []Device `cbor:"5,keyasint"`
	// Revoked, once set, stays set in every later version: the
	// participant signs nothing any more (no approval, no policy
	// version), but stays listed so history still verifies.
	Revoked *Revocation `cbor:"6,keyasint,omitempty"`
}

// Device is where a participant's chain key lives.
type Device struct {
	ID     string `cbor:"1,keyasint"`
	Kind   string `cbor:"2,keyasint"`
	Vendor string `cbor:"3,keyasint,omitempty"`
	Model  string `cbor:"4,keyasint,omitempty"`
	// Key is the chain key in the chain's notation; for Bitcoin the account
	// key with its origin, "[fingerprint/48'/1'/0'/2']tpub...".
	Key string `cbor:"5,keyasint"`
	// Ethereum is the device's Safe owner key, "[fingerprint/44'/60'/0'/0/0]0xAddress"
	// (or "[fingerprint]0xAddress" for a token, "0xAddress" for an external
	// wallet or an owner Safe), for Safe vaults.
	Ethereum string `cbor:"6,keyasint,omitempty"`
	// Revoked, once set, stays set in every later version: the device
	// signs nothing any more, but stays listed so a vault's descriptor
	// still resolves and old approvals still verify.
	Revoked *Revocation `cbor:"7,keyasint,omitempty"`
}

// KeyFor returns the device's key for vaults on chain c.
func (d *Device) KeyFor(c string) string {
	if c == "ethereum" {
		return d.Ethereum
	}
	return d.Key
}

// Vault is one multisig account.
type Vault struct {
	Name      string `cbor:"1,keyasint"`
	Chain     string `cbor:"2,keyasint"`
	Threshold int    `cbor:"3,keyasint"`
	// Signers are "participant/device" references, in policy order.
	Signers    []string `cbor:"4,keyasint"`
	Descriptor string   `cbor:"5,keyasint,omitempty"`
	Limits     Limits   `cbor:"6,keyasint"`
	// Rules on the approvals that count (zero: no rule).
	Rules Rules `cbor:"7,keyasint,omitempty"`
	// Safe describes a Safe vault (chain ethereum).
	Safe *SafeVault `cbor:"8,keyasint,omitempty"`
	// Script is a Bitcoin vault's script type: p2wsh (default),
	// p2sh-p2wsh or p2sh.
	Script string `cbor:"9,keyasint,omitempty"`
	// Recovery is a Bitcoin vault's time-locked recovery path (nil:
	// none).
	Recovery *Recovery `cbor:"10,keyasint,omitempty"`
	// TxRules are the vault's transaction rules, read after the policy's.
	TxRules []TxRule `cbor:"11,keyasint,omitempty"`
	// Emergency makes this Safe vault an emergency path for another
	// (emergency.go); nil for none.
	Emergency *Emergency `cbor:"12,keyasint,omitempty"`
}

// Recovery is a recovery path: the Signer ("participant/device", not one
// of the vault's signers) may spend alone once the vault's coins are After
// blocks old (a BIP-68 relative lock, 1..65535 blocks).
type Recovery struct {
	Signer string `cbor:"1,keyasint"`
	After  uint32 `cbor:"2,keyasint"`
}

// SafeVault is a Safe account: where it lives, its contract version, the
// contracts it may delegatecall (pinned by address and runtime code hash),
// and the policy's choice of flag severities.
type SafeVault struct {
	Address      string            `cbor:"1,keyasint"`
	ChainID      uint64            `cbor:"2,keyasint"`
	Version      string            `cbor:"3,keyasint"`
	Trusted      []TrustedContract `cbor:"4,keyasint,omitempty"`
	Severities   map[string]string `cbor:"5,keyasint,omitempty"`
	AllowEthSign bool              `cbor:"6,keyasint,omitempty"`
}

// TrustedContract is a contract a Safe may delegatecall.
type TrustedContract struct {
	Name     string `cbor:"1,keyasint"`
	Address  string `cbor:"2,keyasint"`
	CodeHash string `cbor:"3,keyasint"`
}

// Rules are a vault's device rules: the approvals that meet its threshold
// must come from devices of at least MinVendors vendors and MinKinds
// kinds, so one vendor's flaw cannot break the quorum; ForbidSoftware
// refuses software keystores as signers; HealthMaxAge is how old (seconds)
// a device's last health check may be when its approval is made.
type Rules struct {
	MinVendors     int   `cbor:"1,keyasint,omitempty"`
	MinKinds       int   `cbor:"2,keyasint,omitempty"`
	ForbidSoftware bool  `cbor:"3,keyasint,omitempty"`
	HealthMaxAge   int64 `cbor:"4,keyasint,omitempty"`
}

// Bounds on the health rule.
const (
	MinHealthAge = time.Hour
	MaxHealthAge = 366 * 24 * time.Hour
)

// HealthAge is the rule's maximum age of a device check (0: no rule).
func (r Rules) HealthAge() time.Duration { return time.Duration(r.HealthMaxAge) * time.Second }

// Vendor is how a device's vendor is compared: case and spaces aside.
func (d *Device) VendorKey() string {
	return strings.ToLower(strings.Join(strings.Fields(d.Vendor), " "))
}

// Diversity counts the distinct vendors and kinds of devices.
func Diversity(devs []*Device) (vendors, kinds int) {
	vs, ks := map[string]bool{}, map[string]bool{}
	for _, d := range devs {
		vs[d.VendorKey()], ks[d.Kind] = true, true
	}
	return len(vs), len(ks)
}

// CheckDiversity says whether approvals from devs satisfy the vault's
// vendor and kind rules, and if not, why.
func (v *Vault) CheckDiversity(devs []*Device) error {
	vendors, kinds := Diversity(devs)
	if vendors < v.Rules.MinVendors {
		return fmt.Errorf("policy: vault %q needs approvals from devices of %d vendors, these come from %d", v.Name, v.Rules.MinVendors, vendors)
	}
	if kinds < v.Rules.MinKinds {
		return fmt.Errorf("policy: vault %q needs approvals from devices of %d kinds, these come from %d", v.Name, v.Rules.MinKinds, kinds)
	}
	return nil
}

// Limits are a vault's caps (zero: the chain adapter's default).
type Limits struct {
	MaxFee        int64   `cbor:"1,keyasint,omitempty"`
	MaxFeeRate    float64 `cbor:"2,keyasint,omitempty"`
	MaxFeePercent float64 `cbor:"3,keyasint,omitempty"`
}

// Lifetime is the maximum proposal lifetime.
func (p *Policy) Lifetime() time.Duration {
	return time.Duration(p.MaxProposalLifetime) * time.Second
}

// Participant returns the participant with id.
func (p *Policy) Participant(id string) (*Participant, bool) {
	for i := range p.Participants {
		if p.Participants[i].ID == id {
			return &p.Participants[i], true
		}
	}
	return nil, false
}

// ParticipantByKey returns the participant whose identity key has key id kid.
func (p *Policy) ParticipantByKey(kid string) (*Participant, bool) {
	for i := range p.Participants {
		if envelope.KeyID(p.Participants[i].Identity) == kid {
			return &p.Participants[i], true
		}
	}
	return nil, false
}

// Coordinator returns the coordinator whose identity key has key id kid.
func (p *Policy) CoordinatorByKey(kid string) (*Coordinator, bool) {
	for i := range p.Coordinators {
		if envelope.KeyID(p.Coordinators[i].Identity) == kid {
			return &p.Coordinators[i], true
		}
	}
	return nil, false
}

// Vault returns the vault named name.
func (p *Policy) Vault(name string) (*Vault, bool) {
	for i := range p.Vaults {
		if p.Vaults[i].Name == name {
			return &p.Vaults[i], true
		}
	}
	return nil, false
}

// Signer is a vault signer resolved to its participant and device.
type Signer struct {
	Participant *Participant
	Device      *Device
	// Recovery marks the vault's recovery signer, who is not one of its
	// threshold signers.
	Recovery bool
}

// RecoverySigner resolves a vault's recovery signer; ok is false for a
// vault without a recovery path.
func (p *Policy) RecoverySigner(v *Vault) (s Signer, ok bool, err error) {
	if v.Recovery == nil {
		return Signer{}, false, nil
	}
	if s, err = p.resolveSigner(v, "recovery signer", v.Recovery.Signer); err != nil {
		return Signer{}, false, err
	}
	s.Recovery = true
	return s, true, nil
}

// Signers resolves a vault's signer references.
func (p *Policy) Signers(v *Vault) ([]Signer, error) {
	var out []Signer
	for _, ref := range v.Signers {
		s, err := p.resolveSigner(v, "signer", ref)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// resolveSigner resolves one "participant/device" reference of vault v;
// role names it in errors.
func (p *Policy) resolveSigner(v *Vault, role, ref string) (Signer, error) {
	pid, did, _ := strings.Cut(ref, "/")
	part, ok := p.Participant(pid)
	if !ok {
		return Signer{}, fmt.Errorf("policy: vault %q: %s %q is not a participant", v.Name, role, pid)
	}
	for i := range part.Devices {
		if part.Devices[i].ID == did {
			return Signer{Participant: part, Device: &part.Devices[i]}, nil
		}
	}
	return Signer{}, fmt.Errorf("policy: vault %q: participant %q has no device %q", v.Name, pid, did)
}

// ChainVault is the adapter's view of a vault.
func (p *Policy) ChainVault(v *Vault) (chain.Vault, error) {
	signers, err := p.Signers(v)
	if err != nil {
		return chain.Vault{}, err
	}
	cv := chain.Vault{
		Name: v.Name, Chain: v.Chain, Network: p.Network, Threshold: v.Threshold,
		Descriptor: v.Descriptor, Script: v.Script, PolicyVersion: p.Version,
		Limits: chain.Limits{MaxFee: v.Limits.MaxFee, MaxFeeRate: v.Limits.MaxFeeRate, MaxFeePercent: v.Limits.MaxFeePercent},
	}
	for _, s := range signers {
		cv.Keys = append(cv.Keys, s.Device.KeyFor(v.Chain))
	}
	if r, ok, err := p.RecoverySigner(v); err != nil {
		return chain.Vault{}, err
	} else if ok {
		cv.Recovery = &chain.Recovery{Key: r.Device.KeyFor(v.Chain), After: v.Recovery.After}
	}
	if v.Safe != nil {
		acc := &chain.Account{Address: v.Safe.Address, ChainID: v.Safe.ChainID, Version: v.Safe.Version, AllowEthSign: v.Safe.AllowEthSign}
		for _, t := range v.Safe.Trusted {
			acc.Trusted = append(acc.Trusted, chain.Trusted{Name: t.Name, Address: t.Address, CodeHash: t.CodeHash})
		}
		if len(v.Safe.Severities) > 0 {
			acc.Severities = map[string]chain.Severity{}
			for k, s := range v.Safe.Severities {
				acc.Severities[k] = chain.Severity(s)
			}
		}
		for i := range p.AddressBook {
			if a := &p.AddressBook[i]; a.appliesTo(v) {
				acc.AddressBook = append(acc.AddressBook, a.Address)
			}
		}
		if em := v.Emergency; em != nil {
			t, ok := p.Vault(em.Target)
			if !ok || t.Safe == nil {
				return chain.Vault{}, fmt.Errorf("policy: vault %q: emergency target %q is not a Safe vault of the policy", v.Name, em.Target)
			}
			acc.Delay = &chain.Delay{Address: em.Delay, Avatar: t.Safe.Address}
		}
		// The modules expected on this Safe: the Delay modifier of each
		// emergency path targeting it.
		for i := range p.Vaults {
			if em := p.Vaults[i].Emergency; em != nil && em.Target == v.Name {
				acc.Modules = append(acc.Modules, em.Delay)
			}
		}
		cv.Account = acc
	}
	return cv, nil
}

// SignerFor returns the vault signer held by participant pid, if any. A
// revoked participant or device holds none: it signs nothing any more.
func (p *Policy) SignerFor(v *Vault, pid string) (Signer, bool) {
	signers, err := p.Signers(v)
	if err != nil {
		return Signer{}, false
	}
	for _, s := range signers {
		if s.Participant.ID == pid {
			return s, !s.Revoked()
		}
	}
	if r, ok, err := p.RecoverySigner(v); err == nil && ok && r.Participant.ID == pid {
		return r, !r.Revoked()
	}
	return Signer{}, false
}

// SelectDiverse picks, from devs in order, the first v.Threshold of them
// (by index) that satisfy the vault's vendor and kind rules. It tries
// every combination in lexicographic order, so with no rule it takes the
// first threshold devices, and it is bounded by the policy's signer limit.
func SelectDiverse(v *Vault, devs []*Device) ([]int, bool) {
	k := v.Threshold
	if k < 1 || k > len(devs) {
		return nil, false
	}
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i
	}
	pick := make([]*Device, k)
	for {
		for i, j := range idx {
			pick[i] = devs[j]
		}
		if v.CheckDiversity(pick) == nil {
			return append([]int(nil), idx...), true
		}
		i := k - 1
		for i >= 0 && idx[i] == len(devs)-k+i {
			i--
		}
		if i < 0 {
			return nil, false
		}
		idx[i]++
		for j := i + 1; j < k; j++ {
			idx[j] = idx[j-1] + 1
		}
	}
}

// EncodeIdentity renders an identity public key as policies write it.
func EncodeIdentity(pub ed25519.PublicKey) string {
	return "ed25519:" + base64.StdEncoding.EncodeToString(pub)
}

// DecodeIdentity parses "ed25519:<base64>".
func DecodeIdentity(s string) (ed25519.PublicKey, error) {
	b64, ok := strings.CutPrefix(s, "ed25519:")
	if !ok {
		return nil, fmt.Errorf("policy: identity key %q: want ed25519:<base64>", s)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("policy: identity key %q: want 32 bytes in base64", s)
	}
	return ed25519.PublicKey(b), nil
}

// Coordinator returns the coordinator with id.
func (p *Policy) Coordinator(id string) (*Coordinator, bool) {
	for i := range p.Coordinators {
		if p.Coordinators[i].ID == id {
			return &p.Coordinators[i], true
		}
	}
	return nil, false
}
