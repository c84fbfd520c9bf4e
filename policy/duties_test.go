package policy_test

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/policy"
)

func TestSeparationOfDuties(t *testing.T) {
	p := rulesPolicy(t, "", tiers, "")
	small := effects(btc(t, exchangeAddr, "1"))
	large := effects(btc(t, exchangeAddr, "50"))
	cases := []struct {
		name    string
		in      policy.Input
		allowed bool
		met     bool
		wants   []string
	}{
		{"the proposer's own approval does not count",
			policy.Input{Vault: "ops", Effects: small, Proposer: "alice", Approvals: approvals("alice/hw bob/hw")}, true, false,
			[]string{"required: 2 of signers {bob, carol; not alice: proposer}", "missing:  1 of signers {carol}",
				"[info] policy-proposer: alice proposed it: their own approval does not count (separation of duties)"}},
		{"two approvers besides the proposer meet the threshold",
			policy.Input{Vault: "ops", Effects: small, Proposer: "alice", Approvals: approvals("alice/hw bob/hw carol/hw")}, true, true, nil},
		{"alice's second device does not count twice",
			policy.Input{Vault: "ops", Effects: large, Approvals: approvals("alice/hw alice/spare dave/hw")}, true, false,
			[]string{"missing:  1 of signers {bob, carol} AND 1 of treasury {bob, carol}",
				"[info] policy-second-device: alice approved from 2 devices (hw, spare): one approval counts"}},
		{"an approval from a device that does not sign for the vault does not count among its signers",
			policy.Input{Vault: "ops", Effects: small, Approvals: approvals("alice/spare bob/hw")}, true, false,
			[]string{"missing:  1 of signers {alice, carol}"}},
		{"a group the proposer leaves too small can never be met, and is denied",
			policy.Input{Vault: "ops", Effects: effects(btc(t, exchangeAddr, "150")), Proposer: "alice"}, false, false,
			[]string{`DENIED by vault rule 0 "huge" (approve): the approvals it requires can never be given`,
				"3 of treasury {bob, carol; not alice: proposer}"}},
		{"the compliance officer cannot propose a large payment and approve it too",
			policy.Input{Vault: "ops", Effects: large, Proposer: "dave", Approvals: approvals("dave/hw alice/hw bob/hw")}, false, false,
			[]string{"DENIED", "2 of signers {alice, bob, carol}", "1 of compliance {not dave: proposer} OR 2 of board {alice; not dave: proposer}"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vd := evaluate(t, p, c.in, nil, noon)
			want(t, vd, c.allowed, c.wants...)
			if vd.Met != c.met {
				t.Fatalf("met %v, want %v:\n%s", vd.Met, c.met, vd)
			}
		})
	}
}

func TestSeparationOfDutiesOff(t *testing.T) {
	p := rulesPolicy(t, "separation_of_duties: false\n", "", "")
	vd := evaluate(t, p, policy.Input{Vault: "ops", Effects: effects(btc(t, exchangeAddr, "1")), Proposer: "alice", Approvals: approvals("alice/hw bob/hw")}, nil, noon)
	want(t, vd, true, "missing:  nothing")
	if !vd.Met || strings.Contains(vd.String(), "proposer") {
		t.Fatalf("with separation of duties off the proposer counts:\n%s", vd)
	}
}

func TestApprovalsThatDoNotFitThePolicyAreRefused(t *testing.T) {
	p := rulesPolicy(t, "", "", "")
	cases := map[string]policy.Input{
		"an approval by someone outside the policy":     {Vault: "ops", Effects: effects(), Approvals: approvals("mallory/hw")},
		"an approval from another participant's device": {Vault: "ops", Effects: effects(), Approvals: approvals("bob/spare")},
		"a proposer outside the policy":                 {Vault: "ops", Effects: effects(), Proposer: "mallory"},
		"a vault outside the policy":                    {Vault: "nope", Effects: effects()},
		"no effects":                                    {Vault: "ops"},
		"a negative amount": {Vault: "ops", Effects: effects(btc(t, exchangeAddr, "1"), func() chain.Transfer {
			tr := btc(t, exchangeAddr, "1")
			tr.Amount.Neg(tr.Amount)
			return tr
		}())},
		"a transfer without a destination": {Vault: "ops", Effects: effects(btc(t, "", "1"))},
		"an asset in no known notation":    {Vault: "ops", Effects: effects(chain.Transfer{Asset: "DOGE", To: exchangeAddr, Amount: big.NewInt(1)})},
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if vd, err := policy.Evaluate(p, in, emptyHistory(t), noon); !errors.Is(err, policy.ErrInput) {
				t.Fatalf("got %v, %v; want ErrInput", vd, err)
			}
		})
	}
}

func TestTemplateHookDenies(t *testing.T) {
	p := rulesPolicy(t, "", "", "")
	vd := evaluate(t, p, policy.Input{Vault: "ops", Effects: effects(), Template: "payroll"}, nil, noon)
	want(t, vd, false, `DENIED by template "payroll": the proposal names template "payroll", which policy treasury does not define`)
}
