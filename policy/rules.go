package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	// An offline station needs no zoneinfo of its own: the IANA database
	// is compiled in, so a window rule means the same on every machine.
	_ "time/tzdata"

	"github.com/airlock-vault/airlock/chain"
)

// Transaction rules are typed data in the policy, signed with it. Each
// rule has a kind; a kind fixes what the rule checks and whether it
// denies or allows:
//
//	limit      deny  a transaction moving more than Max of Asset
//	velocity   deny  a transaction that brings what left the vault in
//	                 Asset over the last Period above Max
//	allowlist  deny  a transfer to a destination not in the address book
//	window     deny  a transaction outside Days and From..Until in Zone
//	block      deny  a transaction doing one of Actions
//	approve    allow a transaction matching its conditions (Asset above
//	                 Above, every destination in To, one of Actions),
//	                 with the approvals Require names
//
// How rules combine is Evaluate's to say (see there).

// RuleKind is the kind of a transaction rule.
type RuleKind string

// Rule kinds.
const (
	RuleLimit     RuleKind = "limit"
	RuleVelocity  RuleKind = "velocity"
	RuleAllowlist RuleKind = "allowlist"
	RuleWindow    RuleKind = "window"
	RuleBlock     RuleKind = "block"
	RuleApprove   RuleKind = "approve"
)

// Bounds on the rules.
const (
	MaxRules       = 256 // per list: the policy's, and each vault's
	MaxAssets      = 64
	MaxGroups      = 32
	MaxAddressBook = 1024
	MaxNeedDepth   = 4
	MaxNeedNodes   = 32
	MinPeriod      = time.Minute
	MaxPeriod      = 366 * 24 * time.Hour
	MaxDecimals    = 36
)

// SignersGroup names, in a requirement, the signers of the vault being
// spent from; no group of the policy may take the name.
const SignersGroup = "signers"

// Asset is a token the policy's rules may name, besides the native BTC
// (8 decimals) and ETH (18): an ERC-20 by its contract address, with the
// decimals people write its amounts in.
type Asset struct {
	Symbol   string `cbor:"1,keyasint"`
	Chain    string `cbor:"2,keyasint"`
	Token    string `cbor:"3,keyasint"` // EIP-55 checksummed
	Decimals int    `cbor:"4,keyasint,omitempty"`
}

// Group is a named set of participants that approvals are counted in.
type Group struct {
	Name    string   `cbor:"1,keyasint"`
	Members []string `cbor:"2,keyasint"`
}

// AddressEntry is one destination of the quorum's address book: a
// labelled address on a chain, for the vaults it names (none: every vault
// on that chain) and, on Ethereum, one chain id (0: any).
type AddressEntry struct {
	Label   string   `cbor:"1,keyasint"`
	Chain   string   `cbor:"2,keyasint"`
	Address string   `cbor:"3,keyasint"` // canonical (see CanonicalAddress)
	ChainID uint64   `cbor:"4,keyasint,omitempty"`
	Vaults  []string `cbor:"5,keyasint,omitempty"`
}

// TxRule is one transaction rule. Which fields a rule has depends on its
// Kind; a field another kind uses is refused.
type TxRule struct {
	Name string   `cbor:"1,keyasint"`
	Kind RuleKind `cbor:"2,keyasint"`
	// Asset is a symbol: BTC, ETH or one of the policy's Assets.
	Asset string `cbor:"3,keyasint,omitempty"`
	// Max is an amount in smallest units (limit, velocity).
	Max string `cbor:"4,keyasint,omitempty"`
	// Period is a velocity rule's rolling window, in seconds.
	Period int64 `cbor:"5,keyasint,omitempty"`
	// Zone is a window rule's IANA time zone ("Europe/Zurich", "UTC").
	Zone string `cbor:"6,keyasint,omitempty"`
	// Days are a window's days, "mon".."sun", in that order.
	Days []string `cbor:"7,keyasint,omitempty"`
	// From and Until bound a window in minutes after local midnight,
	// From included, Until excluded; Until below From wraps past
	// midnight into the next day.
	From  int `cbor:"8,keyasint,omitempty"`
	Until int `cbor:"9,keyasint,omitempty"`
	// Actions are what a block rule refuses, or what an approve rule
	// matches.
	Actions []chain.Action `cbor:"10,keyasint,omitempty"`
	// Above is an approve rule's tier: it matches when the transaction
	// moves more than Above (smallest units) of Asset.
	Above string `cbor:"11,keyasint,omitempty"`
	// To are address-book labels: an approve rule matches when every
	// destination is one of them.
	To []string `cbor:"12,keyasint,omitempty"`
	// Require is what an approve rule asks for, besides the vault's own
	// threshold of its signers.
	Require *Need `cbor:"13,keyasint,omitempty"`
}

// Need is a requirement of approvals: exactly one of All (every one of),
// Any (one of), or Count approvals from Group.
type Need struct {
	All   []Need `cbor:"1,keyasint,omitempty"`
	Any   []Need `cbor:"2,keyasint,omitempty"`
	Group string `cbor:"3,keyasint,omitempty"`
	Count int    `cbor:"4,keyasint,omitempty"`
}

// Actions is every chain.Action a rule may name.
var Actions = []chain.Action{
	chain.ActionDelegateCall, chain.ActionOwnerChange, chain.ActionThresholdChange,
	chain.ActionModuleChange, chain.ActionGuardChange, chain.ActionHandlerChange,
	chain.ActionContractCall, chain.ActionRecoveryPath,
}

// weekdays are the day names rules use, Monday first.
var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// dayName is the rules' name of a time.Weekday.
func dayName(d time.Weekday) string { return weekdays[(int(d)+6)%7] }

var symbolPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,15}$`)

// FieldError is a refused field of a policy: where it is and why. Path
// names the field as the source file does ("vaults[0].transaction_rules[1].max");
// Line is its line in a YAML source (0 for JSON or a decoded policy).
type FieldError struct {
	Line int
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("policy: line %d: %s: %s", e.Line, e.Path, e.Msg)
	}
	return fmt.Sprintf("policy: invalid: %s: %s", e.Path, e.Msg)
}

// Unwrap makes every FieldError an ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(path, format string, args ...any) error {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// zones caches loaded time zones: a Location is immutable, and loading
// one from the embedded database costs far more than a rule's check.
var zones sync.Map // string -> *time.Location

// loadZone loads an IANA zone; "Local" (the machine's) is refused, as
// two machines could read one rule two ways.
func loadZone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("time zone %q: name an IANA zone such as \"UTC\" or \"Europe/Zurich\"", name)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q does not exist", name)
	}
	zones.Store(name, l)
	return l, nil
}

// assetInfo is an asset as rules use it.
type assetInfo struct {
	Symbol   string
	ID       string // chain.Transfer's name of it
	Chain    string
	Decimals int
}

var (
	assetBTC = assetInfo{Symbol: "BTC", ID: "BTC", Chain: "bitcoin", Decimals: 8}
	assetETH = assetInfo{Symbol: "ETH", ID: "ETH", Chain: "ethereum", Decimals: 18}
)

// asset resolves a rule's asset symbol.
func (p *Policy) asset(symbol string) (assetInfo, bool) {
	switch symbol {
	case "BTC":
		return assetBTC, true
	case "ETH":
		return assetETH, true
	}
	for _, a := range p.Assets {
		if a.Symbol == symbol {
			return assetInfo{Symbol: a.Symbol, ID: "erc20:" + a.Token, Chain: a.Chain, Decimals: a.Decimals}, true
		}
	}
	return assetInfo{}, false
}

// assetByID resolves a transfer's asset id (canonical) to what the
// policy knows of it.
func (p *Policy) assetByID(id string) (assetInfo, bool) {
	switch id {
	case "BTC":
		return assetBTC, true
	case "ETH":
		return assetETH, true
	}
	for _, a := range p.Assets {
		if "erc20:"+a.Token == id {
			return assetInfo{Symbol: a.Symbol, ID: id, Chain: a.Chain, Decimals: a.Decimals}, true
		}
	}
	return assetInfo{}, false
}

// group resolves a named group.
func (p *Policy) group(name string) (*Group, bool) {
	for i := range p.Groups {
		if p.Groups[i].Name == name {
			return &p.Groups[i], true
		}
	}
	return nil, false
}

// addressEntry resolves an address-book label.
func (p *Policy) addressEntry(label string) (*AddressEntry, bool) {
	for i := range p.AddressBook {
		if p.AddressBook[i].Label == label {
			return &p.AddressBook[i], true
		}
	}
	return nil, false
}

// appliesTo says whether an address-book entry is a destination for v.
func (e *AddressEntry) appliesTo(v *Vault) bool {
	if e.Chain != v.Chain {
		return false
	}
	if e.ChainID != 0 && (v.Safe == nil || v.Safe.ChainID != e.ChainID) {
		return false
	}
	return len(e.Vaults) == 0 || slices.Contains(e.Vaults, v.Name)
}

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
	}
	return nil
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

// scopedRule is a rule with where it is written.
type scopedRule struct {
	Vault bool // a vault's rule, else the policy's
	Index int
	Rule  *TxRule
}

// path is the rule's source path, for vault number i.
func (s scopedRule) path(i int) string {
	if s.Vault {
		return fmt.Sprintf("vaults[%d].transaction_rules[%d]", i, s.Index)
	}
	return fmt.Sprintf("transaction_rules[%d]", s.Index)
}

// rulesFor lists the rules that apply to v, in the order Evaluate reads
// them: the policy's, then the vault's.
func (p *Policy) rulesFor(v *Vault) []scopedRule {
	out := make([]scopedRule, 0, len(p.TxRules)+len(v.TxRules))
	for i := range p.TxRules {
		out = append(out, scopedRule{Index: i, Rule: &p.TxRules[i]})
	}
	for i := range v.TxRules {
		out = append(out, scopedRule{Vault: true, Index: i, Rule: &v.TxRules[i]})
	}
	return out
}

// formatHours writes a window's hours as the source does, "08:00-18:00".
func formatHours(from, until int) string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", from/60, from%60, until/60, until%60)
}
