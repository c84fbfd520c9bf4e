package inspect_test

import (
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/inspect"
)

// A stateless check of a Safe transaction whose gas refund pays a stranger
// (a token refund with a large baseGas drains the token) blocks, as a
// station's does; the addresses a policy's address book would list are
// given with the request, and a refund to one of them only warns.
func TestInspectSafeGasRefundToStrangerBlocked(t *testing.T) {
	const relayer = "0x000000000000000000000000000000000000bEEF"
	tx := strings.NewReplacer(`"gasPrice":"0"`, `"gasPrice":"1000000000000"`, `"baseGas":"0"`, `"baseGas":"1000000"`,
		`"gasToken":"0x0000000000000000000000000000000000000000"`, `"gasToken":"0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"`,
		`"refundReceiver":"0x0000000000000000000000000000000000000000"`, `"refundReceiver":"`+relayer+`"`).Replace(transfer)
	if tx == transfer {
		t.Fatal("the fixture transfer changed shape; no refund was set")
	}
	res, err := inspect.Safe(inspect.SafeRequest{ChainID: 31337, Safe: safeAddr, Version: "1.3.0", Tx: []byte(tx)})
	if err != nil {
		t.Fatal(err)
	}
	if b := res.Blocking(); len(b) != 1 || b[0].Code != "gas-refund" {
		t.Fatalf("blocking flags %v, want gas-refund", b)
	}
	res, err = inspect.Safe(inspect.SafeRequest{ChainID: 31337, Safe: safeAddr, Version: "1.3.0", Tx: []byte(tx), AddressBook: []string{relayer}})
	if err != nil {
		t.Fatal(err)
	}
	if b := res.Blocking(); len(b) != 0 {
		t.Fatalf("a refund to a booked relayer blocks: %v", b)
	}
}
