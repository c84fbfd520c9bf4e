// Package psbt is airlock's own BIP-174 (version 0) Partially Signed
// Bitcoin Transaction layer: a strict, bounded parser and writer, the
// signer, combiner, finalizer and extractor roles, and script verification
// with btcd's engine.
//
// A PSBT is "psbt" 0xff, then a global map, one map per input and one per
// output; each map is a run of <keylen><key><valuelen><value> records ended
// by a zero byte (BIP-174 "Specification"). The first byte of a key is its
// type. Every record this package does not interpret — proprietary (0xfc),
// taproot (BIP-371) and unknown types — is kept byte for byte and written
// back after the known ones, in the order read. Known multi-record fields
// (partial signatures, derivations) also keep their order, so a PSBT written
// by Bitcoin Core decodes and encodes to the same bytes.
//
// Version 2 (BIP-370) is refused with ErrVersion2Unsupported rather than
// misread; it arrives with the Bitcoin-vaults issue.
package psbt

import (
	"errors"

	"github.com/btcsuite/btcd/wire/v2"
)

// Limits against hostile input.
const (
	// MaxSize bounds an encoded PSBT.
	MaxSize = 16 << 20
	// MaxMapRecords bounds the records in one map.
	MaxMapRecords = 1 << 12
	// MaxInOut bounds the inputs and the outputs of the unsigned
	// transaction.
	MaxInOut = 1 << 14
)

// Errors callers branch on.
var (
	ErrMalformed           = errors.New("psbt: malformed")
	ErrVersion2Unsupported = errors.New("psbt: version 2 is not supported yet")
	ErrUTXOMismatch        = errors.New("psbt: witness_utxo disagrees with non_witness_utxo")
	ErrNoUTXO              = errors.New("psbt: input has no UTXO information")
)

// Unknown is a record kept as read: the full key (type byte included) and
// the value.
type Unknown struct{ Key, Value []byte }

// XPub is a PSBT_GLOBAL_XPUB record.
type XPub struct {
	ExtendedKey []byte // 78 bytes, BIP-32 serialization
	Fingerprint [4]byte
	Path        []uint32
}

// Bip32Derivation is a PSBT_IN/OUT_BIP32_DERIVATION record.
type Bip32Derivation struct {
	PubKey      []byte
	Fingerprint [4]byte
	Path        []uint32
}

// PartialSig is a PSBT_IN_PARTIAL_SIG record: a DER signature with its
// sighash byte.
type PartialSig struct {
	PubKey    []byte
	Signature []byte
}

// Packet is a decoded PSBT.
type Packet struct {
	UnsignedTx *wire.MsgTx
	XPubs      []XPub
	Version    uint32
	HasVersion bool
	Unknowns   []Unknown
	Inputs     []Input
	Outputs    []Output
}

// Input is one input map.
type Input struct {
	NonWitnessUtxo     *wire.MsgTx
	WitnessUtxo        *wire.TxOut
	PartialSigs        []PartialSig
	SighashType        uint32
	HasSighashType     bool
	RedeemScript       []byte
	WitnessScript      []byte
	Bip32Derivations   []Bip32Derivation
	FinalScriptSig     []byte
	FinalScriptWitness []byte // the serialized witness stack
	Unknowns           []Unknown
}

// Output is one output map.
type Output struct {
	RedeemScript     []byte
	WitnessScript    []byte
	Bip32Derivations []Bip32Derivation
	Unknowns         []Unknown
}

// Key types (BIP-174, BIP-370).
const (
	globalUnsignedTx   = 0x00
	globalXPub         = 0x01
	globalTxVersion    = 0x02
	globalFallbackLT   = 0x03
	globalInputCount   = 0x04
	globalOutputCount  = 0x05
	globalTxModifiable = 0x06
	globalVersion      = 0xfb
	proprietary        = 0xfc

	inNonWitnessUtxo = 0x00
	inWitnessUtxo    = 0x01
	inPartialSig     = 0x02
	inSighashType    = 0x03
	inRedeemScript   = 0x04
	inWitnessScript  = 0x05
	inBip32          = 0x06
	inFinalScriptSig = 0x07
	inFinalWitness   = 0x08
	inRipemd160      = 0x0a
	inSha256         = 0x0b
	inHash160        = 0x0c
	inHash256        = 0x0d
	inPrevTxID       = 0x0e // v2 only, through inRequiredHeight 0x12
	inRequiredHeight = 0x12

	outRedeemScript  = 0x00
	outWitnessScript = 0x01
	outBip32         = 0x02
	outAmount        = 0x03 // v2 only
	outScript        = 0x04 // v2 only
)
