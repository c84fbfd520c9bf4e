// Package psbt is airlock's own layer for Partially Signed Bitcoin
// Transactions: version 0 (BIP-174) and version 2 (BIP-370), with the
// taproot fields of BIP-371. It is a strict, bounded parser and writer,
// and the creator, signer, combiner, finalizer and extractor roles.
//
// # Format
//
// A PSBT is the magic "psbt" 0xff, a global map, one map per input and one
// per output of the unsigned transaction (BIP-174 "Specification"). A map is
// a run of records ended by a zero byte; a record is
//
//	<compact size keylen> <key> <compact size valuelen> <value>
//
// and a key starts with its type, itself a compact size. The smallest valid
// PSBT, from the BIP's test vectors, holds a transaction with no inputs and
// no outputs:
//
//	70736274ff                     magic
//	01 00                          key: 1 byte, PSBT_GLOBAL_UNSIGNED_TX
//	0a 00000000 00 00 00000000     value: 10 bytes, version 0, no inputs, no outputs, locktime 0
//	00                             end of the global map (no input or output maps follow)
//
// # Version 2
//
// A version 2 PSBT (BIP-370) has no PSBT_GLOBAL_UNSIGNED_TX: the
// transaction version and the input and output counts are global fields,
// each input map names its outpoint and sequence, each output map its
// amount and script. Decode builds from them the same Packet.UnsignedTx a
// version 0 PSBT carries (BIP-370 "Determining Lock Time" gives its lock
// time, from the inputs' required lock times or the fallback), so review,
// signing and finalization work on either version unchanged. In a version
// 2 Packet, UnsignedTx is where those fields live: Encode writes
// PSBT_GLOBAL_TX_VERSION, PSBT_IN_PREVIOUS_TXID, PSBT_OUT_AMOUNT and the
// others from it, and refuses an UnsignedTx whose lock time is not the one
// the fields determine. A version 2 PSBT whose lock time cannot be
// determined (one input requires a height, another a time) is refused with
// ErrLockTime. ToV0 and ToV2 convert between the versions.
//
// # What it stops
//
// A PSBT reaches a signer from an untrusted coordinator, so Decode treats
// every byte as hostile. It refuses input over MaxSize and bounds every count
// before allocating for it; it refuses duplicate keys, keys of the wrong
// length, non-minimal compact sizes (a type 0x00 written as fd0000 would
// otherwise be read differently here and in Bitcoin Core), transactions
// that do not re-serialize to the same bytes, invalid public keys, private
// keys in PSBT_GLOBAL_XPUB, signatures that are not strict DER, fields of
// one version in a PSBT of the other, and version 2 PSBTs missing a
// required field or holding a lock time out of its range. It checks the
// fields of later BIPs (BIP-371 taproot, BIP-373 MuSig2) at least as
// strictly as Bitcoin Core does, so that a PSBT Core refuses is refused
// here.
//
// The signer enforces BIP-174 "Data Signers Check For": the previous
// transaction must hash to the outpoint, a witness UTXO must agree with the
// previous transaction (ErrUTXOMismatch), redeem and witness scripts must
// hash to what the spent output commits to, and no non-witness signature is
// made for an input that carries a witness UTXO.
//
// # Encoding
//
// Encode writes the records this package interprets in key-type order,
// merging in the records it keeps as read (Unknowns): those of a type a
// BIP defines for the map (hash preimages, MuSig2) at their key type's
// place, every other one (proprietary 0xfc and types not yet defined)
// after all the rest, each byte for byte and in the order read. Records of
// one type (partial signatures, derivations, xpubs, taproot signatures and
// leaf scripts) keep their order. Decode then Encode therefore gives back
// the same bytes for every PSBT written in key-type order with undefined
// types last, which is how Bitcoin Core writes them; any other valid PSBT
// comes back reordered, and from then on stable. The version is kept:
// a version 2 PSBT is written as version 2, and PSBT_GLOBAL_VERSION 0 is
// written only if it was read.
//
// # Extending
//
// The typed-record tables in decode.go, v2.go, taproot.go and encode.go
// are the only places that list field types. A field kept in Unknowns has
// its format checked in fields.go; promoting one to a typed field means
// moving its check into parseInput or parseOutput, writing it in records,
// and removing it from definedUntyped.
package psbt

import (
	"errors"

	"github.com/btcsuite/btcd/wire/v2"
)

// Limits against hostile input. A PSBT over any of them is refused with
// ErrTooLarge before anything is allocated for it.
const (
	// MaxSize bounds an encoded PSBT, in bytes (base64 text may be 4/3 of
	// this). Bitcoin Core's own limit is 100 MB; 16 MiB holds the largest
	// standard transaction with every previous transaction many times over.
	MaxSize = 16 << 20

	// MaxInOut bounds the inputs and the outputs of the unsigned
	// transaction. A standard transaction (400,000 weight units) holds at
	// most 2,439 inputs or 11,111 outputs.
	MaxInOut = 1 << 14

	// MaxMapRecords bounds the records in one map. A 20-key multisig input
	// needs about 45.
	MaxMapRecords = 1 << 12

	// MaxKeySize bounds a key. The largest defined key is a BIP-371
	// PSBT_IN_TAP_LEAF_SCRIPT: a type byte and a control block of at most
	// 33 + 128*32 bytes, 4,130 in all.
	MaxKeySize = 1 << 13

	// MaxValueSize bounds a value. The largest defined value is a previous
	// transaction, which cannot exceed 4,000,000 bytes.
	MaxValueSize = 4_000_000

	// MaxPathDepth bounds a BIP-32 derivation path: BIP-32 keeps the depth
	// in one byte.
	MaxPathDepth = 255
)

// Errors callers branch on. Each is wrapped with the detail: which map,
// which input, which key.
var (
	// ErrMalformed: the bytes are not a PSBT this package accepts.
	ErrMalformed = errors.New("psbt: malformed")

	// ErrTooLarge: the PSBT is over one of the limits above.
	ErrTooLarge = errors.New("psbt: too large")

	// ErrVersion2Unsupported is no longer returned: version 2 PSBTs
	// (BIP-370) are read. It is kept so that code naming it still builds.
	//
	// Deprecated: Decode reads version 2.
	ErrVersion2Unsupported = errors.New("psbt: version 2 PSBTs (BIP-370) are not supported")

	// ErrLockTime: a version 2 PSBT's lock time cannot be determined
	// (BIP-370 "Determining Lock Time"): one input requires a block
	// height and another a time, so no transaction satisfies both.
	ErrLockTime = errors.New("psbt: the lock time cannot be determined")

	// ErrUTXOMismatch: an input's UTXO information contradicts itself or
	// the transaction: the previous transaction is not the one the input
	// spends, or the witness UTXO disagrees with it. A witness UTXO that
	// lies about the amount is how fee attacks on segwit signers start.
	ErrUTXOMismatch = errors.New("psbt: UTXO information does not match")

	// ErrNoUTXO: an input carries neither a witness UTXO nor its previous
	// transaction, so nothing about what it spends can be checked.
	ErrNoUTXO = errors.New("psbt: input has no UTXO information")

	// ErrConflict: PSBTs cannot be combined, because they are for different
	// transactions or give different values for the same key.
	ErrConflict = errors.New("psbt: cannot combine")
)

// Packet is a decoded PSBT, version 0 or 2. Its UnsignedTx is the PSBT's
// identity: build a new Packet (New, Decode) rather than change it, since
// the BIP-143 midstate is computed once per Packet and kept. A Packet is
// not safe for concurrent use.
type Packet struct {
	// UnsignedTx is PSBT_GLOBAL_UNSIGNED_TX in version 0. In version 2 it
	// is built from the BIP-370 fields, and Encode writes them from it:
	// its version is PSBT_GLOBAL_TX_VERSION, its inputs' outpoints and
	// sequences are PSBT_IN_PREVIOUS_TXID, PSBT_IN_OUTPUT_INDEX and
	// PSBT_IN_SEQUENCE, its outputs are PSBT_OUT_AMOUNT and
	// PSBT_OUT_SCRIPT, and its lock time must be the one LockTime
	// determines.
	UnsignedTx *wire.MsgTx
	XPubs      []XPub

	// Version is PSBT_GLOBAL_VERSION, 0 or 2; HasVersion says the record
	// is present (version 0 may be written explicitly or left out, and
	// either is kept as read; version 2 must be written).
	Version    uint32
	HasVersion bool

	// Version 2 only (BIP-370). FallbackLockTime is
	// PSBT_GLOBAL_FALLBACK_LOCKTIME, the lock time when no input requires
	// one (0 when absent); TxModifiable is PSBT_GLOBAL_TX_MODIFIABLE, with
	// the Modifiable* bits. The Has flags say the record is present.
	FallbackLockTime    uint32
	HasFallbackLockTime bool
	TxModifiable        uint8
	HasTxModifiable     bool

	// Unknowns holds every global record not interpreted above,
	// proprietary (0xfc) ones included, byte for byte, in the order read.
	Unknowns []Unknown

	Inputs  []Input  // one per input of UnsignedTx
	Outputs []Output // one per output of UnsignedTx

	midstate *sigHashCache // see signer.go
	cache    *verifyCache  // see cache.go
}

// PSBT_GLOBAL_TX_MODIFIABLE bits (BIP-370).
const (
	ModifiableInputs    = 1 << 0 // inputs may be added or removed
	ModifiableOutputs   = 1 << 1 // outputs may be added or removed
	ModifiableSigSingle = 1 << 2 // a SIGHASH_SINGLE signature pairs an input with its output
)

// XPub is a PSBT_GLOBAL_XPUB record.
type XPub struct {
	ExtendedKey []byte // 78 bytes, BIP-32 serialization of a public key
	Fingerprint [4]byte
	Path        []uint32
}

// Unknown is a record kept as read: the full key, type included, and the
// value.
type Unknown struct{ Key, Value []byte }

// Bip32Derivation is a PSBT_IN_BIP32_DERIVATION or
// PSBT_OUT_BIP32_DERIVATION record.
type Bip32Derivation struct {
	PubKey      []byte // 33 or 65 bytes
	Fingerprint [4]byte
	Path        []uint32
}

// PartialSig is a PSBT_IN_PARTIAL_SIG record.
type PartialSig struct {
	PubKey    []byte // 33 or 65 bytes
	Signature []byte // strict DER followed by the sighash byte
}

// Input is one input map. A nil slice is an absent record; an empty,
// non-nil one is a record with an empty value.
type Input struct {
	NonWitnessUtxo *wire.MsgTx
	WitnessUtxo    *wire.TxOut
	PartialSigs    []PartialSig

	// SighashType is PSBT_IN_SIGHASH_TYPE; HasSighashType says the record
	// is present. Without it signers use SIGHASH_ALL.
	SighashType    uint32
	HasSighashType bool

	RedeemScript       []byte
	WitnessScript      []byte
	Bip32Derivations   []Bip32Derivation
	FinalScriptSig     []byte
	FinalScriptWitness []byte // the serialized witness stack, as in the PSBT

	// Version 2 only (BIP-370); the outpoint and the sequence are in
	// UnsignedTx. HasSequence says PSBT_IN_SEQUENCE is written even when
	// the sequence is the default 0xffffffff (any other sequence is always
	// written). RequiredTimeLockTime (>= 500000000) and
	// RequiredHeightLockTime (1 to 499999999) are
	// PSBT_IN_REQUIRED_TIME_LOCKTIME and PSBT_IN_REQUIRED_HEIGHT_LOCKTIME,
	// 0 when absent.
	HasSequence            bool
	RequiredTimeLockTime   uint32
	RequiredHeightLockTime uint32

	// Taproot (BIP-371). A nil slice is an absent record.
	TaprootKeySig           []byte // PSBT_IN_TAP_KEY_SIG: 64 or 65 bytes
	TaprootScriptSigs       []TaprootScriptSig
	TaprootLeafScripts      []TaprootLeafScript
	TaprootBip32Derivations []TaprootBip32Derivation
	TaprootInternalKey      []byte // PSBT_IN_TAP_INTERNAL_KEY: 32 bytes, x-only
	TaprootMerkleRoot       []byte // PSBT_IN_TAP_MERKLE_ROOT: 32 bytes

	// Unknowns holds every other record: hash preimages, proprietary and
	// MuSig2 records, and types not yet defined.
	Unknowns []Unknown
}

// Output is one output map. In version 2 its amount and script
// (PSBT_OUT_AMOUNT, PSBT_OUT_SCRIPT) are in UnsignedTx.
type Output struct {
	RedeemScript     []byte
	WitnessScript    []byte
	Bip32Derivations []Bip32Derivation

	// Taproot (BIP-371).
	TaprootInternalKey      []byte            // PSBT_OUT_TAP_INTERNAL_KEY: 32 bytes, x-only
	TaprootTree             []TaprootTreeLeaf // PSBT_OUT_TAP_TREE, depth-first
	TaprootBip32Derivations []TaprootBip32Derivation

	Unknowns []Unknown
}

// TaprootScriptSig is a PSBT_IN_TAP_SCRIPT_SIG record: a signature by a
// key for the script leaf with the given hash.
type TaprootScriptSig struct {
	XOnlyPubKey []byte // 32 bytes
	LeafHash    []byte // 32 bytes
	Signature   []byte // 64 or 65 bytes
}

// TaprootLeafScript is a PSBT_IN_TAP_LEAF_SCRIPT record.
type TaprootLeafScript struct {
	ControlBlock []byte // 33 + 32m bytes, m <= 128 (BIP-341)
	Script       []byte
	LeafVersion  uint8
}

// TaprootBip32Derivation is a PSBT_IN_TAP_BIP32_DERIVATION or
// PSBT_OUT_TAP_BIP32_DERIVATION record.
type TaprootBip32Derivation struct {
	XOnlyPubKey []byte   // 32 bytes
	LeafHashes  [][]byte // 32 bytes each: the leaves the key appears in
	Fingerprint [4]byte
	Path        []uint32
}

// TaprootTreeLeaf is one leaf of a PSBT_OUT_TAP_TREE.
type TaprootTreeLeaf struct {
	Depth       uint8 // at most 128
	LeafVersion uint8 // even
	Script      []byte
}

// Key types (BIP-174 "Specification", BIP-370, BIP-371, BIP-373).
const (
	globalUnsignedTx   = 0x00
	globalXPub         = 0x01
	globalTxVersion    = 0x02 // BIP-370, version 2 only
	globalFallbackLT   = 0x03 // BIP-370
	globalInputCount   = 0x04 // BIP-370
	globalOutputCount  = 0x05 // BIP-370
	globalTxModifiable = 0x06 // BIP-370
	globalVersion      = 0xfb
	typeProprietary    = 0xfc // in every map

	inNonWitnessUtxo   = 0x00
	inWitnessUtxo      = 0x01
	inPartialSig       = 0x02
	inSighashType      = 0x03
	inRedeemScript     = 0x04
	inWitnessScript    = 0x05
	inBip32            = 0x06
	inFinalScriptSig   = 0x07
	inFinalWitness     = 0x08
	inRipemd160        = 0x0a
	inSha256           = 0x0b
	inHash160          = 0x0c
	inHash256          = 0x0d
	inPreviousTxid     = 0x0e // BIP-370, 0x0e to 0x12
	inOutputIndex      = 0x0f
	inSequence         = 0x10
	inRequiredTimeLT   = 0x11
	inRequiredHeightLT = 0x12
	inTapKeySig        = 0x13 // BIP-371, 0x13 to 0x18
	inTapScriptSig     = 0x14
	inTapLeafScript    = 0x15
	inTapBip32         = 0x16
	inTapInternalKey   = 0x17
	inTapMerkleRoot    = 0x18
	inMuSig2Keys       = 0x1a // BIP-373, 0x1a to 0x1c
	inMuSig2PubNonce   = 0x1b
	inMuSig2PartialSig = 0x1c

	outRedeemScript   = 0x00
	outWitnessScript  = 0x01
	outBip32          = 0x02
	outAmount         = 0x03 // BIP-370
	outScript         = 0x04 // BIP-370
	outTapInternalKey = 0x05 // BIP-371
	outTapTree        = 0x06
	outTapBip32       = 0x07
	outMuSig2Keys     = 0x08 // BIP-373
)

// Lock time thresholds (BIP-370, consensus): below lockTimeThreshold a
// lock time is a block height, from it on a Unix time.
const (
	lockTimeThreshold = 500_000_000
	finalSequence     = 0xffffffff // BIP-370: PSBT_IN_SEQUENCE's default
)

// Validate runs the checks Decode runs on p as it is in memory, and checks
// that Encode would write it and Decode read it back unchanged. Encode and
// Combine call it; callers that build or edit a Packet can call it early.
func (p *Packet) Validate() error {
	if p.Version == 0 {
		return p.validateByMap()
	}
	_, err := p.validRecords()
	return err
}
