package safe

import (
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain"
)

// refundPayload is a transfer with a gas refund: gasPrice, a gas token
// ("" for ETH) and a refund receiver ("" for zero, the executor).
func refundPayload(gasPrice, token, receiver string) []byte {
	pl := strings.Replace(string(transferPayload("2")), `"gasPrice":"0"`, `"gasPrice":"`+gasPrice+`"`, 1)
	pl = strings.Replace(pl, `"baseGas":"0"`, `"baseGas":"1000000"`, 1)
	if token != "" {
		pl = strings.Replace(pl, `"gasToken":"0x0000000000000000000000000000000000000000"`, `"gasToken":"`+token+`"`, 1)
	}
	if receiver != "" {
		pl = strings.Replace(pl, `"refundReceiver":"0x0000000000000000000000000000000000000000"`, `"refundReceiver":"`+receiver+`"`, 1)
	}
	return []byte(pl)
}

// A gas refund can drain the Safe: in a gas token, (gas + baseGas) ×
// gasPrice goes to the refund receiver with no tie to what gas costs, so
// a signed baseGas of a million at a high gasPrice pays a stranger as
// much of the token as the owners signed. A refund to a receiver that is
// neither zero (the executor) nor on the policy's address book blocks by
// default; the executor, a known relayer, a refund that pays nothing
// (gasPrice 0) and a policy that chose gas-refund's severity keep theirs.
func TestGasRefundToStrangerBlocked(t *testing.T) {
	const (
		stranger = "0x00000000000000000000000000000000DeaDBeef"
		relayer  = "0x000000000000000000000000000000000000bEEF"
		usdc     = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
	)
	for _, tc := range []struct {
		name       string
		pl         []byte
		book       []string
		severities map[string]chain.Severity
		want       chain.Severity
	}{
		{"a token refund to a stranger", refundPayload("1000000000000", usdc, stranger), nil, nil, chain.Block},
		{"an ETH refund to a stranger", refundPayload("100", "", stranger), []string{relayer}, nil, chain.Block},
		{"a refund to the address book", refundPayload("1000000000000", usdc, relayer), []string{relayer}, nil, chain.Warn},
		{"a refund to the executor", refundPayload("1000000000000", usdc, ""), nil, nil, chain.Warn},
		{"a stranger named but nothing paid (gasPrice 0)", refundPayload("0", usdc, stranger), nil, nil, chain.Warn},
		{"the policy chose warn for gas-refund", refundPayload("100", "", stranger), nil, map[string]chain.Severity{FlagGasRefund: chain.Warn}, chain.Warn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "1.3.0")
			f.vault.Account.AddressBook, f.vault.Account.Severities = tc.book, tc.severities
			r := review(t, f, tc.pl)
			fl, ok := flagOf(r, FlagGasRefund)
			if !ok || fl.Severity != tc.want {
				t.Fatalf("flags %v, want gas-refund %s", r.Flags, tc.want)
			}
			if tc.want == chain.Block {
				if !strings.Contains(fl.Message, "neither zero (the executor) nor on the policy's address book") {
					t.Errorf("message %q does not say why it blocks", fl.Message)
				}
				if _, err := (Adapter{}).Sign(f.vault, tc.pl, f.vault.Keys[0], f.signers[0]); err == nil || !strings.Contains(err.Error(), FlagGasRefund) {
					t.Errorf("signed a refund to a stranger: %v", err)
				}
			}
		})
	}
	// A malformed address-book entry is refused with the vault, not
	// ignored.
	f := newFixture(t, "1.3.0")
	f.vault.Account.AddressBook = []string{"0xnot-an-address"}
	if _, err := (Adapter{}).PrepareVault(f.vault); err == nil {
		t.Error("a vault with a malformed address-book entry prepared")
	}
}

func flagOf(r *chain.Review, code string) (chain.Flag, bool) {
	for _, f := range r.Flags {
		if f.Code == code {
			return f, true
		}
	}
	return chain.Flag{}, false
}
