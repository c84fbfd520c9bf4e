package psbt

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/txscript/v2"
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

// TestValidateByMapAgreesWithValidRecords: Validate checks a version 0
// packet one map at a time; it must accept and refuse exactly what the
// whole-packet check does, on Core's valid vectors as read and after an
// in-memory edit that cannot be written or read back.
func TestValidateByMapAgreesWithValidRecords(t *testing.T) {
	var v rpcVectors
	if err := json.Unmarshal(vectorsFile(t, "psbt-rpc_psbt.json"), &v); err != nil {
		t.Fatal(err)
	}
	edits := map[string]func(p *Packet) bool{
		"as read": func(*Packet) bool { return true },
		"invalid derivation key": func(p *Packet) bool {
			for i := range p.Inputs {
				if ds := p.Inputs[i].Bip32Derivations; len(ds) > 0 {
					ds[0].PubKey = append([]byte{0x05}, ds[0].PubKey[1:]...)
					return true
				}
			}
			return false
		},
		"signature not DER": func(p *Packet) bool {
			for i := range p.Inputs {
				if ss := p.Inputs[i].PartialSigs; len(ss) > 0 {
					ss[0].Signature = []byte{0x30, 0x01, 0x01}
					return true
				}
			}
			return false
		},
		"sighash type without its flag": func(p *Packet) bool {
			if len(p.Inputs) == 0 {
				return false
			}
			p.Inputs[0].SighashType, p.Inputs[0].HasSighashType = 1, false
			return true
		},
		"version 2 field": func(p *Packet) bool {
			if len(p.Outputs) == 0 {
				return false
			}
			p.Inputs[len(p.Inputs)-1].HasSequence = true
			return true
		},
	}
	checked, refused := 0, map[string]int{}
	for i, s := range v.Valid {
		for name, edit := range edits {
			p, err := Decode([]byte(s))
			if err != nil {
				t.Fatal(err)
			}
			if p.Version != 0 || len(p.Inputs) == 0 || !edit(p) {
				continue
			}
			_, whole := p.validRecords()
			byMap := p.Validate()
			if (whole == nil) != (byMap == nil) {
				t.Errorf("valid/%d %s: whole-packet check %v, map by map %v", i, name, whole, byMap)
			}
			if name == "as read" && byMap != nil {
				t.Errorf("valid/%d: %v", i, byMap)
			}
			if byMap != nil {
				refused[name]++
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no version 0 vector checked")
	}
	for name := range edits {
		if name != "as read" && refused[name] == 0 {
			t.Errorf("no packet refused after edit %q", name)
		}
	}
}

// TestProcessSigCacheDoesNotCoverAnotherPacket: a signature the process
// verified on one packet is remembered for a fresh decode of the same
// packet, but a decode whose transaction changed, or a signature with a
// flipped byte, is verified again and refused.
func TestProcessSigCacheDoesNotCoverAnotherPacket(t *testing.T) {
	PurgeKeyCache()
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
	if verifiedSigs.has(sigID(s.PubKey, mustDigest(t, p, idx), s.Signature)) == false {
		t.Fatal("a verified signature was not remembered by the process")
	}
	fresh := cp(t, p)
	if err := VerifyPartialSig(fresh, idx, s); err != nil {
		t.Fatalf("the same signature on a fresh copy: %v", err)
	}
	changed := cp(t, p)
	changed.UnsignedTx.LockTime++
	if err := VerifyPartialSig(changed, idx, s); err == nil {
		t.Fatal("a remembered signature was accepted on a changed transaction")
	}
	flipped := PartialSig{PubKey: s.PubKey, Signature: append([]byte{}, s.Signature...)}
	flipped.Signature[len(flipped.Signature)-3] ^= 1
	if err := VerifyPartialSig(cp(t, p), idx, flipped); err == nil {
		t.Fatal("a signature with a flipped byte was accepted after the genuine one was remembered")
	}
}

func mustDigest(t *testing.T, p *Packet, i int) []byte {
	t.Helper()
	s, err := p.resolve(i, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := p.digest(i, s, txscript.SigHashAll)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func cp(t *testing.T, p *Packet) *Packet {
	t.Helper()
	c, err := p.Copy()
	if err != nil {
		t.Fatal(err)
	}
	return c
}
