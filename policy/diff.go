package policy

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/airlock-vault/airlock/envelope"
)

// Change is one difference between two policy versions, as a person
// reads it ("~ vault ops: threshold 2 → 1"), and whether it loosens the
// rules (then the new version waits the old one's change_delay before it
// takes effect), with why.
type Change struct {
	Text    string `json:"change"`
	Loosens bool   `json:"loosens"`
	Why     string `json:"why,omitempty"`
}

func (c Change) String() string {
	if c.Loosens {
		return c.Text + "   [loosens: " + c.Why + "]"
	}
	return c.Text
}

// Loosening lists the changes that loosen the rules.
func Loosening(cs []Change) []Change {
	var out []Change
	for _, c := range cs {
		if c.Loosens {
			out = append(out, c)
		}
	}
	return out
}

// Diff lists every difference from prev to next, in a fixed order:
// policy settings, coordinators, participants and devices (with
// revocations), groups, assets, address book, the policy's transaction
// rules, then each vault. Loosening (after BitGo and Nunchuk): anything
// that lets more through or needs fewer approvals — higher limits,
// removed deny rules, lower thresholds, new destinations, participants,
// devices, signers, coordinators or vaults, default deny to allow,
// separation of duties off, a longer lifetime, a shorter change delay,
// new trusted contracts or lower flag severities. A change Diff cannot
// classify counts as loosening: it fails closed.
func Diff(prev, next *Policy) []Change {
	d := &differ{}
	d.settings(prev, next)
	d.coordinators(prev.Coordinators, next.Coordinators)
	d.participants(prev.Participants, next.Participants)
	d.groups(prev.Groups, next.Groups)
	d.assets(prev.Assets, next.Assets)
	d.addresses(prev.AddressBook, next.AddressBook)
	d.rules("policy", prev.TxRules, next.TxRules)
	d.vaults(prev, next)
	d.templates(prev.Templates, next.Templates)
	d.emergency(prev, next)
	d.residue(prev, next)
	return d.out
}

// templates: a new template, or a changed one, opens a routine path with
// fewer approvals (loosening); a removed one closes it.
func (d *differ) templates(a, b []Template) {
	byName := func(ts []Template) map[string]Template {
		m := map[string]Template{}
		for _, t := range ts {
			m[t.Name] = t
		}
		return m
	}
	ma, mb := byName(a), byName(b)
	for _, t := range b {
		old, ok := ma[t.Name]
		switch {
		case !ok:
			d.add(true, "a new routine payment path with fewer approvals", "+ template %s (vault %s, %s to %v)", t.Name, t.Vault, t.Asset, t.To)
		case !reflect.DeepEqual(old, t):
			d.add(true, "a template's terms changed", "~ template %s changed", t.Name)
		}
	}
	for _, t := range a {
		if _, ok := mb[t.Name]; !ok {
			d.add(false, "", "- template %s", t.Name)
		}
	}
}

// emergency: any change to a vault's emergency path counts as loosening
// (a new or wider path out), except its removal.
func (d *differ) emergency(a, b *Policy) {
	for _, vb := range b.Vaults {
		va, ok := a.Vault(vb.Name)
		if !ok {
			continue // a new vault: reported by vaults
		}
		switch {
		case va.Emergency == nil && vb.Emergency != nil:
			d.add(true, "a new emergency path", "+ vault %s: emergency path through %s", vb.Name, vb.Emergency.Delay)
		case va.Emergency != nil && vb.Emergency == nil:
			d.add(false, "", "- vault %s: emergency path", vb.Name)
		case va.Emergency != nil && !reflect.DeepEqual(*va.Emergency, *vb.Emergency):
			d.add(true, "the emergency path changed", "~ vault %s: emergency path changed", vb.Name)
		}
	}
}

// residue fails closed on fields Diff does not read: a field added to
// the policy later (and not taught to Diff) that changes counts as
// loosening, named by where it is.
func (d *differ) residue(a, b *Policy) {
	unread := "a change to a field airlock's diff does not read"
	if !reflect.DeepEqual(policyRest(a), policyRest(b)) {
		d.add(true, unread, "~ policy: other settings changed")
	}
	for _, pb := range b.Participants {
		for _, pa := range a.Participants {
			if pa.ID != pb.ID {
				continue
			}
			if residual(pa, pb, func(p *Participant) {
				p.ID, p.Name, p.Roles, p.Identity, p.Revoked, p.Devices = "", "", nil, nil, nil, nil
			}) {
				d.add(true, unread, "~ participant %s: other fields changed", pb.ID)
			}
			for _, db := range pb.Devices {
				for _, da := range pa.Devices {
					if da.ID == db.ID && residual(da, db, func(x *Device) {
						x.ID, x.Kind, x.Vendor, x.Model, x.Key, x.Ethereum, x.Revoked = "", "", "", "", "", "", nil
					}) {
						d.add(true, unread, "~ device %s/%s: other fields changed", pb.ID, db.ID)
					}
				}
			}
		}
	}
	for _, vb := range b.Vaults {
		for _, va := range a.Vaults {
			if va.Name != vb.Name {
				continue
			}
			if residual(va, vb, func(v *Vault) {
				v.Name, v.Chain, v.Threshold, v.Signers, v.Descriptor, v.Script = "", "", 0, nil, "", ""
				v.Limits, v.Rules, v.Safe, v.Recovery, v.TxRules = Limits{}, Rules{}, nil, nil, nil
				v.Emergency = nil // read by emergency
			}) {
				d.add(true, unread, "~ vault %s: other fields changed", vb.Name)
			}
			if va.Safe != nil && vb.Safe != nil && residual(*va.Safe, *vb.Safe, func(s *SafeVault) {
				s.Address, s.ChainID, s.Version, s.Trusted, s.Severities, s.AllowEthSign = "", 0, "", nil, nil, false
			}) {
				d.add(true, unread, "~ vault %s: other Safe fields changed", vb.Name)
			}
		}
	}
	for _, gb := range b.Groups {
		for _, ga := range a.Groups {
			if ga.Name == gb.Name && residual(ga, gb, func(g *Group) { g.Name, g.Members = "", nil }) {
				d.add(true, unread, "~ group %s: other fields changed", gb.Name)
			}
		}
	}
}

// residual says whether a and b still differ once clear has dropped the
// fields Diff reads.
func residual[T any](a, b T, clear func(*T)) bool {
	clear(&a)
	clear(&b)
	return !reflect.DeepEqual(a, b)
}

// policyRest is a policy without the fields Diff reads or Check fixes.
func policyRest(p *Policy) Policy {
	q := *p
	q.Format, q.Name, q.Version, q.Previous, q.Network = 0, "", 0, nil, ""
	q.MaxProposalLifetime, q.PolicyThreshold, q.ChangeDelay, q.Created, q.NotBefore = 0, 0, 0, 0, 0
	q.DefaultDeny, q.ProposerCounts = false, false
	q.Coordinators, q.Participants, q.Vaults, q.Assets, q.Groups, q.AddressBook, q.TxRules = nil, nil, nil, nil, nil, nil, nil
	q.Templates = nil
	return q
}

type differ struct{ out []Change }

func (d *differ) add(loosens bool, why, format string, args ...any) {
	d.out = append(d.out, Change{Text: fmt.Sprintf(format, args...), Loosens: loosens, Why: why})
}

func (d *differ) settings(a, b *Policy) {
	if a.Format != b.Format {
		d.add(true, "a new format", "~ format %d → %d", a.Format, b.Format)
	}
	if a.MaxProposalLifetime != b.MaxProposalLifetime {
		d.add(b.MaxProposalLifetime > a.MaxProposalLifetime, "a longer proposal lifetime", "~ max_proposal_lifetime %v → %v", a.Lifetime(), b.Lifetime())
	}
	if a.PolicyThreshold != b.PolicyThreshold {
		d.add(b.PolicyThreshold < a.PolicyThreshold, "fewer signatures change the policy", "~ policy_threshold %d → %d", a.PolicyThreshold, b.PolicyThreshold)
	}
	if a.ChangeDelay != b.ChangeDelay {
		d.add(b.ChangeDelay < a.ChangeDelay, "a shorter wait for loosening changes", "~ change_delay %v → %v", a.Delay(), b.Delay())
	}
	if a.DefaultDeny != b.DefaultDeny {
		d.add(!b.DefaultDeny, "what no rule allows is allowed", "~ default %s → %s", defaultWord(a.DefaultDeny), defaultWord(b.DefaultDeny))
	}
	if a.ProposerCounts != b.ProposerCounts {
		d.add(b.ProposerCounts, "the proposer's own approval counts", "~ separation_of_duties %v → %v", !a.ProposerCounts, !b.ProposerCounts)
	}
}

func defaultWord(deny bool) string {
	if deny {
		return "deny"
	}
	return "allow"
}

func (d *differ) coordinators(a, b []Coordinator) {
	for _, c := range b {
		i := slices.IndexFunc(a, func(o Coordinator) bool { return o.ID == c.ID })
		switch {
		case i < 0:
			d.add(true, "a new coordinator may propose", "+ coordinator %s (%s)", c.ID, envelope.KeyID(c.Identity))
		case !bytes.Equal(a[i].Identity, c.Identity):
			d.add(true, "a new coordinator key may propose", "~ coordinator %s: identity %s → %s", c.ID, envelope.KeyID(a[i].Identity), envelope.KeyID(c.Identity))
		case residual(a[i], c, func(x *Coordinator) { x.ID, x.Identity = "", nil }):
			d.add(true, "a change to a field airlock's diff does not read", "~ coordinator %s: other fields changed", c.ID)
		}
	}
	for _, c := range a {
		if !slices.ContainsFunc(b, func(o Coordinator) bool { return o.ID == c.ID }) {
			d.add(false, "", "- coordinator %s", c.ID)
		}
	}
}

func (d *differ) participants(a, b []Participant) {
	for _, p := range b {
		i := slices.IndexFunc(a, func(o Participant) bool { return o.ID == p.ID })
		if i < 0 {
			var devs []string
			for _, dv := range p.Devices {
				devs = append(devs, dv.ID)
			}
			d.add(true, "a new participant", "+ participant %s %q (identity %s; devices %s)", p.ID, p.Name, envelope.KeyID(p.Identity), strings.Join(devs, ", "))
			if p.Revoked != nil {
				d.add(false, "", "! participant %s revoked: %s", p.ID, p.Revoked.Reason)
			}
			continue
		}
		o := &a[i]
		if o.Name != p.Name {
			d.add(false, "", "~ participant %s: name %q → %q", p.ID, o.Name, p.Name)
		}
		if !slices.Equal(o.Roles, p.Roles) {
			d.add(true, "roles changed", "~ participant %s: roles [%s] → [%s]", p.ID, strings.Join(o.Roles, ", "), strings.Join(p.Roles, ", "))
		}
		if !bytes.Equal(o.Identity, p.Identity) {
			d.add(true, "a new identity key signs", "~ participant %s: identity %s → %s", p.ID, envelope.KeyID(o.Identity), envelope.KeyID(p.Identity))
		}
		d.revocation("participant "+p.ID, o.Revoked, p.Revoked)
		d.devices(p.ID, o.Devices, p.Devices)
	}
	for _, p := range a {
		if !slices.ContainsFunc(b, func(o Participant) bool { return o.ID == p.ID }) {
			d.add(false, "", "- participant %s", p.ID)
		}
	}
}

func (d *differ) revocation(who string, a, b *Revocation) {
	switch {
	case a == nil && b != nil:
		d.add(false, "", "! %s revoked: %s", who, b.Reason)
	case a != nil && b == nil:
		d.add(true, "a revoked key signs again", "~ %s: revocation lifted", who)
	case a != nil && *a != *b:
		d.add(true, "a revocation rewritten", "~ %s: revocation changed", who)
	}
}

func (d *differ) devices(pid string, a, b []Device) {
	for _, dv := range b {
		who := pid + "/" + dv.ID
		i := slices.IndexFunc(a, func(o Device) bool { return o.ID == dv.ID })
		if i < 0 {
			d.add(true, "a new device", "+ device %s (%s %s %s) key %s", who, dv.Kind, dv.Vendor, dv.Model, shortKey(dv.Key+dv.Ethereum))
			continue
		}
		o := &a[i]
		if o.Key != dv.Key {
			d.add(true, "a new key", "~ device %s: key %s → %s", who, shortKey(o.Key), shortKey(dv.Key))
		}
		if o.Ethereum != dv.Ethereum {
			d.add(true, "a new key", "~ device %s: ethereum key %s → %s", who, shortKey(o.Ethereum), shortKey(dv.Ethereum))
		}
		if o.Kind != dv.Kind || o.Vendor != dv.Vendor || o.Model != dv.Model {
			d.add(true, "device diversity rules read kind and vendor", "~ device %s: %s %s %s → %s %s %s", who, o.Kind, o.Vendor, o.Model, dv.Kind, dv.Vendor, dv.Model)
		}
		d.revocation("device "+who, o.Revoked, dv.Revoked)
	}
	for _, dv := range a {
		if !slices.ContainsFunc(b, func(o Device) bool { return o.ID == dv.ID }) {
			d.add(false, "", "- device %s/%s", pid, dv.ID)
		}
	}
}

func shortKey(k string) string {
	if len(k) > 40 {
		return k[:28] + "…" + k[len(k)-8:]
	}
	if k == "" {
		return "(none)"
	}
	return k
}

func (d *differ) groups(a, b []Group) {
	for _, g := range b {
		i := slices.IndexFunc(a, func(o Group) bool { return o.Name == g.Name })
		if i < 0 {
			d.add(true, "a new group", "+ group %s [%s]", g.Name, strings.Join(g.Members, ", "))
			continue
		}
		added, removed := setDiff(a[i].Members, g.Members)
		if len(added) > 0 {
			d.add(true, "more people count in the group", "~ group %s: + %s", g.Name, strings.Join(added, ", "))
		}
		if len(removed) > 0 {
			d.add(false, "", "~ group %s: - %s", g.Name, strings.Join(removed, ", "))
		}
	}
	for _, g := range a {
		if !slices.ContainsFunc(b, func(o Group) bool { return o.Name == g.Name }) {
			d.add(false, "", "- group %s", g.Name)
		}
	}
}

// setDiff lists what b adds to a and what it drops.
func setDiff(a, b []string) (added, removed []string) {
	for _, x := range b {
		if !slices.Contains(a, x) {
			added = append(added, x)
		}
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			removed = append(removed, x)
		}
	}
	return added, removed
}

func (d *differ) assets(a, b []Asset) {
	for _, x := range b {
		i := slices.IndexFunc(a, func(o Asset) bool { return o.Symbol == x.Symbol })
		switch {
		case i < 0:
			d.add(true, "a new asset changes which rules match", "+ asset %s (%s %s, %d decimals)", x.Symbol, x.Chain, x.Token, x.Decimals)
		case a[i] != x:
			d.add(true, "an asset's meaning changed", "~ asset %s: %s %s %d → %s %s %d", x.Symbol, a[i].Chain, a[i].Token, a[i].Decimals, x.Chain, x.Token, x.Decimals)
		}
	}
	for _, x := range a {
		if !slices.ContainsFunc(b, func(o Asset) bool { return o.Symbol == x.Symbol }) {
			d.add(true, "no rule counts the asset any more", "- asset %s", x.Symbol)
		}
	}
}

func (d *differ) addresses(a, b []AddressEntry) {
	for _, x := range b {
		i := slices.IndexFunc(a, func(o AddressEntry) bool { return o.Label == x.Label })
		switch {
		case i < 0:
			d.add(true, "a new destination", "+ address %s: %s %s%s", x.Label, x.Chain, x.Address, vaultScope(x.Vaults))
		case !reflect.DeepEqual(a[i], x):
			d.add(true, "a destination changed", "~ address %s: %s %s%s → %s %s%s", x.Label, a[i].Chain, a[i].Address, vaultScope(a[i].Vaults), x.Chain, x.Address, vaultScope(x.Vaults))
		}
	}
	for _, x := range a {
		if !slices.ContainsFunc(b, func(o AddressEntry) bool { return o.Label == x.Label }) {
			d.add(false, "", "- address %s (%s)", x.Label, x.Address)
		}
	}
}
