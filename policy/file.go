package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/airlock-vault/airlock/chain"
)

// MaxFileSize bounds a policy source file.
const MaxFileSize = 1 << 20

// File is the source form people write. Example (YAML):
//
//	name: treasury
//	network: regtest
//	max_proposal_lifetime: 72h
//	policy_threshold: 2
//	coordinators:
//	  - id: coord
//	    identity: ed25519:3b6a27bc...=
//	participants:
//	  - id: alice
//	    name: Alice
//	    identity: ed25519:q0xYN1pL...=
//	    devices:
//	      - id: laptop
//	        kind: software
//	        key: "[d34db33f/48'/1'/0'/2']tpubDF..."
//	vaults:
//	  - name: ops
//	    chain: bitcoin
//	    threshold: 2
//	    signers: [alice/laptop, bob/laptop, carol/laptop]
//
// A vault's descriptor may be omitted: it is built from the signers' keys
// (for Bitcoin, wsh(sortedmulti(k, key/<0;1>/*, ...)) with its checksum).
// When given, it must equal what the keys give.
type File struct {
	Name                string            `yaml:"name" json:"name"`
	Network             string            `yaml:"network" json:"network"`
	MaxProposalLifetime string            `yaml:"max_proposal_lifetime" json:"max_proposal_lifetime"`
	PolicyThreshold     int               `yaml:"policy_threshold" json:"policy_threshold"`
	Coordinators        []FileCoordinator `yaml:"coordinators" json:"coordinators"`
	Participants        []FileParticipant `yaml:"participants" json:"participants"`
	Vaults              []FileVault       `yaml:"vaults" json:"vaults"`

	// Transaction rules (rulesfile.go; docs/policy.md, "Transaction rules").

	// SeparationOfDuties (default true) keeps a proposer's own approval
	// from counting.
	SeparationOfDuties *bool `yaml:"separation_of_duties" json:"separation_of_duties"`
	// Default is what a transaction no approve rule matches gets: allow
	// (the vault's threshold, the default) or deny.
	Default          string        `yaml:"default" json:"default"`
	Assets           []FileAsset   `yaml:"assets" json:"assets"`
	Groups           []FileGroup   `yaml:"groups" json:"groups"`
	AddressBook      []FileAddress `yaml:"address_book" json:"address_book"`
	TransactionRules []FileRule    `yaml:"transaction_rules" json:"transaction_rules"`
	// Templates are routine payments (templatesfile.go).
	Templates []FileTemplate `yaml:"templates" json:"templates"`

	// ChangeDelay is how long a later version that loosens the rules
	// waits before it takes effect ("48h", "7d"; 0..90d).
	ChangeDelay string `yaml:"change_delay" json:"change_delay"`

	// lines maps field paths to their lines in a YAML source.
	lines map[string]int
}

type FileCoordinator struct {
	ID       string `yaml:"id" json:"id"`
	Identity string `yaml:"identity" json:"identity"`
}

type FileParticipant struct {
	ID       string       `yaml:"id" json:"id"`
	Name     string       `yaml:"name" json:"name"`
	Roles    []string     `yaml:"roles" json:"roles"`
	Identity string       `yaml:"identity" json:"identity"`
	Devices  []FileDevice `yaml:"devices" json:"devices"`
	// Revoked is why the participant signs nothing any more (later
	// versions only).
	Revoked string `yaml:"revoked" json:"revoked"`
}

type FileDevice struct {
	ID     string `yaml:"id" json:"id"`
	Kind   string `yaml:"kind" json:"kind"`
	Vendor string `yaml:"vendor" json:"vendor"`
	Model  string `yaml:"model" json:"model"`
	Key    string `yaml:"key" json:"key"`
	// Ethereum is the device's Safe owner key (optional).
	Ethereum string `yaml:"ethereum" json:"ethereum"`
	// Revoked is why the device signs nothing any more (later versions
	// only).
	Revoked string `yaml:"revoked" json:"revoked"`
}

type FileVault struct {
	Name       string     `yaml:"name" json:"name"`
	Chain      string     `yaml:"chain" json:"chain"`
	Threshold  int        `yaml:"threshold" json:"threshold"`
	Signers    []string   `yaml:"signers" json:"signers"`
	Descriptor string     `yaml:"descriptor" json:"descriptor"`
	Limits     FileLimits `yaml:"limits" json:"limits"`
	Rules      FileRules  `yaml:"rules" json:"rules"`
	Safe       *FileSafe  `yaml:"safe" json:"safe"`
	// Script is a Bitcoin vault's script type: p2wsh (default),
	// p2sh-p2wsh or p2sh.
	Script string `yaml:"script" json:"script"`
	// Recovery is a Bitcoin vault's time-locked recovery path.
	Recovery *FileRecovery `yaml:"recovery" json:"recovery"`
	// TransactionRules are the vault's own rules, read after the policy's.
	TransactionRules []FileRule `yaml:"transaction_rules" json:"transaction_rules"`
	// Emergency makes the vault an emergency path for another (emergency.go).
	Emergency *FileEmergency `yaml:"emergency" json:"emergency"`
}

// FileRecovery names a vault's recovery signer and its lock in blocks.
type FileRecovery struct {
	Signer      string `yaml:"signer" json:"signer"`
	AfterBlocks uint32 `yaml:"after_blocks" json:"after_blocks"`
}

// FileSafe describes a Safe vault (chain: ethereum).
type FileSafe struct {
	Address      string            `yaml:"address" json:"address"`
	ChainID      uint64            `yaml:"chain_id" json:"chain_id"`
	Version      string            `yaml:"version" json:"version"`
	AllowEthSign bool              `yaml:"allow_eth_sign" json:"allow_eth_sign"`
	Trusted      []FileTrusted     `yaml:"trusted" json:"trusted"`
	Severities   map[string]string `yaml:"severities" json:"severities"`
}

// FileTrusted is a contract a Safe may delegatecall, pinned.
type FileTrusted struct {
	Name     string `yaml:"name" json:"name"`
	Address  string `yaml:"address" json:"address"`
	CodeHash string `yaml:"code_hash" json:"code_hash"`
}

// FileRules are a vault's device rules; health_max_age is a duration
// such as "720h" or "30d".
type FileRules struct {
	MinVendors     int    `yaml:"min_vendors" json:"min_vendors"`
	MinKinds       int    `yaml:"min_kinds" json:"min_kinds"`
	ForbidSoftware bool   `yaml:"forbid_software" json:"forbid_software"`
	HealthMaxAge   string `yaml:"health_max_age" json:"health_max_age"`
}

// parseDays reads a Go duration or a whole number of days ("30d").
func parseDays(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(d, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q: want a whole number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

type FileLimits struct {
	MaxFee        int64   `yaml:"max_fee" json:"max_fee"`
	MaxFeeRate    float64 `yaml:"max_fee_rate" json:"max_fee_rate"`
	MaxFeePercent float64 `yaml:"max_fee_percent" json:"max_fee_percent"`
}

// ParseFile reads a policy source (JSON when it starts with '{', YAML
// otherwise). Unknown fields are refused.
func ParseFile(data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("policy: source is %d bytes, over %d", len(data), MaxFileSize)
	}
	var f File
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("policy: json: %v", err)
		}
		if dec.More() {
			return nil, errors.New("policy: json: trailing data after the policy")
		}
		return &f, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("policy: yaml: empty document")
		}
		return nil, fmt.Errorf("policy: %v", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("policy: yaml: more than one document")
	}
	f.lines = lineIndex(data)
	return &f, nil
}

// Genesis turns a source file into version 1 of a policy, building each
// vault's descriptor with its chain adapter, and validates it. A refused
// field is a *FieldError that names its line in a YAML source.
func (f *File) Genesis(reg *chain.Registry) (*Policy, error) {
	return f.build(reg, nil, time.Time{})
}

// build turns the file into version 1 (prev nil) or into the version
// after prev, made at now.
func (f *File) build(reg *chain.Registry, prev *Policy, now time.Time) (*Policy, error) {
	p, err := f.genesis(reg, prev, now)
	var fe *FieldError
	if errors.As(err, &fe) && fe.Line == 0 {
		fe.Line = f.line(fe.Path)
	}
	return p, err
}

func (f *File) genesis(reg *chain.Registry, prev *Policy, now time.Time) (*Policy, error) {
	lt, err := time.ParseDuration(f.MaxProposalLifetime)
	if err != nil {
		return nil, fieldErr("max_proposal_lifetime", "%q: %v", f.MaxProposalLifetime, err)
	}
	p := &Policy{
		Format: FormatVersion, Name: f.Name, Version: 1, Network: f.Network,
		MaxProposalLifetime: int64(lt / time.Second),
		PolicyThreshold:     f.PolicyThreshold,
	}
	if err := f.rotation(p, prev, now); err != nil {
		return nil, err
	}
	if p.PolicyThreshold == 0 {
		p.PolicyThreshold = len(f.Participants)/2 + 1
	}
	for i, c := range f.Coordinators {
		pub, err := DecodeIdentity(c.Identity)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("coordinators[%d].identity", i), "coordinator %q: %v", c.ID, strings.TrimPrefix(err.Error(), "policy: "))
		}
		p.Coordinators = append(p.Coordinators, Coordinator{ID: c.ID, Identity: pub})
	}
	for _, fp := range f.Participants {
		pub, err := DecodeIdentity(fp.Identity)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("participants[%d].identity", len(p.Participants)), "participant %q: %v", fp.ID, strings.TrimPrefix(err.Error(), "policy: "))
		}
		part := Participant{ID: fp.ID, Name: fp.Name, Roles: fp.Roles, Identity: pub}
		for _, d := range fp.Devices {
			part.Devices = append(part.Devices, Device{ID: d.ID, Kind: d.Kind, Vendor: d.Vendor, Model: d.Model, Key: d.Key, Ethereum: d.Ethereum})
		}
		if err := f.revocations(&part, len(p.Participants), fp, prev, now); err != nil {
			return nil, err
		}
		p.Participants = append(p.Participants, part)
	}
	for _, fv := range f.Vaults {
		v := Vault{
			Name: fv.Name, Chain: fv.Chain, Threshold: fv.Threshold, Signers: fv.Signers, Script: fv.Script,
			Limits: Limits{MaxFee: fv.Limits.MaxFee, MaxFeeRate: fv.Limits.MaxFeeRate, MaxFeePercent: fv.Limits.MaxFeePercent},
			Rules:  Rules{MinVendors: fv.Rules.MinVendors, MinKinds: fv.Rules.MinKinds, ForbidSoftware: fv.Rules.ForbidSoftware},
		}
		if fr := fv.Recovery; fr != nil {
			v.Recovery = &Recovery{Signer: fr.Signer, After: fr.AfterBlocks}
		}
		if fs := fv.Safe; fs != nil {
			v.Safe = &SafeVault{Address: fs.Address, ChainID: fs.ChainID, Version: fs.Version, AllowEthSign: fs.AllowEthSign, Severities: fs.Severities}
			for _, t := range fs.Trusted {
				v.Safe.Trusted = append(v.Safe.Trusted, TrustedContract{Name: t.Name, Address: t.Address, CodeHash: t.CodeHash})
			}
		}
		if fv.Rules.HealthMaxAge != "" {
			age, err := parseDays(fv.Rules.HealthMaxAge)
			if err != nil {
				return nil, fieldErr(fmt.Sprintf("vaults[%d].rules.health_max_age", len(p.Vaults)), "vault %q: %v", fv.Name, err)
			}
			v.Rules.HealthMaxAge = int64(age / time.Second)
		}
		p.Vaults = append(p.Vaults, v)
	}
	if err := f.convertRules(p); err != nil {
		return nil, err
	}
	if n := len(p.Participants); n > 0 && (p.PolicyThreshold < 1 || p.PolicyThreshold > n) {
		return nil, fieldErr("policy_threshold", "policy threshold %d outside 1..%d (the participants)", p.PolicyThreshold, n)
	}
	if err := p.validateMembers(); err != nil {
		return nil, err
	}
	// Build descriptors before validating the vaults, then compare with any
	// the author wrote.
	for i, fv := range f.Vaults {
		v := &p.Vaults[i]
		if v.Threshold < 1 || v.Threshold > len(v.Signers) {
			return nil, fieldErr(fmt.Sprintf("vaults[%d].threshold", i), "vault %q: threshold %d outside 1..%d (its signers)", v.Name, v.Threshold, len(v.Signers))
		}
		a, err := reg.Lookup(v.Chain)
		if err != nil {
			return nil, fieldErr(fmt.Sprintf("vaults[%d].chain", i), "vault %q: %v", v.Name, err)
		}
		cv, err := p.ChainVault(v)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, strings.TrimPrefix(err.Error(), "policy: "))
		}
		cv.Descriptor = ""
		prepared, err := a.PrepareVault(cv)
		if err != nil {
			return nil, invalid("vault %q: %v", v.Name, err)
		}
		if fv.Descriptor != "" && fv.Descriptor != prepared.Descriptor {
			return nil, fieldErr(fmt.Sprintf("vaults[%d].descriptor", i), "vault %q: descriptor %q is not the one its signers' keys give, %q", v.Name, fv.Descriptor, prepared.Descriptor)
		}
		v.Descriptor = prepared.Descriptor
	}
	if err := p.Validate(reg); err != nil {
		return nil, err
	}
	return p, nil
}
