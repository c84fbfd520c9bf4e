package psbt

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

func hash160(b []byte) []byte { return address.Hash160(b) }

func p2sh(script []byte) []byte {
	b, _ := txscript.NewScriptBuilder().AddOp(txscript.OP_HASH160).AddData(hash160(script)).AddOp(txscript.OP_EQUAL).Script()
	return b
}

func p2wsh(script []byte) []byte {
	h := sha256.Sum256(script)
	b, _ := txscript.NewScriptBuilder().AddOp(txscript.OP_0).AddData(h[:]).Script()
	return b
}

// Combine is the combiner role: it merges PSBTs for the same unsigned
// transaction. A record present in several with different values is a
// conflict and refused, never resolved silently. Partial signatures are
// ordered by the hash160 of their pubkey, as Bitcoin Core writes them.
func Combine(ps ...*Packet) (*Packet, error) {
	if len(ps) == 0 {
		return nil, fmt.Errorf("psbt: nothing to combine")
	}
	base, err := ps[0].Encode()
	if err != nil {
		return nil, err
	}
	out, err := Decode(base)
	if err != nil {
		return nil, err
	}
	txid := out.UnsignedTx.TxHash()
	for _, p := range ps[1:] {
		if p.UnsignedTx.TxHash() != txid {
			return nil, fmt.Errorf("psbt: cannot combine PSBTs of different transactions (%s, %s)", txid, p.UnsignedTx.TxHash())
		}
		out.XPubs = mergeXPubs(out.XPubs, p.XPubs)
		var err error
		if out.Unknowns, err = mergeUnknowns(out.Unknowns, p.Unknowns); err != nil {
			return nil, err
		}
		for i := range out.Inputs {
			if err := mergeInput(&out.Inputs[i], &p.Inputs[i]); err != nil {
				return nil, fmt.Errorf("%w (input %d)", err, i)
			}
		}
		for i := range out.Outputs {
			a, b := &out.Outputs[i], &p.Outputs[i]
			if a.RedeemScript, err = mergeBytes(a.RedeemScript, b.RedeemScript, "output redeem script"); err != nil {
				return nil, err
			}
			if a.WitnessScript, err = mergeBytes(a.WitnessScript, b.WitnessScript, "output witness script"); err != nil {
				return nil, err
			}
			if a.Bip32Derivations, err = mergeDerivations(a.Bip32Derivations, b.Bip32Derivations); err != nil {
				return nil, err
			}
			if a.Unknowns, err = mergeUnknowns(a.Unknowns, b.Unknowns); err != nil {
				return nil, err
			}
		}
	}
	// A combiner orders the records it merged lexicographically by key
	// (BIP-174 "Combiner"); signatures by their pubkey's hash160, as Core.
	byKey := func(us []Unknown) {
		sort.SliceStable(us, func(a, b int) bool { return bytes.Compare(us[a].Key, us[b].Key) < 0 })
	}
	byKey(out.Unknowns)
	for i := range out.Outputs {
		byKey(out.Outputs[i].Unknowns)
	}
	for i := range out.Inputs {
		byKey(out.Inputs[i].Unknowns)
		sigs := out.Inputs[i].PartialSigs
		sort.SliceStable(sigs, func(a, b int) bool { return bytes.Compare(hash160(sigs[a].PubKey), hash160(sigs[b].PubKey)) < 0 })
	}
	return out, nil
}

func mergeBytes(a, b []byte, what string) ([]byte, error) {
	switch {
	case a == nil:
		return b, nil
	case b == nil || bytes.Equal(a, b):
		return a, nil
	}
	return nil, fmt.Errorf("psbt: conflicting %s", what)
}

func mergeXPubs(a, b []XPub) []XPub {
	for _, x := range b {
		found := false
		for _, y := range a {
			found = found || bytes.Equal(x.ExtendedKey, y.ExtendedKey)
		}
		if !found {
			a = append(a, x)
		}
	}
	return a
}

func mergeUnknowns(a, b []Unknown) ([]Unknown, error) {
	for _, u := range b {
		found := false
		for _, v := range a {
			if bytes.Equal(u.Key, v.Key) {
				if !bytes.Equal(u.Value, v.Value) {
					return nil, fmt.Errorf("psbt: conflicting values for key %x", u.Key)
				}
				found = true
			}
		}
		if !found {
			a = append(a, u)
		}
	}
	return a, nil
}

func mergeDerivations(a, b []Bip32Derivation) ([]Bip32Derivation, error) {
	for _, d := range b {
		found := false
		for _, e := range a {
			if bytes.Equal(d.PubKey, e.PubKey) {
				if d.Fingerprint != e.Fingerprint || fmt.Sprint(d.Path) != fmt.Sprint(e.Path) {
					return nil, fmt.Errorf("psbt: conflicting derivations for %x", d.PubKey)
				}
				found = true
			}
		}
		if !found {
			a = append(a, d)
		}
	}
	return a, nil
}

func mergeInput(a, b *Input) error {
	var err error
	if a.NonWitnessUtxo == nil {
		a.NonWitnessUtxo = b.NonWitnessUtxo
	} else if b.NonWitnessUtxo != nil && a.NonWitnessUtxo.TxHash() != b.NonWitnessUtxo.TxHash() {
		return fmt.Errorf("psbt: conflicting non-witness utxo")
	}
	if a.WitnessUtxo == nil {
		a.WitnessUtxo = b.WitnessUtxo
	} else if b.WitnessUtxo != nil && (a.WitnessUtxo.Value != b.WitnessUtxo.Value || !bytes.Equal(a.WitnessUtxo.PkScript, b.WitnessUtxo.PkScript)) {
		return fmt.Errorf("psbt: conflicting witness utxo")
	}
	for _, s := range b.PartialSigs {
		found := false
		for _, t := range a.PartialSigs {
			if bytes.Equal(s.PubKey, t.PubKey) {
				if !bytes.Equal(s.Signature, t.Signature) {
					return fmt.Errorf("psbt: two different signatures by %x", s.PubKey)
				}
				found = true
			}
		}
		if !found {
			a.PartialSigs = append(a.PartialSigs, s)
		}
	}
	if b.HasSighashType {
		if a.HasSighashType && a.SighashType != b.SighashType {
			return fmt.Errorf("psbt: conflicting sighash types")
		}
		a.SighashType, a.HasSighashType = b.SighashType, true
	}
	if a.RedeemScript, err = mergeBytes(a.RedeemScript, b.RedeemScript, "redeem script"); err != nil {
		return err
	}
	if a.WitnessScript, err = mergeBytes(a.WitnessScript, b.WitnessScript, "witness script"); err != nil {
		return err
	}
	if a.Bip32Derivations, err = mergeDerivations(a.Bip32Derivations, b.Bip32Derivations); err != nil {
		return err
	}
	if a.FinalScriptSig, err = mergeBytes(a.FinalScriptSig, b.FinalScriptSig, "final scriptSig"); err != nil {
		return err
	}
	if a.FinalScriptWitness, err = mergeBytes(a.FinalScriptWitness, b.FinalScriptWitness, "final witness"); err != nil {
		return err
	}
	a.Unknowns, err = mergeUnknowns(a.Unknowns, b.Unknowns)
	return err
}

// Finalize is the finalizer role for every input not yet final.
func (p *Packet) Finalize() error {
	for i := range p.Inputs {
		if p.Inputs[i].FinalScriptSig != nil || p.Inputs[i].FinalScriptWitness != nil {
			continue
		}
		if err := p.FinalizeInput(i); err != nil {
			return err
		}
	}
	return nil
}

// FinalizeInput builds input i's final scriptSig and witness from its
// partial signatures, for multisig (bare multi under P2SH, P2WSH and
// P2SH-P2WSH, signatures in the order of the script's keys, exactly m of
// them) and single-key P2PKH, P2WPKH and P2SH-P2WPKH. Every signature used
// is verified first. Per BIP-174 it then clears everything but the UTXOs,
// the final scripts and unknown records.
func (p *Packet) FinalizeInput(i int) error {
	in := &p.Inputs[i]
	code, segwit, err := p.scriptKind(i)
	if err != nil {
		return err
	}
	sigFor := func(pub []byte) []byte {
		for _, s := range in.PartialSigs {
			if bytes.Equal(s.PubKey, pub) && VerifyPartialSig(p, i, s) == nil {
				return s.Signature
			}
		}
		return nil
	}
	var stack [][]byte // the items that satisfy code
	switch class := txscript.GetScriptClass(code); {
	case class == txscript.MultiSigTy:
		_, m, err := txscript.CalcMultiSigStats(code)
		if err != nil {
			return fmt.Errorf("psbt: input %d: %v", i, err)
		}
		pubs, err := multisigKeys(code)
		if err != nil {
			return fmt.Errorf("psbt: input %d: %v", i, err)
		}
		stack = append(stack, []byte{}) // CHECKMULTISIG's extra pop
		for _, pub := range pubs {
			if len(stack) == m+1 {
				break
			}
			if s := sigFor(pub); s != nil {
				stack = append(stack, s)
			}
		}
		if len(stack) < m+1 {
			return fmt.Errorf("psbt: input %d: %d of %d valid signatures", i, len(stack)-1, m)
		}
	case class == txscript.PubKeyHashTy || (segwit && len(code) == 25):
		// P2PKH, or the P2WPKH script code.
		for _, s := range in.PartialSigs {
			if bytes.Equal(hash160(s.PubKey), code[3:23]) && VerifyPartialSig(p, i, s) == nil {
				stack = [][]byte{s.Signature, s.PubKey}
			}
		}
		if stack == nil {
			return fmt.Errorf("psbt: input %d: no valid signature", i)
		}
	default:
		return fmt.Errorf("psbt: input %d: cannot finalize a %s script", i, class)
	}
	prev, _ := p.PrevOut(i)
	isP2WPKH := segwit && in.WitnessScript == nil
	switch {
	case segwit:
		w := wire.TxWitness(stack)
		if !isP2WPKH {
			w = append(w, in.WitnessScript)
		}
		var b bytes.Buffer
		if err := writeWitness(&b, w); err != nil {
			return err
		}
		in.FinalScriptWitness = b.Bytes()
		if in.RedeemScript != nil {
			in.FinalScriptSig, _ = txscript.NewScriptBuilder().AddData(in.RedeemScript).Script()
		}
	default:
		b := txscript.NewScriptBuilder()
		for _, item := range stack {
			if len(item) == 0 {
				b.AddOp(txscript.OP_0)
			} else {
				b.AddData(item)
			}
		}
		if in.RedeemScript != nil {
			b.AddData(in.RedeemScript)
		}
		if in.FinalScriptSig, err = b.Script(); err != nil {
			return err
		}
	}
	_ = prev
	in.PartialSigs, in.HasSighashType, in.SighashType = nil, false, 0
	in.RedeemScript, in.WitnessScript, in.Bip32Derivations = nil, nil, nil
	return nil
}

func multisigKeys(script []byte) ([][]byte, error) {
	var pubs [][]byte
	tok := txscript.MakeScriptTokenizer(0, script)
	for tok.Next() {
		if d := tok.Data(); len(d) == 33 || len(d) == 65 {
			pubs = append(pubs, d)
		}
	}
	return pubs, tok.Err()
}

func writeWitness(b *bytes.Buffer, w wire.TxWitness) error {
	if err := wire.WriteVarInt(b, 0, uint64(len(w))); err != nil {
		return err
	}
	for _, item := range w {
		if err := wire.WriteVarBytes(b, 0, item); err != nil {
			return err
		}
	}
	return nil
}

// Extract is the extractor role: the network transaction of a PSBT whose
// every input is final.
func (p *Packet) Extract() (*wire.MsgTx, error) {
	tx := p.UnsignedTx.Copy()
	for i := range p.Inputs {
		in := &p.Inputs[i]
		if in.FinalScriptSig == nil && in.FinalScriptWitness == nil {
			return nil, fmt.Errorf("psbt: input %d is not finalized", i)
		}
		tx.TxIn[i].SignatureScript = in.FinalScriptSig
		if in.FinalScriptWitness != nil {
			w, err := parseWitness(in.FinalScriptWitness)
			if err != nil {
				return nil, err
			}
			tx.TxIn[i].Witness = w
		}
	}
	return tx, nil
}

// VerifyScripts runs btcd's script engine, with the standard verification
// flags, on every input of tx against the outputs it spends.
func VerifyScripts(tx *wire.MsgTx, prevOuts []*wire.TxOut) error {
	if len(prevOuts) != len(tx.TxIn) {
		return fmt.Errorf("psbt: %d spent outputs for %d inputs", len(prevOuts), len(tx.TxIn))
	}
	m := make(map[wire.OutPoint]*wire.TxOut, len(prevOuts))
	for i, in := range tx.TxIn {
		m[in.PreviousOutPoint] = prevOuts[i]
	}
	fetcher := txscript.NewMultiPrevOutFetcher(m)
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	for i, prev := range prevOuts {
		vm, err := txscript.NewEngine(prev.PkScript, tx, i, txscript.StandardVerifyFlags, nil, hashes, prev.Value, fetcher)
		if err != nil {
			return fmt.Errorf("psbt: input %d: %v", i, err)
		}
		if err := vm.Execute(); err != nil {
			return fmt.Errorf("psbt: input %d fails script verification: %v", i, err)
		}
	}
	return nil
}
