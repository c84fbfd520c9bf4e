package psbt

import (
	"bytes"
	"fmt"

	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// Finalize is the input finalizer role (BIP-174 "Input Finalizer") for
// every input not yet final. It is all or nothing: on error no input has
// changed.
func (p *Packet) Finalize() error {
	if err := p.Validate(); err != nil {
		return err
	}
	work := shallowTx(p.UnsignedTx)
	log := p.runLog()
	finals := make([]*finalScripts, len(p.Inputs))
	for i := range p.Inputs {
		if p.Inputs[i].final() {
			continue
		}
		f, err := p.finalInput(i, work, log)
		if err != nil {
			return err
		}
		finals[i] = f
	}
	for i, f := range finals {
		if f != nil {
			p.Inputs[i].finalize(f)
		}
	}
	return nil
}

// finalScripts is what finalizing an input makes: its final scriptSig
// and serialized witness, and the unknown records it keeps.
type finalScripts struct {
	scriptSig, witness []byte
	unknowns           []Unknown
}

// finalize replaces in by its final form (BIP-174 "Input Finalizer"): the
// UTXOs, the final scripts and the unknown records kept. BIP-370 fields
// describe the transaction, which is signed: they stay.
func (in *Input) finalize(f *finalScripts) {
	*in = Input{NonWitnessUtxo: in.NonWitnessUtxo, WitnessUtxo: in.WitnessUtxo,
		FinalScriptSig: f.scriptSig, FinalScriptWitness: f.witness, Unknowns: f.unknowns,
		HasSequence: in.HasSequence, RequiredTimeLockTime: in.RequiredTimeLockTime, RequiredHeightLockTime: in.RequiredHeightLockTime,
	}
}

// FinalizeInput finalizes input i alone; an input already final is left
// as it is.
//
// Supported are single-key P2PKH, P2WPKH and P2SH-P2WPKH, and bare
// multisig in P2SH, P2WSH and P2SH-P2WSH, where the signatures go in the
// order of the script's keys, exactly m of them (the first m keys in
// script order that signed). Every partial signature must pass
// VerifyPartialSig, so a signature with another sighash type than the
// input asks for fails finalization as BIP-174 requires. The scriptSig and
// witness built are run through btcd's script engine before they are
// stored. Then, per BIP-174, everything but the UTXOs, the final scripts
// and unknown records is cleared; hash preimages and taproot and MuSig2
// records, which only serve signing, are cleared too.
func (p *Packet) FinalizeInput(i int) error {
	if err := p.checkInput(i); err != nil {
		return err
	}
	if p.Inputs[i].final() {
		return nil
	}
	f, err := p.finalInput(i, shallowTx(p.UnsignedTx), p.runLog())
	if err != nil {
		return err
	}
	p.Inputs[i].finalize(f)
	return nil
}

func (in *Input) final() bool { return in.FinalScriptSig != nil || in.FinalScriptWitness != nil }

// shallowTx copies tx's input slice, so one input's scripts can be set
// for the script engine without touching tx or copying every input.
func shallowTx(tx *wire.MsgTx) *wire.MsgTx {
	w := *tx
	w.TxIn = append([]*wire.TxIn(nil), tx.TxIn...)
	return &w
}

// finalInput builds the final form of input i without changing p, and
// notes in log the script engine run it passed.
func (p *Packet) finalInput(i int, work *wire.MsgTx, log *runLog) (*finalScripts, error) {
	in := &p.Inputs[i]
	fail := func(format string, args ...any) error {
		return fmt.Errorf("psbt: input %d: cannot finalize: %s", i, fmt.Sprintf(format, args...))
	}
	s, err := p.resolve(i, nil)
	if err != nil {
		return nil, err
	}
	m, keys, err := s.signers()
	if err != nil {
		return nil, fail("%v", err)
	}
	if len(in.PartialSigs) == 0 {
		return nil, fail("no signatures")
	}
	for _, ps := range in.PartialSigs {
		if err := VerifyPartialSig(p, i, ps); err != nil {
			return nil, fmt.Errorf("psbt: input %d: cannot finalize: %w", i, err)
		}
	}

	// The stack that satisfies the script code, bottom first.
	var stack [][]byte
	if s.kind.singleKey() {
		// VerifyPartialSig checked the key hashes to the script's, and
		// keys are unique, so the one signature is the one.
		ps := in.PartialSigs[0]
		stack = [][]byte{ps.Signature, ps.PubKey}
	} else {
		bySigner := make(map[string][]byte, len(in.PartialSigs))
		for _, ps := range in.PartialSigs {
			bySigner[string(ps.PubKey)] = ps.Signature
		}
		// OP_CHECKMULTISIG pops one item too many; NULLDUMMY (BIP-147)
		// wants it empty.
		stack = [][]byte{{}}
		for _, k := range keys {
			if len(stack) == m+1 {
				break
			}
			if sig, ok := bySigner[string(k)]; ok {
				stack = append(stack, sig)
			}
		}
		if len(stack) < m+1 {
			return nil, fail("%d of the %d signatures %d-of-%d multisig needs", len(stack)-1, m, m, len(keys))
		}
	}

	var scriptSig []byte
	var witness wire.TxWitness
	switch s.kind {
	case spendP2PKH, spendP2SH:
		if s.kind == spendP2SH {
			stack = append(stack, s.redeem)
		}
		if scriptSig, err = pushes(stack); err != nil {
			return nil, fail("%v", err)
		}
	case spendP2WPKH, spendP2SHP2WPKH, spendP2WSH, spendP2SHP2WSH:
		witness = stack
		if s.witness != nil {
			witness = append(witness, s.witness)
		}
		if s.redeem != nil {
			if scriptSig, err = pushes([][]byte{s.redeem}); err != nil {
				return nil, fail("%v", err)
			}
		}
	}

	out := &finalScripts{scriptSig: scriptSig}
	if witness != nil {
		out.witness = appendWitness(nil, witness)
	}
	// Run what was built through btcd's script engine before keeping it,
	// unless the process ran these very scripts on this very transaction
	// and spent outputs before (passedRuns).
	if !log.ran(i, out.scriptSig, out.witness) {
		c, err := p.sigHashes()
		if err != nil {
			return nil, err
		}
		orig := work.TxIn[i]
		trial := *orig
		trial.SignatureScript, trial.Witness = scriptSig, witness
		work.TxIn[i] = &trial
		defer func() { work.TxIn[i] = orig }()
		vm, err := txscript.NewEngine(s.prev.PkScript, work, i, txscript.StandardVerifyFlags, sigCache(), c.hashes, s.prev.Value, c.fetcher)
		if err == nil {
			err = vm.Execute()
		}
		if err != nil {
			return nil, fail("btcd's script engine refuses the result: %v", err)
		}
	}
	log.passed(i, out.scriptSig, out.witness)
	for _, u := range in.Unknowns {
		if t, _, _ := keyType(u.Key); !signingOnly(t) {
			out.unknowns = append(out.unknowns, u)
		}
	}
	return out, nil
}

// signingOnly says an input record of type t kept in Unknowns only serves
// to produce the final scripts, and goes once they exist: hash preimages
// (BIP-174) and MuSig2 fields (BIP-373). The typed taproot fields are not
// carried over either.
func signingOnly(t uint64) bool {
	return (t >= inRipemd160 && t <= inHash256) || (t >= inMuSig2Keys && t <= inMuSig2PartialSig)
}

// pushes is a script of data pushes, minimally encoded (an empty item
// becomes OP_0).
func pushes(items [][]byte) ([]byte, error) {
	b := txscript.NewScriptBuilder()
	for _, item := range items {
		b.AddData(item)
	}
	script, err := b.Script()
	if err != nil {
		return nil, err
	}
	if len(script) == 0 {
		return nil, nil
	}
	return bytes.Clone(script), nil
}
