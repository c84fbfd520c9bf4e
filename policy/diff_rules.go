package policy

import (
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"time"
)

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
