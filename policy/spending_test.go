package policy

import (
	"math/big"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/chain"
)

// TestSpendingReadsBackExactly: what a station records with an approval
// reads back to the same totals (wei beyond 2^64 included), and a record
// edited into a non-canonical form is refused rather than counted as
// nothing.
func TestSpendingReadsBackExactly(t *testing.T) {
	huge, _ := new(big.Int).SetString("340282366920938463463374607431768211457", 10)
	fx := &chain.Effects{Transfers: []chain.Transfer{
		{Asset: "ETH", To: "0x1", Amount: huge},
		{Asset: "BTC", To: "a", Amount: big.NewInt(1500)},
		{Asset: "BTC", To: "b", Amount: big.NewInt(500)},
	}}
	s, err := Spending(fx)
	if err != nil {
		t.Fatal(err)
	}
	if want := "BTC=2000 ETH=" + huge.String(); s != want {
		t.Fatalf("Spending = %q, want %q", s, want)
	}
	at := time.Unix(1_800_000_000, 0)
	es, err := ParseSpending(at, "ops", s)
	if err != nil || len(es) != 2 || es[0].Amount.Int64() != 2000 || es[1].Amount.Cmp(huge) != 0 || es[1].Vault != "ops" || !es[1].Time.Equal(at) {
		t.Fatalf("read back: %v %+v", err, es)
	}
	for _, bad := range []string{"BTC=-1", "BTC=01", "BTC", "DOGE=5", "BTC=1e3", "erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48=5"} {
		if _, err := ParseSpending(at, "ops", bad); err == nil {
			t.Errorf("%q was read as a spending", bad)
		}
	}
	if _, err := Spending(nil); err == nil {
		t.Error("a transaction with no effects has a spending")
	}
}
