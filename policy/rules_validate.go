package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain"
)

// validateTxRules checks everything the transaction rules add to a
// policy: assets, groups, the address book, both lists of rules, and for
// each vault the rules that apply to it together.
func (p *Policy) validateTxRules() error {
	if err := p.validateAssets(); err != nil {
		return err
	}
	if err := p.validateGroups(); err != nil {
		return err
	}
	if err := p.validateAddressBook(); err != nil {
		return err
	}
	if err := p.validateRuleList("transaction_rules", p.TxRules, nil); err != nil {
		return err
	}
	for i := range p.Vaults {
		v := &p.Vaults[i]
		if err := p.validateRuleList(fmt.Sprintf("vaults[%d].transaction_rules", i), v.TxRules, v); err != nil {
			return err
		}
		if err := p.validateVaultRules(i); err != nil {
			return err
		}
		if err := p.validateEmergency(i); err != nil {
			return err
		}
	}
	return p.validateTemplates()
}

func (p *Policy) validateAssets() error {
	if len(p.Assets) > MaxAssets {
		return fieldErr("assets", "%d assets, at most %d", len(p.Assets), MaxAssets)
	}
	seen := map[string]string{}
	for i, a := range p.Assets {
		at := fmt.Sprintf("assets[%d]", i)
		if !symbolPattern.MatchString(a.Symbol) {
			return fieldErr(at+".symbol", "%q: want 1..16 letters, digits, '.' or '-'", a.Symbol)
		}
		up := strings.ToUpper(a.Symbol)
		if up == "BTC" || up == "ETH" {
			return fieldErr(at+".symbol", "%s is built in", a.Symbol)
		}
		if prev, dup := seen[up]; dup {
			return fieldErr(at+".symbol", "%q repeats %s", a.Symbol, prev)
		}
		seen[up] = at
		if a.Chain != "ethereum" {
			return fieldErr(at+".chain", "%q: declared assets are ERC-20 tokens, chain ethereum", a.Chain)
		}
		tok, err := checksumAddress(a.Token)
		if err != nil {
			return fieldErr(at+".token", "%v", err)
		}
		if tok != a.Token {
			return fieldErr(at+".token", "%q is not in its EIP-55 form %s", a.Token, tok)
		}
		if prev, dup := seen[tok]; dup {
			return fieldErr(at+".token", "%s is declared twice (%s)", tok, prev)
		}
		seen[tok] = at
		if a.Decimals < 0 || a.Decimals > MaxDecimals {
			return fieldErr(at+".decimals", "%d outside 0..%d", a.Decimals, MaxDecimals)
		}
	}
	return nil
}

func (p *Policy) validateGroups() error {
	if len(p.Groups) > MaxGroups {
		return fieldErr("groups", "%d groups, at most %d", len(p.Groups), MaxGroups)
	}
	names := map[string]bool{}
	for i, g := range p.Groups {
		at := fmt.Sprintf("groups[%d]", i)
		if !idPattern.MatchString(g.Name) || g.Name == SignersGroup {
			return fieldErr(at+".name", "%q: want lower-case letters, digits, '.', '_' or '-', and not %q", g.Name, SignersGroup)
		}
		if names[g.Name] {
			return fieldErr(at+".name", "group %q is defined twice", g.Name)
		}
		names[g.Name] = true
		if len(g.Members) == 0 || len(g.Members) > MaxParticipants {
			return fieldErr(at+".members", "%d members, want 1..%d", len(g.Members), MaxParticipants)
		}
		seen := map[string]bool{}
		for j, m := range g.Members {
			if _, ok := p.Participant(m); !ok {
				return fieldErr(fmt.Sprintf("%s.members[%d]", at, j), "%q is not a participant of the policy", m)
			}
			if seen[m] {
				return fieldErr(fmt.Sprintf("%s.members[%d]", at, j), "%q is listed twice", m)
			}
			seen[m] = true
		}
	}
	return nil
}

func (p *Policy) validateAddressBook() error {
	if len(p.AddressBook) > MaxAddressBook {
		return fieldErr("address_book", "%d entries, at most %d", len(p.AddressBook), MaxAddressBook)
	}
	labels := map[string]bool{}
	addrs := map[string]string{}
	for i, e := range p.AddressBook {
		at := fmt.Sprintf("address_book[%d]", i)
		if !idPattern.MatchString(e.Label) {
			return fieldErr(at+".label", "%q: want lower-case letters, digits, '.', '_' or '-'", e.Label)
		}
		if labels[e.Label] {
			return fieldErr(at+".label", "%q is used twice", e.Label)
		}
		labels[e.Label] = true
		canon, err := CanonicalAddress(e.Chain, p.Network, e.Address)
		if err != nil {
			return fieldErr(at+".address", "%v", err)
		}
		if canon != e.Address {
			return fieldErr(at+".address", "%q is not in its canonical form %s", e.Address, canon)
		}
		if e.ChainID != 0 && e.Chain != "ethereum" {
			return fieldErr(at+".chain_id", "a chain id goes with chain ethereum")
		}
		key := fmt.Sprintf("%s/%d/%s", e.Chain, e.ChainID, e.Address)
		if prev, dup := addrs[key]; dup {
			return fieldErr(at+".address", "%s is already %s", e.Address, prev)
		}
		addrs[key] = at
		for j, name := range e.Vaults {
			v, ok := p.Vault(name)
			if !ok {
				return fieldErr(fmt.Sprintf("%s.vaults[%d]", at, j), "%q is not a vault of the policy", name)
			}
			if v.Chain != e.Chain {
				return fieldErr(fmt.Sprintf("%s.vaults[%d]", at, j), "vault %q is on %s, the address on %s", name, v.Chain, e.Chain)
			}
		}
	}
	return nil
}

// ruleFields lists, per kind, the fields a rule of that kind has (by
// their source names); the others must be empty.
var ruleFields = map[RuleKind][]string{
	RuleLimit:     {"asset", "max"},
	RuleVelocity:  {"asset", "max", "period"},
	RuleAllowlist: {},
	RuleWindow:    {"zone", "days", "hours"},
	RuleBlock:     {"actions"},
	RuleApprove:   {"asset", "above", "to", "actions", "require"},
}

// setFields names the fields of r that are set.
func (r *TxRule) setFields() []string {
	var out []string
	add := func(set bool, name string) {
		if set && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	add(r.Asset != "", "asset")
	add(r.Max != "", "max")
	add(r.Period != 0, "period")
	add(r.Zone != "", "zone")
	add(len(r.Days) > 0, "days")
	add(r.From != 0 || r.Until != 0, "hours")
	add(len(r.Actions) > 0, "actions")
	add(r.Above != "", "above")
	add(len(r.To) > 0, "to")
	add(r.Require != nil, "require")
	return out
}

// validateRuleList checks one list of rules, the policy's (v nil) or a
// vault's, each on its own.
func (p *Policy) validateRuleList(at string, rules []TxRule, v *Vault) error {
	if len(rules) > MaxRules {
		return fieldErr(at, "%d rules, at most %d", len(rules), MaxRules)
	}
	names := map[string]bool{}
	for i := range rules {
		r := &rules[i]
		rat := fmt.Sprintf("%s[%d]", at, i)
		if !idPattern.MatchString(r.Name) {
			return fieldErr(rat+".name", "%q: want lower-case letters, digits, '.', '_' or '-'", r.Name)
		}
		if names[r.Name] {
			return fieldErr(rat+".name", "rule %q is defined twice", r.Name)
		}
		names[r.Name] = true
		if v != nil && slices.ContainsFunc(p.TxRules, func(q TxRule) bool { return q.Name == r.Name }) {
			return fieldErr(rat+".name", "%q is already a policy-wide rule", r.Name)
		}
		if err := p.validateRule(rat, r, v); err != nil {
			return err
		}
	}
	return nil
}

// validateRule checks one rule's fields for its kind.
func (p *Policy) validateRule(at string, r *TxRule, v *Vault) error {
	allowed, ok := ruleFields[r.Kind]
	if !ok {
		return fieldErr(at+".kind", "unknown rule kind %q (want limit, velocity, allowlist, window, block or approve)", r.Kind)
	}
	for _, f := range r.setFields() {
		if !slices.Contains(allowed, f) {
			return fieldErr(at+"."+f, "a %s rule has no %s", r.Kind, f)
		}
	}
	var info assetInfo
	if r.Asset != "" {
		if info, ok = p.asset(r.Asset); !ok {
			return fieldErr(at+".asset", "%q is neither BTC, ETH nor an asset of the policy", r.Asset)
		}
		if v != nil && info.Chain != v.Chain {
			return fieldErr(at+".asset", "%s is on %s, vault %q on %s", r.Asset, info.Chain, v.Name, v.Chain)
		}
	}
	switch r.Kind {
	case RuleLimit, RuleVelocity:
		if r.Asset == "" {
			return fieldErr(at+".asset", "a %s rule names its asset", r.Kind)
		}
		if r.Max == "" {
			return fieldErr(at+".max", "a %s rule needs its max", r.Kind)
		}
		if _, err := storedUnits(r.Max); err != nil {
			return fieldErr(at+".max", "%v", err)
		}
		if r.Kind == RuleVelocity {
			d := time.Duration(r.Period) * time.Second
			if d < MinPeriod || d > MaxPeriod || r.Period > int64(MaxPeriod/time.Second) {
				return fieldErr(at+".period", "%v outside %v..%v", d, MinPeriod, MaxPeriod)
			}
		}
	case RuleWindow:
		if _, err := loadZone(r.Zone); err != nil {
			return fieldErr(at+".zone", "%v", err)
		}
		if len(r.Days) == 0 {
			return fieldErr(at+".days", "a window rule names its days")
		}
		last := -1
		for _, d := range r.Days {
			j := slices.Index(weekdays, d)
			if j <= last {
				return fieldErr(at+".days", "%v: want distinct days among %v, in that order", r.Days, weekdays)
			}
			last = j
		}
		if r.From < 0 || r.From >= 24*60 || r.Until < 1 || r.Until > 24*60 || r.From == r.Until {
			return fieldErr(at+".hours", "%s: want two different times of day, from 00:00 to 24:00", formatHours(r.From, r.Until))
		}
	case RuleBlock:
		if len(r.Actions) == 0 {
			return fieldErr(at+".actions", "a block rule names the actions it blocks")
		}
	case RuleApprove:
		if r.Above != "" {
			if r.Asset == "" {
				return fieldErr(at+".above", "a tier names its asset")
			}
			if _, err := storedUnits(r.Above); err != nil {
				return fieldErr(at+".above", "%v", err)
			}
		}
		for j, label := range r.To {
			e, ok := p.addressEntry(label)
			if !ok {
				return fieldErr(fmt.Sprintf("%s.to[%d]", at, j), "%q is not in the address book", label)
			}
			if v != nil && !e.appliesTo(v) {
				return fieldErr(fmt.Sprintf("%s.to[%d]", at, j), "%q is not a destination of vault %q", label, v.Name)
			}
		}
		if r.Require == nil {
			return fieldErr(at+".require", "an approve rule says what it requires")
		}
		nodes := 0
		if err := p.validateNeed(at+".require", r.Require, 1, &nodes); err != nil {
			return err
		}
	}
	seen := map[chain.Action]bool{}
	for j, a := range r.Actions {
		if !slices.Contains(Actions, a) {
			return fieldErr(fmt.Sprintf("%s.actions[%d]", at, j), "unknown action %q (known: %v)", a, Actions)
		}
		if seen[a] {
			return fieldErr(fmt.Sprintf("%s.actions[%d]", at, j), "%q is listed twice", a)
		}
		seen[a] = true
	}
	return nil
}

// validateNeed checks a requirement's shape and groups; counts against
// the vault's signers are checked per vault (validateVaultRules).
func (p *Policy) validateNeed(at string, n *Need, depth int, nodes *int) error {
	*nodes++
	if depth > MaxNeedDepth || *nodes > MaxNeedNodes {
		return fieldErr(at, "a requirement nests at most %d deep, with at most %d parts", MaxNeedDepth, MaxNeedNodes)
	}
	shapes := 0
	for _, set := range []bool{len(n.All) > 0, len(n.Any) > 0, n.Group != ""} {
		if set {
			shapes++
		}
	}
	if shapes != 1 {
		return fieldErr(at, "want exactly one of all, any, or group with count")
	}
	if n.Group == "" {
		if n.Count != 0 {
			return fieldErr(at+".count", "a count goes with a group")
		}
		list, op := n.All, "all"
		if len(n.Any) > 0 {
			list, op = n.Any, "any"
		}
		for i := range list {
			if err := p.validateNeed(fmt.Sprintf("%s.%s[%d]", at, op, i), &list[i], depth+1, nodes); err != nil {
				return err
			}
		}
		return nil
	}
	if n.Group == SignersGroup {
		if n.Count < 1 {
			return fieldErr(at+".count", "%d: want at least 1", n.Count)
		}
		return nil
	}
	g, ok := p.group(n.Group)
	if !ok {
		return fieldErr(at+".group", "%q is not a group of the policy (nor %q)", n.Group, SignersGroup)
	}
	if n.Count < 1 || n.Count > len(g.Members) {
		return fieldErr(at+".count", "%d outside 1..%d (the members of %s)", n.Count, len(g.Members), g.Name)
	}
	return nil
}

// validateVaultRules checks the rules that apply to vault i together: a
// count of its signers above their number, and an approve rule that an
// earlier one always pre-empts, are refused.
func (p *Policy) validateVaultRules(i int) error {
	v := &p.Vaults[i]
	rules := p.rulesFor(v)
	for _, sr := range rules {
		if sr.Rule.Require == nil {
			continue
		}
		if err := checkSignerCounts(sr.path(i)+".require", sr.Rule.Require, v); err != nil {
			return err
		}
	}
	if p.DefaultDeny && !slices.ContainsFunc(rules, func(sr scopedRule) bool { return sr.Rule.Kind == RuleApprove }) {
		return fieldErr("default", "deny, and no approve rule applies to vault %q: it could never spend", v.Name)
	}
	for b, later := range rules {
		if later.Rule.Kind != RuleApprove {
			continue
		}
		for _, earlier := range rules[:b] {
			if earlier.Rule.Kind == RuleApprove && preempts(earlier.Rule, later.Rule) {
				return fieldErr(later.path(i), "rule %q never applies to vault %q: rule %q before it matches whatever it matches", later.Rule.Name, v.Name, earlier.Rule.Name)
			}
		}
	}
	return nil
}

func checkSignerCounts(at string, n *Need, v *Vault) error {
	if n.Group == SignersGroup && n.Count > len(v.Signers) {
		return fieldErr(at+".count", "%d outside 1..%d (the signers of vault %q)", n.Count, len(v.Signers), v.Name)
	}
	for j := range n.All {
		if err := checkSignerCounts(fmt.Sprintf("%s.all[%d]", at, j), &n.All[j], v); err != nil {
			return err
		}
	}
	for j := range n.Any {
		if err := checkSignerCounts(fmt.Sprintf("%s.any[%d]", at, j), &n.Any[j], v); err != nil {
			return err
		}
	}
	return nil
}

// preempts says whether approve rule a matches every transaction that b
// matches, so that b, after a, never decides. It errs towards no: a rule
// with destinations or actions is never said to pre-empt.
func preempts(a, b *TxRule) bool {
	if len(a.To) > 0 || len(a.Actions) > 0 {
		return false
	}
	if a.Asset == "" {
		return true
	}
	if a.Asset != b.Asset {
		return false
	}
	aa, err1 := storedUnits(orZero(a.Above))
	ba, err2 := storedUnits(orZero(b.Above))
	return err1 == nil && err2 == nil && aa.Cmp(ba) <= 0
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}
