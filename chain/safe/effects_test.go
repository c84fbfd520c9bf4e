package safe

import (
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain"
)

var (
	usdc      = common.HexToAddress("0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")
	recipient = common.HexToAddress("0x000000000000000000000000000000000000dead")
	stranger  = common.HexToAddress("0x0000000000000000000000000000000000001234")
	// uint256Max is 2^256-1, the largest amount calldata can carry.
	uint256Max = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
)

// withValue sets a payload's value (wei, decimal).
func withValue(pl []byte, wei string) []byte {
	return []byte(strings.Replace(string(pl), `"value":"0"`, `"value":"`+wei+`"`, 1))
}

func amount(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return v
}

func TestEffects(t *testing.T) {
	f := newFixture(t, "1.4.1")
	safe := common.HexToAddress(testSafe)
	token := "erc20:" + usdc.Hex()
	eth := func(to common.Address, wei string) chain.Transfer {
		return chain.Transfer{Asset: "ETH", To: to.Hex(), Amount: amount(wei)}
	}
	tok := func(to common.Address, units *big.Int) chain.Transfer {
		return chain.Transfer{Asset: token, To: to.Hex(), Amount: units}
	}
	cases := []struct {
		name      string
		payload   []byte
		transfers []chain.Transfer
		actions   []chain.Action
	}{
		{"ETH transfer", transferPayload("1"), []chain.Transfer{eth(recipient, "100000000000000000")}, nil},
		{"ETH to the Safe itself leaves nothing", withValue(txJSON(testSafe, 0, nil, ""), "5"), nil, nil},
		{"ERC-20 transfer", txJSON(usdc.Hex(), 0, call("transfer(address,uint256)", recipient, uint256Max), ""),
			[]chain.Transfer{tok(recipient, uint256Max)}, nil},
		{"ERC-20 transfer of nothing is still a transfer", txJSON(usdc.Hex(), 0, call("transfer(address,uint256)", recipient, big.NewInt(0)), ""),
			[]chain.Transfer{tok(recipient, new(big.Int))}, nil},
		{"transferFrom the Safe", txJSON(usdc.Hex(), 0, call("transferFrom(address,address,uint256)", safe, recipient, big.NewInt(7)), ""),
			[]chain.Transfer{tok(recipient, big.NewInt(7))}, nil},
		{"transferFrom another account is a contract call", txJSON(usdc.Hex(), 0, call("transferFrom(address,address,uint256)", stranger, recipient, big.NewInt(7)), ""),
			nil, []chain.Action{chain.ActionContractCall}},
		{"call with value and data", withValue(txJSON(stranger.Hex(), 0, []byte{1, 2, 3, 4}, ""), "9"),
			[]chain.Transfer{eth(stranger, "9")}, []chain.Action{chain.ActionContractCall}},
		{"approve", txJSON(usdc.Hex(), 0, call("approve(address,uint256)", recipient, uint256Max), ""), nil, []chain.Action{chain.ActionTokenApproval}},
		{"increaseAllowance", txJSON(usdc.Hex(), 0, call("increaseAllowance(address,uint256)", recipient, big.NewInt(1)), ""), nil, []chain.Action{chain.ActionTokenApproval}},
		{"setApprovalForAll", txJSON(usdc.Hex(), 0, call("setApprovalForAll(address,bool)", recipient, true), ""), nil, []chain.Action{chain.ActionTokenApproval}},
		{"ERC-721 safeTransferFrom", txJSON(usdc.Hex(), 0, call("safeTransferFrom(address,address,uint256)", safe, recipient, big.NewInt(1)), ""),
			nil, []chain.Action{chain.ActionContractCall}},
		// Bybit: a transfer's calldata delegatecalled runs another
		// contract's code as the Safe; it moves no token.
		{"delegatecall", txJSON(stranger.Hex(), 1, call("transfer(address,uint256)", recipient, big.NewInt(0)), ""),
			nil, []chain.Action{chain.ActionContractCall, chain.ActionDelegateCall}},
		{"delegatecall with value sends none", withValue(txJSON(stranger.Hex(), 1, nil, ""), "9"), nil, []chain.Action{chain.ActionDelegateCall}},
		{"addOwnerWithThreshold", txJSON(testSafe, 0, call("addOwnerWithThreshold(address,uint256)", stranger, big.NewInt(2)), ""),
			nil, []chain.Action{chain.ActionOwnerChange, chain.ActionThresholdChange}},
		{"removeOwner", txJSON(testSafe, 0, call("removeOwner(address,address,uint256)", stranger, stranger, big.NewInt(1)), ""),
			nil, []chain.Action{chain.ActionOwnerChange, chain.ActionThresholdChange}},
		{"swapOwner", txJSON(testSafe, 0, call("swapOwner(address,address,address)", stranger, stranger, recipient), ""), nil, []chain.Action{chain.ActionOwnerChange}},
		{"changeThreshold", txJSON(testSafe, 0, call("changeThreshold(uint256)", big.NewInt(3)), ""), nil, []chain.Action{chain.ActionThresholdChange}},
		{"enableModule", txJSON(testSafe, 0, call("enableModule(address)", stranger), ""), nil, []chain.Action{chain.ActionModuleChange}},
		{"disableModule", txJSON(testSafe, 0, call("disableModule(address,address)", stranger, stranger), ""), nil, []chain.Action{chain.ActionModuleChange}},
		{"setGuard", txJSON(testSafe, 0, call("setGuard(address)", stranger), ""), nil, []chain.Action{chain.ActionGuardChange}},
		{"setModuleGuard", txJSON(testSafe, 0, call("setModuleGuard(address)", stranger), ""), nil, []chain.Action{chain.ActionGuardChange}},
		{"setFallbackHandler", txJSON(testSafe, 0, call("setFallbackHandler(address)", stranger), ""), nil, []chain.Action{chain.ActionHandlerChange}},
		{"changeMasterCopy", txJSON(testSafe, 0, call("changeMasterCopy(address)", stranger), ""), nil, []chain.Action{chain.ActionContractCall}},
		{"unknown call to the Safe", txJSON(testSafe, 0, []byte{9, 9, 9, 9}, ""), nil, []chain.Action{chain.ActionContractCall}},
		{"Safe function on another contract", txJSON(stranger.Hex(), 0, call("swapOwner(address,address,address)", stranger, stranger, recipient), ""),
			nil, []chain.Action{chain.ActionContractCall}},
		{"unknown selector", txJSON(stranger.Hex(), 0, []byte{0xde, 0xad, 0xbe, 0xef}, ""), nil, []chain.Action{chain.ActionContractCall}},
		{"calldata shorter than a selector", txJSON(stranger.Hex(), 0, []byte{0xde}, ""), nil, []chain.Action{chain.ActionContractCall}},
		{"known function on a non-token", txJSON(stranger.Hex(), 0, call("transferOwnership(address)", recipient), ""), nil, []chain.Action{chain.ActionContractCall}},
		// The fixture pins one contract; what it is named does not matter.
		{"signMessage on a pinned library", txJSON(multiSendCO, 1, call("signMessage(bytes)", []byte("hello")), ""),
			nil, []chain.Action{chain.ActionContractCall, chain.ActionDelegateCall, chain.ActionSignMessage}},
		{"token transfer with hidden bytes", txJSON(usdc.Hex(), 0, append(call("transfer(address,uint256)", recipient, big.NewInt(1)), 0xee), ""),
			nil, []chain.Action{chain.ActionContractCall}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkEffects(t, review(t, f, c.payload).Effects, c.transfers, c.actions, nil)
		})
	}
}

func checkEffects(t *testing.T, e *chain.Effects, transfers []chain.Transfer, actions []chain.Action, fee *big.Int) {
	t.Helper()
	if e == nil {
		t.Fatal("review without effects")
	}
	if len(e.Transfers) != len(transfers) {
		t.Fatalf("transfers %+v, want %+v", e.Transfers, transfers)
	}
	for i, w := range transfers {
		g := e.Transfers[i]
		if g.Asset != w.Asset || g.To != w.To || g.Amount == nil || g.Amount.Cmp(w.Amount) != 0 {
			t.Errorf("transfer %d: %s %s to %s, want %s %s to %s", i, g.Amount, g.Asset, g.To, w.Amount, w.Asset, w.To)
		}
	}
	if !slices.Equal(e.Actions, actions) && (len(e.Actions) != 0 || len(actions) != 0) {
		t.Errorf("actions %v, want %v", e.Actions, actions)
	}
	if (e.Fee == nil) != (fee == nil) || (fee != nil && e.Fee.Cmp(fee) != 0) {
		t.Errorf("fee %v, want %v", e.Fee, fee)
	}
}

// TestEffectsOwnerChangeHiddenInABatchIsStillSeen: every entry of a
// MultiSend batch, nested batches included, adds its effects, in the
// order the entries run.
func TestEffectsOwnerChangeHiddenInABatchIsStillSeen(t *testing.T) {
	f := newFixture(t, "1.3.0")
	safe := common.HexToAddress(testSafe)
	nested := PackMultiSend([]BatchCall{
		{To: recipient, Value: big.NewInt(4)},
		{To: safe, Value: new(big.Int), Data: call("changeThreshold(uint256)", big.NewInt(1))},
	})
	batch := PackMultiSend([]BatchCall{
		{To: recipient, Value: big.NewInt(3)},
		{To: usdc, Value: new(big.Int), Data: call("transfer(address,uint256)", stranger, big.NewInt(5))},
		{To: safe, Value: new(big.Int), Data: call("swapOwner(address,address,address)", stranger, stranger, recipient)},
		{Operation: 1, To: common.HexToAddress(multiSendCO), Value: new(big.Int), Data: nested},
	})
	r := review(t, f, txJSON(multiSendCO, 1, batch, ""))
	checkEffects(t, r.Effects, []chain.Transfer{
		{Asset: "ETH", To: recipient.Hex(), Amount: big.NewInt(3)},
		{Asset: "erc20:" + usdc.Hex(), To: stranger.Hex(), Amount: big.NewInt(5)},
		{Asset: "ETH", To: recipient.Hex(), Amount: big.NewInt(4)},
	}, []chain.Action{chain.ActionDelegateCall, chain.ActionOwnerChange, chain.ActionThresholdChange}, nil)
	if got := r.Effects.Totals()["ETH"]; got.Int64() != 7 {
		t.Fatalf("ETH total %s, want 7", got)
	}

	// multiSend on a contract the policy does not pin runs its code: a
	// contract call besides what the entries say.
	r = review(t, f, txJSON(stranger.Hex(), 1, batch, ""))
	checkEffects(t, r.Effects, r.Effects.Transfers, []chain.Action{chain.ActionContractCall, chain.ActionDelegateCall, chain.ActionOwnerChange, chain.ActionThresholdChange}, nil)
	if len(r.Effects.Transfers) != 3 {
		t.Fatalf("transfers %+v", r.Effects.Transfers)
	}

	// A batch that does not unpack is a contract call: what it does is
	// unknown.
	broken := PackMultiSend([]BatchCall{{To: safe, Value: new(big.Int), Data: []byte{1, 2, 3, 4}}})
	broken[4+64+85-1] = 0xff
	checkEffects(t, review(t, f, txJSON(multiSendCO, 1, broken, "")).Effects, nil, []chain.Action{chain.ActionContractCall, chain.ActionDelegateCall}, nil)
}

// TestEffectsGasRefundIsExactAtAnySize: the refund is computed exactly
// from fields as large as 2^256-1, with no overflow, and is a fee in
// ETH or a transfer in a gas token.
func TestEffectsGasRefundIsExactAtAnySize(t *testing.T) {
	f := newFixture(t, "1.3.0")
	refund := func(safeTxGas, baseGas, gasPrice *big.Int, token, receiver common.Address) []byte {
		pl := string(transferPayload("3"))
		for _, r := range [][2]string{
			{`"safeTxGas":"0"`, `"safeTxGas":"` + safeTxGas.String() + `"`},
			{`"baseGas":"0"`, `"baseGas":"` + baseGas.String() + `"`},
			{`"gasPrice":"0"`, `"gasPrice":"` + gasPrice.String() + `"`},
			{`"gasToken":"0x0000000000000000000000000000000000000000"`, `"gasToken":"` + token.Hex() + `"`},
			{`"refundReceiver":"0x0000000000000000000000000000000000000000"`, `"refundReceiver":"` + receiver.Hex() + `"`},
		} {
			pl = strings.Replace(pl, r[0], r[1], 1)
		}
		return []byte(pl)
	}
	sent := chain.Transfer{Asset: "ETH", To: recipient.Hex(), Amount: amount("100000000000000000")}
	zero := common.Address{}
	// (2^256-1 + 2^256-1 + 50,000) × (2^256-1), by hand.
	gas := new(big.Int).Add(new(big.Int).Lsh(uint256Max, 1), big.NewInt(refundCallGas))
	huge := new(big.Int).Mul(gas, uint256Max)
	if huge.BitLen() != 514 { // far past 2^256: a 256-bit product would wrap
		t.Fatalf("test arithmetic: %d bits", huge.BitLen())
	}

	checkEffects(t, review(t, f, refund(uint256Max, uint256Max, uint256Max, zero, zero)).Effects, []chain.Transfer{sent}, nil, huge)
	checkEffects(t, review(t, f, refund(big.NewInt(100_000), big.NewInt(30_000), big.NewInt(7), zero, stranger)).Effects,
		[]chain.Transfer{sent}, nil, big.NewInt((100_000+30_000+refundCallGas)*7))
	// safeTxGas and baseGas 0 still refund the call's own gas: never a
	// fee of 0 when gasPrice is not.
	checkEffects(t, review(t, f, refund(new(big.Int), new(big.Int), uint256Max, zero, zero)).Effects,
		[]chain.Transfer{sent}, nil, new(big.Int).Mul(big.NewInt(refundCallGas), uint256Max))
	// gasPrice 0 pays nothing, whatever the other fields say.
	checkEffects(t, review(t, f, refund(uint256Max, uint256Max, new(big.Int), usdc, stranger)).Effects, []chain.Transfer{sent}, nil, nil)
	// A refund in a token is that token leaving the Safe; paid to the
	// executor, it goes to a name no address book holds.
	r := review(t, f, refund(uint256Max, uint256Max, uint256Max, usdc, zero))
	checkEffects(t, r.Effects, []chain.Transfer{sent, {Asset: "erc20:" + usdc.Hex(), To: "tx.origin", Amount: huge}}, nil, nil)
	if r.Details.(Details).Refund.WorstCase != huge.String() {
		t.Fatalf("the review shows %s, the effects %s", r.Details.(Details).Refund.WorstCase, huge)
	}
}

// TestEffectsOfAMessageSignNothingElse: a Safe message moves nothing; its
// one effect is that the Safe signs it.
func TestEffectsOfAMessageSignNothingElse(t *testing.T) {
	f := newFixture(t, "1.3.0")
	for _, pl := range []string{
		`{"message":"I approve the audit report"}`,
		`{"eip712Digest":"0x` + strings.Repeat("34", 32) + `"}`,
		`{"hash":"0x` + strings.Repeat("12", 32) + `"}`,
	} {
		checkEffects(t, review(t, f, []byte(pl)).Effects, nil, []chain.Action{chain.ActionSignMessage}, nil)
	}
}

// TestEffectsOfInspect: the stateless inspection reports effects too.
func TestEffectsOfInspect(t *testing.T) {
	r, err := Inspect(chain.Account{Address: testSafe, ChainID: 1, Version: "1.4.1"}, txJSON(testSafe, 0, call("enableModule(address)", stranger), ""))
	if err != nil {
		t.Fatal(err)
	}
	checkEffects(t, r.Effects, nil, []chain.Action{chain.ActionModuleChange}, nil)
}
