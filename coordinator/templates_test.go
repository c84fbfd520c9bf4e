package coordinator_test

import (
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/policy"
)

const (
	tmplSafe    = "0x52908400098527886E0F7030069857D2E4169EE7"
	tmplPayroll = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
	tmplUSDC    = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
	tmplOther   = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
)

func templatePolicy() *policy.Policy {
	need := &policy.Need{Group: policy.SignersGroup, Count: 2}
	rate := policy.Rate{Count: 4, Period: 30 * 86400}
	return &policy.Policy{
		Name:        "treasury",
		Assets:      []policy.Asset{{Symbol: "USDC", Chain: "ethereum", Token: tmplUSDC, Decimals: 6}},
		AddressBook: []policy.AddressEntry{{Label: "payroll", Chain: "ethereum", ChainID: 1, Address: tmplPayroll}, {Label: "other", Chain: "ethereum", Address: tmplOther}},
		Vaults: []policy.Vault{{Name: "safe", Chain: "ethereum", Threshold: 2, Signers: []string{"alice/hw", "bob/hw", "carol/hw"},
			Safe: &policy.SafeVault{Address: tmplSafe, ChainID: 1, Version: "1.4.1"}}},
		Templates: []policy.Template{
			{Name: "usdc-payroll", Vault: "safe", Asset: "USDC", To: []string{"payroll"}, Max: "5000000000", Rate: rate, Require: need},
			{Name: "eth-payroll", Vault: "safe", Asset: "ETH", To: []string{"payroll"}, Max: "2000000000000000000", Rate: rate, Require: need},
		},
	}
}

// TestSafePaymentMatchesItsTemplate builds a native and a token payment
// under a template and has the Safe adapter decode them as a station
// would: each is exactly one transfer to the booked address, no other
// action, and Evaluate matches it to its template.
func TestSafePaymentMatchesItsTemplate(t *testing.T) {
	pol := templatePolicy()
	h, err := policy.NewLedger(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ template, amount, asset, units string }{
		{"usdc-payroll", "1250.5", "erc20:" + tmplUSDC, "1250500000"},
		{"eth-payroll", "1.5", "ETH", "1500000000000000000"},
	} {
		t.Run(c.template, func(t *testing.T) {
			vault, payload, err := coordinator.SafePayment(pol, c.template, "payroll", c.amount, 7)
			if err != nil {
				t.Fatal(err)
			}
			rv, err := safe.Inspect(chain.Account{Address: tmplSafe, ChainID: 1, Version: "1.4.1"}, payload)
			if err != nil {
				t.Fatal(err)
			}
			if b := rv.Blocking(); len(b) > 0 {
				t.Fatalf("the built payment has blocking flags: %v", b)
			}
			fx := rv.Effects
			if len(fx.Transfers) != 1 || len(fx.Actions) != 0 || fx.Transfers[0].To != tmplPayroll ||
				fx.Transfers[0].Asset != c.asset || fx.Transfers[0].Amount.String() != c.units {
				t.Fatalf("effects %+v, want one transfer of %s %s to %s", fx, c.units, c.asset, tmplPayroll)
			}
			if !strings.Contains(strings.Join(rv.Lines, "\n"), "nonce 7") {
				t.Fatalf("nonce not 7:\n%s", strings.Join(rv.Lines, "\n"))
			}
			vd, err := policy.Evaluate(pol, policy.Input{Vault: vault, Effects: fx, Template: c.template}, h, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if !vd.Allowed || vd.Template != c.template {
				t.Fatalf("the built payment does not match its template:\n%s", vd)
			}
		})
	}
}

func TestSafePaymentRefusesWhatTheTemplateDoesNotPay(t *testing.T) {
	pol := templatePolicy()
	for _, c := range []struct{ name, template, label, amount, want string }{
		{"a destination the template does not list", "usdc-payroll", "other", "1", `template "usdc-payroll" pays payroll, not "other"`},
		{"an unknown template", "bonus", "payroll", "1", `no template "bonus"`},
		{"an amount finer than the token's decimals", "usdc-payroll", "payroll", "0.0000001", "more decimals than USDC"},
		{"a zero amount", "eth-payroll", "payroll", "0", "want more than zero"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := coordinator.SafePayment(pol, c.template, c.label, c.amount, 0)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
