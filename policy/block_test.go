package policy_test

import (
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/policy"
)

func TestBlockRule(t *testing.T) {
	p := rulesPolicy(t, `transaction_rules:
  - {name: no-takeover, kind: block, actions: [delegatecall, owner-change, module-change, guard-change]}
`, "", `
- {name: owners-all-agree, kind: approve, actions: [threshold-change], require: {group: signers, count: 3}}
`)
	withActions := func(fx *chain.Effects, as ...chain.Action) *chain.Effects {
		fx.Actions = as
		return fx
	}
	cases := []struct {
		name    string
		fx      *chain.Effects
		allowed bool
		wants   []string
	}{
		{"an owner change hidden among transfers is blocked",
			withActions(effects(eth(t, payrollAddr, "1"), usdc(t, payrollAddr, "100")), chain.ActionOwnerChange), false,
			[]string{`DENIED by policy rule 0 "no-takeover" (block): it does owner-change, which the rule blocks`}},
		{"a delegatecall that swaps the implementation is blocked (the Bybit theft)",
			withActions(&chain.Effects{}, chain.ActionDelegateCall, chain.ActionContractCall), false,
			[]string{"it does delegatecall, which the rule blocks"}},
		{"every blocked action is named once, in a fixed order",
			withActions(&chain.Effects{}, chain.ActionOwnerChange, chain.ActionDelegateCall, chain.ActionOwnerChange), false,
			[]string{"it does delegatecall and owner-change, which"}},
		{"a plain payment passes the block rule", effects(eth(t, payrollAddr, "1")), true, nil},
		{"a threshold change needs every owner", withActions(&chain.Effects{}, chain.ActionThresholdChange), true,
			[]string{`vault rule 0 "owners-all-agree" (approve): it does threshold-change`, "required: 3 of signers {alice, bob, carol}\n"}},
		{"an action the policy does not know is flagged", withActions(&chain.Effects{}, chain.Action("self-destruct")), true,
			[]string{`[warn] policy-unknown-action: it does "self-destruct"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vd := evaluate(t, p, policy.Input{Vault: "safe", Effects: c.fx}, nil, noon)
			want(t, vd, c.allowed, c.wants...)
		})
	}
}

func TestEveryDenyIsReportedTheFirstDecides(t *testing.T) {
	p := rulesPolicy(t, `transaction_rules:
  - {name: no-takeover, kind: block, actions: [owner-change]}
  - {name: known-destinations, kind: allowlist}
`, `
- {name: cap, kind: limit, asset: BTC, max: "1"}
- {name: to-cold, kind: approve, to: [cold], require: {group: signers, count: 2}}
`, "")
	fx := effects(btc(t, unknownAddr, "2"))
	fx.Actions = []chain.Action{chain.ActionOwnerChange}
	vd := evaluate(t, p, policy.Input{Vault: "ops", Effects: fx}, nil, noon)
	want(t, vd, false,
		`DENIED by policy rule 0 "no-takeover"`,
		`also denied by policy rule 1 "known-destinations"`,
		`also denied by vault rule 0 "cap"`)
	if len(vd.Denials) != 3 || vd.Required != nil {
		t.Fatalf("denials %d, required %v", len(vd.Denials), vd.Required)
	}
	// An approve rule never lifts a deny: a payment to cold storage over
	// the cap stays denied.
	vd = evaluate(t, p, policy.Input{Vault: "ops", Effects: effects(btc(t, coldAddr, "2"))}, nil, noon)
	want(t, vd, false, `DENIED by vault rule 0 "cap"`)
}

func TestRuleKindsRefused(t *testing.T) {
	cases := map[string]struct{ top, ops, want string }{
		"an unknown rule kind": {"", `- {name: r, kind: maybe}`, `vaults[0].transaction_rules[0].kind: unknown rule kind "maybe"`},
		"an unknown action": {"", `- {name: r, kind: block, actions: [selfdestruct]}`,
			`vaults[0].transaction_rules[0].actions[0]: unknown action "selfdestruct"`},
		"an action listed twice":       {"", `- {name: r, kind: block, actions: [delegatecall, delegatecall]}`, `actions[1]: "delegatecall" is listed twice`},
		"a block rule with no actions": {"", `- {name: r, kind: block}`, `actions: a block rule names the actions it blocks`},
		"a field of another kind":      {"", `- {name: r, kind: limit, asset: BTC, max: "1", period: 24h}`, `transaction_rules[0].period: a limit rule has no period`},
		"a field no rule has":          {"", `- {name: r, kind: limit, asset: BTC, max: "1", maximum: "2"}`, `field maximum not found`},
		"two rules of one name":        {"", "- {name: r, kind: allowlist}\n- {name: r, kind: allowlist}", `transaction_rules[1].name: rule "r" is defined twice`},
		"a vault rule named as a policy rule": {"transaction_rules:\n  - {name: r, kind: allowlist}\n", "- {name: r, kind: allowlist}",
			`vaults[0].transaction_rules[0].name: "r" is already a policy-wide rule`},
		"a rule without a name":                    {"", `- {kind: allowlist}`, `transaction_rules[0].name: ""`},
		"a default that is neither allow nor deny": {"default: maybe\n", "", `default: "maybe": want allow or deny`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseRules(t, c.top, c.ops, "")
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "policy: line ") && !strings.Contains(err.Error(), "yaml: unmarshal errors:\n  line ") {
				t.Fatalf("got %v, want %q with its line", err, c.want)
			}
		})
	}
}
