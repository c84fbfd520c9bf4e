package policy_test

import (
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

// everyKind is a policy using every rule kind.
const everyKindTop = `transaction_rules:
  - {name: no-takeover, kind: block, actions: [delegatecall, owner-change]}
  - {name: office-hours, kind: window, zone: Europe/Zurich, days: [mon, tue, wed, thu, fri], hours: "07:00-20:00"}
`

const everyKindOps = `
- {name: cap, kind: limit, asset: BTC, max: "40"}
- {name: daily, kind: velocity, asset: BTC, max: "60", period: 24h}
- {name: known, kind: allowlist}
- {name: huge, kind: approve, asset: BTC, above: "20", require: {all: [{group: treasury, count: 3}, {group: compliance, count: 1}]}}
- {name: large, kind: approve, asset: BTC, above: "5", require: {any: [{group: compliance, count: 1}, {group: board, count: 2}]}}
`

// TestEvaluateIsDeterministicAndOrderFree evaluates random transactions,
// histories and approvals, then again with transfers, actions and
// approvals shuffled: the verdicts must be equal, field for field.
func TestEvaluateIsDeterministicAndOrderFree(t *testing.T) {
	p := rulesPolicy(t, everyKindTop, everyKindOps, "")
	rng := rand.New(rand.NewPCG(42, 7))
	dests := []string{coldAddr, exchangeAddr, unknownAddr, otherAddr}
	people := approvals("alice/hw alice/spare bob/hw carol/hw dave/hw")
	proposers := []string{"", "alice", "bob", "dave"}
	actions := []chain.Action{chain.ActionDelegateCall, chain.ActionOwnerChange, chain.ActionContractCall, "unheard-of"}
	var entries []policy.Entry
	for range 500 {
		entries = append(entries, policy.Entry{Time: noon.Add(-time.Duration(rng.IntN(72*60)) * time.Minute), Vault: "ops", Asset: "BTC",
			Amount: big.NewInt(rng.Int64N(5e8))})
	}
	h := ledger(t, entries...)
	allowed := 0
	for i := range 3000 {
		fx := &chain.Effects{}
		for range rng.IntN(5) {
			fx.Transfers = append(fx.Transfers, chain.Transfer{Asset: "BTC", To: dests[rng.IntN(len(dests))], Amount: big.NewInt(rng.Int64N(3e9))})
		}
		if rng.IntN(5) == 0 {
			fx.Actions = append(fx.Actions, actions[rng.IntN(len(actions))], actions[rng.IntN(len(actions))])
		}
		var as []policy.Approval
		for _, a := range people {
			if rng.IntN(2) == 0 {
				as = append(as, a)
			}
		}
		in := policy.Input{Vault: "ops", Effects: fx, Proposer: proposers[rng.IntN(len(proposers))], Approvals: as}
		now := noon.Add(time.Duration(rng.IntN(7*24*60)) * time.Minute)
		first, err := policy.Evaluate(p, in, h, now)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		again, err := policy.Evaluate(p, in, h, now)
		if err != nil || !reflect.DeepEqual(first, again) {
			t.Fatalf("case %d: two evaluations differ:\n%s\n%s", i, first, again)
		}
		shuffled := policy.Input{Vault: in.Vault, Proposer: in.Proposer, Effects: &chain.Effects{
			Transfers: shuffle(rng, fx.Transfers), Actions: shuffle(rng, fx.Actions)}, Approvals: shuffle(rng, as)}
		other, err := policy.Evaluate(p, shuffled, h, now)
		if err != nil {
			t.Fatalf("case %d shuffled: %v", i, err)
		}
		if !reflect.DeepEqual(first, other) || first.String() != other.String() {
			a, _ := json.Marshal(first)
			b, _ := json.Marshal(other)
			t.Fatalf("case %d: order changed the verdict:\n%s\n%s", i, a, b)
		}
		if first.Allowed {
			allowed++
		}
	}
	// The generator must reach both outcomes, or the property says little.
	if allowed < 100 || allowed > 2900 {
		t.Fatalf("%d of 3000 allowed: the cases do not exercise both outcomes", allowed)
	}
}

func shuffle[T any](rng *rand.Rand, s []T) []T {
	out := append([]T(nil), s...)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// TestRulesSurviveTheSignedForm seals a policy with every rule kind,
// decodes it, and checks it validates again, gives the same id, and
// decides the same.
func TestRulesSurviveTheSignedForm(t *testing.T) {
	p := rulesPolicy(t, everyKindTop+"  - {name: owners, kind: approve, actions: [threshold-change], require: {group: signers, count: 3}}\ndefault: deny\nseparation_of_duties: false\n", everyKindOps, "")
	e, err := policy.Seal(p)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := e.Encode()
	d, err := envelope.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	q, err := policy.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Validate(rulesReg); err != nil {
		t.Fatalf("decoded policy no longer validates: %v", err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Fatal("the decoded policy differs")
	}
	again, _ := policy.Seal(q)
	if again.ID() != e.ID() {
		t.Fatal("policy id changed across decode and encode")
	}
	if !q.DefaultDeny || !q.ProposerCounts || len(q.Vaults[0].TxRules) != 5 || q.Vaults[0].TxRules[0].Max != "4000000000" {
		t.Fatalf("rules lost: %+v", q.Vaults[0].TxRules)
	}
}

// TestDecodedRulesAreValidated: a signed policy is checked as strictly as
// a source file, without lines.
func TestDecodedRulesAreValidated(t *testing.T) {
	cases := map[string]func(p *policy.Policy){
		"an amount not in smallest units":  func(p *policy.Policy) { p.Vaults[0].TxRules[0].Max = "40.5" },
		"an amount with a leading zero":    func(p *policy.Policy) { p.Vaults[0].TxRules[0].Max = "040" },
		"a token not in its EIP-55 form":   func(p *policy.Policy) { p.Assets[0].Token = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48" },
		"an address not in canonical form": func(p *policy.Policy) { p.AddressBook[0].Address = "BCRT1QQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPVXAT9T" },
		"days out of order":                func(p *policy.Policy) { p.TxRules[1].Days = []string{"fri", "mon"} },
		"an unknown kind":                  func(p *policy.Policy) { p.TxRules[0].Kind = "maybe" },
		"an empty requirement":             func(p *policy.Policy) { p.Vaults[0].TxRules[3].Require = &policy.Need{} },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			p := rulesPolicy(t, everyKindTop, everyKindOps, "")
			mutate(p)
			if err := p.Validate(rulesReg); err == nil {
				t.Fatal("accepted")
			} else if _, ok := err.(*policy.FieldError); !ok {
				t.Fatalf("%v is not a FieldError", err)
			}
		})
	}
}

func TestJSONRulesEqualYAML(t *testing.T) {
	y := rulesPolicy(t, "", `- {name: cap, kind: limit, asset: BTC, max: "1.5"}`, "")
	f, err := policy.ParseFile([]byte(rulesSource(t, "", `- {name: cap, kind: limit, asset: BTC, max: "1.5"}`, "")))
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	jf, err := policy.ParseFile(j)
	if err != nil {
		t.Fatal(err)
	}
	pj, err := jf.Genesis(rulesReg)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := policy.ID(y)
	b, _ := policy.ID(pj)
	if a != b {
		t.Fatal("the same rules in JSON and YAML give different ids")
	}
	// A JSON source has no lines; its errors still name the field.
	bad, _ := json.Marshal(f)
	bad = []byte(string(bad[:len(bad)-1]) + `,"default":"maybe"}`)
	jb, err := policy.ParseFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jb.Genesis(rulesReg); err == nil || err.Error() != `policy: invalid: default: "maybe": want allow or deny` {
		t.Fatalf("got %v", err)
	}
}
