package maturity

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
)

// naiveRoot is the merkle root computed level by level, the way a block
// header commits to it, for checking Branch and MerkleRoot.
func naiveRoot(ids []chainhash.Hash) chainhash.Hash {
	level := append([]chainhash.Hash(nil), ids...)
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		var next []chainhash.Hash
		for i := 0; i < len(level); i += 2 {
			next = append(next, chainhash.DoubleHashH(append(level[i][:], level[i+1][:]...)))
		}
		level = next
	}
	return level[0]
}

func txids(n int, tag string) []chainhash.Hash {
	out := make([]chainhash.Hash, n)
	for i := range out {
		out[i] = chainhash.DoubleHashH([]byte(fmt.Sprint(tag, i)))
	}
	return out
}

// chain mines n regtest headers whose block j holds blocks[j] (or one
// made-up coinbase).
func mine(t testing.TB, n int, blocks map[int][]chainhash.Hash) []wire.BlockHeader {
	t.Helper()
	var out []wire.BlockHeader
	prev := chaincfg.RegressionNetParams.GenesisHash
	for j := range n {
		ids := blocks[j]
		if ids == nil {
			ids = txids(1, fmt.Sprint("coinbase", j))
		}
		h := wire.BlockHeader{Version: 4, PrevBlock: *prev, MerkleRoot: naiveRoot(ids), Timestamp: time.Unix(1_700_000_000+int64(j)*600, 0), Bits: 0x207fffff}
		target := compactToBig(h.Bits)
		for {
			hash := h.BlockHash()
			if hashToBig(&hash).Cmp(target) <= 0 {
				break
			}
			h.Nonce++
		}
		out = append(out, h)
		hash := h.BlockHash()
		prev = &hash
	}
	return out
}

func TestBranchMatchesMerkleRoot(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 8, 13, 100} {
		ids := txids(n, "tx")
		root := naiveRoot(ids)
		for pos := range n {
			b := Branch(ids, pos)
			if len(b) != branchLen(uint32(n)) {
				t.Fatalf("n=%d pos=%d: branch of %d, want %d", n, pos, len(b), branchLen(uint32(n)))
			}
			if got := MerkleRoot(ids[pos], uint32(pos), b); got != root {
				t.Fatalf("n=%d pos=%d: root %s, want %s", n, pos, got, root)
			}
		}
	}
}

// proofFor makes a proof of a 12-header chain with the spent transaction
// at position 2 of 5 in block 3: 9 blocks deep.
func proofFor(t testing.TB) (*Proof, chainhash.Hash) {
	ids := txids(5, "block3")
	hs := mine(t, 12, map[int][]chainhash.Hash{3: ids})
	return &Proof{Headers: hs, Inclusions: []Inclusion{{TxID: ids[2], Block: 3, Position: 2, Count: 5, Branch: Branch(ids, 2)}}}, ids[2]
}

func TestVerifyDepth(t *testing.T) {
	p, id := proofFor(t)
	v, err := p.Verify(&chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if v.Depth[id] != 9 || v.Tip != p.Headers[11].BlockHash() {
		t.Fatalf("depth %d tip %s", v.Depth[id], v.Tip)
	}
	enc, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Encode()
	if !bytes.Equal(enc, again) {
		t.Fatal("encode, decode, encode differs")
	}
}

func TestVerifyRefuses(t *testing.T) {
	regtest := &chaincfg.RegressionNetParams
	for _, tc := range []struct {
		name   string
		mutate func(p *Proof)
		net    *chaincfg.Params
		want   string
	}{
		{"a header out of the chain", func(p *Proof) { p.Headers[5].PrevBlock[0] ^= 1 }, regtest, "does not follow"},
		{"a header that misses its target", func(p *Proof) {
			h := &p.Headers[11]
			for {
				hash := h.BlockHash()
				if hashToBig(&hash).Cmp(compactToBig(h.Bits)) > 0 {
					return
				}
				h.Nonce++
			}
		}, regtest, "proof-of-work"},
		{"regtest difficulty on mainnet", func(*Proof) {}, &chaincfg.MainNetParams, "easier than mainnet allows"},
		{"a branch into another block", func(p *Proof) { p.Inclusions[0].Block = 4 }, regtest, "is not in block"},
		{"another transaction", func(p *Proof) { p.Inclusions[0].TxID[0] ^= 1 }, regtest, "another merkle root"},
		{"the wrong position", func(p *Proof) { p.Inclusions[0].Position = 3 }, regtest, "another merkle root"},
		{"a proven-twice transaction", func(p *Proof) { p.Inclusions = append(p.Inclusions, p.Inclusions[0]) }, regtest, "proven twice"},
		{"zero target bits", func(p *Proof) { p.Headers[0].Bits = 0x01000000 }, regtest, "target bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := proofFor(t)
			tc.mutate(p)
			_, err := p.Verify(tc.net)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want %q", err, tc.want)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	p, _ := proofFor(t)
	enc, _ := p.Encode()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"version 2", append([]byte{2}, enc[1:]...)},
		{"truncated header", enc[:50]},
		{"truncated branch", enc[:len(enc)-1]},
		{"trailing byte", append(append([]byte(nil), enc...), 0)},
		{"no headers", []byte{1, 0, 0}},
		{"huge header count", []byte{1, 0xfe, 0xff, 0xff, 0xff, 0x00}},
		{"non-canonical count", append([]byte{1, 0xfd, 12, 0}, enc[2:]...)},
	} {
		if _, err := Decode(tc.data); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", tc.name, err)
		}
	}
	// A branch length that does not fit the block's transaction count.
	bad := *p
	bad.Inclusions = []Inclusion{p.Inclusions[0]}
	bad.Inclusions[0].Count = 9
	enc2, _ := bad.Encode()
	if _, err := Decode(enc2); err == nil || !strings.Contains(err.Error(), "want 4") {
		t.Errorf("branch length: %v", err)
	}
}

// TestPSBTRoundTrip: a proof of 45,000 headers (two records) goes into a
// PSBT, through its encoding, and comes back whole; a missing chunk is
// refused.
func TestPSBTRoundTrip(t *testing.T) {
	ids := txids(1, "big")
	hs := make([]wire.BlockHeader, 45_000)
	for i := range hs {
		hs[i] = wire.BlockHeader{Version: int32(i), Bits: 0x207fffff}
	}
	hs[0].MerkleRoot = ids[0]
	p := &Proof{Headers: hs, Inclusions: []Inclusion{{TxID: ids[0], Block: 0, Position: 0, Count: 1}}}
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{})
	tx.AddTxOut(&wire.TxOut{Value: 1, PkScript: []byte{0x51}})
	pkt, err := psbt.New(tx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := FromPSBT(pkt); got != nil || err != nil {
		t.Fatalf("a PSBT without a proof: %v %v", got, err)
	}
	if err := Attach(pkt, p); err != nil {
		t.Fatal(err)
	}
	if len(pkt.Unknowns) != 2 {
		t.Fatalf("%d records, want 2 chunks", len(pkt.Unknowns))
	}
	raw, err := pkt.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := psbt.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	got, err := FromPSBT(back)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Headers) != len(hs) || got.Headers[44_999].Version != 44_999 || got.Inclusions[0].TxID != ids[0] {
		t.Fatal("the proof did not come back whole")
	}
	// Attach replaces; dropping the first chunk is refused.
	if err := Attach(back, &Proof{Headers: hs[:10], Inclusions: p.Inclusions}); err != nil {
		t.Fatal(err)
	}
	if got, err := FromPSBT(back); err != nil || len(got.Headers) != 10 {
		t.Fatalf("replaced proof: %v", err)
	}
	pkt.Unknowns = pkt.Unknowns[1:]
	if _, err := FromPSBT(pkt); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a missing chunk: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	p, _ := proofFor(f)
	enc, _ := p.Encode()
	f.Add(enc)
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Decode(data)
		if err != nil {
			return
		}
		again, err := p.Encode()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted input does not encode back: %v", err)
		}
		_, _ = p.Verify(&chaincfg.RegressionNetParams)
	})
}
