package policy_test

import (
	"testing"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

// FuzzParseRules parses policies with transaction rules: whatever is
// accepted must seal, decode to the same id, validate again, and be
// decidable by Evaluate without a panic; whatever is refused must be
// refused with an error, never a panic.
func FuzzParseRules(f *testing.F) {
	seeds := [][3]string{
		{everyKindTop, everyKindOps, ""},
		{"", tiers, ""},
		{"default: deny\nseparation_of_duties: false\ntransaction_rules:\n  - {name: any, kind: approve, require: {group: treasury, count: 2}}\n", `- {name: v, kind: velocity, asset: BTC, max: "0.5", period: 7d}`, `- {name: u, kind: limit, asset: USDC, max: "1000.25"}`},
		{"", `- {name: w, kind: window, zone: Asia/Kolkata, days: [sat, sun], hours: "22:30-06:15"}`, `- {name: t, kind: approve, actions: [threshold-change], require: {group: signers, count: 3}}`},
		{"", `- {name: c, kind: limit, asset: BTC, max: "1.123456789"}`, ""},
	}
	for _, s := range seeds {
		f.Add([]byte(rulesSource(f, s[0], s[1], s[2])))
	}
	f.Add([]byte(emergencySource(f, goodEmergency)))
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
		raw, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		d, err := envelope.Decode(raw)
		if err != nil {
			t.Fatalf("sealed policy does not decode: %v", err)
		}
		q, err := policy.Open(d)
		if err != nil {
			t.Fatalf("sealed policy does not open: %v", err)
		}
		if err := q.Validate(rulesReg); err != nil {
			t.Fatalf("round-tripped policy no longer validates: %v", err)
		}
		if again, _ := policy.Seal(q); again.ID() != e.ID() {
			t.Fatal("policy id changed across decode and encode")
		}
		h := emptyHistory(t)
		for _, v := range q.Vaults {
			fx := &chain.Effects{Actions: []chain.Action{chain.ActionOwnerChange}}
			if v.Chain == "bitcoin" {
				fx.Transfers = append(fx.Transfers, btc(t, exchangeAddr, "12.5"))
			} else {
				fx.Transfers = append(fx.Transfers, eth(t, payrollAddr, "1"), usdc(t, payrollAddr, "3"))
			}
			for _, proposer := range []string{"", q.Participants[0].ID} {
				vd, err := policy.Evaluate(q, policy.Input{Vault: v.Name, Effects: fx, Proposer: proposer}, h, noon)
				if err != nil {
					t.Fatalf("a valid policy cannot decide: %v", err)
				}
				_ = vd.String()
			}
		}
	})
}
