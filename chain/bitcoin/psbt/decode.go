package psbt

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// magic starts every PSBT (BIP-174 "Specification": <magic> := 0x70 0x73
// 0x62 0x74 0xFF).
var magic = []byte("psbt\xff")

// record is one key-value pair of a map, as read or as to be written.
type record struct{ key, value []byte }

// maps is a whole PSBT as records: the global map, then one map per input
// and one per output.
type maps struct {
	global          []record
	inputs, outputs [][]record
}

func malformed(at, format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, where(at, fmt.Sprintf(format, args...)))
}

func tooLarge(at, format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrTooLarge, where(at, fmt.Sprintf(format, args...)))
}

func where(at, msg string) string {
	if at == "" {
		return msg
	}
	return at + ": " + msg
}

// Decode parses a PSBT, version 0 or 2, given as raw bytes (starting
// "psbt" 0xff) or as base64 text (RFC 4648 with padding; surrounding
// whitespace is trimmed, none is allowed inside). It is strict: see the
// package comment.
func Decode(b []byte) (*Packet, error) {
	raw, err := unwrap(b)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(b, magic) {
		// The packet's fields are slices of raw: it must not share
		// memory with the caller's b. (Base64 was decoded into a new
		// buffer already.)
		raw = bytes.Clone(raw)
	}
	f := framer{b: raw, off: len(magic)}
	m := &maps{}
	if m.global, err = f.readMap("global map"); err != nil {
		return nil, err
	}
	p, nIn, nOut, err := parseGlobal(m.global)
	if err != nil {
		return nil, err
	}
	for i := 0; i < nIn; i++ {
		recs, err := f.readMap(fmt.Sprintf("input %d", i))
		if err != nil {
			return nil, err
		}
		m.inputs = append(m.inputs, recs)
	}
	for i := 0; i < nOut; i++ {
		recs, err := f.readMap(fmt.Sprintf("output %d", i))
		if err != nil {
			return nil, err
		}
		m.outputs = append(m.outputs, recs)
	}
	if f.off != len(f.b) {
		return nil, malformed("", "%d bytes after the last output map", len(f.b)-f.off)
	}
	if err := parseBody(p, m); err != nil {
		return nil, err
	}
	return p, nil
}

// unwrap returns the binary PSBT in b, decoding base64 if b is not binary
// (BIP-174 "Encoding").
func unwrap(b []byte) ([]byte, error) {
	if bytes.HasPrefix(b, magic) {
		if len(b) > MaxSize {
			return nil, tooLarge("", "%d bytes, the limit is %d", len(b), MaxSize)
		}
		return b, nil
	}
	text := bytes.TrimSpace(b)
	if len(text) > base64.StdEncoding.EncodedLen(MaxSize) {
		return nil, tooLarge("", "%d bytes of base64, the limit is %d", len(text), base64.StdEncoding.EncodedLen(MaxSize))
	}
	for i, c := range text {
		if !isBase64(c) {
			return nil, malformed("", "neither a binary PSBT (no magic bytes) nor base64 (byte %#02x at offset %d)", c, i)
		}
	}
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Strict().Decode(raw, text)
	if err != nil {
		return nil, malformed("", "invalid base64: %v", err)
	}
	raw = raw[:n]
	if !bytes.HasPrefix(raw, magic) {
		return nil, malformed("", "no magic bytes")
	}
	return raw, nil
}

func isBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '='
}

// readCompact reads a compact size unsigned integer from the start of b and
// returns it and its length. Like Bitcoin Core it refuses non-minimal
// encodings, which BIP-174 requires of key types and which keep one value
// from having two encodings.
func readCompact(b []byte) (v uint64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch b[0] {
	case 0xfd:
		if len(b) < 3 {
			return 0, 0, false
		}
		v, n = uint64(binary.LittleEndian.Uint16(b[1:])), 3
		ok = v >= 0xfd
	case 0xfe:
		if len(b) < 5 {
			return 0, 0, false
		}
		v, n = uint64(binary.LittleEndian.Uint32(b[1:])), 5
		ok = v > 0xffff
	case 0xff:
		if len(b) < 9 {
			return 0, 0, false
		}
		v, n = binary.LittleEndian.Uint64(b[1:]), 9
		ok = v > 0xffffffff
	default:
		return uint64(b[0]), 1, true
	}
	return v, n, ok
}

// keyType returns the type of a key and the length of its encoding.
func keyType(key []byte) (uint64, int, error) {
	t, n, ok := readCompact(key)
	if !ok {
		return 0, 0, fmt.Errorf("key %x does not start with a minimally encoded type", key)
	}
	return t, n, nil
}

// framer splits a PSBT into maps of records, bounding every length by the
// bytes that remain. Keys and values are slices of b, capped at their
// length so that appending to one never writes over the next: one buffer
// holds them all, where a copy each would cost an allocation each.
type framer struct {
	b   []byte
	off int
}

func (f *framer) compact(at, what string) (uint64, error) {
	v, n, ok := readCompact(f.b[f.off:])
	if !ok {
		if f.off == len(f.b) {
			return 0, malformed(at, "truncated: %s missing", what)
		}
		return 0, malformed(at, "%s is not a minimally encoded compact size", what)
	}
	f.off += n
	return v, nil
}

func (f *framer) take(at, what string, n uint64) ([]byte, error) {
	if n > uint64(len(f.b)-f.off) {
		return nil, malformed(at, "%s of %d bytes runs past the end", what, n)
	}
	end := f.off + int(n)
	b := f.b[f.off:end:end]
	f.off = end
	return b, nil
}

// readMap reads records up to the 0x00 separator that ends a map (BIP-174:
// <map> := <keypair>* 0x00).
func (f *framer) readMap(at string) ([]record, error) {
	var recs []record
	for {
		klen, err := f.compact(at, "key length")
		if err != nil {
			return nil, err
		}
		if klen == 0 {
			return recs, nil
		}
		if klen > MaxKeySize {
			return nil, tooLarge(at, "key of %d bytes, the limit is %d", klen, MaxKeySize)
		}
		key, err := f.take(at, "key", klen)
		if err != nil {
			return nil, err
		}
		vlen, err := f.compact(at, "value length")
		if err != nil {
			return nil, err
		}
		if vlen > MaxValueSize {
			return nil, tooLarge(at, "value of %d bytes, the limit is %d", vlen, MaxValueSize)
		}
		value, err := f.take(at, "value", vlen)
		if err != nil {
			return nil, err
		}
		if len(recs) == MaxMapRecords {
			return nil, tooLarge(at, "more than %d records", MaxMapRecords)
		}
		recs = append(recs, record{key, value})
	}
}

// checkRecords applies the rules every map shares, to records read from
// bytes or built in memory: bounded sizes, well-formed key types, and no
// duplicate keys (BIP-174 "Handling Duplicated Keys": PSBTs containing
// duplicate keys are invalid).
func checkRecords(recs []record, at string) error {
	if len(recs) > MaxMapRecords {
		return tooLarge(at, "%d records, the limit is %d", len(recs), MaxMapRecords)
	}
	seen := make(map[string]struct{}, len(recs))
	for _, r := range recs {
		if len(r.key) == 0 {
			return malformed(at, "empty key")
		}
		if len(r.key) > MaxKeySize {
			return tooLarge(at, "key of %d bytes, the limit is %d", len(r.key), MaxKeySize)
		}
		if len(r.value) > MaxValueSize {
			return tooLarge(at, "value of %d bytes, the limit is %d", len(r.value), MaxValueSize)
		}
		if _, _, err := keyType(r.key); err != nil {
			return malformed(at, "%v", err)
		}
		if _, dup := seen[string(r.key)]; dup {
			return malformed(at, "duplicate key %x", r.key)
		}
		seen[string(r.key)] = struct{}{}
	}
	return nil
}

// bareKey checks that a key is its type alone (BIP-174: "any key that has
// no data except for the type specifier must only have the type specifier
// in the key").
func bareKey(k []byte, at, name string) error {
	if len(k) != 1 {
		return malformed(at, "%s key of %d bytes, want 1", name, len(k))
	}
	return nil
}

// parseGlobal reads the global map. It returns the packet so far, whose
// UnsignedTx has no inputs or outputs yet in version 2, and the numbers of
// input and output maps that follow.
func parseGlobal(recs []record) (*Packet, int, int, error) {
	const at = "global map"
	if err := checkRecords(recs, at); err != nil {
		return nil, 0, 0, err
	}
	p := &Packet{}
	// The version decides how everything else is read, so it is read
	// first (BIP-174 "Version Numbers": a parser that meets a version it
	// does not recognize should exit immediately).
	for _, r := range recs {
		if t, _, _ := keyType(r.key); t != globalVersion {
			continue
		}
		if err := fixedSize(r.key, r.value, 4, at, "PSBT_GLOBAL_VERSION"); err != nil {
			return nil, 0, 0, err
		}
		p.Version, p.HasVersion = binary.LittleEndian.Uint32(r.value), true
	}
	if p.Version != 0 && p.Version != 2 {
		return nil, 0, 0, malformed(at, "unknown PSBT version %d (PSBT_GLOBAL_VERSION), want 0 or 2", p.Version)
	}
	v2 := p.Version == 2
	var g v2Globals
	for _, r := range recs {
		k, v := r.key, r.value
		t, _, _ := keyType(k)
		switch t {
		case globalUnsignedTx:
			if v2 {
				return nil, 0, 0, malformed(at, "PSBT_GLOBAL_UNSIGNED_TX is not allowed in a version 2 PSBT (PSBT_GLOBAL_VERSION is 2; BIP-370)")
			}
			if err := bareKey(k, at, "PSBT_GLOBAL_UNSIGNED_TX"); err != nil {
				return nil, 0, 0, err
			}
			tx, err := parseUnsignedTx(v)
			if err != nil {
				return nil, 0, 0, err
			}
			p.UnsignedTx = tx
		case globalXPub:
			x, err := parseXPub(k, v)
			if err != nil {
				return nil, 0, 0, err
			}
			p.XPubs = append(p.XPubs, x)
		case globalVersion:
			// Read above.
		case globalTxVersion, globalFallbackLT, globalInputCount, globalOutputCount, globalTxModifiable:
			if !v2 {
				return nil, 0, 0, malformed(at, "%s is a version 2 field, not allowed in a version 0 PSBT (BIP-370)", globalName(t))
			}
			if err := g.parse(p, t, k, v); err != nil {
				return nil, 0, 0, err
			}
		case typeProprietary:
			if err := checkProprietary(k, at); err != nil {
				return nil, 0, 0, err
			}
			p.Unknowns = append(p.Unknowns, Unknown{k, v})
		default:
			p.Unknowns = append(p.Unknowns, Unknown{k, v})
		}
	}
	if v2 {
		return g.finish(p)
	}
	// BIP-174 "Version 0": PSBT_GLOBAL_UNSIGNED_TX is required.
	if p.UnsignedTx == nil {
		return nil, 0, 0, malformed(at, "no unsigned transaction (PSBT_GLOBAL_UNSIGNED_TX)")
	}
	return p, len(p.UnsignedTx.TxIn), len(p.UnsignedTx.TxOut), nil
}

// fixedSize checks a record whose key is its type alone and whose value
// has size bytes.
func fixedSize(k, v []byte, size int, at, name string) error {
	if err := bareKey(k, at, name); err != nil {
		return err
	}
	if len(v) != size {
		return malformed(at, "%s value of %d bytes, want %d", name, len(v), size)
	}
	return nil
}

// parseUnsignedTx reads PSBT_GLOBAL_UNSIGNED_TX: a transaction in the
// serialization without witnesses, with every scriptSig and witness empty.
// Reading it only without witnesses settles the ambiguity of a transaction
// with no inputs, whose 0x00 input count looks like the segwit marker, the
// way Bitcoin Core does.
func parseUnsignedTx(v []byte) (*wire.MsgTx, error) {
	const at = "PSBT_GLOBAL_UNSIGNED_TX"
	tx, err := parseTx(v, false, at)
	if err != nil {
		return nil, err
	}
	if err := checkUnsignedTx(tx, at); err != nil {
		return nil, err
	}
	return tx, nil
}

// checkUnsignedTx applies the rules New and Decode share.
func checkUnsignedTx(tx *wire.MsgTx, at string) error {
	if len(tx.TxIn) > MaxInOut || len(tx.TxOut) > MaxInOut {
		return tooLarge(at, "%d inputs and %d outputs, the limit is %d each", len(tx.TxIn), len(tx.TxOut), MaxInOut)
	}
	seen := make(map[wire.OutPoint]struct{}, len(tx.TxIn))
	for i, in := range tx.TxIn {
		if len(in.SignatureScript) != 0 || len(in.Witness) != 0 {
			return malformed(at, "input %d has a scriptSig or a witness; an unsigned transaction must have neither", i)
		}
		// Consensus refuses a transaction spending one output twice
		// (bad-txns-inputs-duplicate); so does the signer.
		if _, dup := seen[in.PreviousOutPoint]; dup {
			return malformed(at, "inputs spend %s twice", in.PreviousOutPoint)
		}
		seen[in.PreviousOutPoint] = struct{}{}
	}
	return checkAmounts(tx.TxOut, at)
}

// parseXPub reads a PSBT_GLOBAL_XPUB record.
func parseXPub(k, v []byte) (XPub, error) {
	const at = "global map"
	if len(k) != 1+78 {
		return XPub{}, malformed(at, "PSBT_GLOBAL_XPUB key of %d bytes, want 79", len(k))
	}
	ek := k[1:]
	// BIP-32 serialization: version(4) depth(1) parent fingerprint(4)
	// child number(4) chain code(32) key(33). A private key (0x00 and 32
	// bytes) has no place in a PSBT and is refused.
	if _, err := btcec.ParsePubKey(ek[45:]); err != nil || (ek[45] != 0x02 && ek[45] != 0x03) {
		return XPub{}, malformed(at, "PSBT_GLOBAL_XPUB holds no valid public key")
	}
	fp, path, err := parseKeyOrigin(v, at, "PSBT_GLOBAL_XPUB")
	if err != nil {
		return XPub{}, err
	}
	// "The number of 32 bit unsigned integer indexes must match the depth
	// provided in the extended public key."
	if int(ek[4]) != len(path) {
		return XPub{}, malformed(at, "PSBT_GLOBAL_XPUB of depth %d with a path of %d steps", ek[4], len(path))
	}
	return XPub{ExtendedKey: ek, Fingerprint: fp, Path: path}, nil
}

// parseKeyOrigin reads <4 byte fingerprint> <32-bit little endian uint
// path element>*.
func parseKeyOrigin(v []byte, at, name string) ([4]byte, []uint32, error) {
	var fp [4]byte
	if len(v) < 4 || len(v)%4 != 0 {
		return fp, nil, malformed(at, "%s key origin of %d bytes, want 4 and a multiple of 4", name, len(v))
	}
	if len(v) > 4*(1+MaxPathDepth) {
		return fp, nil, tooLarge(at, "%s path of %d steps, the limit is %d", name, len(v)/4-1, MaxPathDepth)
	}
	copy(fp[:], v)
	path := make([]uint32, 0, len(v)/4-1)
	for i := 4; i < len(v); i += 4 {
		path = append(path, binary.LittleEndian.Uint32(v[i:]))
	}
	return fp, path, nil
}

// pubKeyOfKey reads the public key that a PSBT_IN_PARTIAL_SIG or
// PSBT_*_BIP32_DERIVATION key carries after its type byte.
func pubKeyOfKey(k []byte, at, name string, keys *verifyCache) ([]byte, error) {
	pub := k[1:]
	if len(pub) != 33 && len(pub) != 65 {
		return nil, malformed(at, "%s key of %d bytes, want 34 or 66", name, len(k))
	}
	if !keys.valid(pub) {
		return nil, malformed(at, "%s key holds an invalid public key %x", name, pub)
	}
	return pub, nil
}

// validPubKey accepts a compressed or uncompressed point on the curve. It
// refuses the hybrid encodings (0x06, 0x07) that btcec would parse.
func validPubKey(b []byte) bool {
	switch {
	case len(b) == 33 && (b[0] == 0x02 || b[0] == 0x03):
	case len(b) == 65 && b[0] == 0x04:
	default:
		return false
	}
	_, err := btcec.ParsePubKey(b)
	return err == nil
}

// parseInput reads one input map (BIP-174 per-input types). In version 0
// txIn is the transaction's input; in version 2 it is nil, and parseInput
// builds it from the map's BIP-370 fields and returns it. Public keys are
// checked through keys, which may be nil.
func parseInput(recs []record, txIn *wire.TxIn, v2 bool, at string, keys *verifyCache) (Input, *wire.TxIn, error) {
	var in Input
	if err := checkRecords(recs, at); err != nil {
		return in, nil, err
	}
	if v2 {
		var err error
		if txIn, err = parseInputV2(&in, recs, at); err != nil {
			return in, nil, err
		}
	}
	err := parseInputFields(&in, recs, txIn, v2, at, keys)
	return in, txIn, err
}

// parseInputFields reads the records of an input map other than the
// BIP-370 transaction fields.
func parseInputFields(in *Input, recs []record, txIn *wire.TxIn, v2 bool, at string, keys *verifyCache) error {
	for _, r := range recs {
		k, v := r.key, r.value
		t, _, _ := keyType(k)
		switch {
		case t == inNonWitnessUtxo:
			if err := bareKey(k, at, "PSBT_IN_NON_WITNESS_UTXO"); err != nil {
				return err
			}
			tx, err := parseTx(v, true, at+": PSBT_IN_NON_WITNESS_UTXO")
			if err != nil {
				return err
			}
			// Bitcoin Core refuses these at decode time too.
			if tx.TxHash() != txIn.PreviousOutPoint.Hash {
				return malformed(at, "PSBT_IN_NON_WITNESS_UTXO is transaction %s, but the input spends %s", tx.TxHash(), txIn.PreviousOutPoint)
			}
			if int64(txIn.PreviousOutPoint.Index) >= int64(len(tx.TxOut)) {
				return malformed(at, "PSBT_IN_NON_WITNESS_UTXO has %d outputs, but the input spends output %d", len(tx.TxOut), txIn.PreviousOutPoint.Index)
			}
			in.NonWitnessUtxo = tx
		case t == inWitnessUtxo:
			if err := bareKey(k, at, "PSBT_IN_WITNESS_UTXO"); err != nil {
				return err
			}
			out, err := parseTxOut(v, at+": PSBT_IN_WITNESS_UTXO")
			if err != nil {
				return err
			}
			in.WitnessUtxo = out
		case t == inPartialSig:
			pub, err := pubKeyOfKey(k, at, "PSBT_IN_PARTIAL_SIG", keys)
			if err != nil {
				return err
			}
			// As Bitcoin Core: strict DER and a defined sighash type
			// (SCRIPT_VERIFY_DERSIG | SCRIPT_VERIFY_STRICTENC).
			if !validSignatureEncoding(v) || !definedHashType(v[len(v)-1]) {
				return malformed(at, "PSBT_IN_PARTIAL_SIG by %x is not a strict DER signature with a defined sighash type", pub)
			}
			in.PartialSigs = append(in.PartialSigs, PartialSig{PubKey: pub, Signature: v})
		case t == inSighashType:
			if err := bareKey(k, at, "PSBT_IN_SIGHASH_TYPE"); err != nil {
				return err
			}
			if len(v) != 4 {
				return malformed(at, "PSBT_IN_SIGHASH_TYPE value of %d bytes, want 4", len(v))
			}
			in.SighashType, in.HasSighashType = binary.LittleEndian.Uint32(v), true
		case t == inRedeemScript:
			if err := bareKey(k, at, "PSBT_IN_REDEEM_SCRIPT"); err != nil {
				return err
			}
			in.RedeemScript = v
		case t == inWitnessScript:
			if err := bareKey(k, at, "PSBT_IN_WITNESS_SCRIPT"); err != nil {
				return err
			}
			in.WitnessScript = v
		case t == inBip32:
			d, err := parseDerivation(k, v, at, "PSBT_IN_BIP32_DERIVATION", keys)
			if err != nil {
				return err
			}
			in.Bip32Derivations = append(in.Bip32Derivations, d)
		case t == inFinalScriptSig:
			if err := bareKey(k, at, "PSBT_IN_FINAL_SCRIPTSIG"); err != nil {
				return err
			}
			in.FinalScriptSig = v
		case t == inFinalWitness:
			if err := bareKey(k, at, "PSBT_IN_FINAL_SCRIPTWITNESS"); err != nil {
				return err
			}
			if _, err := parseWitness(v, at+": PSBT_IN_FINAL_SCRIPTWITNESS"); err != nil {
				return err
			}
			in.FinalScriptWitness = v
		case t >= inPreviousTxid && t <= inRequiredHeightLT:
			if !v2 {
				return malformed(at, "%s is a version 2 field, not allowed in a version 0 PSBT (BIP-370)", inputName(t))
			}
			// Read by parseInputV2.
		case t >= inTapKeySig && t <= inTapMerkleRoot:
			if err := parseTapInput(in, t, k, v, at); err != nil {
				return err
			}
		default:
			if err := checkInputField(t, k, v, at); err != nil {
				return err
			}
			in.Unknowns = append(in.Unknowns, Unknown{k, v})
		}
	}
	return nil
}

func parseDerivation(k, v []byte, at, name string, keys *verifyCache) (Bip32Derivation, error) {
	pub, err := pubKeyOfKey(k, at, name, keys)
	if err != nil {
		return Bip32Derivation{}, err
	}
	fp, path, err := parseKeyOrigin(v, at, name)
	if err != nil {
		return Bip32Derivation{}, err
	}
	return Bip32Derivation{PubKey: pub, Fingerprint: fp, Path: path}, nil
}

// parseOutput reads one output map (BIP-174 per-output types). In version
// 2 it also builds the transaction output from PSBT_OUT_AMOUNT and
// PSBT_OUT_SCRIPT and returns it.
func parseOutput(recs []record, v2 bool, at string, keys *verifyCache) (Output, *wire.TxOut, error) {
	var out Output
	if err := checkRecords(recs, at); err != nil {
		return out, nil, err
	}
	var txOut *wire.TxOut
	if v2 {
		var err error
		if txOut, err = parseOutputV2(recs, at); err != nil {
			return out, nil, err
		}
	}
	err := parseOutputFields(&out, recs, v2, at, keys)
	return out, txOut, err
}

// parseOutputFields reads the records of an output map other than the
// BIP-370 transaction fields.
func parseOutputFields(out *Output, recs []record, v2 bool, at string, keys *verifyCache) error {
	for _, r := range recs {
		k, v := r.key, r.value
		t, _, _ := keyType(k)
		switch t {
		case outRedeemScript:
			if err := bareKey(k, at, "PSBT_OUT_REDEEM_SCRIPT"); err != nil {
				return err
			}
			out.RedeemScript = v
		case outWitnessScript:
			if err := bareKey(k, at, "PSBT_OUT_WITNESS_SCRIPT"); err != nil {
				return err
			}
			out.WitnessScript = v
		case outBip32:
			d, err := parseDerivation(k, v, at, "PSBT_OUT_BIP32_DERIVATION", keys)
			if err != nil {
				return err
			}
			out.Bip32Derivations = append(out.Bip32Derivations, d)
		case outAmount, outScript:
			if !v2 {
				return malformed(at, "%s is a version 2 field, not allowed in a version 0 PSBT (BIP-370)", outputName(t))
			}
			// Read by parseOutputV2.
		case outTapInternalKey, outTapTree, outTapBip32:
			if err := parseTapOutput(out, t, k, v, at); err != nil {
				return err
			}
		default:
			if err := checkOutputField(t, k, v, at); err != nil {
				return err
			}
			out.Unknowns = append(out.Unknowns, Unknown{k, v})
		}
	}
	return nil
}

// parseMaps reads a whole PSBT from its records, as Decode does from bytes.
// The packet checks keys through c when it is not nil.
func parseMaps(m *maps, c *verifyCache) (*Packet, error) {
	p, nIn, nOut, err := parseGlobal(m.global)
	if err != nil {
		return nil, err
	}
	if c != nil {
		p.cache = c
	}
	if len(m.inputs) != nIn || len(m.outputs) != nOut {
		return nil, malformed("", "%d input and %d output maps for a transaction with %d inputs and %d outputs", len(m.inputs), len(m.outputs), nIn, nOut)
	}
	if err := parseBody(p, m); err != nil {
		return nil, err
	}
	return p, nil
}

// parseBody reads the input and output maps into p, whose global map is
// read. In version 2 it completes p.UnsignedTx from them.
func parseBody(p *Packet, m *maps) error {
	v2 := p.Version == 2
	tx := p.UnsignedTx
	keys := p.verified()
	p.Inputs = make([]Input, len(m.inputs))
	for i, recs := range m.inputs {
		var txIn *wire.TxIn
		if !v2 {
			txIn = tx.TxIn[i]
		}
		in, txIn, err := parseInput(recs, txIn, v2, fmt.Sprintf("input %d", i), keys)
		if err != nil {
			return err
		}
		p.Inputs[i] = in
		if v2 {
			tx.TxIn = append(tx.TxIn, txIn)
		}
	}
	p.Outputs = make([]Output, len(m.outputs))
	for i, recs := range m.outputs {
		out, txOut, err := parseOutput(recs, v2, fmt.Sprintf("output %d", i), keys)
		if err != nil {
			return err
		}
		p.Outputs[i] = out
		if v2 {
			tx.TxOut = append(tx.TxOut, txOut)
		}
	}
	if v2 {
		return finishV2(p)
	}
	return nil
}

// validSignatureEncoding is BIP-66's IsValidSignatureEncoding: a strict
// DER signature followed by one sighash byte.
func validSignatureEncoding(sig []byte) bool {
	// 0x30 [total-length] 0x02 [R-length] [R] 0x02 [S-length] [S] [sighash]
	if len(sig) < 9 || len(sig) > 73 {
		return false
	}
	if sig[0] != 0x30 || int(sig[1]) != len(sig)-3 {
		return false
	}
	lenR := int(sig[3])
	if 5+lenR >= len(sig) {
		return false
	}
	lenS := int(sig[5+lenR])
	if lenR+lenS+7 != len(sig) {
		return false
	}
	if sig[2] != 0x02 || lenR == 0 || sig[4]&0x80 != 0 {
		return false
	}
	if lenR > 1 && sig[4] == 0x00 && sig[5]&0x80 == 0 {
		return false
	}
	if sig[lenR+4] != 0x02 || lenS == 0 || sig[lenR+6]&0x80 != 0 {
		return false
	}
	if lenS > 1 && sig[lenR+6] == 0x00 && sig[lenR+7]&0x80 == 0 {
		return false
	}
	return true
}

// definedHashType is SCRIPT_VERIFY_STRICTENC's rule for a sighash byte:
// ALL, NONE or SINGLE, with or without ANYONECANPAY.
func definedHashType(b byte) bool {
	t := b &^ 0x80
	return t >= 0x01 && t <= 0x03
}
