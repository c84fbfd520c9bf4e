package policy

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// A template is a routine payment the quorum has agreed in advance: from
// one vault, in one asset, to destinations of the address book, at most
// Max per transaction, at most Rate over a period, optionally only inside
// a Schedule. A proposal that names a template and matches it exactly
// needs only what the template's Require asks (besides the vault's own
// threshold of its signers, which nothing lowers); one that names a
// template and does not match it is denied. Deny rules still apply.
//
// Participants with the role RoleAutomation are automated stations: their
// approvals count only on a proposal that matches a template listing them
// in Automated, and nowhere else.

// RoleAutomation is the participant role of an automated station.
const RoleAutomation = "automation"

// MaxTemplates bounds a policy's templates.
const MaxTemplates = 64

// Template is one routine payment (see above).
type Template struct {
	Name  string `cbor:"1,keyasint"`
	Vault string `cbor:"2,keyasint"`
	// Asset is a symbol: BTC, ETH or one of the policy's Assets.
	Asset string `cbor:"3,keyasint"`
	// To are address-book labels; every transfer goes to one of them.
	To []string `cbor:"4,keyasint"`
	// Max is what one transaction may move in all, in smallest units.
	Max string `cbor:"5,keyasint"`
	// Rate bounds what the template pays over a rolling period.
	Rate Rate `cbor:"6,keyasint"`
	// Schedule, when set, is a window rule's days and hours: a payment
	// outside it does not match.
	Schedule *Schedule `cbor:"7,keyasint,omitempty"`
	// Require is what a matching transaction needs, besides the vault's
	// threshold of its signers; it replaces the approve rules.
	Require *Need `cbor:"8,keyasint"`
	// Automated are participants (role automation) whose approvals count
	// on a matching transaction.
	Automated []string `cbor:"9,keyasint,omitempty"`
}

// Rate bounds a template's payments over Period (seconds): at most Count
// transactions (0: no count) and at most Max in all (smallest units, "":
// no total). A template has at least one of the two.
type Rate struct {
	Count  int    `cbor:"1,keyasint,omitempty"`
	Max    string `cbor:"2,keyasint,omitempty"`
	Period int64  `cbor:"3,keyasint"`
}

// Schedule is when a template may be used, as a window rule says it.
type Schedule struct {
	Zone  string   `cbor:"1,keyasint"`
	Days  []string `cbor:"2,keyasint"`
	From  int      `cbor:"3,keyasint,omitempty"`
	Until int      `cbor:"4,keyasint,omitempty"`
}

// TemplateHistory is a History that also knows which template each
// payment was made under. Evaluate asks it for a template's rate; a
// History without it cannot decide a template (an error, so a refusal).
type TemplateHistory interface {
	History
	// TemplateSpent is how many payments were made under template from
	// vault at times t with since < t <= until, and how much of asset
	// they moved.
	TemplateSpent(vault, template, asset string, since, until time.Time) (int, *big.Int, error)
}

// Template resolves a template by name.
func (p *Policy) Template(name string) (*Template, bool) {
	for i := range p.Templates {
		if p.Templates[i].Name == name {
			return &p.Templates[i], true
		}
	}
	return nil, false
}

// IsAutomated says whether a participant is an automated station.
func (p *Policy) IsAutomated(id string) bool {
	part, ok := p.Participant(id)
	return ok && slices.Contains(part.Roles, RoleAutomation)
}

// window is the schedule as the window rule it reuses.
func (s *Schedule) window() *TxRule {
	return &TxRule{Kind: RuleWindow, Zone: s.Zone, Days: s.Days, From: s.From, Until: s.Until}
}

// applyTemplate decides the template a proposal names (none: nil, and
// nothing to do). A match returns the template and why it matches, and
// lets its automated stations count; a mismatch, or a template that does
// not exist, is a denial added to vd.
func (e *evaluation) applyTemplate(name string, vd *Verdict) (*Template, string, error) {
	if name == "" {
		return nil, "", nil
	}
	ref := RuleRef{Scope: ScopeTemplate, Index: -1, Name: name}
	t, ok := e.p.Template(name)
	if !ok {
		vd.Denials = append(vd.Denials, Denial{Rule: ref, Reason: fmt.Sprintf("the proposal names template %q, which policy %s does not define", name, e.p.Name)})
		return nil, "", nil
	}
	ref.Index = slices.IndexFunc(e.p.Templates, func(x Template) bool { return x.Name == name })
	misses, why, err := e.templateMisses(t)
	if err != nil {
		return nil, "", fmt.Errorf("policy: template %q: %w", name, err)
	}
	if len(misses) > 0 {
		vd.Denials = append(vd.Denials, Denial{Rule: ref, Reason: fmt.Sprintf("it does not match template %q: %s", name, strings.Join(misses, "; "))})
		return nil, "", nil
	}
	vd.Template = name
	e.automated = t.Automated
	return t, why, nil
}

// templateMisses lists what of the transaction does not fit t, or says
// why it matches.
func (e *evaluation) templateMisses(t *Template) ([]string, string, error) {
	var misses []string
	if t.Vault != e.v.Name {
		misses = append(misses, fmt.Sprintf("it spends from vault %q, the template from %q", e.v.Name, t.Vault))
	}
	info, ok := e.p.asset(t.Asset)
	if !ok {
		return nil, "", fmt.Errorf("unknown asset %q", t.Asset)
	}
	max, err := storedUnits(t.Max)
	if err != nil {
		return nil, "", err
	}
	if len(e.tx.dests) == 0 {
		misses = append(misses, "it pays nobody")
	}
	for _, d := range e.tx.dests {
		if !e.known(d, t.To) {
			misses = append(misses, fmt.Sprintf("it sends %s to %s, not one of %s", e.sentTo(d), d, strings.Join(t.To, ", ")))
		}
	}
	for _, id := range e.tx.assets {
		if id != info.ID && e.tx.totals[id].Sign() > 0 {
			misses = append(misses, fmt.Sprintf("it moves %s, and the template pays only %s", e.amount(id, e.tx.totals[id]), info.Symbol))
		}
	}
	if len(e.tx.actions) > 0 {
		names := make([]string, len(e.tx.actions))
		for i, a := range e.tx.actions {
			names[i] = string(a)
		}
		misses = append(misses, fmt.Sprintf("it does %s, and a template pays plain transfers only", strings.Join(names, " and ")))
	}
	total := e.tx.totals[info.ID]
	if total == nil {
		total = new(big.Int)
	}
	if total.Cmp(max) > 0 {
		misses = append(misses, fmt.Sprintf("it moves %s, over the template's %s per payment", e.amount(info.ID, total), e.amount(info.ID, max)))
	}
	if t.Schedule != nil {
		out, err := e.window(t.Schedule.window())
		if err != nil {
			return nil, "", err
		}
		if out != "" {
			misses = append(misses, out+" (the template's schedule)")
		}
	}
	if len(misses) > 0 {
		// A payment already refused needs no history, and the history
		// then need not say why it could not be read.
		return misses, "", nil
	}
	miss, err := e.templateRate(t, info, total)
	if err != nil {
		return nil, "", err
	}
	if miss != "" {
		return []string{miss}, "", nil
	}
	return nil, fmt.Sprintf("it matches template %q: %s to %s, within %s per payment and the template's rate", t.Name,
		e.amount(info.ID, total), strings.Join(t.To, " or "), e.amount(info.ID, max)), nil
}

// templateRate checks t's rate against the history of its payments.
func (e *evaluation) templateRate(t *Template, info assetInfo, total *big.Int) (string, error) {
	th, ok := e.h.(TemplateHistory)
	if !ok || e.h == nil {
		return "", errors.New("the history given cannot count a template's payments")
	}
	r := t.Rate
	if r.Period <= 0 || r.Period > int64(MaxPeriod/time.Second) {
		return "", fmt.Errorf("rate period %d s out of range", r.Period)
	}
	since := e.now.Add(-time.Duration(r.Period) * time.Second)
	n, spent, err := th.TemplateSpent(e.v.Name, t.Name, info.ID, since, e.now)
	if err != nil {
		return "", fmt.Errorf("history: %w", err)
	}
	if n < 0 || spent == nil || spent.Sign() < 0 {
		return "", fmt.Errorf("history: %d payments, %v spent", n, spent)
	}
	period := formatPeriod(r.Period)
	if r.Count > 0 && n+1 > r.Count {
		return fmt.Sprintf("it would be payment %d under the template in %s, over its rate of %d", n+1, period, r.Count), nil
	}
	if r.Max != "" {
		max, err := storedUnits(r.Max)
		if err != nil {
			return "", err
		}
		if after := new(big.Int).Add(spent, total); after.Cmp(max) > 0 {
			return fmt.Sprintf("with the %s it moves, %s would be paid under the template in %s (%s already), over its rate of %s",
				e.amount(info.ID, total), e.amount(info.ID, after), period, e.amount(info.ID, spent), e.amount(info.ID, max)), nil
		}
	}
	return "", nil
}

// excludedAutomated says whether member m of a requirement is an
// automated station whose approval does not count here: every automated
// station, unless the proposal matched a template that lists it.
func (e *evaluation) excludedAutomated(m string) bool {
	return e.p.IsAutomated(m) && !slices.Contains(e.automated, m)
}

// validateTemplates checks the policy's templates.
func (p *Policy) validateTemplates() error {
	if len(p.Templates) > MaxTemplates {
		return fieldErr("templates", "%d templates, at most %d", len(p.Templates), MaxTemplates)
	}
	names := map[string]bool{}
	for i := range p.Templates {
		t := &p.Templates[i]
		at := fmt.Sprintf("templates[%d]", i)
		if !idPattern.MatchString(t.Name) {
			return fieldErr(at+".name", "%q: want lower-case letters, digits, '.', '_' or '-'", t.Name)
		}
		if names[t.Name] {
			return fieldErr(at+".name", "template %q is defined twice", t.Name)
		}
		names[t.Name] = true
		v, ok := p.Vault(t.Vault)
		if !ok {
			return fieldErr(at+".vault", "%q is not a vault of the policy", t.Vault)
		}
		info, ok := p.asset(t.Asset)
		if !ok {
			return fieldErr(at+".asset", "%q is neither BTC, ETH nor an asset of the policy", t.Asset)
		}
		if info.Chain != v.Chain {
			return fieldErr(at+".asset", "%s is on %s, vault %q on %s", t.Asset, info.Chain, v.Name, v.Chain)
		}
		if len(t.To) == 0 {
			return fieldErr(at+".to", "a template names its destinations (address-book labels)")
		}
		for j, label := range t.To {
			e, ok := p.addressEntry(label)
			if !ok {
				return fieldErr(fmt.Sprintf("%s.to[%d]", at, j), "%q is not in the address book", label)
			}
			if !e.appliesTo(v) {
				return fieldErr(fmt.Sprintf("%s.to[%d]", at, j), "%q is not a destination of vault %q", label, v.Name)
			}
			if slices.Index(t.To, label) != j {
				return fieldErr(fmt.Sprintf("%s.to[%d]", at, j), "%q is listed twice", label)
			}
		}
		if n, err := storedUnits(t.Max); err != nil || n.Sign() <= 0 {
			return fieldErr(at+".max", "a template needs its max per payment, above zero")
		}
		if err := validateRate(at+".rate", &t.Rate); err != nil {
			return err
		}
		if s := t.Schedule; s != nil {
			w := s.window()
			if err := p.validateRule(at+".schedule", w, v); err != nil {
				return err
			}
		}
		if t.Require == nil {
			return fieldErr(at+".require", "a template says what it requires")
		}
		nodes := 0
		if err := p.validateNeed(at+".require", t.Require, 1, &nodes); err != nil {
			return err
		}
		if err := checkSignerCounts(at+".require", t.Require, v); err != nil {
			return err
		}
		for j, id := range t.Automated {
			jat := fmt.Sprintf("%s.automated[%d]", at, j)
			if !p.IsAutomated(id) {
				return fieldErr(jat, "%q is not a participant with role %s", id, RoleAutomation)
			}
			if _, ok := p.SignerFor(v, id); !ok {
				return fieldErr(jat, "%q does not sign for vault %q", id, v.Name)
			}
			if slices.Index(t.Automated, id) != j {
				return fieldErr(jat, "%q is listed twice", id)
			}
		}
	}
	return nil
}

func validateRate(at string, r *Rate) error {
	if r.Count == 0 && r.Max == "" {
		return fieldErr(at, "a template's rate bounds its count, its total (max) or both")
	}
	if r.Count < 0 {
		return fieldErr(at+".count", "%d: want at least 1", r.Count)
	}
	if r.Max != "" {
		if n, err := storedUnits(r.Max); err != nil || n.Sign() <= 0 {
			return fieldErr(at+".max", "%q: want an amount above zero", r.Max)
		}
	}
	d := time.Duration(r.Period) * time.Second
	if r.Period > int64(MaxPeriod/time.Second) || d < MinPeriod || d > MaxPeriod {
		return fieldErr(at+".period", "%v outside %v..%v", d, MinPeriod, MaxPeriod)
	}
	return nil
}

// Payment is one transfer under a template, resolved for a builder: the
// vault, the destination's address, the asset (canonical id, and for a
// token its contract) and the amount in smallest units.
type Payment struct {
	Vault  *Vault
	To     string
	Asset  string // "BTC", "ETH" or "erc20:0x<checksummed>"
	Token  string // the token contract for an ERC-20, else ""
	Amount *big.Int
}

// TemplatePayment resolves a payment of amount (whole units, as people
// write it) to the address-book entry label under template name. It
// checks only what it needs to build the transaction: that label is one
// of the template's destinations for its vault, and amount reads in the
// asset's decimals. Evaluate decides the rest, as for any proposal.
func (p *Policy) TemplatePayment(name, label, amount string) (*Payment, error) {
	t, ok := p.Template(name)
	if !ok {
		return nil, fmt.Errorf("policy: policy %s has no template %q", p.Name, name)
	}
	v, ok := p.Vault(t.Vault)
	if !ok {
		return nil, fmt.Errorf("policy: template %q: no vault %q", name, t.Vault)
	}
	if !slices.Contains(t.To, label) {
		return nil, fmt.Errorf("policy: template %q pays %s, not %q", name, strings.Join(t.To, ", "), label)
	}
	entry, ok := p.addressEntry(label)
	if !ok || !entry.appliesTo(v) {
		return nil, fmt.Errorf("policy: %q is not a destination of vault %q", label, v.Name)
	}
	info, ok := p.asset(t.Asset)
	if !ok {
		return nil, fmt.Errorf("policy: template %q: unknown asset %q", name, t.Asset)
	}
	n, err := parseAmount(amount, info.Decimals, info.Symbol)
	if err != nil {
		return nil, fmt.Errorf("policy: amount: %v", err)
	}
	if n.Sign() <= 0 {
		return nil, fmt.Errorf("policy: amount %s: want more than zero", amount)
	}
	pay := &Payment{Vault: v, To: entry.Address, Asset: info.ID, Amount: n}
	if tok, ok := strings.CutPrefix(info.ID, "erc20:"); ok {
		pay.Token = tok
	}
	return pay, nil
}
