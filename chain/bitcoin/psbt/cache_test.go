package psbt

import (
	"errors"
	"testing"
)

// finalizedFixture is BIP-174's combined PSBT, finalized on this Packet,
// so that its caches hold the finalizer's signature checks and script
// engine runs.
func finalizedFixture(t *testing.T) *Packet {
	t.Helper()
	p := decodeHex(t, load174(t).Roles.Combiner.Result.Hex)
	if err := p.Finalize(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExtractRerunsEngineOnTamperedWitness guards the skip of script
// engine runs Finalize made: a final witness changed afterwards is run
// again, and refused.
func TestExtractRerunsEngineOnTamperedWitness(t *testing.T) {
	p := finalizedFixture(t)
	if _, err := p.Extract(); err != nil {
		t.Fatal(err)
	}
	tampered := false
	for i := range p.Inputs {
		in := &p.Inputs[i]
		if in.FinalScriptWitness == nil {
			continue
		}
		w, err := parseWitness(in.FinalScriptWitness, "test")
		if err != nil {
			t.Fatal(err)
		}
		sig := w[1] // after OP_CHECKMULTISIG's dummy item
		sig[len(sig)-2] ^= 1
		in.FinalScriptWitness = appendWitness(nil, w)
		tampered = true
	}
	if !tampered {
		t.Fatal("the fixture has no final witness")
	}
	var se *ScriptError
	if _, err := p.Extract(); !errors.As(err, &se) {
		t.Fatalf("Extract of a tampered witness: %v, want a ScriptError", err)
	}
}

// TestExtractRerunsEngineOnChangedTransaction: a lock time changed after
// finalization changes every digest; Extract must run the engine again
// and refuse the signatures.
func TestExtractRerunsEngineOnChangedTransaction(t *testing.T) {
	p := finalizedFixture(t)
	p.UnsignedTx.LockTime++
	var se *ScriptError
	if _, err := p.Extract(); !errors.As(err, &se) {
		t.Fatalf("Extract after a lock time change: %v, want a ScriptError", err)
	}
}

// TestVerifyPartialSigRechecksChangedDigest: a signature verified once is
// verified again, and refused, once the transaction it signs changes.
func TestVerifyPartialSigRechecksChangedDigest(t *testing.T) {
	p, _, s := signedFixture(t)
	idx := -1
	for i := range p.Inputs {
		if VerifyPartialSig(p, i, s) == nil {
			idx = i
		}
	}
	if idx < 0 {
		t.Fatal("the fixture signature verifies nowhere")
	}
	p.UnsignedTx.LockTime++
	if err := VerifyPartialSig(p, idx, s); err == nil {
		t.Fatal("a signature was accepted after the transaction it signs changed")
	}
}
