package policy_test

import (
	"math/big"
	"testing"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/policy"
)

// TestOnChainRejectionOpensNoOtherPath: an on-chain rejection (the
// adapter's action cancel, nothing else) passes an allowlist without an
// address-book entry and, under a default deny, takes the vault's
// threshold; a "rejection" that also moves value, pays a fee or does
// anything else is decided by the usual rules, and a block rule may
// still name cancel.
func TestOnChainRejectionOpensNoOtherPath(t *testing.T) {
	p := rulesPolicy(t, `default: deny
transaction_rules:
  - {name: known-destinations, kind: allowlist}
  - {name: owners, kind: approve, actions: [threshold-change, owner-change], require: {group: signers, count: 3}}
`, `
- {name: ops-btc, kind: approve, asset: BTC, require: {group: treasury, count: 2}}
`, "")
	cancel := func(more ...chain.Action) *chain.Effects {
		fx := &chain.Effects{Transfers: []chain.Transfer{}}
		fx.AddAction(append([]chain.Action{chain.ActionCancel}, more...)...)
		return fx
	}
	withValue := cancel()
	withValue.Transfers = []chain.Transfer{eth(t, "0x27b1fdb04752bbc536007a920d24acb045561c26", "1")}
	withFee := cancel()
	withFee.Fee = big.NewInt(1)
	cases := []struct {
		name    string
		fx      *chain.Effects
		allowed bool
		wants   []string
	}{
		{"a rejection is allowed with the vault's threshold despite the default deny", cancel(), true,
			[]string{"an on-chain rejection, which moves nothing", "the policy's default deny does not apply to it"}},
		{"a rejection carrying value is denied by the allowlist", withValue, false, []string{"not in the address book"}},
		{"a rejection paying a fee falls to the default deny", withFee, false, []string{"the policy's default is deny"}},
		{"a rejection with a contract call falls to the default deny", cancel(chain.ActionContractCall), false, []string{"the policy's default is deny"}},
		{"a rejection with a delegatecall falls to the default deny", cancel(chain.ActionDelegateCall), false, []string{"the policy's default is deny"}},
		{"nothing at all is not a rejection: the default deny holds", &chain.Effects{}, false, []string{"the policy's default is deny"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vd := evaluate(t, p, policy.Input{Vault: "ops", Effects: c.fx}, nil, noon)
			want(t, vd, c.allowed, c.wants...)
		})
	}
	t.Run("a block rule naming cancel still denies a rejection", func(t *testing.T) {
		b := rulesPolicy(t, `transaction_rules:
  - {name: no-cancels, kind: block, actions: [cancel]}
`, "", "")
		vd := evaluate(t, b, policy.Input{Vault: "ops", Effects: cancel()}, nil, noon)
		want(t, vd, false, "it does cancel, which the rule blocks")
		if len(vd.Flags) != 0 {
			t.Fatalf("cancel flagged as unknown: %v", vd.Flags)
		}
	})
}
