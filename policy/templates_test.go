package policy_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/policy"
)

// The template tests add to the rules fixture an automated station, bot
// (role automation), as a fourth signer of ops (still 2 of its signers),
// an approve tier asking all three humans above 0.2 BTC, and the payroll
// template: up to 0.5 BTC to the exchange, 4 payments and 1.5 BTC in
// 720h, on weekdays 08:00-18:00 UTC, for one human and the bot.
const payrollTemplate = `templates:
  - name: payroll
    vault: ops
    asset: BTC
    to: [exchange]
    max: "0.5"
    rate: {count: 4, max: "1.5", period: 720h}
    schedule: {zone: UTC, days: [mon, tue, wed, thu, fri], hours: "08:00-18:00"}
    require: {all: [{group: treasury, count: 1}, {group: signers, count: 2}]}
    automated: [bot]
`

const tierRule = `- {name: large, kind: approve, asset: BTC, above: "0.2", require: {group: signers, count: 3}}`

// templateSource is the fixture with the bot, top (which holds the
// templates) and ops' rules.
func templateSource(t testing.TB, top, ops string) string {
	t.Helper()
	src := rulesSource(t, top, ops, "")
	bot := newMember(t, "bot", 6)
	entry := fmt.Sprintf("participants:\n  - id: bot\n    name: payroll bot\n    roles: [automation]\n    identity: %s\n    devices:\n      - id: hw\n        kind: pkcs11\n        key: \"%s\"\n",
		policy.EncodeIdentity(bot.key.Public().(ed25519.PublicKey)), bot.xpb)
	src = strings.Replace(src, "participants:\n", entry, 1)
	return strings.Replace(src, "signers: [alice/hw, bob/hw, carol/hw]\n", "signers: [alice/hw, bob/hw, carol/hw, bot/hw]\n", 1)
}

func templatePolicy(t testing.TB, top, ops string) (*policy.Policy, error) {
	t.Helper()
	f, err := policy.ParseFile([]byte(templateSource(t, top, ops)))
	if err != nil {
		return nil, err
	}
	return f.Genesis(rulesReg)
}

// paid is a ledger entry made under a template.
func paid(t testing.TB, template string, at time.Time, amount string) policy.Entry {
	e := spent(t, "ops", "BTC", at, amount, 8)
	e.Template = template
	return e
}

func TestTemplates(t *testing.T) {
	p, err := templatePolicy(t, payrollTemplate, tierRule)
	if err != nil {
		t.Fatalf("fixture refused: %v", err)
	}
	saturday := time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		vault     string
		template  string
		fx        *chain.Effects
		approvals string
		h         policy.History
		now       time.Time
		allowed   bool
		met       bool
		matched   bool
		wants     []string
	}{
		{"a payroll payment is met by one human and the bot", "ops", "payroll", effects(btc(t, exchangeAddr, "0.4")), "alice/hw bot/hw", nil, noon,
			true, true, true, []string{`ALLOWED by template "payroll"`, `it matches template "payroll"`, "1 of treasury {alice, bob, carol}"}},
		{"the same payment without a template needs all three humans", "ops", "", effects(btc(t, exchangeAddr, "0.4")), "alice/hw bob/hw", nil, noon,
			true, false, false, []string{`vault rule 0 "large"`, "3 of signers {alice, bob, carol; not bot: automated, outside its templates}"}},
		{"an automated key cannot meet a normal proposal's approvals", "ops", "", effects(btc(t, exchangeAddr, "0.1")), "alice/hw bot/hw", nil, noon,
			true, false, false, []string{"the policy's default", "missing:  1 of signers {bob, carol}"}},
		{"a payment to a destination outside the template is denied", "ops", "payroll", effects(btc(t, unknownAddr, "0.1")), "", nil, noon,
			false, false, false, []string{`DENIED by template "payroll"`, "it sends 0.1 BTC to " + unknownAddr + ", not one of exchange"}},
		{"a payment to a booked destination the template does not list is denied", "ops", "payroll", effects(btc(t, coldAddr, "0.1")), "", nil, noon,
			false, false, false, []string{"not one of exchange"}},
		{"a payment over the template's max is denied", "ops", "payroll", effects(btc(t, exchangeAddr, "0.3"), btc(t, exchangeAddr, "0.3")), "", nil, noon,
			false, false, false, []string{"it moves 0.6 BTC, over the template's 0.5 BTC per payment"}},
		{"a template payment that also changes owners is denied", "ops", "payroll",
			&chain.Effects{Transfers: []chain.Transfer{btc(t, exchangeAddr, "0.1")}, Actions: []chain.Action{chain.ActionOwnerChange}}, "", nil, noon,
			false, false, false, []string{"it does owner-change, and a template pays plain transfers only"}},
		{"a template payment that pays nobody is denied", "ops", "payroll", effects(), "", nil, noon,
			false, false, false, []string{"it pays nobody"}},
		{"a template payment outside its schedule is denied", "ops", "payroll", effects(btc(t, exchangeAddr, "0.1")), "", nil, saturday,
			false, false, false, []string{"outside mon,tue,wed,thu,fri 08:00-18:00 (the template's schedule)"}},
		{"the fifth payment in the period is denied by the rate's count", "ops", "payroll", effects(btc(t, exchangeAddr, "0.1")), "",
			ledger(t, paid(t, "payroll", noon.Add(-700*time.Hour), "0.1"), paid(t, "payroll", noon.Add(-500*time.Hour), "0.1"),
				paid(t, "payroll", noon.Add(-100*time.Hour), "0.1"), paid(t, "payroll", noon.Add(-time.Hour), "0.1")), noon,
			false, false, false, []string{"it would be payment 5 under the template in 30d, over its rate of 4"}},
		{"a payment made a period ago no longer counts", "ops", "payroll", effects(btc(t, exchangeAddr, "0.1")), "",
			ledger(t, paid(t, "payroll", noon.Add(-720*time.Hour), "0.1"), paid(t, "payroll", noon.Add(-500*time.Hour), "0.1"),
				paid(t, "payroll", noon.Add(-100*time.Hour), "0.1"), paid(t, "payroll", noon.Add(-time.Hour), "0.1")), noon,
			true, false, true, nil},
		{"payments other than the template's do not count against its rate", "ops", "payroll", effects(btc(t, exchangeAddr, "0.1")), "",
			ledger(t, spent(t, "ops", "BTC", noon.Add(-time.Hour), "100", 8), paid(t, "other", noon.Add(-time.Hour), "1.4")), noon,
			true, false, true, nil},
		{"the rate's total stops a payment that would pass it", "ops", "payroll", effects(btc(t, exchangeAddr, "0.5")), "",
			ledger(t, paid(t, "payroll", noon.Add(-time.Hour), "0.5"), paid(t, "payroll", noon.Add(-2*time.Hour), "0.6")), noon,
			false, false, false, []string{"1.6 BTC would be paid under the template in 30d (1.1 BTC already), over its rate of 1.5 BTC"}},
		{"a payment that fills the rate's total exactly is allowed", "ops", "payroll", effects(btc(t, exchangeAddr, "0.5")), "",
			ledger(t, paid(t, "payroll", noon.Add(-time.Hour), "0.5"), paid(t, "payroll", noon.Add(-2*time.Hour), "0.5")), noon,
			true, false, true, nil},
		{"a template the policy does not define is denied", "ops", "bonus", effects(btc(t, exchangeAddr, "0.1")), "", nil, noon,
			false, false, false, []string{`the proposal names template "bonus", which policy treasury does not define`}},
		{"a template of another vault is denied", "reserve", "payroll", effects(btc(t, exchangeAddr, "0.1")), "", nil, noon,
			false, false, false, []string{`it spends from vault "reserve", the template from "ops"`}},
		{"the vault's threshold stays: one human alone is not enough", "ops", "payroll", effects(btc(t, exchangeAddr, "0.1")), "alice/hw", nil, noon,
			true, false, true, []string{"missing:  1 of signers {bob, bot, carol}"}},
		{"the bot alone is not enough", "ops", "payroll", effects(btc(t, exchangeAddr, "0.1")), "bot/hw", nil, noon,
			true, false, true, []string{"1 of treasury {alice, bob, carol}"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.h
			if h == nil {
				h = emptyHistory(t)
			}
			vd := evaluate(t, p, policy.Input{Vault: c.vault, Effects: c.fx, Template: c.template, Approvals: approvals(c.approvals)}, h, c.now)
			want(t, vd, c.allowed, c.wants...)
			if vd.Met != c.met {
				t.Fatalf("met %v, want %v:\n%s", vd.Met, c.met, vd)
			}
			if (vd.Template == c.template && c.template != "") != c.matched {
				t.Fatalf("template %q, matched want %v:\n%s", vd.Template, c.matched, vd)
			}
		})
	}
}

func TestTemplateDenyRulesStillWin(t *testing.T) {
	p, err := templatePolicy(t, payrollTemplate, tierRule+"\n"+`- {name: cap, kind: limit, asset: BTC, max: "0.3"}`)
	if err != nil {
		t.Fatal(err)
	}
	vd := evaluate(t, p, policy.Input{Vault: "ops", Template: "payroll", Effects: effects(btc(t, exchangeAddr, "0.4"))}, nil, noon)
	want(t, vd, false, `DENIED by vault rule 1 "cap" (limit)`)
}

// templateOnlyHistory is a History that does not know templates.
type templateOnlyHistory struct{}

func (templateOnlyHistory) Spent(string, string, time.Time, time.Time) (*big.Int, error) {
	return new(big.Int), nil
}

func TestTemplateRateNeedsTemplateHistory(t *testing.T) {
	p, err := templatePolicy(t, payrollTemplate, tierRule)
	if err != nil {
		t.Fatal(err)
	}
	_, err = policy.Evaluate(p, policy.Input{Vault: "ops", Template: "payroll", Effects: effects(btc(t, exchangeAddr, "0.1"))}, templateOnlyHistory{}, noon)
	if err == nil || !strings.Contains(err.Error(), "cannot count a template's payments") {
		t.Fatalf("a history that cannot count template payments let it through: %v", err)
	}
}

func TestTemplateRefusals(t *testing.T) {
	with := func(field, value string) string {
		lines := strings.Split(payrollTemplate, "\n")
		for i, l := range lines {
			if strings.HasPrefix(strings.TrimPrefix(strings.TrimSpace(l), "- "), field+":") {
				if field == "name" {
					lines[i] = "  - name: " + value
				} else if value == "" {
					lines = append(lines[:i], lines[i+1:]...)
				} else {
					lines[i] = "    " + field + ": " + value
				}
				return strings.Join(lines, "\n")
			}
		}
		panic(field)
	}
	cases := []struct {
		name, top, wantPath, wantMsg string
	}{
		{"a destination outside the address book", with("to", "[nobody]"), "templates[0].to[0]", `"nobody" is not in the address book`},
		{"no destination", with("to", "[]"), "templates[0].to", "a template names its destinations"},
		{"no max", with("max", ""), "templates[0].max", "a template needs its max per payment"},
		{"a max finer than satoshis", with("max", `"0.123456789"`), "templates[0].max", "more decimals than BTC"},
		{"no rate", with("rate", ""), "templates[0].rate", "a template needs its rate"},
		{"a rate that bounds nothing", with("rate", "{period: 720h}"), "templates[0].rate", "bounds its count, its total (max) or both"},
		{"a rate without a period", with("rate", "{count: 4}"), "templates[0].rate.period", "want a duration"},
		{"a negative count", with("rate", "{count: -1, period: 24h}"), "templates[0].rate.count", "want at least 1"},
		{"an asset of another chain", with("asset", "ETH"), "templates[0].asset", "ETH is on ethereum"},
		{"an unknown asset", with("asset", "DOGE"), "templates[0].asset", `"DOGE" is neither BTC`},
		{"a schedule in the machine's zone", with("schedule", `{zone: Local, days: [mon], hours: "08:00-18:00"}`), "templates[0].schedule.zone", "name an IANA zone"},
		{"a schedule with no days", with("schedule", `{zone: UTC, hours: "08:00-18:00"}`), "templates[0].schedule.days", "names its days"},
		{"no requirement", with("require", ""), "templates[0].require", "a template says what it requires"},
		{"a requirement of more signers than the vault has", with("require", "{group: signers, count: 5}"), "templates[0].require.count", "outside 1..4"},
		{"a human listed as automated", with("automated", "[alice]"), "templates[0].automated[0]", `"alice" is not a participant with role automation`},
		{"an unknown field", with("automated", "[bot]\n    approvals: 1"), "", "field approvals not found"},
		{"a template defined twice", payrollTemplate + strings.TrimPrefix(payrollTemplate, "templates:\n"), "templates[1].name", `template "payroll" is defined twice`},
		{"a bad name", with("name", "Payroll!"), "templates[0].name", "want lower-case letters"},
		{"an unknown vault", with("vault", "nope"), "templates[0].vault", `"nope" is not a vault`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := templatePolicy(t, c.top, tierRule)
			if err == nil {
				t.Fatalf("accepted:\n%s", c.top)
			}
			if !strings.Contains(err.Error(), c.wantMsg) {
				t.Fatalf("error %q lacks %q", err, c.wantMsg)
			}
			if c.wantPath == "" {
				return
			}
			var fe *policy.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("not a field error: %v", err)
			}
			if fe.Path != c.wantPath || fe.Line == 0 {
				t.Fatalf("error at %s line %d, want %s with its line: %v", fe.Path, fe.Line, c.wantPath, err)
			}
		})
	}
}

func TestTemplateAutomatedMustSign(t *testing.T) {
	// dave is no automated station, and the bot does not sign for reserve.
	top := strings.Replace(payrollTemplate, "vault: ops", "vault: reserve", 1)
	_, err := templatePolicy(t, top, tierRule)
	if err == nil || !strings.Contains(err.Error(), `"bot" does not sign for vault "reserve"`) {
		t.Fatalf("a template lets an automated station that does not sign for its vault count: %v", err)
	}
}

func TestTemplatesKeepOldPolicyIDs(t *testing.T) {
	// A policy without templates encodes as it did: its id is pinned by
	// id_pin_test.go; here a policy with one must differ from one without.
	a, err := templatePolicy(t, "", tierRule)
	if err != nil {
		t.Fatal(err)
	}
	b, err := templatePolicy(t, payrollTemplate, tierRule)
	if err != nil {
		t.Fatal(err)
	}
	ea, _ := policy.Seal(a)
	eb, _ := policy.Seal(b)
	if ea.ID() == eb.ID() {
		t.Fatal("templates are not part of the policy's id")
	}
}

// FuzzParseTemplates parses policies with templates: whatever is accepted
// must seal, round-trip to the same id, validate again, and be decidable
// by Evaluate for each template without a panic; whatever is refused must
// be refused with an error, never a panic.
func FuzzParseTemplates(f *testing.F) {
	for _, top := range []string{
		payrollTemplate,
		strings.Replace(payrollTemplate, "    schedule: {zone: UTC, days: [mon, tue, wed, thu, fri], hours: \"08:00-18:00\"}\n", "", 1),
		strings.Replace(payrollTemplate, "rate: {count: 4, max: \"1.5\", period: 720h}", "rate: {max: \"0.00000001\", period: 1m}", 1),
		"templates:\n  - {name: usdc, vault: safe, asset: USDC, to: [payroll], max: \"1000.5\", rate: {count: 1, period: 30d}, require: {group: signers, count: 2}}\n",
	} {
		f.Add([]byte(templateSource(f, top, tierRule)))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		pf, err := policy.ParseFile(src)
		if err != nil {
			return
		}
		p, err := pf.Genesis(rulesReg)
		if err != nil {
			return
		}
		e, err := policy.Seal(p)
		if err != nil {
			t.Fatalf("valid policy does not seal: %v", err)
		}
		q, err := policy.Open(e)
		if err != nil {
			t.Fatalf("sealed policy does not open: %v", err)
		}
		if err := q.Validate(rulesReg); err != nil {
			t.Fatalf("round-tripped policy no longer validates: %v", err)
		}
		if again, _ := policy.Seal(q); again.ID() != e.ID() {
			t.Fatal("policy id changed across decode and encode")
		}
		h, err := policy.NewLedger([]policy.Entry{{Time: noon.Add(-time.Hour), Vault: "ops", Asset: "BTC", Amount: big.NewInt(1), Template: "payroll"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tm := range q.Templates {
			v, _ := q.Vault(tm.Vault)
			fx := effects(btc(t, exchangeAddr, "0.1"))
			if v.Chain == "ethereum" {
				fx = effects(usdc(t, payrollAddr, "3"))
			}
			vd, err := policy.Evaluate(q, policy.Input{Vault: v.Name, Effects: fx, Template: tm.Name, Approvals: approvals("alice/hw")}, h, noon)
			if err != nil {
				t.Fatalf("a valid policy cannot decide template %q: %v", tm.Name, err)
			}
			_ = vd.String()
		}
	})
}
