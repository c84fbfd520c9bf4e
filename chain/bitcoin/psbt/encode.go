package psbt

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"
)

// New is the creator role: an empty PSBT for an unsigned transaction.
func New(tx *wire.MsgTx) (*Packet, error) {
	if len(tx.TxIn) > MaxInOut || len(tx.TxOut) > MaxInOut {
		return nil, fmt.Errorf("psbt: more than %d inputs or outputs", MaxInOut)
	}
	for i, in := range tx.TxIn {
		if len(in.SignatureScript) != 0 || len(in.Witness) != 0 {
			return nil, fmt.Errorf("psbt: input %d of the unsigned transaction has a scriptSig or witness", i)
		}
	}
	return &Packet{UnsignedTx: tx, Inputs: make([]Input, len(tx.TxIn)), Outputs: make([]Output, len(tx.TxOut))}, nil
}

type writer struct{ bytes.Buffer }

func (w *writer) record(key, value []byte) {
	wire.WriteVarInt(w, 0, uint64(len(key)))
	w.Write(key)
	wire.WriteVarInt(w, 0, uint64(len(value)))
	w.Write(value)
}

func keyOrigin(fp [4]byte, path []uint32) []byte {
	b := append([]byte{}, fp[:]...)
	for _, p := range path {
		b = binary.LittleEndian.AppendUint32(b, p)
	}
	return b
}

// Encode writes the PSBT: known records in key-type order, then the kept
// records in the order they were read.
func (p *Packet) Encode() ([]byte, error) {
	if p.UnsignedTx == nil {
		return nil, fmt.Errorf("psbt: no unsigned transaction")
	}
	if len(p.Inputs) != len(p.UnsignedTx.TxIn) || len(p.Outputs) != len(p.UnsignedTx.TxOut) {
		return nil, fmt.Errorf("psbt: %d input and %d output maps for %d inputs and %d outputs", len(p.Inputs), len(p.Outputs), len(p.UnsignedTx.TxIn), len(p.UnsignedTx.TxOut))
	}
	var w writer
	w.Write(magic)
	var tx bytes.Buffer
	if err := p.UnsignedTx.SerializeNoWitness(&tx); err != nil {
		return nil, err
	}
	w.record([]byte{globalUnsignedTx}, tx.Bytes())
	for _, x := range p.XPubs {
		w.record(append([]byte{globalXPub}, x.ExtendedKey...), keyOrigin(x.Fingerprint, x.Path))
	}
	if p.HasVersion {
		w.record([]byte{globalVersion}, binary.LittleEndian.AppendUint32(nil, p.Version))
	}
	for _, u := range p.Unknowns {
		w.record(u.Key, u.Value)
	}
	w.WriteByte(0)
	for i := range p.Inputs {
		in := &p.Inputs[i]
		if in.NonWitnessUtxo != nil {
			var b bytes.Buffer
			if err := in.NonWitnessUtxo.Serialize(&b); err != nil {
				return nil, err
			}
			w.record([]byte{inNonWitnessUtxo}, b.Bytes())
		}
		if in.WitnessUtxo != nil {
			var b bytes.Buffer
			if err := wire.WriteTxOut(&b, 0, 0, in.WitnessUtxo); err != nil {
				return nil, err
			}
			w.record([]byte{inWitnessUtxo}, b.Bytes())
		}
		for _, s := range in.PartialSigs {
			w.record(append([]byte{inPartialSig}, s.PubKey...), s.Signature)
		}
		if in.HasSighashType {
			w.record([]byte{inSighashType}, binary.LittleEndian.AppendUint32(nil, in.SighashType))
		}
		if in.RedeemScript != nil {
			w.record([]byte{inRedeemScript}, in.RedeemScript)
		}
		if in.WitnessScript != nil {
			w.record([]byte{inWitnessScript}, in.WitnessScript)
		}
		for _, d := range in.Bip32Derivations {
			w.record(append([]byte{inBip32}, d.PubKey...), keyOrigin(d.Fingerprint, d.Path))
		}
		if in.FinalScriptSig != nil {
			w.record([]byte{inFinalScriptSig}, in.FinalScriptSig)
		}
		if in.FinalScriptWitness != nil {
			w.record([]byte{inFinalWitness}, in.FinalScriptWitness)
		}
		for _, u := range in.Unknowns {
			w.record(u.Key, u.Value)
		}
		w.WriteByte(0)
	}
	for i := range p.Outputs {
		out := &p.Outputs[i]
		if out.RedeemScript != nil {
			w.record([]byte{outRedeemScript}, out.RedeemScript)
		}
		if out.WitnessScript != nil {
			w.record([]byte{outWitnessScript}, out.WitnessScript)
		}
		for _, d := range out.Bip32Derivations {
			w.record(append([]byte{outBip32}, d.PubKey...), keyOrigin(d.Fingerprint, d.Path))
		}
		for _, u := range out.Unknowns {
			w.record(u.Key, u.Value)
		}
		w.WriteByte(0)
	}
	if w.Len() > MaxSize {
		return nil, fmt.Errorf("psbt: encoded size %d exceeds %d", w.Len(), MaxSize)
	}
	return w.Bytes(), nil
}

// B64 is Encode in base64, as PSBTs usually travel.
func (p *Packet) B64() (string, error) {
	b, err := p.Encode()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
