package policy_test

import (
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/policy"
)

func TestAllowlistRule(t *testing.T) {
	p := rulesPolicy(t, `transaction_rules:
  - {name: known-destinations, kind: allowlist}
`, "", "")
	cases := []struct {
		name    string
		vault   string
		fx      *chain.Effects
		allowed bool
		wants   []string
	}{
		{"99.99% of the vault to an unknown address is denied", "ops", effects(btc(t, unknownAddr, "99.99"), btc(t, exchangeAddr, "0.01")),
			false, []string{`policy rule 0 "known-destinations" (allowlist)`, "it sends to a destination not in the address book: " + unknownAddr + " (99.99 BTC)"}},
		{"one unknown output among known ones is denied", "ops", effects(btc(t, coldAddr, "1"), btc(t, otherAddr, "0.001"), btc(t, exchangeAddr, "1")),
			false, []string{otherAddr + " (0.001 BTC)"}},
		{"two payments to one unknown address are shown as their sum", "ops", effects(btc(t, unknownAddr, "1"), btc(t, unknownAddr, "2")),
			false, []string{unknownAddr + " (3 BTC)"}},
		{"booked destinations are allowed", "ops", effects(btc(t, coldAddr, "5"), btc(t, exchangeAddr, "1")), true, nil},
		{"an address booked for another vault is unknown here", "reserve", effects(btc(t, coldAddr, "5")),
			false, []string{coldAddr + " (5 BTC)"}},
		{"a destination written in lower case matches its checksummed entry", "safe",
			effects(eth(t, strings.ToLower(payrollAddr), "1")), true, nil},
		{"a token sent to an unknown address is denied", "safe",
			effects(usdc(t, "0x27b1fdb04752bbc536007a920d24acb045561c26", "10")), false, []string{"(10 USDC)"}},
		{"a transaction that sends nothing is not stopped by the allowlist", "safe",
			&chain.Effects{Actions: []chain.Action{chain.ActionThresholdChange}}, true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vd := evaluate(t, p, policy.Input{Vault: c.vault, Effects: c.fx}, nil, noon)
			want(t, vd, c.allowed, c.wants...)
		})
	}
}

func TestAddressBookRefused(t *testing.T) {
	cases := []struct{ name, top, want string }{
		{"an Ethereum address with a bad checksum", `address_book:
  - {label: typo, chain: ethereum, address: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"}
`, `has a bad EIP-55 checksum (want 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed)`},
		{"a mainnet address in a regtest policy", `address_book:
  - {label: main, chain: bitcoin, address: ` + mainnetAddr + `}
`, `address_book[3].address: "` + mainnetAddr + `" is not an address for regtest`},
		{"an Ethereum address booked on Bitcoin", `address_book:
  - {label: x, chain: bitcoin, address: "` + payrollAddr + `"}
`, "is not a Bitcoin address"},
		{"a Bitcoin address with a broken checksum", `address_book:
  - {label: x, chain: bitcoin, address: bcrt1qqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcruj60yv}
`, "is not a Bitcoin address"},
		{"a short Ethereum address", `address_book:
  - {label: x, chain: ethereum, address: "0x1234"}
`, "is not an Ethereum address"},
		{"an entry for a vault that does not exist", `address_book:
  - {label: x, chain: bitcoin, address: ` + otherAddr + `, vaults: [nope]}
`, `address_book[3].vaults[0]: "nope" is not a vault`},
		{"an entry for a vault on another chain", `address_book:
  - {label: x, chain: bitcoin, address: ` + otherAddr + `, vaults: [safe]}
`, `vault "safe" is on ethereum`},
		{"one address booked twice", `address_book:
  - {label: x, chain: bitcoin, address: ` + otherAddr + `}
  - {label: y, chain: bitcoin, address: ` + otherAddr + `}
`, "address_book[4].address: " + otherAddr + " is already address_book[3]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The fixture's own book comes first; these entries follow it.
			top := strings.Replace(c.top, "address_book:\n", "", 1)
			src := strings.Replace(rulesSource(t, "", "", ""), "assets:\n", top+"assets:\n", 1)
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

// TestEIP55Vectors runs the examples of EIP-55.
func TestEIP55Vectors(t *testing.T) {
	for _, a := range []string{
		"0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
		"0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
	} {
		t.Run(a, func(t *testing.T) {
			got, err := policy.CanonicalAddress("ethereum", "", strings.ToLower(a))
			if err != nil || got != a {
				t.Fatalf("CanonicalAddress(lower) = %q, %v; want %s", got, err, a)
			}
			if got, err := policy.CanonicalAddress("ethereum", "", a); err != nil || got != a {
				t.Fatalf("CanonicalAddress = %q, %v", got, err)
			}
		})
	}
}
