package psbt

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

var magic = []byte("psbt\xff")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Decode parses a PSBT given as raw bytes (starting "psbt\xff") or as
// base64 text, strictly.
func Decode(b []byte) (*Packet, error) {
	if len(b) > MaxSize*4/3+4 {
		return nil, malformed("%d bytes exceeds %d", len(b), MaxSize)
	}
	if !bytes.HasPrefix(b, magic) {
		text := bytes.TrimSpace(b)
		raw := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
		n, err := base64.StdEncoding.Strict().Decode(raw, text)
		if err != nil {
			return nil, malformed("neither binary (no magic bytes) nor base64: %v", err)
		}
		b = raw[:n]
		if !bytes.HasPrefix(b, magic) {
			return nil, malformed("no magic bytes")
		}
	}
	if len(b) > MaxSize {
		return nil, malformed("%d bytes exceeds %d", len(b), MaxSize)
	}
	r := bytes.NewReader(b[len(magic):])
	p := &Packet{}
	if err := p.readGlobal(r); err != nil {
		return nil, err
	}
	for i := range p.UnsignedTx.TxIn {
		in, err := readInput(r, p.UnsignedTx.TxIn[i])
		if err != nil {
			return nil, fmt.Errorf("%w (input %d)", err, i)
		}
		p.Inputs = append(p.Inputs, *in)
	}
	for i := range p.UnsignedTx.TxOut {
		out, err := readOutput(r)
		if err != nil {
			return nil, fmt.Errorf("%w (output %d)", err, i)
		}
		p.Outputs = append(p.Outputs, *out)
	}
	if r.Len() != 0 {
		return nil, malformed("%d bytes after the last output map", r.Len())
	}
	return p, nil
}

type kv struct{ key, value []byte }

// readMap reads one map's records, refusing duplicate keys.
func readMap(r *bytes.Reader) ([]kv, error) {
	var out []kv
	seen := map[string]bool{}
	for {
		klen, err := wire.ReadVarInt(r, 0)
		if err != nil {
			return nil, malformed("truncated map: %v", err)
		}
		if klen == 0 {
			return out, nil
		}
		if klen > uint64(r.Len()) {
			return nil, malformed("key of %d bytes runs past the end", klen)
		}
		key := make([]byte, klen)
		io.ReadFull(r, key)
		vlen, err := wire.ReadVarInt(r, 0)
		if err != nil {
			return nil, malformed("truncated value length: %v", err)
		}
		if vlen > uint64(r.Len()) {
			return nil, malformed("value of %d bytes runs past the end", vlen)
		}
		value := make([]byte, vlen)
		io.ReadFull(r, value)
		if seen[string(key)] {
			return nil, malformed("duplicate key %x", key)
		}
		seen[string(key)] = true
		if len(out) == MaxMapRecords {
			return nil, malformed("more than %d records in a map", MaxMapRecords)
		}
		out = append(out, kv{key, value})
	}
}

func (p *Packet) readGlobal(r *bytes.Reader) error {
	recs, err := readMap(r)
	if err != nil {
		return err
	}
	v2fields := false
	for _, rec := range recs {
		k, v := rec.key, rec.value
		switch k[0] {
		case globalUnsignedTx:
			if len(k) != 1 {
				return malformed("unsigned tx key of %d bytes", len(k))
			}
			tx := wire.NewMsgTx(0)
			vr := bytes.NewReader(v)
			if err := tx.DeserializeNoWitness(vr); err != nil || vr.Len() != 0 {
				return malformed("unsigned tx does not parse in non-witness serialization")
			}
			if len(tx.TxIn) > MaxInOut || len(tx.TxOut) > MaxInOut {
				return malformed("more than %d inputs or outputs", MaxInOut)
			}
			for i, in := range tx.TxIn {
				if len(in.SignatureScript) != 0 || len(in.Witness) != 0 {
					return malformed("unsigned tx input %d has a scriptSig or witness", i)
				}
			}
			p.UnsignedTx = tx
		case globalXPub:
			if len(k) != 79 {
				return malformed("xpub key of %d bytes, want 79", len(k))
			}
			fp, path, err := parseKeyOrigin(v)
			if err != nil {
				return err
			}
			p.XPubs = append(p.XPubs, XPub{ExtendedKey: k[1:], Fingerprint: fp, Path: path})
		case globalVersion:
			if len(k) != 1 || len(v) != 4 {
				return malformed("version record of key %d, value %d bytes", len(k), len(v))
			}
			p.Version, p.HasVersion = binary.LittleEndian.Uint32(v), true
		case globalTxVersion, globalFallbackLT, globalInputCount, globalOutputCount, globalTxModifiable:
			v2fields = true
			p.Unknowns = append(p.Unknowns, Unknown{k, v})
		default:
			p.Unknowns = append(p.Unknowns, Unknown{k, v})
		}
	}
	switch {
	case p.Version == 2:
		return ErrVersion2Unsupported
	case p.Version != 0:
		return malformed("unknown PSBT version %d", p.Version)
	case v2fields:
		return malformed("version 0 PSBT with version 2 global fields")
	case p.UnsignedTx == nil:
		return malformed("no unsigned transaction")
	}
	return nil
}

func parseKeyOrigin(v []byte) ([4]byte, []uint32, error) {
	var fp [4]byte
	if len(v) < 4 || len(v)%4 != 0 || len(v) > 4*(1+32) {
		return fp, nil, malformed("key origin of %d bytes", len(v))
	}
	copy(fp[:], v)
	var path []uint32
	for i := 4; i < len(v); i += 4 {
		path = append(path, binary.LittleEndian.Uint32(v[i:]))
	}
	return fp, path, nil
}

func checkPubKeyKey(k []byte, what string) ([]byte, error) {
	pub := k[1:]
	if len(pub) != 33 && len(pub) != 65 {
		return nil, malformed("%s key holds %d bytes, not a public key", what, len(pub))
	}
	if _, err := btcec.ParsePubKey(pub); err != nil {
		return nil, malformed("%s key: invalid public key: %v", what, err)
	}
	return pub, nil
}

func single(k []byte, what string) error {
	if len(k) != 1 {
		return malformed("%s key of %d bytes, want 1", what, len(k))
	}
	return nil
}

func readInput(r *bytes.Reader, txIn *wire.TxIn) (*Input, error) {
	recs, err := readMap(r)
	if err != nil {
		return nil, err
	}
	in := &Input{}
	for _, rec := range recs {
		k, v := rec.key, rec.value
		switch t := k[0]; {
		case t == inNonWitnessUtxo:
			if err := single(k, "non-witness utxo"); err != nil {
				return nil, err
			}
			tx := wire.NewMsgTx(0)
			vr := bytes.NewReader(v)
			if err := tx.Deserialize(vr); err != nil || vr.Len() != 0 {
				return nil, malformed("non-witness utxo does not parse")
			}
			if tx.TxHash() != txIn.PreviousOutPoint.Hash || int(txIn.PreviousOutPoint.Index) >= len(tx.TxOut) {
				return nil, malformed("non-witness utxo is not the transaction the input spends")
			}
			in.NonWitnessUtxo = tx
		case t == inWitnessUtxo:
			if err := single(k, "witness utxo"); err != nil {
				return nil, err
			}
			out, err := parseTxOut(v)
			if err != nil {
				return nil, err
			}
			in.WitnessUtxo = out
		case t == inPartialSig:
			pub, err := checkPubKeyKey(k, "partial signature")
			if err != nil {
				return nil, err
			}
			if len(v) == 0 || len(v) > 80 {
				return nil, malformed("partial signature of %d bytes", len(v))
			}
			in.PartialSigs = append(in.PartialSigs, PartialSig{PubKey: pub, Signature: v})
		case t == inSighashType:
			if err := single(k, "sighash type"); err != nil {
				return nil, err
			}
			if len(v) != 4 {
				return nil, malformed("sighash type of %d bytes", len(v))
			}
			in.SighashType, in.HasSighashType = binary.LittleEndian.Uint32(v), true
		case t == inRedeemScript:
			if err := single(k, "redeem script"); err != nil {
				return nil, err
			}
			in.RedeemScript = v
		case t == inWitnessScript:
			if err := single(k, "witness script"); err != nil {
				return nil, err
			}
			in.WitnessScript = v
		case t == inBip32:
			pub, err := checkPubKeyKey(k, "bip32 derivation")
			if err != nil {
				return nil, err
			}
			fp, path, err := parseKeyOrigin(v)
			if err != nil {
				return nil, err
			}
			in.Bip32Derivations = append(in.Bip32Derivations, Bip32Derivation{PubKey: pub, Fingerprint: fp, Path: path})
		case t == inFinalScriptSig:
			if err := single(k, "final scriptSig"); err != nil {
				return nil, err
			}
			in.FinalScriptSig = v
		case t == inFinalWitness:
			if err := single(k, "final script witness"); err != nil {
				return nil, err
			}
			if _, err := parseWitness(v); err != nil {
				return nil, err
			}
			in.FinalScriptWitness = v
		case t == inRipemd160 || t == inHash160:
			if len(k) != 21 {
				return nil, malformed("hash160/ripemd160 preimage key of %d bytes", len(k))
			}
			in.Unknowns = append(in.Unknowns, Unknown{k, v})
		case t == inSha256 || t == inHash256:
			if len(k) != 33 {
				return nil, malformed("sha256/hash256 preimage key of %d bytes", len(k))
			}
			in.Unknowns = append(in.Unknowns, Unknown{k, v})
		case t >= inPrevTxID && t <= inRequiredHeight:
			return nil, malformed("version 2 input field %#x in a version 0 PSBT", t)
		default:
			if err := checkTaprootInput(k, v); err != nil {
				return nil, err
			}
			in.Unknowns = append(in.Unknowns, Unknown{k, v})
		}
	}
	return in, nil
}

func readOutput(r *bytes.Reader) (*Output, error) {
	recs, err := readMap(r)
	if err != nil {
		return nil, err
	}
	out := &Output{}
	for _, rec := range recs {
		k, v := rec.key, rec.value
		switch k[0] {
		case outRedeemScript:
			if err := single(k, "output redeem script"); err != nil {
				return nil, err
			}
			out.RedeemScript = v
		case outWitnessScript:
			if err := single(k, "output witness script"); err != nil {
				return nil, err
			}
			out.WitnessScript = v
		case outBip32:
			pub, err := checkPubKeyKey(k, "output bip32 derivation")
			if err != nil {
				return nil, err
			}
			fp, path, err := parseKeyOrigin(v)
			if err != nil {
				return nil, err
			}
			out.Bip32Derivations = append(out.Bip32Derivations, Bip32Derivation{PubKey: pub, Fingerprint: fp, Path: path})
		case outAmount, outScript:
			return nil, malformed("version 2 output field %#x in a version 0 PSBT", k[0])
		default:
			if err := checkTaprootOutput(k, v); err != nil {
				return nil, err
			}
			out.Unknowns = append(out.Unknowns, Unknown{k, v})
		}
	}
	return out, nil
}

// checkTaprootInput checks the sizes of BIP-371 input fields, which are
// kept as unknown records.
func checkTaprootInput(k, v []byte) error {
	switch k[0] {
	case 0x13: // PSBT_IN_TAP_KEY_SIG
		if len(k) != 1 || (len(v) != 64 && len(v) != 65) {
			return malformed("taproot key signature record of key %d, value %d bytes", len(k), len(v))
		}
	case 0x14: // PSBT_IN_TAP_SCRIPT_SIG
		if len(k) != 65 || (len(v) != 64 && len(v) != 65) {
			return malformed("taproot script signature record of key %d, value %d bytes", len(k), len(v))
		}
	case 0x15: // PSBT_IN_TAP_LEAF_SCRIPT
		if len(k) < 34 || (len(k)-34)%32 != 0 || len(v) < 1 {
			return malformed("taproot leaf script record of key %d bytes", len(k))
		}
	case 0x16: // PSBT_IN_TAP_BIP32_DERIVATION
		if len(k) != 33 {
			return malformed("taproot bip32 derivation key of %d bytes", len(k))
		}
	case 0x17, 0x18: // PSBT_IN_TAP_INTERNAL_KEY, PSBT_IN_TAP_MERKLE_ROOT
		if len(k) != 1 || len(v) != 32 {
			return malformed("taproot record %#x of key %d, value %d bytes", k[0], len(k), len(v))
		}
	case 0x1a: // PSBT_IN_MUSIG2_PARTICIPANT_PUBKEYS (BIP-373)
		return checkMuSigParticipants(k, v)
	case 0x1b, 0x1c: // PSBT_IN_MUSIG2_PUB_NONCE, PSBT_IN_MUSIG2_PARTIAL_SIG
		if len(k) != 67 && len(k) != 99 {
			return malformed("musig2 record %#x key of %d bytes", k[0], len(k))
		}
		if !validPub(k[1:34]) || !validPub(k[34:67]) {
			return malformed("musig2 record %#x names an invalid public key", k[0])
		}
		if (k[0] == 0x1b && len(v) != 66) || (k[0] == 0x1c && len(v) != 32) {
			return malformed("musig2 record %#x value of %d bytes", k[0], len(v))
		}
	}
	return nil
}

func validPub(b []byte) bool {
	_, err := btcec.ParsePubKey(b)
	return err == nil
}

// checkMuSigParticipants checks a BIP-373 participant-pubkeys record: an
// aggregate key and a list of compressed participant keys.
func checkMuSigParticipants(k, v []byte) error {
	if len(k) != 34 || !validPub(k[1:]) {
		return malformed("musig2 aggregate pubkey is invalid")
	}
	if len(v) == 0 || len(v)%33 != 0 {
		return malformed("musig2 participant pubkeys value of %d bytes", len(v))
	}
	for i := 0; i < len(v); i += 33 {
		if !validPub(v[i : i+33]) {
			return malformed("musig2 participant pubkey is invalid")
		}
	}
	return nil
}

func checkTaprootOutput(k, v []byte) error {
	switch k[0] {
	case 0x05: // PSBT_OUT_TAP_INTERNAL_KEY
		if len(k) != 1 || len(v) != 32 {
			return malformed("taproot output internal key of key %d, value %d bytes", len(k), len(v))
		}
	case 0x06: // PSBT_OUT_TAP_TREE
		if len(k) != 1 || len(v) == 0 {
			return malformed("taproot tree record of key %d, value %d bytes", len(k), len(v))
		}
	case 0x07: // PSBT_OUT_TAP_BIP32_DERIVATION
		if len(k) != 33 {
			return malformed("taproot output bip32 derivation key of %d bytes", len(k))
		}
	case 0x08: // PSBT_OUT_MUSIG2_PARTICIPANT_PUBKEYS (BIP-373)
		return checkMuSigParticipants(k, v)
	}
	return nil
}

func parseTxOut(v []byte) (*wire.TxOut, error) {
	if len(v) < 9 {
		return nil, malformed("witness utxo of %d bytes", len(v))
	}
	r := bytes.NewReader(v[8:])
	n, err := wire.ReadVarInt(r, 0)
	if err != nil || n != uint64(r.Len()) {
		return nil, malformed("witness utxo script length does not match")
	}
	script := make([]byte, n)
	io.ReadFull(r, script)
	return wire.NewTxOut(int64(binary.LittleEndian.Uint64(v)), script), nil
}

func parseWitness(v []byte) (wire.TxWitness, error) {
	r := bytes.NewReader(v)
	n, err := wire.ReadVarInt(r, 0)
	if err != nil || n > uint64(len(v)) {
		return nil, malformed("final script witness item count")
	}
	w := make(wire.TxWitness, 0, n)
	for i := uint64(0); i < n; i++ {
		l, err := wire.ReadVarInt(r, 0)
		if err != nil || l > uint64(r.Len()) {
			return nil, malformed("final script witness item %d", i)
		}
		item := make([]byte, l)
		io.ReadFull(r, item)
		w = append(w, item)
	}
	if r.Len() != 0 {
		return nil, malformed("final script witness has trailing bytes")
	}
	return w, nil
}
