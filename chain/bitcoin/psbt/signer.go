package psbt

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// PrevOut returns a copy of the output input i spends, from its witness
// UTXO and/or its previous transaction. When the previous transaction is
// given it must be the one the input spends, and when both are given they
// must agree on amount and script; otherwise the error wraps
// ErrUTXOMismatch. With neither it wraps ErrNoUTXO.
func (p *Packet) PrevOut(i int) (*wire.TxOut, error) {
	if err := p.checkInput(i); err != nil {
		return nil, err
	}
	in := &p.Inputs[i]
	op := p.UnsignedTx.TxIn[i].PreviousOutPoint
	var out *wire.TxOut
	if prev := in.NonWitnessUtxo; prev != nil {
		// BIP-174 signer check: "If a non-witness UTXO is provided, its
		// hash must match the hash specified in the prevout."
		if h := prev.TxHash(); h != op.Hash {
			return nil, fmt.Errorf("%w: input %d spends %s, but its previous transaction is %s", ErrUTXOMismatch, i, op, h)
		}
		if int64(op.Index) >= int64(len(prev.TxOut)) || prev.TxOut[op.Index] == nil {
			return nil, fmt.Errorf("%w: input %d spends %s, but its previous transaction has %d outputs", ErrUTXOMismatch, i, op, len(prev.TxOut))
		}
		out = prev.TxOut[op.Index]
		if w := in.WitnessUtxo; w != nil && (w.Value != out.Value || !bytes.Equal(w.PkScript, out.PkScript)) {
			return nil, fmt.Errorf("%w: input %d: the witness UTXO says %d sat to %x, the previous transaction %d sat to %x", ErrUTXOMismatch, i, w.Value, w.PkScript, out.Value, out.PkScript)
		}
	} else if out = in.WitnessUtxo; out == nil {
		return nil, fmt.Errorf("%w (input %d)", ErrNoUTXO, i)
	}
	if out.Value < 0 || out.Value > btcutil.MaxSatoshi {
		return nil, fmt.Errorf("psbt: input %d spends an amount of %d, outside 0 to %d", i, out.Value, int64(btcutil.MaxSatoshi))
	}
	return wire.NewTxOut(out.Value, bytes.Clone(out.PkScript)), nil
}

// PrevTxOut returns a copy of the output input i spends, read from its
// previous transaction alone, after checking that the transaction hashes
// to the txid the input spends. It ignores the witness UTXO: when PrevOut
// refuses an input whose witness UTXO disagrees with a previous
// transaction that checks out, this is the output that exists on chain,
// so a review can still show the true amount and fee while it blocks.
// Without a previous transaction the error wraps ErrNoUTXO; with one that
// is not the input's, ErrUTXOMismatch.
func (p *Packet) PrevTxOut(i int) (*wire.TxOut, error) {
	if err := p.checkInput(i); err != nil {
		return nil, err
	}
	prev := p.Inputs[i].NonWitnessUtxo
	if prev == nil {
		return nil, fmt.Errorf("%w (input %d has no previous transaction)", ErrNoUTXO, i)
	}
	op := p.UnsignedTx.TxIn[i].PreviousOutPoint
	if h := prev.TxHash(); h != op.Hash {
		return nil, fmt.Errorf("%w: input %d spends %s, but its previous transaction is %s", ErrUTXOMismatch, i, op, h)
	}
	if int64(op.Index) >= int64(len(prev.TxOut)) || prev.TxOut[op.Index] == nil {
		return nil, fmt.Errorf("%w: input %d spends %s, but its previous transaction has %d outputs", ErrUTXOMismatch, i, op, len(prev.TxOut))
	}
	out := prev.TxOut[op.Index]
	if out.Value < 0 || out.Value > btcutil.MaxSatoshi {
		return nil, fmt.Errorf("psbt: input %d spends an amount of %d, outside 0 to %d", i, out.Value, int64(btcutil.MaxSatoshi))
	}
	return wire.NewTxOut(out.Value, bytes.Clone(out.PkScript)), nil
}

func (p *Packet) checkInput(i int) error {
	if p.UnsignedTx == nil || len(p.Inputs) != len(p.UnsignedTx.TxIn) {
		return errors.New("psbt: the packet's input maps do not match its transaction")
	}
	if i < 0 || i >= len(p.Inputs) {
		return fmt.Errorf("psbt: no input %d (the transaction has %d)", i, len(p.Inputs))
	}
	if p.UnsignedTx.TxIn[i] == nil {
		return fmt.Errorf("psbt: input %d is nil", i)
	}
	return nil
}

// sigHashCache holds what BIP-143 digests share across inputs (the hashes
// of all outpoints, sequences and outputs), so that signing n inputs costs
// n, not n squared, and the prevout fetcher the script engine needs.
type sigHashCache struct {
	tx        *wire.MsgTx
	nIn, nOut int
	fetcher   *txscript.MultiPrevOutFetcher
	hashes    *txscript.TxSigHashes
}

// sigHashes returns the packet's cache, built on first use from every
// input's spent output (btcd's midstate looks at all of them; a missing
// one would crash it, a mismatched one is refused). It is rebuilt if
// UnsignedTx is replaced.
func (p *Packet) sigHashes() (*sigHashCache, error) {
	tx := p.UnsignedTx
	if c := p.midstate; c != nil && c.tx == tx && c.nIn == len(tx.TxIn) && c.nOut == len(tx.TxOut) {
		return c, nil
	}
	prevs := make(map[wire.OutPoint]*wire.TxOut, len(tx.TxIn))
	for i, txIn := range tx.TxIn {
		prev, err := p.PrevOut(i)
		if err != nil {
			return nil, fmt.Errorf("%w; segwit digests need every input's spent output", err)
		}
		prevs[txIn.PreviousOutPoint] = prev
	}
	if err := checkNoNil(tx, "unsigned transaction"); err != nil {
		return nil, err
	}
	fetcher := txscript.NewMultiPrevOutFetcher(prevs)
	p.midstate = &sigHashCache{
		tx: tx, nIn: len(tx.TxIn), nOut: len(tx.TxOut),
		fetcher: fetcher,
		hashes:  txscript.NewTxSigHashes(tx, fetcher),
	}
	return p.midstate, nil
}

// standardHashType says t is ALL, NONE or SINGLE, with or without
// ANYONECANPAY: the types this package signs and accepts.
func standardHashType(t txscript.SigHashType) bool {
	return t <= 0xff && definedHashType(byte(t))
}

// hashType returns the sighash type input i asks for: its
// PSBT_IN_SIGHASH_TYPE, or SIGHASH_ALL without one (BIP-174 signer check:
// "If a sighash type is not provided, the signer should sign using
// SIGHASH_ALL").
func (p *Packet) hashType(i int) (txscript.SigHashType, error) {
	in := &p.Inputs[i]
	if !in.HasSighashType {
		return txscript.SigHashAll, nil
	}
	t := txscript.SigHashType(in.SighashType)
	if !standardHashType(t) {
		return 0, fmt.Errorf("psbt: input %d asks for sighash type %#x, which is not a defined type", i, in.SighashType)
	}
	return t, nil
}

// SigHash returns the digest a signature for input i commits to, with
// hashType: BIP-143 with the script code and the spent amount for P2WPKH,
// P2SH-P2WPKH, P2WSH and P2SH-P2WSH; the legacy algorithm with the redeem
// script for P2SH and with the output script for P2PKH. script is the
// script code the caller expects (the witness script, or the redeem script
// of legacy P2SH), or nil to take it from the PSBT; see resolve for the
// checks made first. SIGHASH_SINGLE on an input without a matching output
// is refused: its legacy digest is the constant 1, a signature on which
// spends the input in any transaction.
func (p *Packet) SigHash(i int, script []byte, hashType txscript.SigHashType) ([]byte, error) {
	if err := p.checkInput(i); err != nil {
		return nil, err
	}
	if !standardHashType(hashType) {
		return nil, fmt.Errorf("psbt: sighash type %#x is not a defined type", uint32(hashType))
	}
	s, err := p.resolve(i, script)
	if err != nil {
		return nil, err
	}
	return p.digest(i, s, hashType)
}

func (p *Packet) digest(i int, s *spend, hashType txscript.SigHashType) ([]byte, error) {
	if hashType&^txscript.SigHashAnyOneCanPay == txscript.SigHashSingle && i >= len(p.UnsignedTx.TxOut) {
		return nil, fmt.Errorf("psbt: input %d: SIGHASH_SINGLE without output %d", i, i)
	}
	if !s.kind.segwit() {
		return txscript.CalcSignatureHash(s.code, hashType, p.UnsignedTx, i)
	}
	c, err := p.sigHashes()
	if err != nil {
		return nil, err
	}
	return txscript.CalcWitnessSigHash(s.code, c.hashes, hashType, p.UnsignedTx, i, s.prev.Value)
}

// SignInput is the signer role for input i and one key (BIP-174
// "Signer"): an ECDSA signature, deterministic (RFC 6979) and low-S, by
// btcec, followed by the sighash byte, appended to the input's partial
// signatures and returned. hashType must be the sighash type the input
// asks for (SIGHASH_ALL when it asks for none): a signer states what it
// signs and is refused if the PSBT wants something else. SignInput
// refuses an input whose script (P2PKH, P2WPKH, P2SH-P2WPKH, or multisig
// in P2SH, P2WSH or P2SH-P2WSH) does not name the key's compressed public
// key, and an input that already holds a signature by that key. In a
// version 2 PSBT it updates PSBT_GLOBAL_TX_MODIFIABLE as BIP-370 asks.
func (p *Packet) SignInput(i int, key *btcec.PrivateKey, hashType txscript.SigHashType) (PartialSig, error) {
	if err := p.checkInput(i); err != nil {
		return PartialSig{}, err
	}
	if key == nil {
		return PartialSig{}, errors.New("psbt: no key")
	}
	want, err := p.hashType(i)
	if err != nil {
		return PartialSig{}, err
	}
	if hashType != want {
		return PartialSig{}, fmt.Errorf("psbt: input %d asks for sighash type %#x, the signer was asked for %#x", i, uint32(want), uint32(hashType))
	}
	s, err := p.resolve(i, nil)
	if err != nil {
		return PartialSig{}, err
	}
	if _, _, err := s.signers(); err != nil {
		return PartialSig{}, fmt.Errorf("psbt: input %d: %v", i, err)
	}
	pub := key.PubKey().SerializeCompressed()
	if ok, err := s.names(pub); err != nil || !ok {
		return PartialSig{}, fmt.Errorf("psbt: input %d: its %s script does not name the key %x", i, s.kind, pub)
	}
	for _, have := range p.Inputs[i].PartialSigs {
		if bytes.Equal(have.PubKey, pub) {
			return PartialSig{}, fmt.Errorf("psbt: input %d already has a signature by %x", i, pub)
		}
	}
	digest, err := p.digest(i, s, hashType)
	if err != nil {
		return PartialSig{}, err
	}
	ps := PartialSig{PubKey: pub, Signature: append(ecdsa.Sign(key, digest).Serialize(), byte(hashType))}
	if err := VerifyPartialSig(p, i, ps); err != nil {
		return PartialSig{}, fmt.Errorf("psbt: input %d: own signature does not verify: %w", i, err)
	}
	p.Inputs[i].PartialSigs = append(p.Inputs[i].PartialSigs, ps)
	p.noteSignature(hashType)
	return ps, nil
}

// noteSignature updates a version 2 PSBT_GLOBAL_TX_MODIFIABLE after a
// signature with hashType is added (BIP-370 "Signer"): without
// ANYONECANPAY inputs are no longer modifiable, without SIGHASH_NONE
// outputs are not, and SIGHASH_SINGLE sets the Has SIGHASH_SINGLE flag. A
// PSBT without the field allows no modification, and is left so.
func (p *Packet) noteSignature(hashType txscript.SigHashType) {
	if p.Version != 2 || !p.HasTxModifiable {
		return
	}
	if hashType&txscript.SigHashAnyOneCanPay == 0 {
		p.TxModifiable &^= ModifiableInputs
	}
	switch hashType &^ txscript.SigHashAnyOneCanPay {
	case txscript.SigHashNone:
	case txscript.SigHashSingle:
		p.TxModifiable &^= ModifiableOutputs
		p.TxModifiable |= ModifiableSigSingle
	default:
		p.TxModifiable &^= ModifiableOutputs
	}
}

// VerifyPartialSig checks a partial signature for input i as the
// finalizer will use it: ps.PubKey is a valid key (compressed for segwit)
// that the input's script names, the signature is strict DER (BIP-66)
// with a low S (BIP-146), its sighash byte is the type the input asks for
// (SIGHASH_ALL by default), and it is valid for the input's digest.
func VerifyPartialSig(p *Packet, i int, ps PartialSig) error {
	if err := p.checkInput(i); err != nil {
		return err
	}
	c := p.verified()
	if !c.valid(ps.PubKey) {
		return fmt.Errorf("psbt: input %d: %x is not a valid public key", i, ps.PubKey)
	}
	sig := ps.Signature
	if !validSignatureEncoding(sig) {
		return fmt.Errorf("psbt: input %d: the signature by %x is not strict DER with a sighash byte", i, ps.PubKey)
	}
	want, err := p.hashType(i)
	if err != nil {
		return err
	}
	got := txscript.SigHashType(sig[len(sig)-1])
	if got != want {
		return fmt.Errorf("psbt: input %d: the signature by %x has sighash type %#x, the input asks for %#x", i, ps.PubKey, uint32(got), uint32(want))
	}
	parsed, err := ecdsa.ParseDERSignature(sig[:len(sig)-1])
	if err != nil {
		return fmt.Errorf("psbt: input %d: the signature by %x: %v", i, ps.PubKey, err)
	}
	if s := parsed.S(); s.IsOverHalfOrder() {
		return fmt.Errorf("psbt: input %d: the signature by %x has a high S (BIP-146 LOW_S)", i, ps.PubKey)
	}
	s, err := p.resolve(i, nil)
	if err != nil {
		return err
	}
	if s.kind.segwit() && len(ps.PubKey) != 33 {
		return fmt.Errorf("psbt: input %d: the uncompressed key %x cannot sign a segwit input", i, ps.PubKey)
	}
	if ok, err := s.names(ps.PubKey); err != nil || !ok {
		return fmt.Errorf("psbt: input %d: its %s script does not name the key %x", i, s.kind, ps.PubKey)
	}
	digest, err := p.digest(i, s, got)
	if err != nil {
		return err
	}
	// A signature verified on this packet before, by the same key over
	// the same digest, is not verified twice (the finalizer checks again
	// what the caller checked).
	id := sigID(ps.PubKey, digest, sig)
	if c.seen(id) {
		return nil
	}
	// So is one the process verified before (verifiedSigs).
	if verifiedSigs.has(id) {
		c.add(id)
		return nil
	}
	pub, err := btcec.ParsePubKey(ps.PubKey)
	if err != nil {
		return fmt.Errorf("psbt: input %d: %v", i, err)
	}
	if !parsed.Verify(digest, pub) {
		return fmt.Errorf("psbt: input %d: the signature by %x does not verify", i, ps.PubKey)
	}
	verifiedSigs.add(id)
	c.add(id)
	return nil
}
