package psbt

import (
	"bytes"
	"crypto/sha256"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// This file checks the records a Packet keeps in Unknowns but whose format
// a BIP defines: hash preimages (BIP-174), MuSig2 fields (BIP-373) and
// proprietary keys. They are not
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

// definedInput says a BIP defines input key type t and this package keeps
// its records in Unknowns: Encode writes them at their key type's place.
func definedInput(t uint64) bool {
	return (t >= inRipemd160 && t <= inHash256) || (t >= inMuSig2Keys && t <= inMuSig2PartialSig)
}

// definedOutput is definedInput for output maps.
func definedOutput(t uint64) bool { return t == outMuSig2Keys }

// Key types with a typed field, which an Unknown must not use.
func typedGlobal(t uint64) bool { return t <= globalTxModifiable || t == globalVersion }
func typedInput(t uint64) bool {
	return t <= inFinalWitness || (t >= inPreviousTxid && t <= inTapMerkleRoot)
}
func typedOutput(t uint64) bool { return t <= outTapBip32 }
