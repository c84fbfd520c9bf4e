package inspect

import (
	"encoding/hex"
	"time"

	"github.com/airlock-vault/airlock/policy"
)

// PolicyReport is a policy and the state of its signatures as JSON. The
// fields carry no tags: their Go names are the JSON keys airlock has
// always printed, in this order.
type PolicyReport struct {
	ID, Name, Network, Previous string
	Version                     uint64
	MaxProposalLifetime         string
	PolicyThreshold             int
	Coordinators                map[string]string // coordinator id to its identity
	Participants                []PolicyParticipant
	Vaults                      []PolicyVault
	Signed, Missing             []string
	SignaturesNeeded            int
	Complete                    bool
	// Rotation (docs/governance.md): absent in a policy without them.
	ChangeDelay string `json:",omitempty"`
	Created     string `json:",omitempty"` // RFC 3339
	NotBefore   string `json:",omitempty"` // RFC 3339: when the version takes effect
}

// PolicyParticipant is one participant of a [PolicyReport].
type PolicyParticipant struct {
	ID, Name, Identity string
	Devices            []PolicyDevice
	Revoked            *policy.Revocation `json:",omitempty"`
}

// PolicyDevice is one device of a [PolicyParticipant].
type PolicyDevice struct {
	ID, Kind, Vendor, Model, Key string
	Revoked                      *policy.Revocation `json:",omitempty"`
}

// PolicyVault is one vault of a [PolicyReport].
type PolicyVault struct {
	Name, Chain, Descriptor string
	Threshold               int
	Signers                 []string
	Limits                  policy.Limits
}

// Policy reports st, a policy with the state of its signatures; an
// unverified policy has no Signed, Missing or SignaturesNeeded.
func Policy(st *policy.Status) PolicyReport {
	p := st.Policy
	out := PolicyReport{ID: st.ID, Name: p.Name, Network: p.Network, Previous: hex.EncodeToString(p.Previous), Version: p.Version,
		MaxProposalLifetime: p.Lifetime().String(), PolicyThreshold: p.PolicyThreshold, Coordinators: map[string]string{},
		Signed: st.Signed, Missing: st.Missing, SignaturesNeeded: st.Needed, Complete: st.Complete}
	if p.ChangeDelay != 0 {
		out.ChangeDelay = p.Delay().String()
	}
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
		x := PolicyParticipant{ID: pp.ID, Name: pp.Name, Identity: policy.EncodeIdentity(pp.Identity), Revoked: pp.Revoked}
		for _, d := range pp.Devices {
			x.Devices = append(x.Devices, PolicyDevice{ID: d.ID, Kind: d.Kind, Vendor: d.Vendor, Model: d.Model, Key: d.Key, Revoked: d.Revoked})
		}
		out.Participants = append(out.Participants, x)
	}
	for _, v := range p.Vaults {
		out.Vaults = append(out.Vaults, PolicyVault{v.Name, v.Chain, v.Descriptor, v.Threshold, v.Signers, v.Limits})
	}
	return out
}
