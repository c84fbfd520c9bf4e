package policy

import (
	"fmt"
	"regexp"
	"slices"
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
	chain.ActionContractCall, chain.ActionRecoveryPath, chain.ActionRotation, chain.ActionDelayed,
	chain.ActionCancel,
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
