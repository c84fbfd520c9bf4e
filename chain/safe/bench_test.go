package safe

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/airlock-vault/airlock/chain"
)

// Run with: go test -run '^$' -bench . -benchmem ./chain/safe/
// The Raw* benchmarks are go-ethereum's own keccak and ECDSA, measured in
// the same run as references for ours.

func BenchmarkRawKeccak(b *testing.B) {
	data := make([]byte, 352) // one SafeTx struct encoding
	for b.Loop() {
		crypto.Keccak256(data)
	}
}

func BenchmarkRawECDSASign(b *testing.B) {
	k := testKey(b, "alice")
	h := crypto.Keccak256([]byte("x"))
	for b.Loop() {
		if _, err := crypto.Sign(h, k); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSafeTxHash(b *testing.B) {
	p, err := Parse(transferPayload("1"))
	if err != nil {
		b.Fatal(err)
	}
	d := Domain{Version: "1.4.1", ChainID: big.NewInt(1), Safe: common.HexToAddress(testSafe)}
	for b.Loop() {
		if _, err := TxHashes(d, p.Tx); err != nil {
			b.Fatal(err)
		}
	}
}

func benchBatch(n int) []byte {
	token := common.HexToAddress("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
	calls := make([]BatchCall, n)
	for i := range calls {
		calls[i] = BatchCall{To: token, Value: new(big.Int), Data: call("transfer(address,uint256)", common.BigToAddress(big.NewInt(int64(i+1))), big.NewInt(int64(i)))}
	}
	return txJSON(multiSendCO, 1, PackMultiSend(calls), "")
}

// BenchmarkReview is a station's full review (parse, hashes, decoding,
// flags, rendering) of a plain transfer.
func BenchmarkReview(b *testing.B) {
	f := newFixture(b, "1.4.1")
	pl := transferPayload("1")
	for b.Loop() {
		if _, err := (Adapter{}).Review(context.Background(), f.vault, pl); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReviewBatch500 reviews a MultiSendCallOnly batch of 500 ERC-20
// transfers, entry by entry (see -benchmem for memory).
func BenchmarkReviewBatch500(b *testing.B) {
	f := newFixture(b, "1.4.1")
	pl := benchBatch(500)
	b.SetBytes(int64(len(pl)))
	for b.Loop() {
		r, err := Adapter{}.Review(context.Background(), f.vault, pl)
		if err != nil || len(r.Details.(Details).Calls[0].Calls) != 500 {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign is a station's signature: review, the device's ECDSA, and
// the recovery id search.
func BenchmarkSign(b *testing.B) {
	f := newFixture(b, "1.4.1")
	pl := transferPayload("1")
	for b.Loop() {
		if _, err := (Adapter{}).Sign(f.vault, pl, f.vault.Keys[0], f.signers[0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssemble verifies two approvals and writes execTransaction.
func BenchmarkAssemble(b *testing.B) {
	f := newFixture(b, "1.4.1")
	pl := transferPayload("1")
	sets := map[string][]chain.Signature{}
	for _, i := range []int{0, 1} {
		s, err := Adapter{}.Sign(f.vault, pl, f.vault.Keys[i], f.signers[i])
		if err != nil {
			b.Fatal(err)
		}
		sets[f.vault.Keys[i]] = s
	}
	for b.Loop() {
		if _, err := (Adapter{}).Assemble(f.vault, pl, sets); err != nil {
			b.Fatal(err)
		}
	}
}
