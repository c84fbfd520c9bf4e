package psbt

import (
	"bytes"

	"github.com/btcsuite/btcd/btcec/v2/schnorr"
)

// This file reads and writes the taproot fields of BIP-371.

// Taproot sizes (BIP-340, BIP-341).
const (
	xOnlyKeySize        = 32
	schnorrSigSize      = 64 // a 65th byte, when present, is the sighash type
	tapHashSize         = 32
	controlBlockBase    = 33
	controlBlockNodeLen = 32
	taprootMaxDepth     = 128
	taprootLeafMask     = 0xfe
)

// validXOnly accepts a BIP-340 x-only public key: 32 bytes, the x
// coordinate of a point on the curve.
func validXOnly(b []byte) bool {
	if len(b) != xOnlyKeySize {
		return false
	}
	_, err := schnorr.ParsePubKey(b)
	return err == nil
}

func checkSchnorrSig(sig []byte, at, name string) error {
	if len(sig) != schnorrSigSize && len(sig) != schnorrSigSize+1 {
		return malformed(at, "%s signature of %d bytes, want 64 or 65", name, len(sig))
	}
	return nil
}

// xOnlyValue checks a bare-key record whose value is an x-only key.
func xOnlyValue(k, v []byte, at, name string) error {
	if err := fixedSize(k, v, xOnlyKeySize, at, name); err != nil {
		return err
	}
	if !validXOnly(v) {
		return malformed(at, "%s %x is not a valid x-only public key", name, v)
	}
	return nil
}

// parseTapInput reads one BIP-371 input record, of a type from
// PSBT_IN_TAP_KEY_SIG to PSBT_IN_TAP_MERKLE_ROOT, into in.
func parseTapInput(in *Input, t uint64, k, v []byte, at string) error {
	switch t {
	case inTapKeySig:
		const name = "PSBT_IN_TAP_KEY_SIG"
		if err := bareKey(k, at, name); err != nil {
			return err
		}
		if err := checkSchnorrSig(v, at, name); err != nil {
			return err
		}
		in.TaprootKeySig = v
	case inTapScriptSig:
		s, err := parseTapScriptSig(k, v, at)
		if err != nil {
			return err
		}
		in.TaprootScriptSigs = append(in.TaprootScriptSigs, s)
	case inTapLeafScript:
		l, err := parseTapLeafScript(k, v, at)
		if err != nil {
			return err
		}
		in.TaprootLeafScripts = append(in.TaprootLeafScripts, l)
	case inTapBip32:
		d, err := parseTapBip32(k, v, at, "PSBT_IN_TAP_BIP32_DERIVATION")
		if err != nil {
			return err
		}
		in.TaprootBip32Derivations = append(in.TaprootBip32Derivations, d)
	case inTapInternalKey:
		if err := xOnlyValue(k, v, at, "PSBT_IN_TAP_INTERNAL_KEY"); err != nil {
			return err
		}
		in.TaprootInternalKey = v
	case inTapMerkleRoot:
		if err := fixedSize(k, v, tapHashSize, at, "PSBT_IN_TAP_MERKLE_ROOT"); err != nil {
			return err
		}
		in.TaprootMerkleRoot = v
	}
	return nil
}

// parseTapScriptSig reads {0x14}|{x-only key}|{leaf hash} =>
// {signature}.
func parseTapScriptSig(k, v []byte, at string) (TaprootScriptSig, error) {
	const name = "PSBT_IN_TAP_SCRIPT_SIG"
	if len(k) != 1+xOnlyKeySize+tapHashSize {
		return TaprootScriptSig{}, malformed(at, "%s key of %d bytes, want 65", name, len(k))
	}
	pub := k[1 : 1+xOnlyKeySize]
	if !validXOnly(pub) {
		return TaprootScriptSig{}, malformed(at, "%s key holds an invalid x-only public key %x", name, pub)
	}
	if err := checkSchnorrSig(v, at, name); err != nil {
		return TaprootScriptSig{}, err
	}
	return TaprootScriptSig{XOnlyPubKey: pub, LeafHash: k[1+xOnlyKeySize:], Signature: v}, nil
}

// parseTapLeafScript reads {0x15}|{control block} => {script}|{leaf
// version}. A BIP-341 control block is 33 + 32m bytes, m at most 128.
func parseTapLeafScript(k, v []byte, at string) (TaprootLeafScript, error) {
	const name = "PSBT_IN_TAP_LEAF_SCRIPT"
	cb := k[1:]
	if len(cb) < controlBlockBase || (len(cb)-controlBlockBase)%controlBlockNodeLen != 0 ||
		(len(cb)-controlBlockBase)/controlBlockNodeLen > taprootMaxDepth {
		return TaprootLeafScript{}, malformed(at, "%s control block of %d bytes, want 33 + 32m with m at most %d", name, len(cb), taprootMaxDepth)
	}
	if len(v) == 0 {
		return TaprootLeafScript{}, malformed(at, "%s has no leaf version", name)
	}
	return TaprootLeafScript{ControlBlock: cb, Script: v[:len(v)-1], LeafVersion: v[len(v)-1]}, nil
}

// parseTapBip32 reads {type}|{x-only key} => {compact size n} {32 byte
// leaf hash}*n {key origin}.
func parseTapBip32(k, v []byte, at, name string) (TaprootBip32Derivation, error) {
	var d TaprootBip32Derivation
	if len(k) != 1+xOnlyKeySize {
		return d, malformed(at, "%s key of %d bytes, want 33", name, len(k))
	}
	if !validXOnly(k[1:]) {
		return d, malformed(at, "%s key holds an invalid x-only public key %x", name, k[1:])
	}
	n, size, ok := readCompact(v)
	if !ok || n > uint64(len(v)-size)/tapHashSize {
		return d, malformed(at, "%s value of %d bytes cannot hold its leaf hashes", name, len(v))
	}
	hashes := v[size : size+tapHashSize*int(n)]
	fp, path, err := parseKeyOrigin(v[size+len(hashes):], at, name)
	if err != nil {
		return d, err
	}
	d = TaprootBip32Derivation{XOnlyPubKey: k[1:], Fingerprint: fp, Path: path}
	if n > 0 {
		d.LeafHashes = make([][]byte, n)
		for i := range d.LeafHashes {
			d.LeafHashes[i] = hashes[i*tapHashSize : (i+1)*tapHashSize]
		}
	}
	return d, nil
}

// parseTapOutput reads one BIP-371 output record into out.
func parseTapOutput(out *Output, t uint64, k, v []byte, at string) error {
	switch t {
	case outTapInternalKey:
		if err := xOnlyValue(k, v, at, "PSBT_OUT_TAP_INTERNAL_KEY"); err != nil {
			return err
		}
		out.TaprootInternalKey = v
	case outTapTree:
		if err := bareKey(k, at, "PSBT_OUT_TAP_TREE"); err != nil {
			return err
		}
		leaves, err := parseTapTree(v, at)
		if err != nil {
			return err
		}
		out.TaprootTree = leaves
	case outTapBip32:
		d, err := parseTapBip32(k, v, at, "PSBT_OUT_TAP_BIP32_DERIVATION")
		if err != nil {
			return err
		}
		out.TaprootBip32Derivations = append(out.TaprootBip32Derivations, d)
	}
	return nil
}

// parseTapTree reads PSBT_OUT_TAP_TREE: one or more {<depth> <leaf
// version> <compact size scriptlen> <script>} in depth-first order, which
// must describe a complete binary tree (BIP-371). The completeness check
// follows Bitcoin Core's TaprootBuilder: open[d] says a node at depth d
// waits for its sibling.
func parseTapTree(v []byte, at string) ([]TaprootTreeLeaf, error) {
	const name = "PSBT_OUT_TAP_TREE"
	if len(v) == 0 {
		return nil, malformed(at, "%s is empty", name)
	}
	c := cursor{b: v}
	var leaves []TaprootTreeLeaf
	var open []bool
	for c.ok() && c.left() > 0 {
		hdr := c.next(2)
		script := c.next(c.compact())
		if !c.ok() {
			break
		}
		depth, leafVersion := int(hdr[0]), hdr[1]
		if depth > taprootMaxDepth {
			return nil, malformed(at, "%s leaf at depth %d, the limit is %d", name, depth, taprootMaxDepth)
		}
		if leafVersion&^taprootLeafMask != 0 {
			return nil, malformed(at, "%s leaf version %#02x is odd", name, leafVersion)
		}
		// A leaf shallower than an unfinished deeper branch is not a
		// depth-first walk.
		if depth+1 < len(open) {
			return nil, malformed(at, "%s leaves are not in depth-first order", name)
		}
		for len(open) > depth && open[depth] {
			open = open[:depth]
			if depth == 0 {
				return nil, malformed(at, "%s has more leaves than its depths allow", name)
			}
			depth--
		}
		for len(open) <= depth {
			open = append(open, false)
		}
		open[depth] = true
		leaves = append(leaves, TaprootTreeLeaf{Depth: hdr[0], LeafVersion: leafVersion, Script: script})
	}
	if !c.ok() {
		return nil, malformed(at, "%s is truncated or has a non-minimal compact size", name)
	}
	if len(open) != 1 || !open[0] {
		return nil, malformed(at, "%s is not a complete tree", name)
	}
	return leaves, nil
}

// tapInputRecords lays out the taproot fields of an input, in key-type
// order.
func tapInputRecords(in *Input) []record {
	var recs []record
	if in.TaprootKeySig != nil {
		recs = append(recs, record{[]byte{inTapKeySig}, in.TaprootKeySig})
	}
	for _, s := range in.TaprootScriptSigs {
		k := append(append([]byte{inTapScriptSig}, s.XOnlyPubKey...), s.LeafHash...)
		recs = append(recs, record{k, s.Signature})
	}
	for _, l := range in.TaprootLeafScripts {
		v := append(bytes.Clone(l.Script), l.LeafVersion)
		recs = append(recs, record{append([]byte{inTapLeafScript}, l.ControlBlock...), v})
	}
	recs = appendTapBip32(recs, inTapBip32, in.TaprootBip32Derivations)
	if in.TaprootInternalKey != nil {
		recs = append(recs, record{[]byte{inTapInternalKey}, in.TaprootInternalKey})
	}
	if in.TaprootMerkleRoot != nil {
		recs = append(recs, record{[]byte{inTapMerkleRoot}, in.TaprootMerkleRoot})
	}
	return recs
}

// tapOutputRecords lays out the taproot fields of an output, in key-type
// order.
func tapOutputRecords(out *Output) []record {
	var recs []record
	if out.TaprootInternalKey != nil {
		recs = append(recs, record{[]byte{outTapInternalKey}, out.TaprootInternalKey})
	}
	if out.TaprootTree != nil {
		var v []byte
		for _, l := range out.TaprootTree {
			v = append(v, l.Depth, l.LeafVersion)
			v = appendCompact(v, uint64(len(l.Script)))
			v = append(v, l.Script...)
		}
		if v == nil {
			v = []byte{} // an empty tree, which Validate refuses
		}
		recs = append(recs, record{[]byte{outTapTree}, v})
	}
	return appendTapBip32(recs, outTapBip32, out.TaprootBip32Derivations)
}

func appendTapBip32(recs []record, t byte, ds []TaprootBip32Derivation) []record {
	for _, d := range ds {
		v := appendCompact(nil, uint64(len(d.LeafHashes)))
		for _, h := range d.LeafHashes {
			v = append(v, h...)
		}
		v = append(v, keyOrigin(d.Fingerprint, d.Path)...)
		recs = append(recs, record{append([]byte{t}, d.XOnlyPubKey...), v})
	}
	return recs
}
