package psbt

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// PrevOut returns the output input i spends. When both witness_utxo and
// non_witness_utxo are given they must agree: a witness_utxo that lies
// about the amount is how fee attacks on segwit signers start.
func (p *Packet) PrevOut(i int) (*wire.TxOut, error) {
	if i < 0 || i >= len(p.Inputs) {
		return nil, fmt.Errorf("psbt: no input %d", i)
	}
	in := &p.Inputs[i]
	op := p.UnsignedTx.TxIn[i].PreviousOutPoint
	var full *wire.TxOut
	if in.NonWitnessUtxo != nil {
		if in.NonWitnessUtxo.TxHash() != op.Hash || int(op.Index) >= len(in.NonWitnessUtxo.TxOut) {
			return nil, fmt.Errorf("%w: the previous transaction is not the one input %d spends", ErrUTXOMismatch, i)
		}
		full = in.NonWitnessUtxo.TxOut[op.Index]
	}
	switch {
	case full != nil && in.WitnessUtxo != nil:
		if full.Value != in.WitnessUtxo.Value || !bytes.Equal(full.PkScript, in.WitnessUtxo.PkScript) {
			return nil, fmt.Errorf("%w: input %d: witness_utxo says %d sat to %x, the previous transaction %d sat to %x", ErrUTXOMismatch, i, in.WitnessUtxo.Value, in.WitnessUtxo.PkScript, full.Value, full.PkScript)
		}
		return full, nil
	case full != nil:
		return full, nil
	case in.WitnessUtxo != nil:
		return in.WitnessUtxo, nil
	}
	return nil, fmt.Errorf("%w (input %d)", ErrNoUTXO, i)
}

// prevOuts returns every input's spent output.
func (p *Packet) prevOuts() (map[wire.OutPoint]*wire.TxOut, error) {
	m := make(map[wire.OutPoint]*wire.TxOut, len(p.Inputs))
	for i := range p.Inputs {
		o, err := p.PrevOut(i)
		if err != nil {
			return nil, err
		}
		m[p.UnsignedTx.TxIn[i].PreviousOutPoint] = o
	}
	return m, nil
}

// sigHashes caches BIP-143 midstate hashes for a packet: computing them
// once keeps signing n inputs linear.
func (p *Packet) sigHashes() (*txscript.TxSigHashes, error) {
	m, err := p.prevOuts()
	if err != nil {
		return nil, err
	}
	return txscript.NewTxSigHashes(p.UnsignedTx, txscript.NewMultiPrevOutFetcher(m)), nil
}

// scriptKind says how input i is spent: its script code for signing and
// whether it is segwit, checked against the spent output (BIP-174 "Signer":
// the redeem and witness scripts must hash to what the output commits to).
func (p *Packet) scriptKind(i int) (script []byte, segwit bool, err error) {
	in := &p.Inputs[i]
	prev, err := p.PrevOut(i)
	if err != nil {
		return nil, false, err
	}
	pk := prev.PkScript
	if in.RedeemScript != nil {
		if !bytes.Equal(pk, p2sh(in.RedeemScript)) {
			return nil, false, fmt.Errorf("psbt: input %d: the redeem script does not hash to the spent output's script", i)
		}
		pk = in.RedeemScript
	}
	switch {
	case txscript.IsPayToWitnessScriptHash(pk):
		if in.WitnessUtxo == nil && in.NonWitnessUtxo == nil {
			return nil, false, ErrNoUTXO
		}
		if in.WitnessScript == nil {
			return nil, false, fmt.Errorf("psbt: input %d: P2WSH without a witness script", i)
		}
		if !bytes.Equal(pk, p2wsh(in.WitnessScript)) {
			return nil, false, fmt.Errorf("psbt: input %d: the witness script does not hash to the witness program", i)
		}
		return in.WitnessScript, true, nil
	case txscript.IsPayToWitnessPubKeyHash(pk):
		// BIP-143: the script code of P2WPKH is the P2PKH script.
		code, _ := txscript.NewScriptBuilder().AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).AddData(pk[2:]).AddOp(txscript.OP_EQUALVERIFY).AddOp(txscript.OP_CHECKSIG).Script()
		return code, true, nil
	case txscript.IsWitnessProgram(pk):
		return nil, false, fmt.Errorf("psbt: input %d: unsupported witness program", i)
	}
	if in.WitnessUtxo != nil && in.NonWitnessUtxo == nil {
		return nil, false, fmt.Errorf("psbt: input %d: a witness UTXO for a non-witness input", i)
	}
	if in.WitnessScript != nil {
		return nil, false, fmt.Errorf("psbt: input %d: a witness script for a non-witness input", i)
	}
	return pk, false, nil
}

// SigHash computes the digest input i's signature commits to, with script
// as the script code (P2WSH/P2SH-P2WSH: the witness script; P2SH: the
// redeem script): BIP-143 for segwit inputs, the legacy algorithm
// otherwise. The caller's script must be the one scriptKind derives.
func (p *Packet) SigHash(i int, script []byte, hashType txscript.SigHashType) ([]byte, error) {
	code, segwit, err := p.scriptKind(i)
	if err != nil {
		return nil, err
	}
	if script != nil && !bytes.Equal(script, code) {
		return nil, fmt.Errorf("psbt: input %d: the given script is not the input's script code", i)
	}
	if segwit {
		hs, err := p.sigHashes()
		if err != nil {
			return nil, err
		}
		prev, _ := p.PrevOut(i)
		return txscript.CalcWitnessSigHash(code, hs, hashType, p.UnsignedTx, i, prev.Value)
	}
	return txscript.CalcSignatureHash(code, hashType, p.UnsignedTx, i)
}

func (p *Packet) hashType(i int) txscript.SigHashType {
	if p.Inputs[i].HasSighashType {
		return txscript.SigHashType(p.Inputs[i].SighashType)
	}
	return txscript.SigHashAll
}

// SignInput is the signer role for one input and one key: an RFC 6979,
// low-S ECDSA signature with the input's sighash type (SIGHASH_ALL unless
// the PSBT says otherwise), added to the input's partial signatures. It
// refuses when the key is not in the input's script.
func (p *Packet) SignInput(i int, key *btcec.PrivateKey, hashType txscript.SigHashType) (PartialSig, error) {
	if i < 0 || i >= len(p.Inputs) {
		return PartialSig{}, fmt.Errorf("psbt: no input %d", i)
	}
	if p.Inputs[i].HasSighashType && txscript.SigHashType(p.Inputs[i].SighashType) != hashType {
		return PartialSig{}, fmt.Errorf("psbt: input %d asks for sighash type %#x", i, p.Inputs[i].SighashType)
	}
	code, _, err := p.scriptKind(i)
	if err != nil {
		return PartialSig{}, err
	}
	pub := key.PubKey().SerializeCompressed()
	if !bytes.Contains(code, pub) && !bytes.Contains(code, hash160(pub)) {
		return PartialSig{}, fmt.Errorf("psbt: input %d: the key %x is not in the input's script", i, pub)
	}
	digest, err := p.SigHash(i, code, hashType)
	if err != nil {
		return PartialSig{}, err
	}
	sig := append(ecdsa.Sign(key, digest).Serialize(), byte(hashType))
	ps := PartialSig{PubKey: pub, Signature: sig}
	for _, have := range p.Inputs[i].PartialSigs {
		if bytes.Equal(have.PubKey, pub) {
			return PartialSig{}, fmt.Errorf("psbt: input %d already has a signature by %x", i, pub)
		}
	}
	p.Inputs[i].PartialSigs = append(p.Inputs[i].PartialSigs, ps)
	return ps, nil
}

// VerifyPartialSig checks a partial signature for input i: strict DER, low
// S, the sighash byte equal to the input's sighash type (SIGHASH_ALL by
// default), and valid for the input's digest and ps.PubKey.
func VerifyPartialSig(p *Packet, i int, ps PartialSig) error {
	if i < 0 || i >= len(p.Inputs) {
		return fmt.Errorf("psbt: no input %d", i)
	}
	if len(ps.Signature) < 9 {
		return errors.New("psbt: signature too short")
	}
	der, ht := ps.Signature[:len(ps.Signature)-1], txscript.SigHashType(ps.Signature[len(ps.Signature)-1])
	if ht != p.hashType(i) {
		return fmt.Errorf("psbt: input %d: signature has sighash type %#x, the input %#x", i, ht, p.hashType(i))
	}
	sig, err := ecdsa.ParseDERSignature(der)
	if err != nil {
		return fmt.Errorf("psbt: input %d: signature is not strict DER: %v", i, err)
	}
	s := sig.S()
	if s.IsOverHalfOrder() {
		return fmt.Errorf("psbt: input %d: high-S signature", i)
	}
	pub, err := btcec.ParsePubKey(ps.PubKey)
	if err != nil {
		return fmt.Errorf("psbt: input %d: %v", i, err)
	}
	digest, err := p.SigHash(i, nil, ht)
	if err != nil {
		return err
	}
	if !sig.Verify(digest, pub) {
		return fmt.Errorf("psbt: input %d: signature by %x does not verify", i, ps.PubKey)
	}
	return nil
}
