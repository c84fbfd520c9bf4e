package policy_test

import (
	"context"
	"slices"
	"testing"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/safe"
)

// The Safe adapter decides gas-refund from the vault it is given, so the
// policy's address book must reach it, scoped as the rules scope it: the
// payroll entry (ethereum, chain id 1) for the Safe, no Bitcoin entry. A
// refund to the payroll address warns; one to a stranger blocks.
func TestGasRefundToStrangerBlockedThroughThePolicy(t *testing.T) {
	p := rulesPolicy(t, "", "", "")
	var sv chain.Vault
	for i := range p.Vaults {
		if p.Vaults[i].Name == "safe" {
			v, err := p.ChainVault(&p.Vaults[i])
			if err != nil {
				t.Fatal(err)
			}
			sv = v
		}
	}
	if sv.Account == nil || !slices.Equal(sv.Account.AddressBook, []string{payrollAddr}) {
		t.Fatalf("the Safe vault's address book is %v, want [%s]", sv.Account, payrollAddr)
	}
	tx := func(receiver string) []byte {
		return []byte(`{"to":"0x000000000000000000000000000000000000dEaD","value":"1","data":"0x","operation":0,"safeTxGas":"0","baseGas":"1000000","gasPrice":"1000000000000","gasToken":"` + usdcToken + `","refundReceiver":"` + receiver + `","nonce":"0"}`)
	}
	for receiver, want := range map[string]chain.Severity{payrollAddr: chain.Warn, "0x00000000000000000000000000000000DeaDBeef": chain.Block} {
		r, err := safe.Adapter{}.Review(context.Background(), sv, tx(receiver))
		if err != nil {
			t.Fatal(err)
		}
		got := chain.Severity("")
		for _, f := range r.Flags {
			if f.Code == safe.FlagGasRefund {
				got = f.Severity
			}
		}
		if got != want {
			t.Errorf("refund to %s: gas-refund %q, want %q (flags %v)", receiver, got, want, r.Flags)
		}
	}
}
