package safe

import (
	"context"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/airlock-vault/airlock/chain"
)

func txJSON(to string, op int, data []byte, extra string) []byte {
	return []byte(`{"to":"` + to + `","value":"0","data":"0x` + hex.EncodeToString(data) + `","operation":` + big.NewInt(int64(op)).String() +
		`,"safeTxGas":"0","baseGas":"0","gasPrice":"0","gasToken":"0x0000000000000000000000000000000000000000","refundReceiver":"0x0000000000000000000000000000000000000000","nonce":"71"` + extra + `}`)
}

func call(sig string, args ...any) []byte {
	p := mustMethod(sig)
	b, err := p.pack(args...)
	if err != nil {
		panic(err)
	}
	return b
}

func review(t *testing.T, f *fixture, pl []byte) *chain.Review {
	t.Helper()
	r, err := Adapter{}.Review(context.Background(), f.vault, pl)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Bybit, February 2025: the owners signed a delegatecall from Safe 1.1.1
// to an unknown contract, dressed as an ERC-20 transfer; its code wrote
// the Safe's implementation slot. The station blocks it and says why.
func TestBybitDelegatecallBlocked(t *testing.T) {
	f := newFixture(t, "1.1.1")
	data := call("transfer(address,uint256)", common.HexToAddress("0xbDd077f651EBe7f7b3cE16fe5F2b025BE2969516"), big.NewInt(0))
	r := review(t, f, txJSON("0x96221423681A6d52E184D440a8eFCEbB105C7242", 1, data, ""))
	if !hasFlag(r, FlagDelegatecallUntrusted, chain.Block) {
		t.Fatalf("flags %v", r.Flags)
	}
	text := strings.Join(r.Lines, "\n")
	if !strings.Contains(text, "DELEGATECALL 0x96221423681A6d52E184D440a8eFCEbB105C7242") || !strings.Contains(text, "transfer(to=0xbDd077f651EBe7f7b3cE16fe5F2b025BE2969516, amount=0)") {
		t.Fatalf("review does not show the delegatecall:\n%s", text)
	}
	if _, err := (Adapter{}).Sign(f.vault, txJSON("0x96221423681A6d52E184D440a8eFCEbB105C7242", 1, data, ""), f.vault.Keys[0], f.signers[0]); err == nil || !strings.Contains(err.Error(), FlagDelegatecallUntrusted) {
		t.Fatalf("signed the Bybit transaction: %v", err)
	}
}

// WazirX, July 2024: the signed transaction upgraded the Safe to the
// attacker's implementation. As a self-call or a delegatecall, blocked.
func TestWazirXUpgradeBlocked(t *testing.T) {
	f := newFixture(t, "1.1.1")
	evil := common.HexToAddress("0xEF279c2ab14960Aa319008Cbea384B9F8ac35fc6")
	r := review(t, f, txJSON(testSafe, 0, call("changeMasterCopy(address)", evil), ""))
	if !hasFlag(r, FlagImplementationChange, chain.Block) {
		t.Fatalf("flags %v", r.Flags)
	}
	r = review(t, f, txJSON(evil.Hex(), 1, []byte{0xde, 0xad, 0xbe, 0xef, 1, 2}, ""))
	if !hasFlag(r, FlagDelegatecallUntrusted, chain.Block) || !hasFlag(r, FlagUnknownSelector, chain.Warn) {
		t.Fatalf("flags %v", r.Flags)
	}
}

// Radiant, October 2024: devices showed a routine transaction while the
// owners signed transferOwnership of the lending pool provider. The station
// shows the call and blocks it; a claimed hash that differs blocks too.
func TestRadiantOwnershipTransferBlocked(t *testing.T) {
	f := newFixture(t, "1.3.0")
	provider := "0x091d52CacE1edc5527C99cDCFA6937C1635330E4"
	data := call("transferOwnership(address)", common.HexToAddress("0x0629b1048298AE9deff0F4100A31967Fb3f98962"))
	r := review(t, f, txJSON(provider, 0, data, ""))
	if !hasFlag(r, FlagOwnershipTransfer, chain.Block) {
		t.Fatalf("flags %v", r.Flags)
	}
	claimed := `,"safeTxHash":"0x` + strings.Repeat("ab", 32) + `"`
	r = review(t, f, txJSON(provider, 0, data, claimed))
	if !hasFlag(r, FlagHashMismatch, chain.Block) {
		t.Fatalf("flags %v", r.Flags)
	}
}

func TestBatchUnpackedEntryByEntry(t *testing.T) {
	f := newFixture(t, "1.3.0")
	token := common.HexToAddress("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
	batch := PackMultiSend([]BatchCall{
		{To: token, Value: new(big.Int), Data: call("transfer(address,uint256)", common.HexToAddress("0x000000000000000000000000000000000000dEaD"), big.NewInt(5))},
		{To: common.HexToAddress(testSafe), Value: new(big.Int), Data: call("addOwnerWithThreshold(address,uint256)", common.HexToAddress("0x0000000000000000000000000000000000000bAd"), big.NewInt(1))},
		{Operation: 1, To: common.HexToAddress("0x0000000000000000000000000000000000000Bad"), Value: new(big.Int)},
		{To: token, Value: new(big.Int), Data: call("approve(address,uint256)", common.HexToAddress("0x000000000000000000000000000000000000dEaD"), new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)))},
	})
	r := review(t, f, txJSON(multiSendCO, 1, batch, ""))
	for _, want := range []string{FlagOwnerChange, FlagThresholdChange, FlagDelegatecallUntrusted} {
		if !hasFlag(r, want, chain.Block) {
			t.Errorf("missing %s in %v", want, r.Flags)
		}
	}
	if !hasFlag(r, FlagTokenApproval, chain.Warn) {
		t.Errorf("missing token-approval in %v", r.Flags)
	}
	d := r.Details.(Details)
	if len(d.Calls[0].Calls) != 4 || d.Calls[0].Calls[1].Target != "this Safe" || d.Calls[0].Target != "MultiSendCallOnly (pinned in the policy)" {
		t.Fatalf("batch not unpacked: %+v", d.Calls[0])
	}
	// The batch alone, transfers only: nothing blocks.
	clean := PackMultiSend([]BatchCall{{To: token, Value: new(big.Int), Data: call("transfer(address,uint256)", common.HexToAddress("0x000000000000000000000000000000000000dEaD"), big.NewInt(5))}})
	if r := review(t, f, txJSON(multiSendCO, 1, clean, "")); len(r.Blocking()) != 0 {
		t.Fatalf("clean batch blocked: %v", r.Flags)
	}
}

func TestTruncatedBatchAndHiddenBytes(t *testing.T) {
	f := newFixture(t, "1.3.0")
	batch := PackMultiSend([]BatchCall{{To: common.HexToAddress(testSafe), Value: new(big.Int), Data: []byte{1, 2, 3, 4}}})
	// Claim more data than there is in the entry: the packed bytes lie.
	inner := batch[4+64:]
	inner[85-1] = 0xff
	r := review(t, f, txJSON(multiSendCO, 1, batch, ""))
	if !hasFlag(r, FlagUnknownSelector, chain.Warn) && len(r.Blocking()) == 0 {
		t.Fatalf("lying batch passed: %v", r.Flags)
	}
	// A transfer with bytes appended after its arguments is not decoded as one.
	data := append(call("transfer(address,uint256)", common.HexToAddress("0x000000000000000000000000000000000000dEaD"), big.NewInt(1)), 0xee)
	r = review(t, f, txJSON("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 0, data, ""))
	if !hasFlag(r, FlagUnknownSelector, chain.Warn) {
		t.Fatalf("non-canonical transfer passed: %v", r.Flags)
	}
}

func TestSelfCallsFlagged(t *testing.T) {
	f := newFixture(t, "1.4.1")
	a := common.HexToAddress("0x0000000000000000000000000000000000001234")
	cases := map[string][]byte{
		FlagThresholdChange:       call("changeThreshold(uint256)", big.NewInt(1)),
		FlagModuleChange:          call("enableModule(address)", a),
		FlagGuardChange:           call("setGuard(address)", a),
		FlagFallbackHandlerChange: call("setFallbackHandler(address)", a),
		FlagOwnerChange:           call("swapOwner(address,address,address)", a, a, a),
	}
	for code, data := range cases {
		if r := review(t, f, txJSON(testSafe, 0, data, "")); !hasFlag(r, code, chain.Block) {
			t.Errorf("%s: flags %v", code, r.Flags)
		}
	}
	// An undecodable self-call blocks too.
	if r := review(t, f, txJSON(testSafe, 0, []byte{9, 9, 9, 9}, "")); len(r.Blocking()) == 0 {
		t.Errorf("unknown self-call: %v", r.Flags)
	}
}

func TestGasRefundShowsWorstCase(t *testing.T) {
	f := newFixture(t, "1.3.0")
	pl := strings.Replace(string(transferPayload("2")), `"gasPrice":"0"`, `"gasPrice":"100"`, 1)
	pl = strings.Replace(pl, `"baseGas":"0"`, `"baseGas":"50000"`, 1)
	r := review(t, f, []byte(pl))
	// (safeTxGas 0 + baseGas 50,000 + 50,000 for the call itself) × 100:
	// with safeTxGas 0 the Safe still refunds the gas of the call.
	if !hasFlag(r, FlagGasRefund, chain.Warn) || r.Details.(Details).Refund.WorstCase != "10000000" {
		t.Fatalf("flags %v refund %+v", r.Flags, r.Details.(Details).Refund)
	}
}

func TestMessages(t *testing.T) {
	f := newFixture(t, "1.3.0")
	r := review(t, f, []byte(`{"hash":"0x`+strings.Repeat("12", 32)+`"}`))
	if !hasFlag(r, FlagEthSignRequested, chain.Block) {
		t.Fatalf("flags %v", r.Flags)
	}
	r = review(t, f, []byte(`{"message":"I approve the audit report"}`))
	if len(r.Blocking()) != 0 || !hasFlag(r, FlagMessageSignature, chain.Info) {
		t.Fatalf("flags %v", r.Flags)
	}
	d, _ := Domain{Version: "1.3.0", ChainID: big.NewInt(1), Safe: common.HexToAddress(testSafe)}.Separator()
	inner := crypto.Keccak256Hash(safeMsgTypeHash[:], crypto.Keccak256(TextMessage("I approve the audit report")))
	if want := crypto.Keccak256Hash([]byte{0x19, 0x01}, d[:], inner[:]); r.TxID != want.Hex() {
		t.Fatalf("message hash %s, want %s", r.TxID, want.Hex())
	}
}

func TestPolicySeverities(t *testing.T) {
	f := newFixture(t, "1.3.0")
	f.vault.Account.Severities = map[string]chain.Severity{FlagThresholdChange: chain.Warn, FlagGasRefund: chain.Block}
	if r := review(t, f, txJSON(testSafe, 0, call("changeThreshold(uint256)", big.NewInt(3)), "")); !hasFlag(r, FlagThresholdChange, chain.Warn) {
		t.Fatalf("override not applied: %v", r.Flags)
	}
	f.vault.Account.Severities = map[string]chain.Severity{FlagHashMismatch: chain.Warn}
	if _, err := (Adapter{}).PrepareVault(f.vault); err == nil {
		t.Fatal("a policy lowered hash-mismatch")
	}
}
