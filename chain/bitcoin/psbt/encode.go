package psbt

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"
)

// Encode writes p in binary, in the version it has: the records this
// package interprets in key-type order, with the Unknowns merged in as the
// package comment says. It first runs Validate, so it never writes a PSBT that
// Decode would refuse or read back differently.
func (p *Packet) Encode() ([]byte, error) {
	m, err := p.validRecords()
	if err != nil {
		return nil, err
	}
	b := append([]byte(nil), magic...)
	b = appendMap(b, m.global)
	for _, recs := range m.inputs {
		b = appendMap(b, recs)
	}
	for _, recs := range m.outputs {
		b = appendMap(b, recs)
	}
	if len(b) > MaxSize {
		return nil, tooLarge("", "encoding is %d bytes, the limit is %d", len(b), MaxSize)
	}
	return b, nil
}

// B64 is Encode in base64 (BIP-174 "Encoding"), as PSBTs usually travel.
func (p *Packet) B64() (string, error) {
	b, err := p.Encode()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func appendMap(b []byte, recs []record) []byte {
	for _, r := range recs {
		b = appendCompact(b, uint64(len(r.key)))
		b = append(b, r.key...)
		b = appendCompact(b, uint64(len(r.value)))
		b = append(b, r.value...)
	}
	return append(b, 0x00)
}

// appendCompact appends v as a minimal compact size unsigned integer.
func appendCompact(b []byte, v uint64) []byte {
	switch {
	case v < 0xfd:
		return append(b, byte(v))
	case v <= 0xffff:
		return binary.LittleEndian.AppendUint16(append(b, 0xfd), uint16(v))
	case v <= 0xffffffff:
		return binary.LittleEndian.AppendUint32(append(b, 0xfe), uint32(v))
	}
	return binary.LittleEndian.AppendUint64(append(b, 0xff), v)
}

// validRecords returns p's records after checking, with the same parser
// Decode uses, that they read back into records equal to themselves.
func (p *Packet) validRecords() (*maps, error) {
	m, err := p.records()
	if err != nil {
		return nil, err
	}
	q, err := parseMaps(m, p.verified())
	if err != nil {
		return nil, err
	}
	back, err := q.records()
	if err != nil {
		return nil, err
	}
	if !m.equal(back) {
		return nil, malformed("", "the packet does not read back as written")
	}
	return m, nil
}

// validateByMap is validRecords for a version 0 packet, one map at a time:
// in version 0 each input and output map is read on its own against the
// unsigned transaction, so no more than one map's records and parse are
// held at once, where validRecords holds two copies of the whole packet.
func (p *Packet) validateByMap() error {
	tx := p.UnsignedTx
	if tx == nil {
		return malformed("", "no unsigned transaction")
	}
	if err := checkNoNil(tx, "unsigned transaction"); err != nil {
		return err
	}
	if len(p.Inputs) != len(tx.TxIn) || len(p.Outputs) != len(tx.TxOut) {
		return malformed("", "%d input and %d output maps for a transaction with %d inputs and %d outputs", len(p.Inputs), len(p.Outputs), len(tx.TxIn), len(tx.TxOut))
	}
	global, err := p.globalRecords()
	if err != nil {
		return err
	}
	q, nIn, nOut, err := parseGlobal(global)
	if err != nil {
		return err
	}
	if q.Version != 0 {
		_, err := p.validRecords()
		return err
	}
	if len(p.Inputs) != nIn || len(p.Outputs) != nOut {
		return malformed("", "%d input and %d output maps for a transaction with %d inputs and %d outputs", len(p.Inputs), len(p.Outputs), nIn, nOut)
	}
	errBack := malformed("", "the packet does not read back as written")
	back, err := q.globalRecords()
	if err != nil {
		return err
	}
	if !equalRecords(global, back) {
		return errBack
	}
	keys := p.verified()
	q.Inputs, q.Outputs = make([]Input, 1), make([]Output, 1)
	for i := range p.Inputs {
		recs, err := p.inputRecords(i)
		if err != nil {
			return err
		}
		if q.Inputs[0], _, err = parseInput(recs, q.UnsignedTx.TxIn[i], false, fmt.Sprintf("input %d", i), keys); err != nil {
			return err
		}
		if back, err = q.inputRecords(0); err != nil {
			return err
		}
		if !equalRecords(recs, back) {
			return errBack
		}
	}
	for i := range p.Outputs {
		recs, err := p.outputRecords(i)
		if err != nil {
			return err
		}
		if q.Outputs[0], _, err = parseOutput(recs, false, fmt.Sprintf("output %d", i), keys); err != nil {
			return err
		}
		if back, err = q.outputRecords(0); err != nil {
			return err
		}
		if !equalRecords(recs, back) {
			return errBack
		}
	}
	return nil
}

func equalRecords(a, b []record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].key, b[i].key) || !bytes.Equal(a[i].value, b[i].value) {
			return false
		}
	}
	return true
}

func (m *maps) equal(o *maps) bool {
	eq := equalRecords
	if !eq(m.global, o.global) || len(m.inputs) != len(o.inputs) || len(m.outputs) != len(o.outputs) {
		return false
	}
	for i := range m.inputs {
		if !eq(m.inputs[i], o.inputs[i]) {
			return false
		}
	}
	for i := range m.outputs {
		if !eq(m.outputs[i], o.outputs[i]) {
			return false
		}
	}
	return true
}

// records lays p out as records, in the order Encode writes them. It
// refuses what records could not carry faithfully: a nil transaction, maps
// that do not match it, a value set without its presence flag, a field of
// the other version, and an Unknown whose key type belongs to a typed
// field.
func (p *Packet) records() (*maps, error) {
	tx := p.UnsignedTx
	if tx == nil {
		return nil, malformed("", "no unsigned transaction")
	}
	if err := checkNoNil(tx, "unsigned transaction"); err != nil {
		return nil, err
	}
	if len(p.Inputs) != len(tx.TxIn) || len(p.Outputs) != len(tx.TxOut) {
		return nil, malformed("", "%d input and %d output maps for a transaction with %d inputs and %d outputs", len(p.Inputs), len(p.Outputs), len(tx.TxIn), len(tx.TxOut))
	}
	m := &maps{inputs: make([][]record, len(p.Inputs)), outputs: make([][]record, len(p.Outputs))}
	var err error
	if m.global, err = p.globalRecords(); err != nil {
		return nil, err
	}
	for i := range p.Inputs {
		if m.inputs[i], err = p.inputRecords(i); err != nil {
			return nil, err
		}
	}
	for i := range p.Outputs {
		if m.outputs[i], err = p.outputRecords(i); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// globalRecords lays out the global map: PSBT_GLOBAL_UNSIGNED_TX in
// version 0 or the BIP-370 fields in version 2, the xpubs, the version,
// then the Unknowns.
func (p *Packet) globalRecords() ([]record, error) {
	const at = "global map"
	var recs, v2 []record
	switch {
	case p.Version == 0 && !p.HasVersion:
	case p.Version == 0 || p.Version == 2 && p.HasVersion:
	case p.Version == 2:
		return nil, malformed(at, "Version 2 set without HasVersion; a version 2 PSBT must write PSBT_GLOBAL_VERSION")
	default:
		return nil, malformed(at, "Version %d, want 0 or 2", p.Version)
	}
	if p.Version == 2 {
		var err error
		if v2, err = p.v2GlobalRecords(); err != nil {
			return nil, err
		}
	} else {
		if err := p.checkNoV2Globals(); err != nil {
			return nil, err
		}
		var txb bytes.Buffer
		if err := p.UnsignedTx.SerializeNoWitness(&txb); err != nil {
			return nil, malformed(at, "unsigned transaction: %v", err)
		}
		recs = append(recs, record{[]byte{globalUnsignedTx}, txb.Bytes()})
	}
	for _, x := range p.XPubs {
		recs = append(recs, record{append([]byte{globalXPub}, x.ExtendedKey...), keyOrigin(x.Fingerprint, x.Path)})
	}
	recs = append(recs, v2...)
	if p.HasVersion {
		recs = append(recs, record{[]byte{globalVersion}, binary.LittleEndian.AppendUint32(nil, p.Version)})
	}
	return mergeUnknowns(recs, p.Unknowns, at, typedGlobal, func(uint64) bool { return false })
}

// inputRecords lays out input map i.
func (p *Packet) inputRecords(i int) ([]record, error) {
	in := &p.Inputs[i]
	at := fmt.Sprintf("input %d", i)
	var recs []record
	if in.NonWitnessUtxo != nil {
		if err := checkNoNil(in.NonWitnessUtxo, at+": PSBT_IN_NON_WITNESS_UTXO"); err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := in.NonWitnessUtxo.Serialize(&b); err != nil {
			return nil, malformed(at, "PSBT_IN_NON_WITNESS_UTXO: %v", err)
		}
		recs = append(recs, record{[]byte{inNonWitnessUtxo}, b.Bytes()})
	}
	if o := in.WitnessUtxo; o != nil {
		v := binary.LittleEndian.AppendUint64(nil, uint64(o.Value))
		v = appendCompact(v, uint64(len(o.PkScript)))
		recs = append(recs, record{[]byte{inWitnessUtxo}, append(v, o.PkScript...)})
	}
	for _, s := range in.PartialSigs {
		recs = append(recs, record{append([]byte{inPartialSig}, s.PubKey...), s.Signature})
	}
	switch {
	case in.HasSighashType:
		recs = append(recs, record{[]byte{inSighashType}, binary.LittleEndian.AppendUint32(nil, in.SighashType)})
	case in.SighashType != 0:
		return nil, malformed(at, "SighashType %#x set without HasSighashType", in.SighashType)
	}
	if in.RedeemScript != nil {
		recs = append(recs, record{[]byte{inRedeemScript}, in.RedeemScript})
	}
	if in.WitnessScript != nil {
		recs = append(recs, record{[]byte{inWitnessScript}, in.WitnessScript})
	}
	for _, d := range in.Bip32Derivations {
		recs = append(recs, record{append([]byte{inBip32}, d.PubKey...), keyOrigin(d.Fingerprint, d.Path)})
	}
	if in.FinalScriptSig != nil {
		recs = append(recs, record{[]byte{inFinalScriptSig}, in.FinalScriptSig})
	}
	if in.FinalScriptWitness != nil {
		recs = append(recs, record{[]byte{inFinalWitness}, in.FinalScriptWitness})
	}
	if p.Version == 2 {
		v2, err := p.v2InputRecords(i)
		if err != nil {
			return nil, err
		}
		recs = append(recs, v2...)
	} else if err := p.checkNoV2Input(i); err != nil {
		return nil, err
	}
	recs = append(recs, tapInputRecords(in)...)
	return mergeUnknowns(recs, in.Unknowns, at, typedInput, definedInput)
}

// outputRecords lays out output map i.
func (p *Packet) outputRecords(i int) ([]record, error) {
	out := &p.Outputs[i]
	var recs []record
	if out.RedeemScript != nil {
		recs = append(recs, record{[]byte{outRedeemScript}, out.RedeemScript})
	}
	if out.WitnessScript != nil {
		recs = append(recs, record{[]byte{outWitnessScript}, out.WitnessScript})
	}
	for _, d := range out.Bip32Derivations {
		recs = append(recs, record{append([]byte{outBip32}, d.PubKey...), keyOrigin(d.Fingerprint, d.Path)})
	}
	if p.Version == 2 {
		recs = append(recs, p.v2OutputRecords(i)...)
	}
	recs = append(recs, tapOutputRecords(out)...)
	return mergeUnknowns(recs, out.Unknowns, fmt.Sprintf("output %d", i), typedOutput, definedOutput)
}

// mergeUnknowns adds us to the typed records, which stand in key-type
// order: an Unknown of a type a BIP defines for the map (defined) goes
// after the typed records of its type or lower, any other after them all;
// Unknowns keep their order. An Unknown with a typed key type would be
// read back into the typed field, out of its place, so it is refused.
func mergeUnknowns(typedRecs []record, us []Unknown, at string, typed, defined func(uint64) bool) ([]record, error) {
	out := make([]record, 0, len(typedRecs)+len(us))
	next := 0
	for _, u := range us {
		t, _, err := keyType(u.Key)
		if err != nil {
			return nil, malformed(at, "unknown record: %v", err)
		}
		if typed(t) {
			return nil, malformed(at, "unknown record %x has key type %#02x, which has a typed field", u.Key, t)
		}
		for next < len(typedRecs) && (!defined(t) || typedRecs[next].key[0] <= byte(t)) {
			out = append(out, typedRecs[next])
			next++
		}
		out = append(out, record{u.Key, u.Value})
	}
	return append(out, typedRecs[next:]...), nil
}

func keyOrigin(fp [4]byte, path []uint32) []byte {
	b := make([]byte, 4, 4+4*len(path))
	copy(b, fp[:])
	for _, step := range path {
		b = binary.LittleEndian.AppendUint32(b, step)
	}
	return b
}

// checkNoNil refuses a transaction with a nil input or output, which btcd
// would dereference.
func checkNoNil(tx *wire.MsgTx, at string) error {
	for i, in := range tx.TxIn {
		if in == nil {
			return malformed(at, "input %d is nil", i)
		}
	}
	for i, out := range tx.TxOut {
		if out == nil {
			return malformed(at, "output %d is nil", i)
		}
	}
	return nil
}
