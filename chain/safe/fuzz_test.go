package safe

import (
	"context"
	"math/big"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain"
	"github.com/ethereum/go-ethereum/common"
)

// FuzzReview feeds arbitrary payloads to a station's review: it must
// never panic, and whatever parses must re-encode to a payload with the
// same hash.
func FuzzReview(f *testing.F) {
	f.Add(transferPayload("1"))
	f.Add(benchBatch(3))
	f.Add([]byte(`{"message":"hi"}`))
	f.Add([]byte(`{"hash":"0x` + "1111111111111111111111111111111111111111111111111111111111111111" + `"}`))
	f.Add(txJSON(testSafe, 0, call("addOwnerWithThreshold(address,uint256)", common.HexToAddress(testSafe), big.NewInt(2)), ""))
	fx := newFixture(f, "1.3.0")
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Adapter{}.Review(context.Background(), fx.vault, b)
		if err != nil {
			return
		}
		p, err := Parse(b)
		if err != nil {
			t.Fatalf("reviewed but does not parse: %v", err)
		}
		enc, err := p.Encode()
		if err != nil {
			t.Fatal(err)
		}
		r2, err := Adapter{}.Review(context.Background(), fx.vault, enc)
		if err != nil || r2.TxID != r.TxID {
			t.Fatalf("re-encoded payload reviews differently: %v", err)
		}
	})
}

// FuzzMultiSend unpacks arbitrary batch bytes without panicking.
func FuzzMultiSend(f *testing.F) {
	f.Add(PackMultiSend([]BatchCall{{To: common.HexToAddress(testSafe), Value: big.NewInt(1), Data: []byte{1, 2, 3, 4}}})[4+64:])
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := unpackMultiSend(b)
		if err != nil {
			return
		}
		for _, e := range entries {
			decodeCall("0", e.op, e.to, e.value, e.data, 0)
		}
	})
}

// FuzzDelayReview: an emergency Safe's review of arbitrary payloads,
// queued calls included, never panics and always reports effects.
func FuzzDelayReview(f *testing.F) {
	delay, avatar := common.HexToAddress("0x00000000000000000000000000000000000De1a7"), common.HexToAddress("0x00000000000000000000000000000000000A7A7A")
	mod := func(to common.Address, op uint8, data []byte) []byte {
		return call("execTransactionFromModule(address,uint256,bytes,uint8)", to, big.NewInt(5), data, op)
	}
	f.Add(txJSON(delay.Hex(), 0, mod(avatar, 0, call("changeThreshold(uint256)", big.NewInt(3))), ""))
	f.Add(txJSON(delay.Hex(), 0, mod(common.HexToAddress(multiSendCO), 1, PackMultiSend([]BatchCall{{To: avatar, Value: big.NewInt(1)}, {To: avatar, Value: new(big.Int), Data: call("swapOwner(address,address,address)", avatar, avatar, avatar)}})), ""))
	f.Add(txJSON(delay.Hex(), 0, mod(avatar, 0, []byte{1, 2}), ""))
	fx := newFixture(f, "1.4.1")
	fx.vault.Account.Delay = &chain.Delay{Address: delay.Hex(), Avatar: avatar.Hex()}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Adapter{}.Review(context.Background(), fx.vault, b)
		if err == nil && r.Effects == nil {
			t.Fatal("a review without effects")
		}
	})
}

// FuzzExternalSignature feeds arbitrary bytes to the readers of what an
// external owner's wallet or the Transaction Service returns: never a
// panic, and nothing but a real signature by the owner over the
// payload's safeTxHash is taken.
func FuzzExternalSignature(f *testing.F) {
	fx := newFixture(f, "1.4.1")
	payload := transferPayload("1")
	f.Add([]byte("0x" + strings.Repeat("ab", 65)))
	f.Add([]byte(`{"owner":"0x000000000000000000000000000000000000dEaD","signature":"0x` + strings.Repeat("11", 65) + `","signatureType":"EOA"}`))
	f.Add([]byte(`{"safe":"` + testSafe + `","to":"0x000000000000000000000000000000000000dEaD","value":"1","data":null,"operation":0,"safeTxGas":0,"baseGas":0,"gasPrice":"0","gasToken":"0x0000000000000000000000000000000000000000","refundReceiver":"0x0000000000000000000000000000000000000000","nonce":1,"safeTxHash":"0x` + strings.Repeat("22", 32) + `","confirmations":[],"proposer":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseService(b)
		for _, k := range fx.vault.Keys {
			sigs, err := Adapter{}.ExternalSignatures(fx.vault, payload, b, k)
			if err != nil {
				continue
			}
			if _, err := (Adapter{}).Verify(fx.vault, payload, k, sigs); err != nil {
				t.Fatalf("an external signature was taken that does not verify: %v", err)
			}
		}
	})
}
