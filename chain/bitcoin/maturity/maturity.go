// Package maturity proves to an offline station how deep in the chain the
// transactions a PSBT spends are, so that it can refuse a time-locked
// recovery spend before the lock matures without trusting the online
// coordinator.
//
// A Proof is a run of consecutive block headers, oldest first, ending at
// the tip the coordinator's node saw, and for each spent transaction a
// merkle branch into one of those headers. Verify checks that every header
// links to the one before it, that every header's hash meets the target
// its bits give, that no target is easier than the network allows (on
// mainnet, a floor far above the minimum difficulty, so that forging the
// run costs real mining work), and that every branch leads from the txid
// to its header's merkle root. A transaction in header i is then
// len(Headers)-i blocks deep: a spend with a relative lock of N blocks
// (BIP-68) can be mined in the next block when that depth is at least N.
//
// On test networks the target limit is trivial and a proof shows what the
// node saw, no more: the relative lock itself is still enforced by
// consensus, and a station refuses nothing that would be valid.
//
// The proof travels in the PSBT as proprietary global records (BIP-174
// 0xfc, identifier "airlock", subtype 1, key data the chunk number), so
// it is part of what the proposal hash covers and external devices ignore
// it.
package maturity

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Limits against hostile input.
const (
	// MaxHeaders bounds the headers of a proof: a 16-bit BIP-68 lock
	// needs at most 65,535, plus the blocks the spent transactions are
	// spread over.
	MaxHeaders = 70_000
	// MaxInclusions bounds the transactions a proof covers.
	MaxInclusions = 1 << 14
	// MaxBlockTxs bounds a block's transaction count: a 4,000,000-weight
	// block holds fewer than 2^16 transactions of the smallest size.
	MaxBlockTxs = 1 << 16
	// maxBranch is the merkle branch length of a MaxBlockTxs block.
	maxBranch = 16
	// MaxSize bounds an encoded proof.
	MaxSize = 1 + 9 + MaxHeaders*80 + 9 + MaxInclusions*(32+4*9+maxBranch*32)
)

// version is the encoding's first byte.
const version = 1

// ErrMalformed marks bytes that are not a proof.
var ErrMalformed = errors.New("maturity: malformed proof")

// Proof is a header run and the inclusion of each spent transaction.
type Proof struct {
	Headers    []wire.BlockHeader // consecutive, oldest first; the last is the tip
	Inclusions []Inclusion
}

// Inclusion places one transaction in one of the proof's headers.
type Inclusion struct {
	TxID     chainhash.Hash
	Block    int    // index into Headers
	Position uint32 // the transaction's index in its block
	Count    uint32 // the block's number of transactions
	Branch   []chainhash.Hash
}

// Encode writes the proof: a version byte, the headers, the inclusions.
func (p *Proof) Encode() ([]byte, error) {
	if len(p.Headers) == 0 || len(p.Headers) > MaxHeaders || len(p.Inclusions) > MaxInclusions {
		return nil, fmt.Errorf("maturity: %d headers and %d inclusions, want 1..%d and at most %d", len(p.Headers), len(p.Inclusions), MaxHeaders, MaxInclusions)
	}
	var b bytes.Buffer
	b.WriteByte(version)
	_ = wire.WriteVarInt(&b, 0, uint64(len(p.Headers)))
	for i := range p.Headers {
		if err := p.Headers[i].Serialize(&b); err != nil {
			return nil, err
		}
	}
	_ = wire.WriteVarInt(&b, 0, uint64(len(p.Inclusions)))
	for _, in := range p.Inclusions {
		b.Write(in.TxID[:])
		for _, v := range []uint64{uint64(in.Block), uint64(in.Position), uint64(in.Count), uint64(len(in.Branch))} {
			_ = wire.WriteVarInt(&b, 0, v)
		}
		for _, h := range in.Branch {
			b.Write(h[:])
		}
	}
	return b.Bytes(), nil
}

// Decode parses an encoded proof strictly: canonical numbers, every
// bound, the branch length the block's transaction count gives, and no
// trailing bytes. It does not verify the proof.
func Decode(data []byte) (*Proof, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrMalformed, len(data), MaxSize)
	}
	r := bytes.NewReader(data)
	fail := func(format string, args ...any) (*Proof, error) {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	v, err := r.ReadByte()
	if err != nil || v != version {
		return fail("want version %d", version)
	}
	n, err := wire.ReadVarInt(r, 0)
	if err != nil || n == 0 || n > MaxHeaders {
		return fail("header count: want 1..%d", MaxHeaders)
	}
	if uint64(r.Len()) < n*80 {
		return fail("%d headers announced, %d bytes left", n, r.Len())
	}
	p := &Proof{Headers: make([]wire.BlockHeader, n)}
	for i := range p.Headers {
		if err := p.Headers[i].Deserialize(r); err != nil {
			return fail("header %d: %v", i, err)
		}
	}
	m, err := wire.ReadVarInt(r, 0)
	if err != nil || m > MaxInclusions {
		return fail("inclusion count: want at most %d", MaxInclusions)
	}
	for i := range int(m) {
		var in Inclusion
		if _, err := io.ReadFull(r, in.TxID[:]); err != nil {
			return fail("inclusion %d: txid: %v", i, err)
		}
		var f [4]uint64
		for j := range f {
			if f[j], err = wire.ReadVarInt(r, 0); err != nil {
				return fail("inclusion %d: %v", i, err)
			}
		}
		block, pos, count, nb := f[0], f[1], f[2], f[3]
		switch {
		case block >= n:
			return fail("inclusion %d: block %d of %d headers", i, block, n)
		case count == 0 || count > MaxBlockTxs:
			return fail("inclusion %d: %d transactions in a block, want 1..%d", i, count, MaxBlockTxs)
		case pos >= count:
			return fail("inclusion %d: position %d in a block of %d transactions", i, pos, count)
		case nb != uint64(branchLen(uint32(count))):
			return fail("inclusion %d: a branch of %d hashes for a block of %d transactions, want %d", i, nb, count, branchLen(uint32(count)))
		}
		in.Block, in.Position, in.Count = int(block), uint32(pos), uint32(count)
		in.Branch = make([]chainhash.Hash, nb)
		for j := range in.Branch {
			if _, err := io.ReadFull(r, in.Branch[j][:]); err != nil {
				return fail("inclusion %d: branch: %v", i, err)
			}
		}
		p.Inclusions = append(p.Inclusions, in)
	}
	if r.Len() != 0 {
		return fail("%d bytes after the proof", r.Len())
	}
	return p, nil
}

// branchLen is the merkle branch length in a block of count
// transactions: the height of its merkle tree.
func branchLen(count uint32) int {
	n := 0
	for w := count; w > 1; w = (w + 1) / 2 {
		n++
	}
	return n
}

// Verified is what a verified proof establishes.
type Verified struct {
	Tip chainhash.Hash
	// Depth maps each proven txid to its depth: 1 in the tip block.
	Depth map[chainhash.Hash]int
}

// MainnetMinDifficulty is the floor a mainnet proof's every header must
// meet: difficulty 2^40 (about 1.1e12, roughly a hundredth of the
// difficulty in 2025). Forging 144 such headers takes about 2^72 * 144
// hashes, weeks of an exahash of mining.
const MainnetMinDifficulty = 1 << 40

// maxTarget is the easiest target a proof's headers may have on net.
func maxTarget(net *chaincfg.Params) *big.Int {
	if net.Net == chaincfg.MainNetParams.Net {
		return new(big.Int).Div(net.PowLimit, big.NewInt(MainnetMinDifficulty))
	}
	return net.PowLimit
}

// Verify checks the proof on net and returns the depth of each
// transaction it covers.
func (p *Proof) Verify(net *chaincfg.Params) (*Verified, error) {
	if len(p.Headers) == 0 {
		return nil, errors.New("maturity: a proof without headers")
	}
	limit := maxTarget(net)
	var prev chainhash.Hash
	for i := range p.Headers {
		h := &p.Headers[i]
		hash := h.BlockHash()
		if i > 0 && h.PrevBlock != prev {
			return nil, fmt.Errorf("maturity: header %d (%s) does not follow header %d", i, hash, i-1)
		}
		target := compactToBig(h.Bits)
		if target.Sign() <= 0 || target.Cmp(limit) > 0 {
			return nil, fmt.Errorf("maturity: header %d (%s) has target bits %#08x, easier than %s allows", i, hash, h.Bits, net.Name)
		}
		if hashToBig(&hash).Cmp(target) > 0 {
			return nil, fmt.Errorf("maturity: header %d (%s) does not meet its own proof-of-work target", i, hash)
		}
		prev = hash
	}
	v := &Verified{Tip: prev, Depth: map[chainhash.Hash]int{}}
	for i, in := range p.Inclusions {
		if in.Block < 0 || in.Block >= len(p.Headers) || len(in.Branch) != branchLen(in.Count) || in.Position >= in.Count {
			return nil, fmt.Errorf("maturity: inclusion %d is malformed", i)
		}
		root := MerkleRoot(in.TxID, in.Position, in.Branch)
		if root != p.Headers[in.Block].MerkleRoot {
			return nil, fmt.Errorf("maturity: transaction %s is not in block %s: its branch gives another merkle root", in.TxID, p.Headers[in.Block].BlockHash())
		}
		if _, dup := v.Depth[in.TxID]; dup {
			return nil, fmt.Errorf("maturity: transaction %s is proven twice", in.TxID)
		}
		v.Depth[in.TxID] = len(p.Headers) - in.Block
	}
	return v, nil
}

// MerkleRoot folds a branch into the root, from the leaf txid at position.
func MerkleRoot(txid chainhash.Hash, position uint32, branch []chainhash.Hash) chainhash.Hash {
	h := txid
	var buf [64]byte
	for _, s := range branch {
		if position&1 == 1 {
			copy(buf[:32], s[:])
			copy(buf[32:], h[:])
		} else {
			copy(buf[:32], h[:])
			copy(buf[32:], s[:])
		}
		h = chainhash.DoubleHashH(buf[:])
		position >>= 1
	}
	return h
}

// Branch computes the merkle branch of the transaction at position among
// txids (a block's transactions in order).
func Branch(txids []chainhash.Hash, position int) []chainhash.Hash {
	var branch []chainhash.Hash
	level := append([]chainhash.Hash(nil), txids...)
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		branch = append(branch, level[position^1])
		next := make([]chainhash.Hash, len(level)/2)
		var buf [64]byte
		for i := range next {
			copy(buf[:32], level[2*i][:])
			copy(buf[32:], level[2*i+1][:])
			next[i] = chainhash.DoubleHashH(buf[:])
		}
		level, position = next, position/2
	}
	return branch
}

// compactToBig expands a header's bits into its target; a negative or
// overflowing encoding gives 0 or less, which Verify refuses.
func compactToBig(compact uint32) *big.Int {
	mantissa := compact & 0x007fffff
	negative := compact&0x00800000 != 0
	exponent := uint(compact >> 24)
	var bn *big.Int
	if exponent <= 3 {
		bn = big.NewInt(int64(mantissa >> (8 * (3 - exponent))))
	} else {
		if exponent > 34 {
			return big.NewInt(0)
		}
		bn = new(big.Int).Lsh(big.NewInt(int64(mantissa)), 8*(exponent-3))
	}
	if negative {
		bn.Neg(bn)
	}
	return bn
}

// hashToBig reads a block hash as the little-endian number PoW compares.
func hashToBig(h *chainhash.Hash) *big.Int {
	var be [32]byte
	for i := range h {
		be[31-i] = h[i]
	}
	return new(big.Int).SetBytes(be[:])
}
