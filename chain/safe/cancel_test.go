package safe

import (
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain"
)

// TestFakeRejectionIsNotACancel: only exactly Safe{Wallet}'s "reject
// transaction" (a call to this Safe, value 0, no data, no refund) is
// shown as the rejection of its nonce; a "cancel" that carries value or
// data, delegatecalls, targets another address or sets a refund field
// is reviewed as what it is, with no cancel action for a policy to wave
// through.
func TestFakeRejectionIsNotACancel(t *testing.T) {
	f := newFixture(t, "1.4.1")
	r := review(t, f, RejectionJSON(common.HexToAddress(testSafe), 71))
	if r.Details.(Details).Cancels != "71" || !hasFlag(r, FlagOnChainRejection, chain.Info) || len(r.Blocking()) > 0 {
		t.Fatalf("the rejection of nonce 71 is not shown as one: %+v %v", r.Details, r.Flags)
	}
	if !slices.Equal(r.Effects.Actions, []chain.Action{chain.ActionCancel}) || len(r.Effects.Transfers) != 0 || r.Effects.Fee != nil {
		t.Fatalf("effects %+v, want cancel and nothing else", r.Effects)
	}
	if !slices.ContainsFunc(r.Lines, func(l string) bool { return strings.Contains(l, "cancels nonce 71: moves nothing") }) {
		t.Fatalf("the review does not say it cancels nonce 71:\n%s", strings.Join(r.Lines, "\n"))
	}
	fakes := map[string][]byte{
		"carrying value":       withValue(txJSON(testSafe, 0, nil, ""), "5"),
		"carrying data":        txJSON(testSafe, 0, call("changeThreshold(uint256)", big.NewInt(2)), ""),
		"carrying bare bytes":  txJSON(testSafe, 0, []byte{0}, ""),
		"a delegatecall":       txJSON(testSafe, 1, nil, ""),
		"to another address":   txJSON(stranger.Hex(), 0, nil, ""),
		"paying a gas refund":  []byte(strings.Replace(string(txJSON(testSafe, 0, nil, "")), `"gasPrice":"0"`, `"gasPrice":"1"`, 1)),
		"with a safeTxGas set": []byte(strings.Replace(string(txJSON(testSafe, 0, nil, "")), `"safeTxGas":"0"`, `"safeTxGas":"1"`, 1)),
		"with a refund receiver": []byte(strings.Replace(string(txJSON(testSafe, 0, nil, "")),
			`"refundReceiver":"0x0000000000000000000000000000000000000000"`, `"refundReceiver":"`+stranger.Hex()+`"`, 1)),
	}
	for name, pl := range fakes {
		t.Run(name, func(t *testing.T) {
			r := review(t, f, pl)
			if r.Details.(Details).Cancels != "" || hasFlag(r, FlagOnChainRejection, chain.Info) || r.Effects.Has(chain.ActionCancel) {
				t.Fatalf("a fake rejection %s is shown as one: %+v", name, r.Flags)
			}
			if slices.ContainsFunc(r.Lines, func(l string) bool { return strings.Contains(l, "REJECTION") }) {
				t.Fatalf("a fake rejection %s says it is one:\n%s", name, strings.Join(r.Lines, "\n"))
			}
		})
	}
}
