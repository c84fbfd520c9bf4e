package psbt

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

type lockTimeCase struct {
	hexCase
	Expected   *uint32 `json:"expected_locktime"`
	Computable bool    `json:"computable"`
}

type bip370 struct {
	Invalid  []hexCase      `json:"invalid"`
	Valid    []hexCase      `json:"valid"`
	LockTime []lockTimeCase `json:"locktime_determination"`
}

type bip371 struct {
	Invalid []hexCase `json:"invalid"`
	Valid   []hexCase `json:"valid"`
}

func load370(t testing.TB) *bip370 {
	var v bip370
	if err := json.Unmarshal(vectorsFile(t, "bip370.json"), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Invalid) != 24 || len(v.Valid) != 14 || len(v.LockTime) != 10 {
		t.Fatalf("bip370.json: %d invalid, %d valid, %d lock time cases; want 24, 14, 10", len(v.Invalid), len(v.Valid), len(v.LockTime))
	}
	return &v
}

func load371(t testing.TB) *bip371 {
	var v bip371
	if err := json.Unmarshal(vectorsFile(t, "bip371.json"), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Invalid) != 11 || len(v.Valid) != 6 {
		t.Fatalf("bip371.json: %d invalid, %d valid; want 11, 6", len(v.Invalid), len(v.Valid))
	}
	return &v
}

var fieldName = regexp.MustCompile(`PSBT_[A-Z0-9_]+`)

// checkRefused decodes an invalid case as hex and as base64 and wants
// both refused with ErrMalformed, an error that names the map and one of
// the fields the case's description names.
func checkRefused(t *testing.T, c hexCase) {
	t.Helper()
	b, err := hex.DecodeString(c.Hex)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Decode(b)
	if err == nil {
		t.Fatal("accepted")
	}
	if _, err64 := Decode([]byte(c.Base64)); err64 == nil || err64.Error() != err.Error() {
		t.Fatalf("base64 gives %v, hex %v", err64, err)
	}
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("%v: not ErrMalformed", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "psbt: ") {
		t.Fatalf("%q does not start with psbt:", msg)
	}
	if !strings.Contains(msg, "global map") && !strings.Contains(msg, "input ") && !strings.Contains(msg, "output ") {
		t.Fatalf("%q names no map", msg)
	}
	names := fieldName.FindAllString(c.Description, -1)
	for _, n := range names {
		if strings.Contains(msg, n) {
			t.Logf("refused: %v", err)
			return
		}
	}
	t.Fatalf("%q names none of %v", msg, names)
}

// checkRoundTrip decodes a valid case and wants the same bytes back, from
// hex and from base64.
func checkRoundTrip(t *testing.T, c hexCase) *Packet {
	t.Helper()
	p := decodeHex(t, c.Hex)
	if got := encodeHex(t, p); got != c.Hex {
		t.Fatalf("decode→encode changed bytes:\n got %s\nwant %s", got, c.Hex)
	}
	q, err := Decode([]byte(c.Base64))
	if err != nil {
		t.Fatalf("base64: %v", err)
	}
	if encodeHex(t, q) != c.Hex {
		t.Fatal("base64 and hex decode differently")
	}
	s, err := p.B64()
	if err != nil || s != c.Base64 {
		t.Fatalf("B64 gives %s, want %s (%v)", s, c.Base64, err)
	}
	return p
}

func TestBIP370Invalid(t *testing.T) {
	for _, c := range load370(t).Invalid {
		t.Run(c.Description, func(t *testing.T) { checkRefused(t, c) })
	}
}

func TestBIP370Valid(t *testing.T) {
	for _, c := range load370(t).Valid {
		t.Run(c.Description, func(t *testing.T) {
			p := checkRoundTrip(t, c)
			if p.Version != 2 || !p.HasVersion {
				t.Fatalf("version %d", p.Version)
			}
			tx := p.UnsignedTx
			if tx.Version != 2 || len(tx.TxIn) != 1 || len(tx.TxOut) != 2 || len(p.Inputs) != 1 || len(p.Outputs) != 2 {
				t.Fatalf("transaction version %d with %d inputs and %d outputs", tx.Version, len(tx.TxIn), len(tx.TxOut))
			}
			// Every vector spends c85f8184…:0 to two P2WPKH outputs, of
			// 0x2faf0800 and 0x0bebbd8b sat.
			if tx.TxIn[0].PreviousOutPoint.String() != "c85f81844094f9f0eec1e41f8d63e0a99e9f73dc725d7319871c9c4121d90a0b:0" {
				t.Fatalf("outpoint %s", tx.TxIn[0].PreviousOutPoint)
			}
			if tx.TxOut[0].Value != 0x2faf0800 || tx.TxOut[1].Value != 0x0bebbd8b || len(tx.TxOut[0].PkScript) != 22 {
				t.Fatalf("outputs %d and %d", tx.TxOut[0].Value, tx.TxOut[1].Value)
			}
			wantSeq := uint32(0xffffffff)
			if p.Inputs[0].HasSequence {
				wantSeq = 0xfffffffe
			}
			if tx.TxIn[0].Sequence != wantSeq {
				t.Fatalf("sequence %#x, want %#x", tx.TxIn[0].Sequence, wantSeq)
			}
			if in := p.Inputs[0]; in.NonWitnessUtxo != nil {
				if _, err := p.PrevOut(0); err != nil {
					t.Fatalf("PrevOut: %v", err)
				}
			}
		})
	}
}

func TestBIP370LockTime(t *testing.T) {
	for _, c := range load370(t).LockTime {
		name := c.Description
		if name == "" {
			name = "undescribed case"
		}
		t.Run(name, func(t *testing.T) {
			b, _ := hex.DecodeString(c.Hex)
			p, err := Decode(b)
			if !c.Computable {
				if !errors.Is(err, ErrLockTime) {
					t.Fatalf("got %v, want ErrLockTime", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Expected == nil {
				t.Fatal("computable case without expected_locktime")
			}
			if got := p.UnsignedTx.LockTime; got != *c.Expected {
				t.Fatalf("lock time %d, want %d", got, *c.Expected)
			}
			if lt, err := p.LockTime(); err != nil || lt != *c.Expected {
				t.Fatalf("LockTime() = %d, %v", lt, err)
			}
			if got := encodeHex(t, p); got != c.Hex {
				t.Fatalf("decode→encode changed bytes:\n got %s\nwant %s", got, c.Hex)
			}
		})
	}
}

func TestBIP371Invalid(t *testing.T) {
	for _, c := range load371(t).Invalid {
		t.Run(c.Description, func(t *testing.T) { checkRefused(t, c) })
	}
}

func TestBIP371Valid(t *testing.T) {
	for _, c := range load371(t).Valid {
		t.Run(c.Description, func(t *testing.T) {
			p := checkRoundTrip(t, c)
			typed := 0
			for _, in := range p.Inputs {
				for _, u := range in.Unknowns {
					if t0, _, _ := keyType(u.Key); t0 >= inTapKeySig && t0 <= inTapMerkleRoot {
						t.Fatalf("taproot record %x left in Unknowns", u.Key)
					}
				}
				typed += len(in.TaprootKeySig) + len(in.TaprootScriptSigs) + len(in.TaprootLeafScripts) +
					len(in.TaprootBip32Derivations) + len(in.TaprootInternalKey) + len(in.TaprootMerkleRoot)
			}
			for _, out := range p.Outputs {
				if len(out.Unknowns) != 0 {
					t.Fatalf("output records left in Unknowns: %x", out.Unknowns[0].Key)
				}
				typed += len(out.TaprootInternalKey) + len(out.TaprootTree) + len(out.TaprootBip32Derivations)
			}
			if typed == 0 {
				t.Fatal("no taproot field read")
			}
		})
	}
}

func TestBIP371TypedFields(t *testing.T) {
	v := load371(t)
	find := func(prefix string) *Packet {
		for _, c := range v.Valid {
			if strings.HasPrefix(c.Description, prefix) {
				return decodeHex(t, c.Hex)
			}
		}
		t.Fatalf("no case %q", prefix)
		return nil
	}
	p := find("PSBT with one P2TR key only input with internal key, its derivation path, and signature")
	in := p.Inputs[0]
	if len(in.TaprootKeySig) != 64 || len(in.TaprootInternalKey) != 32 || len(in.TaprootBip32Derivations) != 1 {
		t.Fatalf("key sig %d bytes, internal key %d, %d derivations", len(in.TaprootKeySig), len(in.TaprootInternalKey), len(in.TaprootBip32Derivations))
	}
	if d := in.TaprootBip32Derivations[0]; !bytes.Equal(d.XOnlyPubKey, in.TaprootInternalKey) || len(d.LeafHashes) != 0 || len(d.Path) != 5 {
		t.Fatalf("derivation %+v", d)
	}

	p = find("PSBT with one P2TR script path only input with dummy internal key, scripts, script key derivation paths, merkle root, and script path signatures")
	in = p.Inputs[0]
	if len(in.TaprootScriptSigs) != 3 || len(in.TaprootLeafScripts) != 3 || len(in.TaprootMerkleRoot) != 32 {
		t.Fatalf("%d script sigs, %d leaf scripts", len(in.TaprootScriptSigs), len(in.TaprootLeafScripts))
	}
	for _, l := range in.TaprootLeafScripts {
		if l.LeafVersion != 0xc0 || len(l.Script) != 34 {
			t.Fatalf("leaf version %#x, script of %d bytes", l.LeafVersion, len(l.Script))
		}
	}

	p = find("PSBT with one P2TR script path only output with dummy internal key, taproot tree, and script key derivation paths")
	out := &p.Outputs[0]
	if len(out.TaprootTree) != 3 || len(out.TaprootBip32Derivations) != 4 {
		t.Fatalf("%d leaves, %d derivations", len(out.TaprootTree), len(out.TaprootBip32Derivations))
	}
	// An edited tree is written back and read back; an empty one is
	// refused.
	out.TaprootTree = out.TaprootTree[:1]
	out.TaprootTree[0].Depth = 0
	q, err := Decode([]byte(encodeHexBytes(t, p)))
	if err != nil || len(q.Outputs[0].TaprootTree) != 1 {
		t.Fatalf("one-leaf tree: %v", err)
	}
	p.Outputs[0].TaprootTree = []TaprootTreeLeaf{}
	if _, err := p.Encode(); err == nil || !strings.Contains(err.Error(), "PSBT_OUT_TAP_TREE") {
		t.Fatalf("empty tree: got %v", err)
	}
}

func encodeHexBytes(t *testing.T, p *Packet) []byte {
	t.Helper()
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// v0Vectors returns every valid version 0 PSBT of the vector files, as
// bytes, with a name.
func v0Vectors(t *testing.T) map[string][]byte {
	out := map[string][]byte{}
	for _, c := range load174(t).Valid {
		out["bip174/"+c.Description], _ = hex.DecodeString(c.Hex)
	}
	r := load174(t).Roles
	for name, c := range map[string]hexCase{"creator": r.Creator.Result, "updater": r.Updater.Result, "sighash": r.SighashAll.Result,
		"signer_1": r.Signer1.Result, "signer_2": r.Signer2.Result, "combiner": r.Combiner.Result, "finalizer": r.Finalizer.Result} {
		out["bip174 roles/"+name], _ = hex.DecodeString(c.Hex)
	}
	for _, c := range load371(t).Valid {
		out["bip371/"+c.Description], _ = hex.DecodeString(c.Hex)
	}
	var rpc rpcVectors
	if err := json.Unmarshal(vectorsFile(t, "psbt-rpc_psbt.json"), &rpc); err != nil {
		t.Fatal(err)
	}
	for i, s := range rpc.Valid {
		b, _ := base64.StdEncoding.DecodeString(s)
		out["rpc_psbt/valid/"+string(rune('0'+i/10))+string(rune('0'+i%10))] = b
	}
	return out
}

// TestConvertV0V2V0: version 0 → 2 → 0 gives back the same bytes for
// every vector PSBT that Bitcoin Core would write as it is (without an
// explicit PSBT_GLOBAL_VERSION 0, in canonical order), and the version 2
// form has the same transaction.
func TestConvertV0V2V0(t *testing.T) {
	converted := 0
	for name, raw := range v0Vectors(t) {
		if p, err := Decode(raw); err == nil && p.Version != 0 {
			continue // version 2 vectors: TestConvertV2V0V2
		}
		t.Run(name, func(t *testing.T) {
			p, err := Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			v2, err := p.ToV2()
			if err != nil {
				t.Fatal(err)
			}
			if v2.Version != 2 || !equalTx(v2.UnsignedTx, p.UnsignedTx) {
				t.Fatalf("version %d, transaction %s, want %s", v2.Version, v2.UnsignedTx.TxHash(), p.UnsignedTx.TxHash())
			}
			b2 := encodeHexBytes(t, v2)
			r2, err := Decode(b2)
			if err != nil {
				t.Fatalf("the version 2 form does not decode: %v", err)
			}
			if !equalTx(r2.UnsignedTx, p.UnsignedTx) {
				t.Fatal("the version 2 form decodes to another transaction")
			}
			back, err := r2.ToV0()
			if err != nil {
				t.Fatal(err)
			}
			got := encodeHexBytes(t, back)
			if p.HasVersion || !bytes.Equal(encodeHexBytes(t, p), raw) {
				// Not written as Core would: the conversion gives the
				// canonical form, which must be stable.
				p.HasVersion = false
				if want := encodeHexBytes(t, p); !bytes.Equal(got, want) {
					t.Fatalf("v0→v2→v0 of a non-canonical PSBT:\n got %x\nwant %x (its canonical form)", got, want)
				}
				return
			}
			if !bytes.Equal(got, raw) {
				t.Fatalf("v0→v2→v0 changed bytes:\n got %x\nwant %x", got, raw)
			}
			converted++
		})
	}
	if converted < 50 {
		t.Fatalf("only %d PSBTs round-tripped", converted)
	}
	t.Logf("%d version 0 PSBTs round-trip through version 2 byte for byte", converted)
}

// TestConvertV2V0V2: version 2 → 0 → 2 keeps the transaction, and the
// version 0 form re-encodes as written.
func TestConvertV2V0V2(t *testing.T) {
	v := load370(t)
	for _, c := range append(append([]hexCase{}, v.Valid...), hexCasesOf(v.LockTime)...) {
		b, _ := hex.DecodeString(c.Hex)
		p, err := Decode(b)
		if err != nil {
			continue // the lock time case that cannot be computed
		}
		v0, err := p.ToV0()
		if err != nil {
			t.Fatalf("%s: %v", c.Description, err)
		}
		if v0.Version != 0 || v0.HasVersion || !equalTx(v0.UnsignedTx, p.UnsignedTx) {
			t.Fatalf("%s: version 0 form differs", c.Description)
		}
		v2, err := Decode(encodeHexBytes(t, v0))
		if err != nil {
			t.Fatal(err)
		}
		if v2, err = v2.ToV2(); err != nil || !equalTx(v2.UnsignedTx, p.UnsignedTx) {
			t.Fatalf("%s: back to version 2: %v", c.Description, err)
		}
	}
	// p itself is unchanged by the conversions.
	p := decodeHex(t, v.Valid[len(v.Valid)-1].Hex)
	if _, err := p.ToV0(); err != nil {
		t.Fatal(err)
	}
	if encodeHex(t, p) != v.Valid[len(v.Valid)-1].Hex {
		t.Fatal("ToV0 changed its receiver")
	}
}

func hexCasesOf(cs []lockTimeCase) []hexCase {
	out := make([]hexCase, len(cs))
	for i, c := range cs {
		out[i] = c.hexCase
	}
	return out
}

// TestV2Roles runs BIP-174's signer, combiner, finalizer and extractor on
// the version 2 form of its PSBTs: the signatures and the transaction are
// those of the version 0 vectors.
func TestV2Roles(t *testing.T) {
	r := load174(t).Roles
	toV2 := func(h string) *Packet {
		p, err := decodeHex(t, h).ToV2()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var signed []*Packet
	for _, step := range []signerStep{r.Signer1, r.Signer2} {
		p := toV2(r.SighashAll.Result.Hex)
		p.HasTxModifiable, p.TxModifiable = true, ModifiableInputs|ModifiableOutputs
		for _, k := range step.Keys {
			w, err := btcutil.DecodeWIF(k.WIF)
			if err != nil {
				t.Fatal(err)
			}
			for i := range p.Inputs {
				p.SignInput(i, w.PrivKey, txscript.SigHashAll)
			}
		}
		if p.TxModifiable != 0 {
			t.Fatalf("SIGHASH_ALL signatures left PSBT_GLOBAL_TX_MODIFIABLE %#x", p.TxModifiable)
		}
		p.HasTxModifiable = false
		v0, err := p.ToV0()
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeHex(t, v0); got != step.Result.Hex {
			t.Fatalf("version 2 signer, as version 0:\n got %s\nwant %s", got, step.Result.Hex)
		}
		signed = append(signed, p)
	}
	c, err := Combine(signed...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Finalize(); err != nil {
		t.Fatal(err)
	}
	if c.Version != 2 {
		t.Fatal("finalizing changed the version")
	}
	v0, _ := c.ToV0()
	if got := encodeHex(t, v0); got != r.Finalizer.Result.Hex {
		t.Fatalf("version 2 finalizer, as version 0:\n got %s\nwant %s", got, r.Finalizer.Result.Hex)
	}
	tx, err := c.Extract()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	tx.Serialize(&b)
	if got := hex.EncodeToString(b.Bytes()); got != r.Extractor.Result.TxHex {
		t.Fatalf("extracted %s\nwant %s", got, r.Extractor.Result.TxHex)
	}
}

func TestV2CombineRefusesChangedTx(t *testing.T) {
	v := load370(t)
	base := v.Valid[1].Hex // updated PSBTv2, no sequence
	a := decodeHex(t, base)

	// The same PSBT with a proprietary record combines.
	b := decodeHex(t, base)
	b.Unknowns = append(b.Unknowns, Unknown{Key: []byte{0xfc, 0x01, 'x', 0x00}, Value: []byte{1}})
	c, err := Combine(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Unknowns) != 1 || !equalTx(c.UnsignedTx, a.UnsignedTx) {
		t.Fatal("combined PSBT lost the record or changed the transaction")
	}

	for name, edit := range map[string]func(p *Packet){
		"sequence":        func(p *Packet) { p.UnsignedTx.TxIn[0].Sequence = 0xfffffffd },
		"tx version":      func(p *Packet) { p.UnsignedTx.Version = 3 },
		"amount":          func(p *Packet) { p.UnsignedTx.TxOut[0].Value-- },
		"required height": func(p *Packet) { p.Inputs[0].RequiredHeightLockTime = 10000; p.UnsignedTx.LockTime = 10000 },
		"fallback":        func(p *Packet) { p.FallbackLockTime, p.HasFallbackLockTime = 7, true; p.UnsignedTx.LockTime = 7 },
	} {
		t.Run(name, func(t *testing.T) {
			b := decodeHex(t, base)
			edit(b)
			if err := b.Validate(); err != nil {
				t.Fatalf("edited PSBT invalid: %v", err)
			}
			if _, err := Combine(a, b); !errors.Is(err, ErrConflict) {
				t.Fatalf("got %v, want ErrConflict", err)
			}
		})
	}
	t.Run("version", func(t *testing.T) {
		v0, err := a.ToV0()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Combine(a, v0); !errors.Is(err, ErrConflict) {
			t.Fatalf("got %v, want ErrConflict", err)
		}
	})
	t.Run("conflicting value", func(t *testing.T) {
		b := decodeHex(t, v.Valid[4].Hex) // TX_MODIFIABLE 0x01
		d := decodeHex(t, v.Valid[5].Hex) // TX_MODIFIABLE 0x02
		if _, err := Combine(b, d); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "global map") {
			t.Fatalf("got %v, want ErrConflict in the global map", err)
		}
	})
}

func TestV2EncodeRefusesInconsistency(t *testing.T) {
	v := load370(t)
	for name, edit := range map[string]func(p *Packet){
		"lock time":            func(p *Packet) { p.UnsignedTx.LockTime = 5 },
		"height range":         func(p *Packet) { p.Inputs[0].RequiredHeightLockTime = 600_000_000 },
		"time range":           func(p *Packet) { p.Inputs[0].RequiredTimeLockTime = 5 },
		"no HasVersion":        func(p *Packet) { p.HasVersion = false },
		"fallback without Has": func(p *Packet) { p.FallbackLockTime = 3 },
		"unknown typed": func(p *Packet) {
			p.Inputs[0].Unknowns = []Unknown{{Key: []byte{inSequence}, Value: []byte{0, 0, 0, 0}}}
		},
		"v2 field in v0": func(p *Packet) {
			q, _ := p.ToV0()
			*p = *q
			p.Inputs[0].RequiredHeightLockTime = 5
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := decodeHex(t, v.Valid[0].Hex)
			edit(p)
			if _, err := p.Encode(); err == nil {
				t.Fatal("encoded")
			}
		})
	}
	// A non-default sequence is written even without HasSequence.
	p := decodeHex(t, v.Valid[0].Hex)
	p.UnsignedTx.TxIn[0].Sequence = 0xfffffffd
	q, err := Decode(encodeHexBytes(t, p))
	if err != nil || q.UnsignedTx.TxIn[0].Sequence != 0xfffffffd || !q.Inputs[0].HasSequence {
		t.Fatalf("sequence not kept: %v", err)
	}
}

func TestV2DecodeRefusesHostileCounts(t *testing.T) {
	// PSBT_GLOBAL_INPUT_COUNT over MaxInOut, then non-minimal.
	for _, count := range [][]byte{{0xfe, 0x00, 0x00, 0x01, 0x00}, {0xfd, 0x01, 0x00}, {0x01, 0x00}} {
		b := append([]byte{}, magic...)
		b = append(b, 0x01, globalTxVersion, 0x04, 2, 0, 0, 0)
		b = append(b, 0x01, globalInputCount, byte(len(count)))
		b = append(b, count...)
		b = append(b, 0x01, globalOutputCount, 0x01, 0x00)
		b = append(b, 0x01, globalVersion, 0x04, 2, 0, 0, 0, 0x00)
		_, err := Decode(b)
		if err == nil || !strings.Contains(err.Error(), "PSBT_GLOBAL_INPUT_COUNT") {
			t.Fatalf("count %x: got %v", count, err)
		}
	}
}
