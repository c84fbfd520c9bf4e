package stateproof

import (
	"bytes"
	"encoding/binary"
	"math/big"
	"sort"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/triedb"
	"github.com/holiman/uint256"
)

// synth is a world state built in memory with go-ethereum's own trie: a
// Safe among filler accounts, so proofs have a mainnet-like depth
// without a node. The tests on a geth node are in chain/safe.
type synth struct {
	safe, singleton, handler common.Address
	owners, modules          []common.Address
	targets                  []common.Address
	threshold, nonce         uint64
	version                  string
	filler                   int // other accounts in the state
	fillerSlots              int // other slots in the Safe's storage
}

const synthChain = 1

func addr(s string) common.Address { return common.BytesToAddress(crypto.Keccak256([]byte(s))[:20]) }

func newTrie() *trie.Trie {
	return trie.NewEmpty(triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil))
}

// collector gathers a proof's nodes.
type collector map[string][]byte

func (c collector) Put(k, v []byte) error { c[string(k)] = common.CopyBytes(v); return nil }
func (c collector) Delete(k []byte) error { delete(c, string(k)); return nil }

func proof(tb testing.TB, t *trie.Trie, key []byte) [][]byte {
	c := collector{}
	if err := t.Prove(crypto.Keccak256(key), c); err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, n := range c {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i], out[j]) < 0 })
	return out
}

func (s *synth) build(tb testing.TB) *Attestation {
	tb.Helper()
	lay, err := LayoutOf(s.version)
	if err != nil {
		tb.Fatal(err)
	}
	word := func(a common.Address) common.Hash { return common.BytesToHash(a.Bytes()) }
	storage := map[common.Hash]common.Hash{
		SlotSingleton:       word(s.singleton),
		SlotOwnerCount:      common.BigToHash(new(big.Int).SetUint64(uint64(len(s.owners)))),
		SlotThreshold:       common.BigToHash(new(big.Int).SetUint64(s.threshold)),
		SlotNonce:           common.BigToHash(new(big.Int).SetUint64(s.nonce)),
		SlotFallbackHandler: word(s.handler),
	}
	slots := []common.Hash{SlotSingleton, SlotOwnerCount, SlotThreshold, SlotNonce, SlotFallbackHandler}
	if lay.Guard {
		slots = append(slots, SlotGuard)
	}
	if lay.ModuleGuard {
		slots = append(slots, SlotModuleGuard)
	}
	for _, list := range []struct {
		slot common.Hash
		as   []common.Address
	}{{SlotOwners, s.owners}, {SlotModules, s.modules}} {
		cur := Sentinel
		for _, a := range append(append([]common.Address{}, list.as...), Sentinel) {
			k := MappingSlot(cur, list.slot)
			storage[k] = word(a)
			slots = append(slots, k)
			cur = a
		}
	}
	st := newTrie()
	for k, v := range storage {
		if v == (common.Hash{}) {
			continue
		}
		enc, _ := rlp.EncodeToBytes(bytes.TrimLeft(v[:], "\x00"))
		if err := st.Update(crypto.Keccak256(k[:]), enc); err != nil {
			tb.Fatal(err)
		}
	}
	for i := 0; i < s.fillerSlots; i++ {
		k := crypto.Keccak256(binary.BigEndian.AppendUint64([]byte("slot"), uint64(i)))
		enc, _ := rlp.EncodeToBytes([]byte{1, byte(i)})
		if err := st.Update(crypto.Keccak256(k), enc); err != nil {
			tb.Fatal(err)
		}
	}
	accounts := newTrie()
	put := func(a common.Address, root common.Hash, code []byte) {
		acc := types.StateAccount{Nonce: 1, Balance: uint256.NewInt(1e18), Root: root, CodeHash: crypto.Keccak256(code)}
		enc, err := rlp.EncodeToBytes(&acc)
		if err != nil {
			tb.Fatal(err)
		}
		if err := accounts.Update(crypto.Keccak256(a[:]), enc); err != nil {
			tb.Fatal(err)
		}
	}
	for i := 0; i < s.filler; i++ {
		put(addr("filler"+string(binary.BigEndian.AppendUint64(nil, uint64(i)))), types.EmptyRootHash, nil)
	}
	put(s.safe, st.Hash(), []byte("proxy"))
	put(s.singleton, types.EmptyRootHash, []byte("singleton"))
	if s.handler != (common.Address{}) {
		put(s.handler, types.EmptyRootHash, []byte("handler"))
	}
	for _, t := range s.targets {
		put(t, types.EmptyRootHash, []byte("target "+t.Hex()))
	}
	h := &types.Header{Number: big.NewInt(21_000_000), Root: accounts.Hash(), Difficulty: new(big.Int), GasLimit: 36_000_000, Time: 1_750_000_000, BaseFee: big.NewInt(1e9)}
	hdr, err := rlp.EncodeToBytes(h)
	if err != nil {
		tb.Fatal(err)
	}
	a := &Attestation{Format: Format, ChainID: synthChain, BlockHash: crypto.Keccak256(hdr), Header: hdr,
		Safe: Proof{Address: s.safe.Bytes(), Nodes: proof(tb, accounts, s.safe[:])}}
	for _, k := range slots {
		a.Safe.Slots = append(a.Safe.Slots, SlotProof{Slot: k.Bytes(), Nodes: proof(tb, st, k[:])})
	}
	extra := append([]common.Address{s.singleton}, s.targets...)
	if s.handler != (common.Address{}) {
		extra = append(extra, s.handler)
	}
	for _, t := range extra {
		a.Accounts = append(a.Accounts, Proof{Address: t.Bytes(), Nodes: proof(tb, accounts, t[:])})
	}
	return a
}

// typical is a 2-of-2 Safe 1.1.1 paying through three targets (a batch
// library and two tokens), in a state of filler accounts.
func typical(filler int) *synth {
	return &synth{
		safe: addr("safe"), singleton: addr("singleton"), handler: addr("handler"),
		owners:    []common.Address{addr("alice"), addr("bob")},
		targets:   []common.Address{addr("multisend"), addr("usdc"), addr("weth")},
		threshold: 2, nonce: 7, version: "1.1.1", filler: filler, fillerSlots: 200,
	}
}

func TestSynthVerifies(t *testing.T) {
	s := typical(1000)
	s.modules = []common.Address{addr("module")}
	s.version = "1.5.0"
	a := s.build(t)
	b, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	a, err = Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Verify(a, synthChain, s.safe, s.version, s.targets)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Owners) != 2 || st.Threshold != 2 || st.Nonce.Uint64() != 7 || len(st.Modules) != 1 || st.Modules[0] != addr("module") || st.Singleton != s.singleton || st.FallbackHandler != s.handler {
		t.Fatalf("state %+v", st)
	}
	if !st.Accounts[addr("usdc")].HasCode() {
		t.Fatal("target without code")
	}
}

// TestLinkedListAttacks: a list that loops or breaks, an owner count
// that disagrees with the list, and a slot proven that the state does not
// reach are refused.
func TestLinkedListAttacks(t *testing.T) {
	s := typical(50)
	a := s.build(t)
	// An extra slot proof (a real one, of a slot the Safe does not reach).
	extra := a.Safe.Slots[0]
	extra.Slot = common.BigToHash(big.NewInt(99)).Bytes()
	a.Safe.Slots = append(a.Safe.Slots, extra)
	if _, err := Verify(a, synthChain, s.safe, s.version, s.targets); err == nil {
		t.Fatal("an unreached slot proof accepted")
	}
	// An account proof the transaction does not name.
	a = s.build(t)
	a.Accounts = append(a.Accounts, Proof{Address: addr("filler").Bytes(), Nodes: a.Accounts[0].Nodes})
	if _, err := Verify(a, synthChain, s.safe, s.version, s.targets); err == nil {
		t.Fatal("an unnamed account proof accepted")
	}
}

func FuzzDecodeAttestation(f *testing.F) {
	s := typical(20)
	good, err := s.build(f).Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{0xa0})
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Decode(b)
		if err != nil {
			return
		}
		again, err := a.Encode()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("decoded, but encodes again to other bytes: %v", err)
		}
		st, err := Verify(a, synthChain, s.safe, s.version, s.targets)
		if err == nil && (st.Threshold > 0 && uint64(len(st.Owners)) != st.OwnerCount) {
			t.Fatalf("verified a state whose owner list (%d) is not its owner count (%d)", len(st.Owners), st.OwnerCount)
		}
	})
}

// BenchmarkVerifyStateProof verifies a Safe's attestation as a station
// does (decode, header hash, every proof walked from the state root, the
// lists read, the accounts required): 3 call targets plus the singleton
// and the fallback handler, in a state of 200,000 accounts (proofs of
// mainnet-like depth) and a storage of 200 other slots. "8-slots" is the
// brief's typical Safe: 1.1.1's layout with one owner proves exactly 8
// slots (5 fixed, 2 owner links, 1 module link); "2of3-1.4.1" a 2-of-3
// Safe 1.4.1, which needs 11. Beside each, in the same run, the raw cost
// of the same nodes: keccak256 of every node and splitting it as an RLP
// trie node, nothing else; the station sub-benchmark reports the ratio.
func BenchmarkVerifyStateProof(b *testing.B) {
	eight := typical(200_000)
	eight.owners = eight.owners[:1]
	eight.threshold = 1
	full := typical(200_000)
	full.owners = append(full.owners, addr("carol"))
	full.version = "1.4.1"
	for _, c := range []struct {
		name string
		s    *synth
	}{{"8-slots", eight}, {"2of3-1.4.1", full}} {
		s := c.s
		a := s.build(b)
		enc, err := a.Encode()
		if err != nil {
			b.Fatal(err)
		}
		var nodes [][]byte
		for _, p := range append([]Proof{a.Safe}, a.Accounts...) {
			nodes = append(nodes, p.Nodes...)
			for _, sp := range p.Slots {
				nodes = append(nodes, sp.Nodes...)
			}
		}
		var nodeBytes int
		for _, n := range nodes {
			nodeBytes += len(n)
		}
		var raw float64
		b.Run(c.name+"/raw-keccak-and-decode", func(b *testing.B) {
			for b.Loop() {
				for _, n := range nodes {
					_ = crypto.Keccak256(n)
					content, _, err := rlp.SplitList(n)
					if err != nil {
						b.Fatal(err)
					}
					if k, err := rlp.CountValues(content); err != nil || (k != 2 && k != 17) {
						b.Fatalf("node of %d items: %v", k, err)
					}
				}
			}
			raw = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(len(nodes)), "nodes")
			b.ReportMetric(float64(nodeBytes), "node-bytes")
		})
		b.Run(c.name+"/station", func(b *testing.B) {
			for b.Loop() {
				a, err := Decode(enc)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Verify(a, synthChain, s.safe, s.version, s.targets); err != nil {
					b.Fatal(err)
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(len(a.Safe.Slots)), "slots")
			b.ReportMetric(float64(len(a.Accounts)+1), "accounts")
			b.ReportMetric(float64(len(nodes)), "nodes")
			b.ReportMetric(float64(len(enc)), "attestation-bytes")
			if raw > 0 {
				b.ReportMetric(raw, "raw-ns")
				b.ReportMetric(ns/raw, "station/raw")
			}
		})
	}
}
