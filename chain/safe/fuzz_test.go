package safe

import (
	"context"
	"math/big"
	"testing"

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
