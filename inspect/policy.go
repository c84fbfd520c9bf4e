package inspect

import (
	"encoding/hex"
	"time"

	"github.com/airlock-vault/airlock/policy"
)

// PolicyReport is a policy and the state of its signatures as JSON
// (docs/schemas/policy-show.schema.json): camelCase keys, lists never
// null, the lifetime in seconds.
type PolicyReport struct {
	ID                         string              `json:"id"`
	Name                       string              `json:"name"`
	Network                    string              `json:"network"`
	Previous                   string              `json:"previous"`
	Version                    uint64              `json:"version"`
	MaxProposalLifetimeSeconds int64               `json:"maxProposalLifetimeSeconds"`
	PolicyThreshold            int                 `json:"policyThreshold"`
	Coordinators               map[string]string   `json:"coordinators"` // coordinator id to its identity
	Participants               []PolicyParticipant `json:"participants"`
	Vaults                     []PolicyVault       `json:"vaults"`
	Signed                     []string            `json:"signed"`
	Missing                    []string            `json:"missing"`
	SignaturesNeeded           int                 `json:"signaturesNeeded"`
	Complete                   bool                `json:"complete"`
	// Rotation (docs/governance.md): absent in a policy without them.
	ChangeDelaySeconds int64  `json:"changeDelaySeconds,omitempty"`
	Created            string `json:"created,omitempty"`   // RFC 3339
	NotBefore          string `json:"notBefore,omitempty"` // RFC 3339: when the version takes effect
}

// PolicyParticipant is one participant of a [PolicyReport].
type PolicyParticipant struct {
	ID       string             `json:"id"`
	Name     string             `json:"name"`
	Roles    []string           `json:"roles"`
	Identity string             `json:"identity"`
	Devices  []PolicyDevice     `json:"devices"`
	Revoked  *policy.Revocation `json:"revoked,omitempty"`
}

// PolicyDevice is one device of a [PolicyParticipant].
type PolicyDevice struct {
	ID       string             `json:"id"`
	Kind     string             `json:"kind"`
	Vendor   string             `json:"vendor"`
	Model    string             `json:"model"`
	Key      string             `json:"key"`
	Ethereum string             `json:"ethereum,omitempty"`
	Revoked  *policy.Revocation `json:"revoked,omitempty"`
}

// PolicyVault is one vault of a [PolicyReport].
type PolicyVault struct {
	Name       string       `json:"name"`
	Chain      string       `json:"chain"`
	Descriptor string       `json:"descriptor,omitempty"`
	Threshold  int          `json:"threshold"`
	Signers    []string     `json:"signers"`
	Limits     PolicyLimits `json:"limits"`
}

// PolicyLimits are a vault's fee caps: satoshi, satoshi per vbyte, and a
// percentage of the amount sent (0: the adapter's default).
type PolicyLimits struct {
	MaxFeeSat     int64   `json:"maxFeeSat"`
	MaxFeeRate    float64 `json:"maxFeeRateSatPerVByte"`
	MaxFeePercent float64 `json:"maxFeePercent"`
}

// Policy reports st, a policy with the state of its signatures; an
// unverified policy has no Signed, Missing or SignaturesNeeded.
func Policy(st *policy.Status) PolicyReport {
	p := st.Policy
	out := PolicyReport{ID: st.ID, Name: p.Name, Network: p.Network, Previous: hex.EncodeToString(p.Previous), Version: p.Version,
		MaxProposalLifetimeSeconds: p.MaxProposalLifetime, PolicyThreshold: p.PolicyThreshold, Coordinators: map[string]string{},
		Participants: []PolicyParticipant{}, Vaults: []PolicyVault{},
		Signed: orEmpty(st.Signed), Missing: orEmpty(st.Missing), SignaturesNeeded: st.Needed, Complete: st.Complete}
	out.ChangeDelaySeconds = p.ChangeDelay
	if p.Created != 0 {
		out.Created = time.Unix(p.Created, 0).UTC().Format(time.RFC3339)
	}
	if p.NotBefore != 0 {
		out.NotBefore = p.EffectiveAt().Format(time.RFC3339)
	}
	for _, c := range p.Coordinators {
		out.Coordinators[c.ID] = policy.EncodeIdentity(c.Identity)
	}
	for _, pp := range p.Participants {
		x := PolicyParticipant{ID: pp.ID, Name: pp.Name, Roles: orEmpty(pp.Roles), Identity: policy.EncodeIdentity(pp.Identity), Devices: []PolicyDevice{}, Revoked: pp.Revoked}
		for _, d := range pp.Devices {
			x.Devices = append(x.Devices, PolicyDevice{d.ID, d.Kind, d.Vendor, d.Model, d.Key, d.Ethereum, d.Revoked})
		}
		out.Participants = append(out.Participants, x)
	}
	for _, v := range p.Vaults {
		out.Vaults = append(out.Vaults, PolicyVault{v.Name, v.Chain, v.Descriptor, v.Threshold, orEmpty(v.Signers),
			PolicyLimits{v.Limits.MaxFee, v.Limits.MaxFeeRate, v.Limits.MaxFeePercent}})
	}
	return out
}
