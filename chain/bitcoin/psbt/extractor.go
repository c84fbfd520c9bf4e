package psbt

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Extract is the transaction extractor role (BIP-174 "Transaction
// Extractor"): the network transaction of a PSBT whose every input is
// final, with the final scriptSigs and witnesses in place. It leaves p
// unchanged. It returns the transaction only once btcd's script engine
// accepts every input against the output it spends (VerifyScripts), so it
// refuses a PSBT that lacks any input's UTXO information. An input that
// Finalize or FinalizeInput finalized on p is not run again: the engine
// accepted those very scripts, for the same transaction and spent
// outputs, before they were stored (see scriptRunID).
func (p *Packet) Extract() (*wire.MsgTx, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	tx := p.UnsignedTx.Copy()
	prevOuts := make([]*wire.TxOut, len(p.Inputs))
	for i := range p.Inputs {
		in := &p.Inputs[i]
		if !in.final() {
			return nil, fmt.Errorf("psbt: input %d is not finalized", i)
		}
		tx.TxIn[i].SignatureScript = bytes.Clone(in.FinalScriptSig)
		if in.FinalScriptWitness != nil {
			w, err := parseWitness(in.FinalScriptWitness, fmt.Sprintf("input %d: PSBT_IN_FINAL_SCRIPTWITNESS", i))
			if err != nil {
				return nil, err
			}
			tx.TxIn[i].Witness = w
		}
		prev, err := p.PrevOut(i)
		if err != nil {
			return nil, fmt.Errorf("psbt: cannot verify the extracted transaction: %w", err)
		}
		prevOuts[i] = prev
	}
	txid, spent, c := p.UnsignedTx.TxHash(), spentID(prevOuts), p.verified()
	skip := make([]bool, len(p.Inputs))
	for i := range p.Inputs {
		in := &p.Inputs[i]
		skip[i] = c.ran(scriptRunID(txid, spent, i, in.FinalScriptSig, in.FinalScriptWitness))
	}
	if err := verifyScripts(tx, prevOuts, skip); err != nil {
		return nil, err
	}
	return tx, nil
}

// A ScriptError is VerifyScripts' report that btcd's script engine refused
// an input.
type ScriptError struct {
	Input int   // the index of the input refused
	Err   error // the engine's reason
}

func (e *ScriptError) Error() string {
	return fmt.Sprintf("psbt: input %d fails script verification: %v", e.Input, e.Err)
}

func (e *ScriptError) Unwrap() error { return e.Err }

// VerifyScripts runs btcd's script engine with txscript.StandardVerifyFlags
// on every input of tx against prevOuts[i], the output input i spends. It
// returns a *ScriptError naming the first input refused.
func VerifyScripts(tx *wire.MsgTx, prevOuts []*wire.TxOut) error {
	return verifyScripts(tx, prevOuts, nil)
}

// verifyScripts is VerifyScripts, leaving out the inputs skip marks.
func verifyScripts(tx *wire.MsgTx, prevOuts []*wire.TxOut, skip []bool) error {
	if tx == nil {
		return errors.New("psbt: no transaction to verify")
	}
	if err := checkNoNil(tx, "transaction"); err != nil {
		return err
	}
	if len(prevOuts) != len(tx.TxIn) {
		return fmt.Errorf("psbt: %d spent outputs for %d inputs", len(prevOuts), len(tx.TxIn))
	}
	m := make(map[wire.OutPoint]*wire.TxOut, len(prevOuts))
	for i, in := range tx.TxIn {
		if prevOuts[i] == nil {
			return fmt.Errorf("psbt: no spent output for input %d", i)
		}
		if _, dup := m[in.PreviousOutPoint]; dup {
			return fmt.Errorf("psbt: inputs spend %s twice", in.PreviousOutPoint)
		}
		m[in.PreviousOutPoint] = prevOuts[i]
	}
	fetcher := txscript.NewMultiPrevOutFetcher(m)
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	for i, prev := range prevOuts {
		if skip != nil && skip[i] {
			continue
		}
		vm, err := txscript.NewEngine(prev.PkScript, tx, i, txscript.StandardVerifyFlags, sigCache(), hashes, prev.Value, fetcher)
		if err == nil {
			err = vm.Execute()
		}
		if err != nil {
			return &ScriptError{Input: i, Err: err}
		}
	}
	return nil
}
