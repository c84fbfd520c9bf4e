package psbt

import (
	"bytes"
	"crypto/sha256"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// This file checks the records a version 0 Packet keeps in Unknowns but
// whose format a BIP defines: hash preimages (BIP-174), taproot fields
// (BIP-371), MuSig2 fields (BIP-373) and proprietary keys. They are not
// interpreted, but a malformed one makes the PSBT invalid (BIP-174: "If
// any key or value does not match the specified format for that type, the
// PSBT must be considered invalid"), with the same rules as Bitcoin Core.

// checkInputField checks an input record this package does not interpret.
func checkInputField(t uint64, k, v []byte, at string) error {
	switch t {
	case inRipemd160, inHash160:
		if len(k) != 1+20 {
			return malformed(at, "hash preimage key type %#02x of %d bytes, want 21", t, len(k))
		}
		// RIPEMD-160 alone is not in this module's dependencies, so a
		// PSBT_IN_RIPEMD160 preimage is kept unchecked; this package
		// never uses preimages.
		if t == inHash160 && !bytes.Equal(address.Hash160(v), k[1:]) {
			return malformed(at, "PSBT_IN_HASH160 preimage does not hash to its key")
		}
	case inSha256, inHash256:
		if len(k) != 1+32 {
			return malformed(at, "hash preimage key type %#02x of %d bytes, want 33", t, len(k))
		}
		var h [32]byte
		if t == inSha256 {
			h = sha256.Sum256(v)
		} else {
			h = chainhash.DoubleHashH(v)
		}
		if !bytes.Equal(h[:], k[1:]) {
			return malformed(at, "hash preimage of key type %#02x does not hash to its key", t)
		}
	case inTapKeySig:
		if err := bareKey(k, at, "PSBT_IN_TAP_KEY_SIG"); err != nil {
			return err
		}
		if len(v) != 64 && len(v) != 65 {
			return malformed(at, "PSBT_IN_TAP_KEY_SIG of %d bytes, want 64 or 65", len(v))
		}
	case inTapScriptSig:
		if len(k) != 1+32+32 {
			return malformed(at, "PSBT_IN_TAP_SCRIPT_SIG key of %d bytes, want 65", len(k))
		}
		if len(v) != 64 && len(v) != 65 {
			return malformed(at, "PSBT_IN_TAP_SCRIPT_SIG of %d bytes, want 64 or 65", len(v))
		}
	case inTapLeafScript:
		// The key holds a BIP-341 control block: 33 + 32m bytes.
		if len(k) < 34 || (len(k)-2)%32 != 0 {
			return malformed(at, "PSBT_IN_TAP_LEAF_SCRIPT key of %d bytes is not a control block", len(k))
		}
		if len(v) == 0 {
			return malformed(at, "PSBT_IN_TAP_LEAF_SCRIPT has no leaf version")
		}
	case inTapBip32:
		return checkTapBip32(k, v, at, "PSBT_IN_TAP_BIP32_DERIVATION")
	case inTapInternalKey, inTapMerkleRoot:
		if err := bareKey(k, at, "taproot internal key or merkle root"); err != nil {
			return err
		}
		if len(v) != 32 {
			return malformed(at, "key type %#02x value of %d bytes, want 32", t, len(v))
		}
	case inMuSig2Keys:
		return checkMuSig2Participants(k, v, at, "PSBT_IN_MUSIG2_PARTICIPANT_PUBKEYS")
	case inMuSig2PubNonce, inMuSig2PartialSig:
		// <participant pubkey> <aggregate pubkey> [<leaf hash>]
		if len(k) != 1+33+33 && len(k) != 1+33+33+32 {
			return malformed(at, "MuSig2 key type %#02x of %d bytes, want 67 or 99", t, len(k))
		}
		if !validCompressedKey(k[34:67]) {
			return malformed(at, "MuSig2 aggregate pubkey %x is invalid", k[34:67])
		}
		if !validCompressedKey(k[1:34]) {
			return malformed(at, "MuSig2 participant pubkey %x is invalid", k[1:34])
		}
		want := 66 // a public nonce
		if t == inMuSig2PartialSig {
			want = 32
		}
		if len(v) != want {
			return malformed(at, "MuSig2 key type %#02x value of %d bytes, want %d", t, len(v), want)
		}
	case typeProprietary:
		return checkProprietary(k, at)
	}
	return nil
}

// checkOutputField checks an output record this package does not
// interpret.
func checkOutputField(t uint64, k, v []byte, at string) error {
	switch t {
	case outTapInternalKey:
		if err := bareKey(k, at, "PSBT_OUT_TAP_INTERNAL_KEY"); err != nil {
			return err
		}
		if len(v) != 32 {
			return malformed(at, "PSBT_OUT_TAP_INTERNAL_KEY value of %d bytes, want 32", len(v))
		}
	case outTapTree:
		if err := bareKey(k, at, "PSBT_OUT_TAP_TREE"); err != nil {
			return err
		}
		return checkTapTree(v, at)
	case outTapBip32:
		return checkTapBip32(k, v, at, "PSBT_OUT_TAP_BIP32_DERIVATION")
	case outMuSig2Keys:
		return checkMuSig2Participants(k, v, at, "PSBT_OUT_MUSIG2_PARTICIPANT_PUBKEYS")
	case typeProprietary:
		return checkProprietary(k, at)
	}
	return nil
}

// checkProprietary checks a 0xfc key: <compact size identifier length>
// <identifier> <compact size subtype> <key data> (BIP-174 "Proprietary Use
// Type").
func checkProprietary(k []byte, at string) error {
	c := cursor{b: k[1:]}
	c.next(c.compact()) // identifier
	c.compact()         // subtype
	if !c.ok() {
		return malformed(at, "proprietary key %x has no identifier and subtype", k)
	}
	return nil
}

// checkTapBip32 checks <32 byte x-only key> => <compact size n> <32 byte
// leaf hash>*n <key origin> (BIP-371).
func checkTapBip32(k, v []byte, at, name string) error {
	if len(k) != 1+32 {
		return malformed(at, "%s key of %d bytes, want 33", name, len(k))
	}
	n, size, ok := readCompact(v)
	if !ok || n > uint64(len(v)-size)/32 {
		return malformed(at, "%s value of %d bytes cannot hold its leaf hashes", name, len(v))
	}
	origin := v[size+32*int(n):]
	_, _, err := parseKeyOrigin(origin, at, name)
	return err
}

// checkMuSig2Participants checks <33 byte aggregate key> => <33 byte
// participant key>* (BIP-373).
func checkMuSig2Participants(k, v []byte, at, name string) error {
	if len(k) != 1+33 {
		return malformed(at, "%s key of %d bytes, want 34", name, len(k))
	}
	if !validCompressedKey(k[1:]) {
		return malformed(at, "%s: aggregate pubkey %x is invalid", name, k[1:])
	}
	if len(v)%33 != 0 {
		return malformed(at, "%s value of %d bytes is not a multiple of 33", name, len(v))
	}
	for i := 0; i < len(v); i += 33 {
		if !validCompressedKey(v[i : i+33]) {
			return malformed(at, "%s: participant pubkey %x is invalid", name, v[i:i+33])
		}
	}
	return nil
}

func validCompressedKey(b []byte) bool { return len(b) == 33 && validPubKey(b) }

// Taproot tree limits (BIP-341).
const (
	taprootMaxDepth = 128
	taprootLeafMask = 0xfe
)

// checkTapTree checks PSBT_OUT_TAP_TREE: one or more {<depth> <leaf
// version> <compact size scriptlen> <script>} in depth-first order, which
// must describe a complete binary tree (BIP-371). The completeness check
// follows Bitcoin Core's TaprootBuilder: open[d] says a node at depth d
// waits for its sibling.
func checkTapTree(v []byte, at string) error {
	if len(v) == 0 {
		return malformed(at, "PSBT_OUT_TAP_TREE is empty")
	}
	c := cursor{b: v}
	var open []bool
	for c.ok() && c.left() > 0 {
		hdr := c.next(2)
		c.next(c.compact()) // script
		if !c.ok() {
			break
		}
		depth, leafVersion := int(hdr[0]), hdr[1]
		if depth > taprootMaxDepth {
			return malformed(at, "PSBT_OUT_TAP_TREE leaf at depth %d, the limit is %d", depth, taprootMaxDepth)
		}
		if leafVersion&^taprootLeafMask != 0 {
			return malformed(at, "PSBT_OUT_TAP_TREE leaf version %#02x is odd", leafVersion)
		}
		// A leaf shallower than an unfinished deeper branch is not a
		// depth-first walk.
		if depth+1 < len(open) {
			return malformed(at, "PSBT_OUT_TAP_TREE leaves are not in depth-first order")
		}
		for len(open) > depth && open[depth] {
			open = open[:depth]
			if depth == 0 {
				return malformed(at, "PSBT_OUT_TAP_TREE has more leaves than its depths allow")
			}
			depth--
		}
		for len(open) <= depth {
			open = append(open, false)
		}
		open[depth] = true
	}
	if !c.ok() {
		return malformed(at, "PSBT_OUT_TAP_TREE is truncated")
	}
	if len(open) != 1 || !open[0] {
		return malformed(at, "PSBT_OUT_TAP_TREE is not a complete tree")
	}
	return nil
}
