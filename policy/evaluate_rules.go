package policy

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain"
)

// denies checks a deny rule; it returns why it denies, or "".
func (e *evaluation) denies(r *TxRule, vd *Verdict) (string, error) {
	switch r.Kind {
	case RuleLimit:
		info, total, err := e.ruleAsset(r)
		if err != nil || total == nil {
			return "", err
		}
		max, err := storedUnits(r.Max)
		if err != nil {
			return "", err
		}
		if total.Cmp(max) > 0 {
			return fmt.Sprintf("it moves %s, over the %s one transaction may move", e.amount(info.ID, total), e.amount(info.ID, max)), nil
		}
	case RuleVelocity:
		return e.velocity(r, vd)
	case RuleAllowlist:
		var unknown []string
		for _, d := range e.tx.dests {
			if !e.known(d, nil) {
				unknown = append(unknown, d+" ("+e.sentTo(d)+")")
			}
		}
		if len(unknown) > 0 {
			return fmt.Sprintf("it sends to %s not in the address book: %s", plural(len(unknown), "a destination", "destinations"), strings.Join(unknown, ", ")), nil
		}
	case RuleWindow:
		return e.window(r)
	case RuleBlock:
		var hit []string
		for _, a := range e.tx.actions {
			if slices.Contains(r.Actions, a) {
				hit = append(hit, string(a))
			}
		}
		if len(hit) > 0 {
			return fmt.Sprintf("it does %s, which the rule blocks", strings.Join(hit, " and ")), nil
		}
	default:
		return "", fmt.Errorf("unknown rule kind %q", r.Kind)
	}
	return "", nil
}

// velocity checks a velocity rule, flagging how much of it is used.
func (e *evaluation) velocity(r *TxRule, vd *Verdict) (string, error) {
	info, total, err := e.ruleAsset(r)
	if err != nil || total == nil {
		return "", err
	}
	max, err := storedUnits(r.Max)
	if err != nil {
		return "", err
	}
	if e.h == nil {
		return "", errors.New("a velocity rule applies and no history was given")
	}
	if r.Period <= 0 || r.Period > int64(MaxPeriod/time.Second) {
		return "", fmt.Errorf("period %d s out of range", r.Period)
	}
	k := spentKey{info.ID, r.Period}
	spent, ok := e.spent[k]
	if !ok {
		since := e.now.Add(-time.Duration(r.Period) * time.Second)
		if spent, err = e.h.Spent(e.v.Name, info.ID, since, e.now); err != nil {
			return "", fmt.Errorf("history: %w", err)
		}
		if spent == nil || spent.Sign() < 0 {
			return "", fmt.Errorf("history: spent %v", spent)
		}
		e.spent[k] = spent
	}
	after := new(big.Int).Add(spent, total)
	if after.Cmp(max) > 0 {
		period := formatPeriod(r.Period)
		return fmt.Sprintf("with the %s it moves, %s would leave the vault in %s (%s already), over the %s limit",
			e.amount(info.ID, total), e.amount(info.ID, after), period, e.amount(info.ID, spent), e.amount(info.ID, max)), nil
	}
	// A limit nearly reached is worth a person's attention; one far off
	// is not, and twenty such lines would bury what is.
	if near := new(big.Int).Mul(after, big.NewInt(100)); near.Cmp(new(big.Int).Mul(max, big.NewInt(velocityNearPercent))) >= 0 {
		vd.Flags = append(vd.Flags, chain.Flag{Code: FlagVelocity, Severity: chain.Info,
			Message: fmt.Sprintf("rule %q: with this transaction %s of the %s allowed in %s will have left", r.Name, e.amount(info.ID, after), e.amount(info.ID, max), formatPeriod(r.Period))})
	}
	return "", nil
}

// window checks a window rule at e.now.
func (e *evaluation) window(r *TxRule) (string, error) {
	loc, err := loadZone(r.Zone)
	if err != nil {
		return "", err
	}
	local := e.now.In(loc)
	minute := local.Hour()*60 + local.Minute()
	today, yesterday := dayName(local.Weekday()), dayName((local.Weekday()+6)%7)
	var in bool
	if r.From < r.Until {
		in = slices.Contains(r.Days, today) && minute >= r.From && minute < r.Until
	} else {
		in = (slices.Contains(r.Days, today) && minute >= r.From) || (slices.Contains(r.Days, yesterday) && minute < r.Until)
	}
	if in {
		return "", nil
	}
	return fmt.Sprintf("it is %s in %s, outside %s %s", local.Format("Mon 2006-01-02 15:04"), r.Zone, strings.Join(r.Days, ","), formatHours(r.From, r.Until)), nil
}

// matches checks an approve rule; it returns why it matches, or "".
// Every condition the rule has must hold; a rule without conditions
// matches every transaction.
func (e *evaluation) matches(r *TxRule, vd *Verdict) (string, error) {
	var why []string
	var tier *chain.Flag
	if r.Asset != "" {
		info, total, err := e.ruleAsset(r)
		if err != nil || total == nil {
			return "", err
		}
		above := new(big.Int)
		if r.Above != "" {
			if above, err = storedUnits(r.Above); err != nil {
				return "", err
			}
		}
		if total.Cmp(above) <= 0 {
			return "", nil
		}
		if r.Above == "" {
			why = append(why, "it moves "+e.amount(info.ID, total))
		} else {
			why = append(why, fmt.Sprintf("it moves %s, above %s", e.amount(info.ID, total), e.amount(info.ID, above)))
			tier = &chain.Flag{Code: FlagTier, Severity: chain.Info,
				Message: fmt.Sprintf("%s is above the %s tier of rule %q", e.amount(info.ID, total), e.amount(info.ID, above), r.Name)}
		}
	}
	if len(r.To) > 0 {
		if len(e.tx.dests) == 0 {
			return "", nil
		}
		for _, d := range e.tx.dests {
			if !e.known(d, r.To) {
				return "", nil
			}
		}
		why = append(why, "every destination is "+strings.Join(r.To, " or "))
	}
	if len(r.Actions) > 0 {
		var hit []string
		for _, a := range e.tx.actions {
			if slices.Contains(r.Actions, a) {
				hit = append(hit, string(a))
			}
		}
		if len(hit) == 0 {
			return "", nil
		}
		why = append(why, "it does "+strings.Join(hit, " and "))
	}
	if tier != nil {
		vd.Flags = append(vd.Flags, *tier)
	}
	if len(why) == 0 {
		return "the rule matches every transaction", nil
	}
	return strings.Join(why, "; "), nil
}

// known says whether dest is in the address book for the vault, among
// the entries labelled labels (nil: any).
func (e *evaluation) known(dest string, labels []string) bool {
	for i := range e.p.AddressBook {
		a := &e.p.AddressBook[i]
		if labels != nil && !slices.Contains(labels, a.Label) {
			continue
		}
		if !a.appliesTo(e.v) {
			continue
		}
		if a.Address == dest || (a.Chain == "ethereum" && strings.EqualFold(a.Address, dest)) {
			return true
		}
	}
	return false
}

// sentTo writes what the transaction sends to dest.
func (e *evaluation) sentTo(dest string) string {
	var parts []string
	for _, id := range sortedKeys(e.tx.sent[dest]) {
		parts = append(parts, e.amount(id, e.tx.sent[dest][id]))
	}
	return strings.Join(parts, " and ")
}
