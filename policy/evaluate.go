package policy

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain"
)

// Input is what Evaluate decides about: a transaction on a vault, as the
// chain adapter decoded it, who proposed it and who has approved it.
type Input struct {
	Vault string
	// Effects come from the chain adapter's own decoding of the payload
	// (chain.Review.Effects), never from what a proposal claims.
	Effects *chain.Effects
	// Proposer is the participant who proposed the transaction ("" when
	// none, e.g. a coordinator's own proposal).
	Proposer string
	// Template names the template the proposal was made from, if any:
	// the transaction must match it (templates.go).
	Template string
	// Approvals gathered so far, each verified by the caller; empty when
	// a station decides whether to sign.
	Approvals []Approval
}

// Approval is one participant's approval, from one of their devices.
type Approval struct {
	Participant string `json:"participant"`
	Device      string `json:"device"`
}

// Scopes of a RuleRef.
const (
	ScopePolicy   = "policy"   // the policy's transaction_rules
	ScopeVault    = "vault"    // the vault's transaction_rules
	ScopeDefault  = "default"  // no rule: the policy's default
	ScopeTemplate = "template" // the template named by the input
)

// RuleRef names the rule behind a decision.
type RuleRef struct {
	Scope string   `json:"scope"`
	Index int      `json:"index"` // in its list; -1 for the default
	Name  string   `json:"name"`
	Kind  RuleKind `json:"kind,omitempty"`
}

func (r RuleRef) String() string {
	switch r.Scope {
	case ScopeDefault:
		return "the policy's default"
	case ScopeTemplate:
		return fmt.Sprintf("template %q", r.Name)
	case ScopeEmergency:
		return "the vault's emergency path"
	}
	return fmt.Sprintf("%s rule %d %q (%s)", r.Scope, r.Index, r.Name, r.Kind)
}

// Denial is one deny rule that matched, and why.
type Denial struct {
	Rule   RuleRef `json:"rule"`
	Reason string  `json:"reason"`
}

// Verdict is Evaluate's decision.
type Verdict struct {
	Vault string `json:"vault"`
	// Allowed says the transaction may be signed; it may be assembled
	// once Met is also true.
	Allowed bool `json:"allowed"`
	// Rule decided: the first deny that matched, else the approve rule
	// that matched, else the default.
	Rule RuleRef `json:"rule"`
	// Reason says why, for a person.
	Reason string `json:"reason"`
	// Denials are every deny that matched, in rule order.
	Denials []Denial `json:"denials,omitempty"`
	// Required is what an allowed transaction needs, evaluated against
	// Input.Approvals; nil when denied.
	Required *Requirement `json:"required,omitempty"`
	// Missing is what Required still lacks; nil when met.
	Missing *Requirement `json:"missing,omitempty"`
	// Met says whether Input.Approvals satisfy Required.
	Met bool `json:"met"`
	// Flags are what a person should know besides the decision.
	Flags []chain.Flag `json:"flags,omitempty"`
	// Template is the template the transaction matched ("" when it
	// names none, or does not match the one it names).
	Template string `json:"template,omitempty"`
}

// Flag codes a verdict raises.
const (
	FlagTier          = "policy-tier"           // an approve rule's amount tier applies
	FlagVelocity      = "policy-velocity"       // the transaction uses 80% or more of a velocity limit
	FlagUnknownAsset  = "policy-unknown-asset"  // an asset the policy does not declare moves
	FlagUnknownAction = "policy-unknown-action" // an action the policy does not know
	FlagProposer      = "policy-proposer"       // the proposer's own approval does not count
	FlagSecondDevice  = "policy-second-device"  // one participant approved from several devices
)

// velocityNearPercent is how much of a velocity limit a transaction must
// use for the verdict to say so.
const velocityNearPercent = 80

// ErrInput wraps every refusal of an Input that does not fit the policy.
var ErrInput = errors.New("policy: malformed input")

// MaxApprovals bounds Input.Approvals.
const MaxApprovals = 1024

// Evaluate decides a transaction against the policy's transaction rules.
// It is the only place rules are decided: the coordinator calls it when
// proposing and when assembling, every station calls it on its own
// decoding before it signs. It does no I/O besides asking h, and its
// verdict depends only on its arguments: the order of transfers, actions
// and approvals does not matter.
//
// Rules combine so (the policy's rules first, then the vault's):
//
//  1. Any deny rule that matches (limit, velocity, allowlist, window,
//     block) denies. Every matching one is reported; the first decides.
//  2. Otherwise the first approve rule that matches sets the approvals
//     required, besides the vault's own threshold of its signers.
//  3. If none matches, the vault's threshold of its signers is required,
//     unless the policy's default is deny.
//
// A transaction that names a template (Input.Template) must match it or
// is denied; a match takes the template's requirement instead of the
// approve rules, and lets the template's automated stations count
// (templates.go). Deny rules apply to it all the same.
//
// Why: a deny is a limit the quorum set, and no other rule may lift it, so
// its order cannot matter; an approve rule says who must agree, and first
// match lets tiers read top-down (largest first) like a firewall's rules,
// with a rule that an earlier one always pre-empts refused at validation.
// The policy's rules come first so that a vault's own rules cannot
// undercut a tier the whole policy sets. No rule lowers the on-chain
// threshold, which the chain enforces anyway.
//
// Approvals count once per participant, however many devices they use;
// the proposer's does not count unless the policy sets ProposerCounts
// (separation of duties); a signers count takes only the participant's
// device that signs for the vault. A requirement that the members who
// count can never meet denies.
//
// An error means Evaluate could not decide (an input that does not fit
// the policy, a rule it cannot read, a history that fails); callers must
// treat it as a refusal.
func Evaluate(p *Policy, in Input, h History, now time.Time) (*Verdict, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: no policy", ErrInput)
	}
	v, ok := p.Vault(in.Vault)
	if !ok {
		return nil, fmt.Errorf("%w: no vault %q in policy %s", ErrInput, in.Vault, p.Name)
	}
	tx, err := summarize(in.Effects)
	if err != nil {
		return nil, err
	}
	e := &evaluation{p: p, v: v, tx: tx, h: h, now: now, spent: map[spentKey]*big.Int{}}
	if err := e.readPeople(in); err != nil {
		return nil, err
	}
	vd := &Verdict{Vault: v.Name}
	e.flagUnknowns(vd)
	tmpl, tmplWhy, err := e.applyTemplate(in.Template, vd)
	if err != nil {
		return nil, err
	}
	if v.Emergency != nil {
		if reason := e.emergencyDenial(); reason != "" {
			vd.Denials = append(vd.Denials, Denial{Rule: RuleRef{Scope: ScopeEmergency, Index: -1, Name: "emergency"}, Reason: reason})
		}
	}
	rules := p.rulesFor(v)
	for _, sr := range rules {
		if sr.Rule.Kind == RuleApprove {
			continue
		}
		reason, err := e.denies(sr.Rule, vd)
		if err != nil {
			return nil, fmt.Errorf("policy: %s: %w", sr.ref(), err)
		}
		if reason != "" {
			vd.Denials = append(vd.Denials, Denial{Rule: sr.ref(), Reason: reason})
		}
	}
	if len(vd.Denials) > 0 {
		vd.Rule, vd.Reason = vd.Denials[0].Rule, vd.Denials[0].Reason
		return vd, nil
	}
	var need *Need
	vd.Rule = RuleRef{Scope: ScopeDefault, Index: -1, Name: "default"}
	if tmpl != nil {
		// A matching template's requirement replaces the approve rules.
		i := slices.IndexFunc(p.Templates, func(t Template) bool { return t.Name == tmpl.Name })
		vd.Rule, vd.Reason, need = RuleRef{Scope: ScopeTemplate, Index: i, Name: tmpl.Name}, tmplWhy, tmpl.Require
	}
	for _, sr := range rules {
		if sr.Rule.Kind != RuleApprove || tmpl != nil {
			continue
		}
		why, err := e.matches(sr.Rule, vd)
		if err != nil {
			return nil, fmt.Errorf("policy: %s: %w", sr.ref(), err)
		}
		if why != "" {
			vd.Rule, vd.Reason, need = sr.ref(), why, sr.Rule.Require
			break
		}
	}
	if need == nil {
		switch {
		case rejectionOnly(in.Effects): // cancel.go
			vd.Reason = rejectionReason(v, p.DefaultDeny)
		case p.DefaultDeny:
			vd.Reason = "no approve rule matches, and the policy's default is deny"
			return vd, nil
		default:
			vd.Reason = fmt.Sprintf("no approve rule matches: the vault's threshold applies, %d of its %d signers", v.Threshold, len(v.Signers))
		}
	}
	req, err := e.required(need)
	if err != nil {
		return nil, err
	}
	vd.Required, vd.Met = req, req.setMet()
	vd.Missing = req.missing()
	if !req.reachable() {
		vd.Reason = "the approvals it requires can never be given: " + req.String()
		return vd, nil
	}
	vd.Allowed = true
	return vd, nil
}

// ref is the RuleRef of a scoped rule.
func (s scopedRule) ref() RuleRef {
	scope := ScopePolicy
	if s.Vault {
		scope = ScopeVault
	}
	return RuleRef{Scope: scope, Index: s.Index, Name: s.Rule.Name, Kind: s.Rule.Kind}
}

// txSummary is a transaction's effects in the order-free form rules read.
type txSummary struct {
	totals  map[string]*big.Int // per canonical asset id
	assets  []string            // the ids, sorted
	dests   []string            // destinations, sorted, distinct
	sent    map[string]map[string]*big.Int
	actions []chain.Action // sorted, distinct
}

func summarize(fx *chain.Effects) (*txSummary, error) {
	if fx == nil {
		return nil, fmt.Errorf("%w: no effects (the chain adapter's decoding is required)", ErrInput)
	}
	tx := &txSummary{totals: map[string]*big.Int{}, sent: map[string]map[string]*big.Int{}}
	for i, t := range fx.Transfers {
		if t.Amount == nil || t.Amount.Sign() < 0 {
			return nil, fmt.Errorf("%w: transfer %d: amount %v", ErrInput, i, t.Amount)
		}
		id, err := canonicalAsset(t.Asset)
		if err != nil {
			return nil, fmt.Errorf("%w: transfer %d: %v", ErrInput, i, err)
		}
		if t.To == "" {
			return nil, fmt.Errorf("%w: transfer %d has no destination", ErrInput, i)
		}
		if tx.totals[id] == nil {
			tx.totals[id] = new(big.Int)
			tx.assets = append(tx.assets, id)
		}
		tx.totals[id].Add(tx.totals[id], t.Amount)
		if tx.sent[t.To] == nil {
			tx.sent[t.To] = map[string]*big.Int{}
			tx.dests = append(tx.dests, t.To)
		}
		if tx.sent[t.To][id] == nil {
			tx.sent[t.To][id] = new(big.Int)
		}
		tx.sent[t.To][id].Add(tx.sent[t.To][id], t.Amount)
	}
	sort.Strings(tx.assets)
	sort.Strings(tx.dests)
	tx.actions = slices.Clone(fx.Actions)
	slices.Sort(tx.actions)
	tx.actions = slices.Compact(tx.actions)
	return tx, nil
}

type spentKey struct {
	asset  string
	period int64
}

// evaluation is one call of Evaluate.
type evaluation struct {
	p     *Policy
	v     *Vault
	tx    *txSummary
	h     History
	now   time.Time
	spent map[spentKey]*big.Int // velocity lookups, asked once each
	// approvers maps each approving participant to their devices, sorted.
	approvers map[string][]string
	proposer  string
	// automated are the automated stations whose approvals count: those
	// of the template the transaction matched.
	automated []string
}

// readPeople checks the proposer and approvals against the policy.
func (e *evaluation) readPeople(in Input) error {
	if in.Proposer != "" {
		if _, ok := e.p.Participant(in.Proposer); !ok {
			return fmt.Errorf("%w: proposer %q is not a participant", ErrInput, in.Proposer)
		}
	}
	if len(in.Approvals) > MaxApprovals {
		return fmt.Errorf("%w: %d approvals, at most %d", ErrInput, len(in.Approvals), MaxApprovals)
	}
	e.proposer = in.Proposer
	e.approvers = map[string][]string{}
	for _, a := range in.Approvals {
		part, ok := e.p.Participant(a.Participant)
		if !ok {
			return fmt.Errorf("%w: approval by %q, who is not a participant", ErrInput, a.Participant)
		}
		if a.Device == "" {
			// An endorsement: identity key only, by a participant who
			// holds no signer of the vault (Endorser).
			if _, ok := e.p.Endorser(e.v, a.Participant); !ok {
				return fmt.Errorf("%w: approval by %s without a device, but they are not an endorser of vault %s", ErrInput, a.Participant, e.v.Name)
			}
		} else if !slices.ContainsFunc(part.Devices, func(d Device) bool { return d.ID == a.Device }) {
			return fmt.Errorf("%w: approval by %s from device %q, which is not theirs", ErrInput, a.Participant, a.Device)
		}
		if revoked, _ := e.p.RevokedDevice(a.Participant, a.Device); revoked {
			continue // a revoked key's approval counts for nothing
		}
		if !slices.Contains(e.approvers[a.Participant], a.Device) {
			e.approvers[a.Participant] = append(e.approvers[a.Participant], a.Device)
		}
	}
	for _, devs := range e.approvers {
		slices.Sort(devs)
	}
	return nil
}

// flagUnknowns flags assets and actions the policy does not know, and
// approvals that will not count twice.
func (e *evaluation) flagUnknowns(vd *Verdict) {
	for _, id := range e.tx.assets {
		if _, ok := e.p.assetByID(id); !ok {
			vd.Flags = append(vd.Flags, chain.Flag{Code: FlagUnknownAsset, Severity: chain.Warn,
				Message: fmt.Sprintf("it moves %s units of %s, an asset the policy does not declare: no amount rule counts it", e.tx.totals[id], id)})
		}
	}
	for _, a := range e.tx.actions {
		if !slices.Contains(Actions, a) {
			vd.Flags = append(vd.Flags, chain.Flag{Code: FlagUnknownAction, Severity: chain.Warn,
				Message: fmt.Sprintf("it does %q, an action the policy does not know: no block rule can name it", a)})
		}
	}
	if devs := e.approvers[e.proposer]; e.proposer != "" && len(devs) > 0 && !e.p.ProposerCounts {
		vd.Flags = append(vd.Flags, chain.Flag{Code: FlagProposer, Severity: chain.Info,
			Message: fmt.Sprintf("%s proposed it: their own approval does not count (separation of duties)", e.proposer)})
	}
	for _, who := range sortedKeys(e.approvers) {
		if devs := e.approvers[who]; len(devs) > 1 {
			vd.Flags = append(vd.Flags, chain.Flag{Code: FlagSecondDevice, Severity: chain.Info,
				Message: fmt.Sprintf("%s approved from %d devices (%s): one approval counts", who, len(devs), strings.Join(devs, ", "))})
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// amount writes units of asset id for a person: "1.5 BTC", or raw units
// for an asset the policy does not declare.
func (e *evaluation) amount(id string, units *big.Int) string {
	if info, ok := e.p.assetByID(id); ok {
		return FormatAmount(units, info.Decimals) + " " + info.Symbol
	}
	return units.String() + " units of " + id
}

// ruleAsset resolves a rule's asset and the amount of it the transaction
// moves (nil when none).
func (e *evaluation) ruleAsset(r *TxRule) (assetInfo, *big.Int, error) {
	info, ok := e.p.asset(r.Asset)
	if !ok {
		return info, nil, fmt.Errorf("unknown asset %q", r.Asset)
	}
	total := e.tx.totals[info.ID]
	if total != nil && total.Sign() == 0 {
		total = nil
	}
	return info, total, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// formatPeriod writes a period in seconds as "24h", "7d" or "90m".
func formatPeriod(s int64) string {
	switch {
	case s%86400 == 0 && s >= 2*86400:
		return fmt.Sprintf("%dd", s/86400)
	case s%3600 == 0:
		return fmt.Sprintf("%dh", s/3600)
	case s%60 == 0:
		return fmt.Sprintf("%dm", s/60)
	}
	return fmt.Sprintf("%ds", s)
}
