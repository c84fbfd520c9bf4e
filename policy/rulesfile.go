package policy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/airlock-vault/airlock/chain"
)

// The source form of the transaction rules. People write amounts in whole
// units ("1.5" BTC), periods as durations ("24h", "7d"), windows as
// "08:00-18:00"; Genesis turns them into the policy's exact form and
// every refusal names the field and, for YAML, its line:
//
//	policy: line 42: vaults[0].transaction_rules[1].max: "1.123456789" has more decimals than BTC (8)

// FileAsset declares an ERC-20 token rules may name.
type FileAsset struct {
	Symbol   string `yaml:"symbol" json:"symbol"`
	Chain    string `yaml:"chain" json:"chain"`
	Token    string `yaml:"token" json:"token"`
	Decimals int    `yaml:"decimals" json:"decimals"`
}

// FileGroup is a named set of participants.
type FileGroup struct {
	Name    string   `yaml:"name" json:"name"`
	Members []string `yaml:"members" json:"members"`
}

// FileAddress is an address-book entry.
type FileAddress struct {
	Label   string   `yaml:"label" json:"label"`
	Chain   string   `yaml:"chain" json:"chain"`
	ChainID uint64   `yaml:"chain_id" json:"chain_id"`
	Address string   `yaml:"address" json:"address"`
	Vaults  []string `yaml:"vaults" json:"vaults"`
}

// FileRule is a transaction rule as written.
type FileRule struct {
	Name    string    `yaml:"name" json:"name"`
	Kind    string    `yaml:"kind" json:"kind"`
	Asset   string    `yaml:"asset" json:"asset"`
	Max     string    `yaml:"max" json:"max"`
	Period  string    `yaml:"period" json:"period"`
	Zone    string    `yaml:"zone" json:"zone"`
	Days    []string  `yaml:"days" json:"days"`
	Hours   string    `yaml:"hours" json:"hours"`
	Actions []string  `yaml:"actions" json:"actions"`
	Above   string    `yaml:"above" json:"above"`
	To      []string  `yaml:"to" json:"to"`
	Require *FileNeed `yaml:"require" json:"require"`
}

// FileNeed is a requirement as written: all, any, or group with count.
type FileNeed struct {
	All   []FileNeed `yaml:"all" json:"all"`
	Any   []FileNeed `yaml:"any" json:"any"`
	Group string     `yaml:"group" json:"group"`
	Count int        `yaml:"count" json:"count"`
}

func (r *FileRule) setFields() []string {
	var out []string
	for _, f := range []struct {
		set  bool
		name string
	}{
		{r.Asset != "", "asset"}, {r.Max != "", "max"}, {r.Period != "", "period"},
		{r.Zone != "", "zone"}, {r.Days != nil, "days"}, {r.Hours != "", "hours"},
		{r.Actions != nil, "actions"}, {r.Above != "", "above"}, {r.To != nil, "to"},
		{r.Require != nil, "require"},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// convertRules sets p's transaction rules from the file's; p's
// participants, vaults and network are set.
func (f *File) convertRules(p *Policy) error {
	switch f.Default {
	case "", "allow":
	case "deny":
		p.DefaultDeny = true
	default:
		return fieldErr("default", "%q: want allow or deny", f.Default)
	}
	if f.SeparationOfDuties != nil && !*f.SeparationOfDuties {
		p.ProposerCounts = true
	}
	if len(f.Assets) > MaxAssets || len(f.AddressBook) > MaxAddressBook || len(f.Groups) > MaxGroups {
		return fieldErr("assets", "over the bounds: %d assets, %d groups, %d address-book entries", MaxAssets, MaxGroups, MaxAddressBook)
	}
	for i, a := range f.Assets {
		if a.Decimals < 0 || a.Decimals > MaxDecimals {
			return fieldErr(fmt.Sprintf("assets[%d].decimals", i), "%d outside 0..%d", a.Decimals, MaxDecimals)
		}
		tok, err := checksumAddress(a.Token)
		if err != nil {
			return fieldErr(fmt.Sprintf("assets[%d].token", i), "%v", err)
		}
		p.Assets = append(p.Assets, Asset{Symbol: a.Symbol, Chain: a.Chain, Token: tok, Decimals: a.Decimals})
	}
	for _, g := range f.Groups {
		p.Groups = append(p.Groups, Group{Name: g.Name, Members: g.Members})
	}
	for i, a := range f.AddressBook {
		canon, err := CanonicalAddress(a.Chain, f.Network, a.Address)
		if err != nil {
			return fieldErr(fmt.Sprintf("address_book[%d].address", i), "%v", err)
		}
		p.AddressBook = append(p.AddressBook, AddressEntry{Label: a.Label, Chain: a.Chain, ChainID: a.ChainID, Address: canon, Vaults: a.Vaults})
	}
	var err error
	if p.TxRules, err = convertRuleList(p, "transaction_rules", f.TransactionRules); err != nil {
		return err
	}
	for i := range f.Vaults {
		if p.Vaults[i].TxRules, err = convertRuleList(p, fmt.Sprintf("vaults[%d].transaction_rules", i), f.Vaults[i].TransactionRules); err != nil {
			return err
		}
		if p.Vaults[i].Emergency, err = convertEmergency(fmt.Sprintf("vaults[%d].emergency", i), f.Vaults[i].Emergency); err != nil {
			return err
		}
	}
	// Emergency paths name other vaults: checked once all are read, and
	// before the adapters see them, so a refusal names its line.
	for i := range p.Vaults {
		if err := p.validateEmergency(i); err != nil {
			return err
		}
	}
	return f.convertTemplates(p)
}

func convertRuleList(p *Policy, at string, rules []FileRule) ([]TxRule, error) {
	if len(rules) > MaxRules {
		return nil, fieldErr(at, "%d rules, at most %d", len(rules), MaxRules)
	}
	var out []TxRule
	for i := range rules {
		r, err := convertRule(p, fmt.Sprintf("%s[%d]", at, i), &rules[i])
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func convertRule(p *Policy, at string, fr *FileRule) (TxRule, error) {
	r := TxRule{Name: fr.Name, Kind: RuleKind(fr.Kind), Asset: fr.Asset, Zone: fr.Zone, To: fr.To}
	allowed, ok := ruleFields[r.Kind]
	if !ok {
		return r, fieldErr(at+".kind", "unknown rule kind %q (want limit, velocity, allowlist, window, block or approve)", fr.Kind)
	}
	for _, name := range fr.setFields() {
		if !slices.Contains(allowed, name) {
			return r, fieldErr(at+"."+name, "a %s rule has no %s", r.Kind, name)
		}
	}
	amount := func(field, s string) (string, error) {
		if s == "" {
			return "", nil
		}
		if fr.Asset == "" {
			return "", fieldErr(at+"."+field, "an amount names its asset (asset: BTC, ETH or one of the policy's assets)")
		}
		info, ok := p.asset(fr.Asset)
		if !ok {
			return "", fieldErr(at+".asset", "%q is neither BTC, ETH nor an asset of the policy", fr.Asset)
		}
		n, err := parseAmount(s, info.Decimals, info.Symbol)
		if err != nil {
			return "", fieldErr(at+"."+field, "%v", err)
		}
		return n.String(), nil
	}
	var err error
	if r.Max, err = amount("max", fr.Max); err != nil {
		return r, err
	}
	if r.Above, err = amount("above", fr.Above); err != nil {
		return r, err
	}
	if fr.Period != "" {
		d, err := parseDays(fr.Period)
		if err != nil || d%time.Second != 0 || d < MinPeriod || d > MaxPeriod {
			return r, fieldErr(at+".period", "%q: want a duration from %v to %v, such as \"24h\" or \"7d\"", fr.Period, MinPeriod, MaxPeriod)
		}
		r.Period = int64(d / time.Second)
	}
	if fr.Days != nil {
		for _, d := range fr.Days {
			if !slices.Contains(weekdays, d) {
				return r, fieldErr(at+".days", "%q is not a day (want %v)", d, weekdays)
			}
		}
		for _, d := range weekdays {
			if n := countOf(fr.Days, d); n > 1 {
				return r, fieldErr(at+".days", "%q is listed twice", d)
			} else if n == 1 {
				r.Days = append(r.Days, d)
			}
		}
	}
	if fr.Hours != "" {
		if r.From, r.Until, err = parseHours(fr.Hours); err != nil {
			return r, fieldErr(at+".hours", "%v", err)
		}
	}
	for _, a := range fr.Actions {
		r.Actions = append(r.Actions, chain.Action(a))
	}
	if fr.Require != nil {
		if r.Require, err = convertNeed(at+".require", fr.Require, 1); err != nil {
			return r, err
		}
	}
	return r, nil
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// parseHours reads "HH:MM-HH:MM" as minutes after midnight; the end may
// be 24:00.
func parseHours(s string) (from, until int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if ok {
		from, err = parseClock(a, false)
	}
	if ok && err == nil {
		until, err = parseClock(b, true)
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("%q: want HH:MM-HH:MM, such as \"08:00-18:00\"", s)
	}
	if from == until {
		return 0, 0, fmt.Errorf("%q is empty", s)
	}
	return from, until, nil
}

func parseClock(s string, end bool) (int, error) {
	if len(s) != 5 || s[2] != ':' || !allDigits(s[:2]) || !allDigits(s[3:]) {
		return 0, errors.New("not HH:MM")
	}
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	if m > 59 || h > 24 || (h == 24 && (m != 0 || !end)) {
		return 0, errors.New("no such time")
	}
	return h*60 + m, nil
}

func convertNeed(at string, n *FileNeed, depth int) (*Need, error) {
	if depth > MaxNeedDepth {
		return nil, fieldErr(at, "a requirement nests at most %d deep", MaxNeedDepth)
	}
	out := &Need{Group: n.Group, Count: n.Count}
	for i := range n.All {
		c, err := convertNeed(fmt.Sprintf("%s.all[%d]", at, i), &n.All[i], depth+1)
		if err != nil {
			return nil, err
		}
		out.All = append(out.All, *c)
	}
	for i := range n.Any {
		c, err := convertNeed(fmt.Sprintf("%s.any[%d]", at, i), &n.Any[i], depth+1)
		if err != nil {
			return nil, err
		}
		out.Any = append(out.Any, *c)
	}
	return out, nil
}

// lineIndex maps each field's path in a YAML source ("vaults[0].name") to
// its line.
func lineIndex(data []byte) map[string]int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	lines := map[string]int{}
	var walk func(path string, n *yaml.Node, depth int)
	walk = func(path string, n *yaml.Node, depth int) {
		if depth > 32 {
			return
		}
		if path != "" {
			lines[path] = n.Line
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i].Value
				if path != "" {
					key = path + "." + key
				}
				lines[key] = n.Content[i].Line
				walk(key, n.Content[i+1], depth+1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(fmt.Sprintf("%s[%d]", path, i), c, depth+1)
			}
		}
	}
	walk("", doc.Content[0], 0)
	return lines
}

// line is the line of path in the source, or of its nearest parent
// written there (0 when unknown).
func (f *File) line(path string) int {
	for path != "" {
		if l, ok := f.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}
