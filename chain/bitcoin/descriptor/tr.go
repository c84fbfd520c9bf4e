package descriptor

import (
	"bytes"
	"encoding/hex"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// MaxTreeDepth bounds the nesting of a tr() script tree: BIP-341 control
// blocks hold at most 128 hashes.
const MaxTreeDepth = 128

// LeafVersion is the BIP-342 tapscript leaf version of every leaf a
// descriptor describes.
const LeafVersion = byte(txscript.BaseLeafVersion)

// NUMS is BIP-341's point H, whose discrete logarithm nobody knows: as an
// internal key it leaves only the script paths.
const NUMS = "50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0"

// TapLeaf is one script of a tr() tree at one branch and child index, with
// what a PSBT (BIP-371) needs to spend through it.
type TapLeaf struct {
	Script       []byte
	LeafVersion  byte   // 0xc0 (BIP-342)
	LeafHash     []byte // BIP-341 tapleaf hash, 32 bytes
	Depth        int    // its depth in the tree, 0 for a lone leaf
	ControlBlock []byte // BIP-341 control block for the script path
}

// tapTree is BIP-386 TREE: a leaf script or {TREE,TREE}.
type tapTree struct {
	leaf        expr
	left, right *tapTree
}

// trExpr is BIP-386 tr(KEY) and tr(KEY,TREE): OP_1 <Q>, Q the internal
// key tweaked by the tree's merkle root (BIP-341).
type trExpr struct {
	internal *Key
	tree     *tapTree // nil: key path only
}

// parseTr parses the arguments of tr(KEY) and tr(KEY,TREE).
func parseTr(p *parser, name string, ctx context) (expr, error) {
	k, err := p.key(name, ctx)
	if err != nil {
		return nil, err
	}
	e := &trExpr{internal: k}
	if p.peek() == ',' {
		p.pos++
		if e.tree, err = p.tapTree(0); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// tapTree parses TREE at depth depth.
func (p *parser) tapTree(depth int) (*tapTree, error) {
	if p.peek() != '{' {
		leaf, err := p.script(ctxTap, "tr")
		if err != nil {
			return nil, err
		}
		return &tapTree{leaf: leaf}, nil
	}
	if depth == MaxTreeDepth {
		return nil, errAt(p.pos, "script tree deeper than %d (BIP-341)", MaxTreeDepth)
	}
	p.pos++
	left, err := p.tapTree(depth + 1)
	if err != nil {
		return nil, err
	}
	if err := p.expect(','); err != nil {
		return nil, err
	}
	right, err := p.tapTree(depth + 1)
	if err != nil {
		return nil, err
	}
	if err := p.expect('}'); err != nil {
		return nil, err
	}
	return &tapTree{left: left, right: right}, nil
}

func (t *tapTree) appendText(b []byte, alt int) []byte {
	if t.leaf != nil {
		return t.leaf.appendText(b, alt)
	}
	b = t.left.appendText(append(b, '{'), alt)
	b = t.right.appendText(append(b, ','), alt)
	return append(b, '}')
}

func (t *tapTree) appendKeys(dst []*Key) []*Key {
	if t.leaf != nil {
		return t.leaf.appendKeys(dst)
	}
	return t.right.appendKeys(t.left.appendKeys(dst))
}

func (t *tapTree) check(paths int) error {
	if t.leaf != nil {
		return t.leaf.check(paths)
	}
	if err := t.left.check(paths); err != nil {
		return err
	}
	return t.right.check(paths)
}

// build derives the leaves below t, appending them to dv.out.Leaves with
// their merkle paths so far, and returns t's BIP-341 hash and the indexes
// of its leaves.
func (t *tapTree) build(dv *derivation, depth int) (chainhash.Hash, []int, [][]byte, error) {
	if t.leaf != nil {
		dv.leaf = len(dv.out.Leaves)
		s, err := t.leaf.script(dv)
		dv.leaf = -1
		if err != nil {
			return chainhash.Hash{}, nil, nil, err
		}
		h := txscript.NewBaseTapLeaf(s).TapHash()
		dv.out.Leaves = append(dv.out.Leaves, TapLeaf{Script: s, LeafVersion: LeafVersion, LeafHash: h[:], Depth: depth})
		return h, []int{len(dv.out.Leaves) - 1}, [][]byte{nil}, nil
	}
	lh, li, lp, err := t.left.build(dv, depth+1)
	if err != nil {
		return chainhash.Hash{}, nil, nil, err
	}
	rh, ri, rp, err := t.right.build(dv, depth+1)
	if err != nil {
		return chainhash.Hash{}, nil, nil, err
	}
	// The inclusion proof of a leaf lists its siblings from the leaf up.
	for i := range lp {
		lp[i] = append(lp[i], rh[:]...)
	}
	for i := range rp {
		rp[i] = append(rp[i], lh[:]...)
	}
	return tapBranch(lh, rh), append(li, ri...), append(lp, rp...), nil
}

// tapBranch is BIP-341's TapBranch hash, children in lexicographic order.
func tapBranch(a, b chainhash.Hash) chainhash.Hash {
	if bytes.Compare(a[:], b[:]) > 0 {
		a, b = b, a
	}
	return *chainhash.TaggedHash(chainhash.TagTapBranch, a[:], b[:])
}

func (e *trExpr) name() string { return "tr" }
func (e *trExpr) size() int    { return 34 }

func (e *trExpr) appendKeys(dst []*Key) []*Key {
	dst = append(dst, e.internal)
	if e.tree != nil {
		dst = e.tree.appendKeys(dst)
	}
	return dst
}

func (e *trExpr) check(paths int) error {
	if e.tree == nil {
		return nil
	}
	return e.tree.check(paths)
}

func (e *trExpr) appendText(b []byte, alt int) []byte {
	b = e.internal.appendText(append(b, "tr("...), alt)
	if e.tree != nil {
		b = e.tree.appendText(append(b, ','), alt)
	}
	return append(b, ')')
}

func (e *trExpr) script(dv *derivation) ([]byte, error) {
	ik, err := dv.key(e.internal)
	if err != nil {
		return nil, err
	}
	internal, err := schnorr.ParsePubKey(ik)
	if err != nil {
		return nil, fmt.Errorf("descriptor: internal key: %v", err)
	}
	dv.out.InternalKey = ik
	if e.tree == nil {
		// BIP-386 "tr(KEY)": BIP-86's tweak with no script path.
		return p2tr(schnorr.SerializePubKey(txscript.ComputeTaprootKeyNoScript(internal))), nil
	}
	root, leaves, proofs, err := e.tree.build(dv, 0)
	if err != nil {
		return nil, err
	}
	out := txscript.ComputeTaprootOutputKey(internal, root[:])
	parity := out.SerializeCompressed()[0] & 1
	dv.out.MerkleRoot = root[:]
	for j, i := range leaves {
		cb := append([]byte{LeafVersion | parity}, ik...)
		dv.out.Leaves[i].ControlBlock = append(cb, proofs[j]...)
	}
	dv.tapLeafHashes()
	return p2tr(schnorr.SerializePubKey(out)), nil
}

// tapLeafHashes gives each x-only key the hashes of the leaves that hold
// it (any key expression deriving the same x-only key), in tree order, as
// PSBT_IN_TAP_BIP32_DERIVATION lists them.
func (dv *derivation) tapLeafHashes() {
	keys := dv.out.Keys
	for i := range keys {
		if keys[i].XOnly == nil {
			continue
		}
		seen := make([]bool, len(dv.out.Leaves))
		for j := range keys {
			if l := dv.leafs[j]; l >= 0 && bytes.Equal(keys[j].XOnly, keys[i].XOnly) {
				seen[l] = true
			}
		}
		for l, ok := range seen {
			if ok {
				keys[i].LeafHashes = append(keys[i].LeafHashes, dv.out.Leaves[l].LeafHash)
			}
		}
	}
}

// rawtrExpr is BIP-386 rawtr(KEY): OP_1 <KEY>, the x-only key untweaked.
type rawtrExpr struct{ key *Key }

func (e *rawtrExpr) name() string                        { return "rawtr" }
func (e *rawtrExpr) appendKeys(dst []*Key) []*Key        { return append(dst, e.key) }
func (e *rawtrExpr) size() int                           { return 34 }
func (e *rawtrExpr) check(int) error                     { return nil }
func (e *rawtrExpr) appendText(b []byte, alt int) []byte { return appendCall(b, e, alt, e.key) }
func (e *rawtrExpr) script(dv *derivation) ([]byte, error) {
	x, err := dv.key(e.key)
	if err != nil {
		return nil, err
	}
	return p2tr(x), nil
}

func p2tr(xonly []byte) []byte { return pushData([]byte{txscript.OP_1}, xonly) }

// isNUMS reports whether k's own key is BIP-341's H (either parity) and k
// holds no private key: every key derived from it is unspendable too, as
// its discrete logarithm stays unknown.
func (k *Key) isNUMS() bool {
	return !k.IsPrivate() && hex.EncodeToString(k.pub[1:]) == NUMS
}
