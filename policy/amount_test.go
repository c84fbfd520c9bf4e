package policy_test

import (
	"math/big"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/policy"
)

func TestLimitRule(t *testing.T) {
	p := rulesPolicy(t, "", `
- {name: per-tx-cap, kind: limit, asset: BTC, max: "50"}
`, `
- {name: eth-cap, kind: limit, asset: ETH, max: "9.5"}
- {name: usdc-cap, kind: limit, asset: USDC, max: "1000000"}
`)
	ten := btc(t, exchangeAddr, "10")
	cases := []struct {
		name    string
		vault   string
		fx      *chain.Effects
		allowed bool
		wants   []string
	}{
		{"a payment over the per-transaction cap is denied", "ops", effects(btc(t, exchangeAddr, "50.00000001")),
			false, []string{`vault rule 0 "per-tx-cap"`, "it moves 50.00000001 BTC, over the 50 BTC one transaction may move"}},
		{"a cap cannot be dodged by splitting one payment into outputs", "ops", effects(ten, ten, ten, ten, ten, btc(t, unknownAddr, "0.1")),
			false, []string{"it moves 50.1 BTC"}},
		{"a payment of exactly the cap is allowed", "ops", effects(btc(t, exchangeAddr, "50")), true, nil},
		{"wei beyond an int64 are counted exactly", "safe", effects(eth(t, payrollAddr, "9.500000000000000001")),
			false, []string{"it moves 9.500000000000000001 ETH, over the 9.5 ETH"}},
		{"a token is capped in its own decimals", "safe", effects(usdc(t, payrollAddr, "1000000.000001")),
			false, []string{"it moves 1000000.000001 USDC, over the 1000000 USDC"}},
		{"a token payment at its cap is allowed", "safe", effects(usdc(t, payrollAddr, "1000000")), true, nil},
		{"a BTC cap does not stop a Safe's ETH", "safe", effects(eth(t, payrollAddr, "1")), true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vd := evaluate(t, p, policy.Input{Vault: c.vault, Effects: c.fx}, nil, noon)
			want(t, vd, c.allowed, c.wants...)
		})
	}
}

func TestParseAmount(t *testing.T) {
	ok := []struct {
		in       string
		decimals int
		want     string
	}{
		{"1.5", 8, "150000000"},
		{"0.00000001", 8, "1"},
		{"0", 8, "0"},
		{"21000000", 8, "2100000000000000"},
		{"1", 18, "1000000000000000000"},
		{"123456789012345678901234567890.123456789012345678", 18, "123456789012345678901234567890123456789012345678"},
		{"7", 0, "7"},
	}
	for _, c := range ok {
		got, err := policy.ParseAmount(c.in, c.decimals)
		if err != nil || got.String() != c.want {
			t.Errorf("ParseAmount(%q, %d) = %v, %v; want %s", c.in, c.decimals, got, err, c.want)
		}
		if back := policy.FormatAmount(got, c.decimals); back != c.in {
			t.Errorf("FormatAmount(%s, %d) = %q, want %q", got, c.decimals, back, c.in)
		}
	}
	refused := map[string]string{
		"1.123456789":           "more decimals than the asset (8)",
		"1.500000000":           "more decimals",
		"-1":                    "negative",
		"1e3":                   "not a decimal",
		"1.":                    "not a decimal",
		".5":                    "not a decimal",
		"01":                    "leading zero",
		" 1":                    "not a decimal",
		"+1":                    "not a decimal",
		"1,5":                   "not a decimal",
		"0x10":                  "not a decimal",
		"":                      "not a decimal",
		strings.Repeat("9", 80): "too large",
	}
	for in, msg := range refused {
		if _, err := policy.ParseAmount(in, 8); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseAmount(%q) = %v, want an error with %q", in, err, msg)
		}
	}
	if got := policy.FormatAmount(big.NewInt(-150000000), 8); got != "-1.5" {
		t.Errorf("FormatAmount(-1.5 BTC) = %q", got)
	}
}

func TestAmountRulesRefusedWithTheirLine(t *testing.T) {
	cases := []struct {
		name, usdcDecimals, ops, want string
	}{
		{"more decimals than BTC has", "", `
- {name: cap, kind: limit, asset: BTC, max: "1.123456789"}
`, `vaults[0].transaction_rules[0].max: "1.123456789" has more decimals than BTC (8)`},
		{"a negative cap", "", `
- {name: cap, kind: limit, asset: BTC, max: "-1"}
`, `vaults[0].transaction_rules[0].max: "-1" is negative`},
		{"an amount written as a float", "", `
- {name: cap, kind: limit, asset: BTC, max: 1e3}
`, `max: "1e3" is not a decimal amount`},
		{"an asset the policy does not declare", "", `
- {name: cap, kind: limit, asset: DOGE, max: "1"}
`, `vaults[0].transaction_rules[0].asset: "DOGE" is neither BTC, ETH nor an asset of the policy`},
		{"an ETH cap on a Bitcoin vault", "", `
- {name: cap, kind: limit, asset: ETH, max: "1"}
`, `vaults[0].transaction_rules[0].asset: ETH is on ethereum, vault "ops" on bitcoin`},
		{"an asset of a billion decimals, refused before any amount is read", "1000000000", `
- {name: cap, kind: limit, asset: USDC, max: "1"}
`, `assets[0].decimals: 1000000000 outside 0..36`},
		{"a cap without its amount", "", `
- {name: cap, kind: limit, asset: BTC}
`, `vaults[0].transaction_rules[0].max: a limit rule needs its max`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := rulesSource(t, "", c.ops, "")
			if c.usdcDecimals != "" {
				src = strings.Replace(src, "decimals: 6", "decimals: "+c.usdcDecimals, 1)
			}
			f, err := policy.ParseFile([]byte(src))
			if err == nil {
				_, err = f.Genesis(rulesReg)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "policy: line ") {
				t.Fatalf("%v does not name its line", err)
			}
		})
	}
}

func TestAmountErrorNamesTheExactLine(t *testing.T) {
	src := rulesSource(t, "", `
- {name: ok, kind: limit, asset: BTC, max: "1"}
- name: bad
  kind: limit
  asset: BTC
  max: "1.123456789"
`, "")
	line := 0
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, `max: "1.123456789"`) {
			line = i + 1
		}
	}
	f, err := policy.ParseFile([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Genesis(rulesReg)
	want := `policy: line ` + itoa(line) + `: vaults[0].transaction_rules[1].max: "1.123456789" has more decimals than BTC (8)`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	var fe *policy.FieldError
	if !asFieldError(err, &fe) || fe.Line != line || fe.Path != "vaults[0].transaction_rules[1].max" {
		t.Fatalf("not a FieldError with its line and path: %#v", err)
	}
}
