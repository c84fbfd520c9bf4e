package chain

import (
	"encoding/json"
	"math/big"
	"slices"
	"testing"
)

// A rule that reads a total must see every transfer of the asset, however
// many there are and however large: big amounts add without overflow.
func TestTotalsSumEveryTransferPerAsset(t *testing.T) {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	token := "erc20:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
	e := &Effects{Transfers: []Transfer{
		{Asset: "ETH", To: "0x000000000000000000000000000000000000dEaD", Amount: big.NewInt(5)},
		{Asset: token, To: "0x000000000000000000000000000000000000dEaD", Amount: max},
		{Asset: "ETH", To: "0x0000000000000000000000000000000000000bAd", Amount: big.NewInt(7)},
		{Asset: token, To: "0x0000000000000000000000000000000000000bAd", Amount: max},
		{Asset: "ETH", To: "0x0000000000000000000000000000000000000bAd", Amount: new(big.Int)},
	}, Fee: big.NewInt(1_000)}
	got := e.Totals()
	if len(got) != 2 || got["ETH"].Cmp(big.NewInt(12)) != 0 {
		t.Fatalf("totals %v, want ETH 12 (the fee apart) and the token", got)
	}
	if want := new(big.Int).Lsh(max, 1); got[token].Cmp(want) != 0 {
		t.Fatalf("token total %s, want %s", got[token], want)
	}
	// The sums are the caller's: changing one leaves the transfers alone.
	got["ETH"].SetInt64(0)
	if e.Transfers[0].Amount.Int64() != 5 {
		t.Fatal("Totals aliased a transfer's amount")
	}
	if n := len((*Effects)(nil).Totals()); n != 0 {
		t.Fatalf("nil effects total %d assets", n)
	}
}

func TestAddActionKeepsActionsSortedWithoutRepeats(t *testing.T) {
	e := &Effects{}
	e.AddAction(ActionOwnerChange, ActionDelegateCall, ActionOwnerChange)
	e.AddAction(ActionThresholdChange, ActionContractCall, ActionDelegateCall)
	want := []Action{ActionContractCall, ActionDelegateCall, ActionOwnerChange, ActionThresholdChange}
	if !slices.Equal(e.Actions, want) {
		t.Fatalf("actions %v, want %v", e.Actions, want)
	}
	for _, a := range want {
		if !e.Has(a) {
			t.Errorf("Has(%s) is false", a)
		}
	}
	if e.Has(ActionRecoveryPath) || (*Effects)(nil).Has(ActionDelegateCall) {
		t.Fatal("Has reports an action that is not there")
	}
}

// Amounts travel as JSON numbers, exact at any size.
func TestEffectsJSONKeepsAmountsExact(t *testing.T) {
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	in := &Effects{Transfers: []Transfer{{Asset: "ETH", To: "0x000000000000000000000000000000000000dEaD", Amount: max}}, Actions: []Action{ActionTokenApproval}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out Effects
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Transfers[0].Amount.Cmp(max) != 0 || out.Fee != nil || !out.Has(ActionTokenApproval) {
		t.Fatalf("round trip %s gave %+v", b, out)
	}
}
