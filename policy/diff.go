package policy

import (
	"bytes"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"time"

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

func vaultScope(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return " for " + strings.Join(vs, ", ")
}

// denies says whether a rule kind only refuses.
func denies(k RuleKind) bool {
	switch k {
	case RuleLimit, RuleVelocity, RuleAllowlist, RuleWindow, RuleBlock:
		return true
	}
	return false
}

func (d *differ) rules(scope string, a, b []TxRule) {
	for _, r := range b {
		i := slices.IndexFunc(a, func(o TxRule) bool { return o.Name == r.Name })
		if i < 0 {
			d.add(!denies(r.Kind), "a new approve rule allows more", "+ %s rule %s (%s)", scope, r.Name, r.Kind)
			continue
		}
		d.rule(scope, &a[i], &r)
	}
	for _, r := range a {
		if !slices.ContainsFunc(b, func(o TxRule) bool { return o.Name == r.Name }) {
			d.add(true, "a rule removed", "- %s rule %s (%s)", scope, r.Name, r.Kind)
		}
	}
}

// rule compares two versions of one rule, field by field.
func (d *differ) rule(scope string, a, b *TxRule) {
	at := fmt.Sprintf("~ %s rule %s", scope, b.Name)
	if a.Kind != b.Kind {
		d.add(true, "the rule's kind changed", "%s: kind %s → %s", at, a.Kind, b.Kind)
		return
	}
	if a.Asset != b.Asset {
		d.add(true, "the rule counts another asset", "%s: asset %s → %s", at, a.Asset, b.Asset)
	}
	if a.Max != b.Max {
		d.add(!amountBelow(b.Max, a.Max), "a higher limit", "%s: max %s → %s", at, a.Max, b.Max)
	}
	if a.Period != b.Period {
		d.add(b.Period < a.Period, "a shorter period counts less", "%s: period %v → %v", at, time.Duration(a.Period)*time.Second, time.Duration(b.Period)*time.Second)
	}
	if a.Zone != b.Zone || a.From != b.From || a.Until != b.Until {
		d.add(true, "the window moved", "%s: window %s %s → %s %s", at, a.Zone, formatHours(a.From, a.Until), b.Zone, formatHours(b.From, b.Until))
	}
	if added, removed := setDiff(a.Days, b.Days); len(added)+len(removed) > 0 {
		d.add(len(added) > 0, "more days open", "%s: days [%s] → [%s]", at, strings.Join(a.Days, " "), strings.Join(b.Days, " "))
	}
	if !slices.Equal(a.Actions, b.Actions) {
		var as, bs []string
		for _, x := range a.Actions {
			as = append(as, string(x))
		}
		for _, x := range b.Actions {
			bs = append(bs, string(x))
		}
		added, removed := setDiff(as, bs)
		// A block rule loosens when it refuses fewer actions; an approve
		// rule when it matches more.
		loosens := len(removed) > 0
		if b.Kind == RuleApprove {
			loosens = len(added) > 0
		}
		d.add(loosens, "fewer actions blocked or more allowed", "%s: actions [%s] → [%s]", at, strings.Join(as, " "), strings.Join(bs, " "))
	}
	if a.Above != b.Above {
		d.add(true, "an approval tier moved", "%s: above %s → %s", at, a.Above, b.Above)
	}
	if added, removed := setDiff(a.To, b.To); len(added)+len(removed) > 0 {
		d.add(len(added) > 0, "new destinations", "%s: to [%s] → [%s]", at, strings.Join(a.To, " "), strings.Join(b.To, " "))
	}
	if !reflect.DeepEqual(a.Require, b.Require) {
		d.add(true, "the approvals it requires changed", "%s: require %s → %s", at, needString(a.Require), needString(b.Require))
	}
	if residual(*a, *b, func(r *TxRule) {
		r.Name, r.Kind, r.Asset, r.Max, r.Period, r.Zone, r.Days = "", "", "", "", 0, "", nil
		r.From, r.Until, r.Actions, r.Above, r.To, r.Require = 0, 0, nil, "", nil, nil
	}) {
		d.add(true, "a change to a field airlock's diff does not read", "%s: other fields changed", at)
	}
}

func needString(n *Need) string {
	if n == nil {
		return "nothing"
	}
	switch {
	case len(n.All) > 0:
		return "all(" + needList(n.All) + ")"
	case len(n.Any) > 0:
		return "any(" + needList(n.Any) + ")"
	}
	return fmt.Sprintf("%d of %s", n.Count, n.Group)
}

func needList(ns []Need) string {
	var out []string
	for i := range ns {
		out = append(out, needString(&ns[i]))
	}
	return strings.Join(out, ", ")
}

// amountBelow says whether decimal integer x is below y (an unreadable
// amount is not: it fails closed).
func amountBelow(x, y string) bool {
	a, ok1 := new(big.Int).SetString(x, 10)
	b, ok2 := new(big.Int).SetString(y, 10)
	return ok1 && ok2 && a.Cmp(b) < 0
}

func (d *differ) vaults(pa, pb *Policy) {
	for i := range pb.Vaults {
		v := &pb.Vaults[i]
		j := slices.IndexFunc(pa.Vaults, func(o Vault) bool { return o.Name == v.Name })
		if j < 0 {
			d.add(true, "a new vault", "+ vault %s (%s, %d of %s)", v.Name, v.Chain, v.Threshold, strings.Join(v.Signers, ", "))
			d.rules("vault "+v.Name, nil, v.TxRules)
			continue
		}
		d.vault(&pa.Vaults[j], v)
	}
	for _, v := range pa.Vaults {
		if !slices.ContainsFunc(pb.Vaults, func(o Vault) bool { return o.Name == v.Name }) {
			d.add(false, "", "- vault %s", v.Name)
		}
	}
}

func (d *differ) vault(a, b *Vault) {
	at := "~ vault " + b.Name
	if a.Chain != b.Chain {
		d.add(true, "the vault moved chains", "%s: chain %s → %s", at, a.Chain, b.Chain)
	}
	if a.Threshold != b.Threshold {
		d.add(b.Threshold < a.Threshold, "fewer approvals", "%s: threshold %d → %d", at, a.Threshold, b.Threshold)
	}
	if added, removed := setDiff(a.Signers, b.Signers); len(added)+len(removed) > 0 {
		d.add(len(added) > 0, "new signers", "%s: signers [%s] → [%s]", at, strings.Join(a.Signers, ", "), strings.Join(b.Signers, ", "))
	}
	if a.Descriptor != b.Descriptor {
		d.add(true, "new addresses", "%s: descriptor %s → %s", at, shortKey(a.Descriptor), shortKey(b.Descriptor))
	}
	if a.Script != b.Script {
		d.add(true, "new addresses", "%s: script %q → %q", at, a.Script, b.Script)
	}
	if a.Limits != b.Limits {
		loosens := limitLooser(a.Limits.MaxFee, b.Limits.MaxFee) || limitLooser(a.Limits.MaxFeeRate, b.Limits.MaxFeeRate) || limitLooser(a.Limits.MaxFeePercent, b.Limits.MaxFeePercent)
		d.add(loosens, "a higher fee cap", "%s: limits %+v → %+v", at, a.Limits, b.Limits)
	}
	if a.Rules != b.Rules {
		r, s := a.Rules, b.Rules
		loosens := s.MinVendors < r.MinVendors || s.MinKinds < r.MinKinds || (r.ForbidSoftware && !s.ForbidSoftware) || limitLooser(r.HealthMaxAge, s.HealthMaxAge)
		d.add(loosens, "weaker device rules", "%s: rules %+v → %+v", at, r, s)
	}
	switch ar, br := a.Recovery, b.Recovery; {
	case ar == nil && br != nil:
		d.add(true, "a new recovery path", "%s: + recovery %s after %d blocks", at, br.Signer, br.After)
	case ar != nil && br == nil:
		d.add(false, "", "%s: - recovery %s", at, ar.Signer)
	case ar != nil && *ar != *br:
		d.add(ar.Signer != br.Signer || br.After < ar.After, "the recovery path comes sooner or to someone else", "%s: recovery %s after %d → %s after %d blocks", at, ar.Signer, ar.After, br.Signer, br.After)
	}
	d.safe(at, a.Safe, b.Safe)
	d.rules("vault "+b.Name, a.TxRules, b.TxRules)
}

// limitLooser says whether a cap moved up, or to 0 (no cap, or the
// adapter's default) from a value, or from 0 to a value (fails closed:
// the default may be higher).
func limitLooser[T int64 | float64](a, b T) bool {
	return b > a || (b == 0) != (a == 0)
}

var severityRank = map[string]int{"info": 0, "warn": 1, "block": 2}

func (d *differ) safe(at string, a, b *SafeVault) {
	switch {
	case a == nil && b == nil:
		return
	case a == nil || b == nil:
		d.add(true, "the Safe section changed", "%s: safe section added or removed", at)
		return
	}
	if a.Address != b.Address || a.ChainID != b.ChainID || a.Version != b.Version {
		d.add(true, "another Safe", "%s: safe %s (chain %d, %s) → %s (chain %d, %s)", at, a.Address, a.ChainID, a.Version, b.Address, b.ChainID, b.Version)
	}
	if a.AllowEthSign != b.AllowEthSign {
		d.add(b.AllowEthSign, "eth_sign allowed", "%s: allow_eth_sign %v → %v", at, a.AllowEthSign, b.AllowEthSign)
	}
	for _, t := range b.Trusted {
		i := slices.IndexFunc(a.Trusted, func(o TrustedContract) bool { return o.Name == t.Name })
		switch {
		case i < 0:
			d.add(true, "a new trusted contract", "%s: + trusted %s %s", at, t.Name, t.Address)
		case a.Trusted[i] != t:
			d.add(true, "a trusted contract changed", "%s: ~ trusted %s %s → %s", at, t.Name, a.Trusted[i].Address, t.Address)
		}
	}
	for _, t := range a.Trusted {
		if !slices.ContainsFunc(b.Trusted, func(o TrustedContract) bool { return o.Name == t.Name }) {
			d.add(false, "", "%s: - trusted %s", at, t.Name)
		}
	}
	keys := map[string]bool{}
	for k := range a.Severities {
		keys[k] = true
	}
	for k := range b.Severities {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		x, y := a.Severities[k], b.Severities[k]
		if x == y {
			continue
		}
		rx, okx := severityRank[x]
		ry, oky := severityRank[y]
		d.add(!okx || !oky || ry < rx, "a lower severity", "%s: severity %s %q → %q", at, k, x, y)
	}
}
