package policy_test

import (
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/policy"
)

// tiers: above 100 BTC the board must agree too; above 10 BTC compliance
// must; payments to cold storage need only the vault's signers.
const tiers = `
- name: huge
  kind: approve
  asset: BTC
  above: "100"
  require:
    all:
      - {group: treasury, count: 3}
      - {group: board, count: 2}
- name: to-cold
  kind: approve
  to: [cold]
  require: {group: signers, count: 2}
- name: large
  kind: approve
  asset: BTC
  above: "10"
  require:
    all:
      - {group: treasury, count: 2}
      - any:
          - {group: compliance, count: 1}
          - {group: board, count: 2}
`

func TestApprovalGroupsAndTiers(t *testing.T) {
	p := rulesPolicy(t, "", tiers, "")
	cases := []struct {
		name      string
		fx        *chain.Effects
		approvals string
		allowed   bool
		met       bool
		wants     []string
	}{
		{"a small payment needs only the vault's threshold", effects(btc(t, exchangeAddr, "10")), "alice/hw bob/hw", true, true,
			[]string{"the policy's default", "required: 2 of signers {alice, bob, carol}", "missing:  nothing"}},
		{"a large payment needs compliance on top of the vault's threshold", effects(btc(t, exchangeAddr, "10.00000001")), "alice/hw bob/hw", true, false,
			[]string{`vault rule 2 "large" (approve): it moves 10.00000001 BTC, above 10 BTC`,
				"required: 2 of signers {alice, bob, carol} AND 2 of treasury {alice, bob, carol} AND (1 of compliance {dave} OR 2 of board {alice, dave})",
				"missing:  1 of compliance {dave} OR 1 of board {dave}",
				"[info] policy-tier: 10.00000001 BTC is above the 10 BTC tier of rule \"large\""}},
		{"compliance's approval completes a large payment", effects(btc(t, exchangeAddr, "50")), "alice/hw bob/hw dave/hw", true, true, []string{"missing:  nothing"}},
		{"the largest tier is read first", effects(btc(t, exchangeAddr, "150")), "alice/hw bob/hw dave/hw", true, false,
			[]string{`vault rule 0 "huge"`, "missing:  1 of treasury {carol}"}},
		{"a tier counts the whole transaction, not its largest output", effects(btc(t, exchangeAddr, "60"), btc(t, unknownAddr, "60")), "", true, false,
			[]string{`"huge"`, "it moves 120 BTC"}},
		{"a payment to cold storage above the large tier needs only the vault's signers", effects(btc(t, coldAddr, "50")), "alice/hw carol/hw", true, true,
			[]string{`vault rule 1 "to-cold" (approve): every destination is cold`, "required: 2 of signers"}},
		{"cold storage plus one other destination is not a cold-storage payment", effects(btc(t, coldAddr, "50"), btc(t, exchangeAddr, "0.1")), "", true, false,
			[]string{`"large"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vd := evaluate(t, p, policy.Input{Vault: "ops", Effects: c.fx, Approvals: approvals(c.approvals)}, nil, noon)
			want(t, vd, c.allowed, c.wants...)
			if vd.Met != c.met {
				t.Fatalf("met %v, want %v:\n%s", vd.Met, c.met, vd)
			}
		})
	}
}

func TestTierAboveTheOnChainThreshold(t *testing.T) {
	p := rulesPolicy(t, "", `
- {name: big, kind: approve, asset: BTC, above: "5", require: {group: signers, count: 3}}
`, "")
	vd := evaluate(t, p, policy.Input{Vault: "ops", Effects: effects(btc(t, exchangeAddr, "6")), Approvals: approvals("alice/hw bob/hw")}, nil, noon)
	want(t, vd, true, "required: 3 of signers {alice, bob, carol}\n", "missing:  1 of signers {carol}")
	if vd.Met {
		t.Fatal("two approvals met a tier of three")
	}
}

func TestDefaultDeny(t *testing.T) {
	p := rulesPolicy(t, `default: deny
transaction_rules:
  - {name: owners, kind: approve, actions: [threshold-change, owner-change], require: {group: signers, count: 3}}
`, `
- {name: ops-btc, kind: approve, asset: BTC, require: {group: treasury, count: 2}}
`, "")
	t.Run("a transaction no rule allows is denied", func(t *testing.T) {
		vd := evaluate(t, p, policy.Input{Vault: "ops", Effects: &chain.Effects{}}, nil, noon)
		want(t, vd, false, "DENIED by the policy's default: no approve rule matches, and the policy's default is deny")
	})
	t.Run("a transaction a rule allows is allowed", func(t *testing.T) {
		vd := evaluate(t, p, policy.Input{Vault: "ops", Effects: effects(btc(t, exchangeAddr, "1"))}, nil, noon)
		want(t, vd, true, `"ops-btc"`)
	})
	t.Run("a payment from a vault with no approve rule of its own is denied", func(t *testing.T) {
		vd := evaluate(t, p, policy.Input{Vault: "reserve", Effects: effects(btc(t, exchangeAddr, "1"))}, nil, noon)
		want(t, vd, false, "DENIED by the policy's default")
	})
	t.Run("a vault that could never spend is refused", func(t *testing.T) {
		_, err := parseRules(t, "default: deny\n", "- {name: ops-btc, kind: approve, asset: BTC, require: {group: treasury, count: 2}}", "")
		if err == nil || !strings.Contains(err.Error(), `default: deny, and no approve rule applies to vault "reserve": it could never spend`) || !strings.HasPrefix(err.Error(), "policy: line ") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestGroupsRefused(t *testing.T) {
	cases := []struct{ name, top, ops, want string }{
		{"a group threshold above the group's size", "", `
- {name: r, kind: approve, require: {group: compliance, count: 2}}
`, `vaults[0].transaction_rules[0].require.count: 2 outside 1..1 (the members of compliance)`},
		{"a group member not in the policy", `groups:
  - {name: auditors, members: [alice, mallory]}
`, "", `groups[3].members[1]: "mallory" is not a participant of the policy`},
		{"a group named signers", `groups:
  - {name: signers, members: [alice]}
`, "", `groups[3].name: "signers"`},
		{"a requirement naming no group of the policy", "", `
- {name: r, kind: approve, require: {group: auditors, count: 1}}
`, `require.group: "auditors" is not a group of the policy`},
		{"more of the vault's signers than it has", "", `
- {name: r, kind: approve, require: {all: [{group: treasury, count: 1}, {group: signers, count: 4}]}}
`, `vaults[0].transaction_rules[0].require.all[1].count: 4 outside 1..3 (the signers of vault "ops")`},
		{"a requirement with both all and group", "", `
- {name: r, kind: approve, require: {group: treasury, count: 1, all: [{group: compliance, count: 1}]}}
`, `require: want exactly one of all, any, or group with count`},
		{"a requirement nested five deep", "", `
- {name: r, kind: approve, require: {all: [{any: [{all: [{any: [{group: treasury, count: 1}]}]}]}]}}
`, "nests at most 4 deep"},
		{"an approve rule that requires nothing", "", `
- {name: r, kind: approve, asset: BTC}
`, `require: an approve rule says what it requires`},
		{"a tier an earlier tier always pre-empts", "", `
- {name: large, kind: approve, asset: BTC, above: "10", require: {group: treasury, count: 2}}
- {name: huge, kind: approve, asset: BTC, above: "100", require: {group: treasury, count: 3}}
`, `vaults[0].transaction_rules[1]: rule "huge" never applies to vault "ops": rule "large" before it matches whatever it matches`},
		{"a rule after a catch-all", "", `
- {name: all, kind: approve, require: {group: treasury, count: 2}}
- {name: cold, kind: approve, to: [cold], require: {group: signers, count: 2}}
`, `rule "cold" never applies`},
		{"a destination label not in the address book", "", `
- {name: r, kind: approve, to: [nowhere], require: {group: treasury, count: 1}}
`, `to[0]: "nowhere" is not in the address book`},
		{"a destination booked for another vault", "", `
- {name: r, kind: approve, to: [payroll], require: {group: treasury, count: 1}}
`, `to[0]: "payroll" is not a destination of vault "ops"`},
		{"a tier without its asset", "", `
- {name: r, kind: approve, above: "1", require: {group: treasury, count: 1}}
`, `above: an amount names its asset`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			top := c.top
			src := rulesSource(t, "", c.ops, "")
			if top != "" {
				src = strings.Replace(src, "address_book:\n", strings.TrimPrefix(top, "groups:\n")+"address_book:\n", 1)
			}
			f, err := policy.ParseFile([]byte(src))
			if err == nil {
				_, err = f.Genesis(rulesReg)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "policy: line ") {
				t.Fatalf("got %v, want %q with its line", err, c.want)
			}
		})
	}
}
