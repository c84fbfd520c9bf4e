package psbt

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/internal/testvectors"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

func vectorsFile(t testing.TB, name string) []byte { return testvectors.Read(t, name) }

type hexCase struct {
	Description string `json:"description"`
	Hex         string `json:"hex"`
	Base64      string `json:"base64"`
}

type bip174 struct {
	Invalid             []hexCase `json:"invalid"`
	Valid               []hexCase `json:"valid"`
	SignerCheckFailures struct {
		Cases []hexCase `json:"cases"`
	} `json:"signer_check_failures"`
	Roles struct {
		MasterKey struct {
			XPrv string `json:"extended_private_key"`
		} `json:"master_key"`
		Creator struct {
			Outputs []struct {
				Script string `json:"script_pubkey"`
				Amount string `json:"amount"`
			} `json:"outputs"`
			Inputs []struct {
				TxID  string `json:"txid"`
				Index uint32 `json:"index"`
			} `json:"inputs"`
			Result hexCase `json:"result"`
		} `json:"creator"`
		Updater struct {
			RedeemScripts  []string `json:"redeem_scripts"`
			WitnessScripts []string `json:"witness_scripts"`
			PrevTxs        []string `json:"previous_transactions"`
			PublicKeys     []struct {
				PubKey string `json:"pubkey"`
				Path   string `json:"derivation_path"`
			} `json:"public_keys"`
			Result hexCase `json:"result"`
		} `json:"updater"`
		SighashAll struct {
			Result hexCase `json:"result"`
		} `json:"updater_sighash_all"`
		Signer1  signerStep `json:"signer_1"`
		Signer2  signerStep `json:"signer_2"`
		Combiner struct {
			Result hexCase `json:"result"`
		} `json:"combiner"`
		Finalizer struct {
			Result hexCase `json:"result"`
		} `json:"finalizer"`
		Extractor struct {
			Result struct {
				TxHex string `json:"tx_hex"`
			} `json:"result"`
		} `json:"extractor"`
		CombinerUnknown struct {
			Inputs []hexCase `json:"input_psbts"`
			Result hexCase   `json:"result"`
		} `json:"combiner_unknown_keys"`
	} `json:"roles"`
}

type signerStep struct {
	Keys []struct {
		WIF string `json:"wif"`
	} `json:"private_keys"`
	Result hexCase `json:"result"`
}

func load174(t *testing.T) *bip174 {
	var v bip174
	if err := json.Unmarshal(vectorsFile(t, "bip174.json"), &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func decodeHex(t *testing.T, s string) *Packet {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Decode(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return p
}

func encodeHex(t *testing.T, p *Packet) string {
	t.Helper()
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func TestBIP174Invalid(t *testing.T) {
	for _, c := range load174(t).Invalid {
		t.Run(c.Description, func(t *testing.T) {
			b, _ := hex.DecodeString(c.Hex)
			if _, err := Decode(b); err == nil {
				t.Fatal("accepted")
			}
			if _, err := Decode([]byte(c.Base64)); err == nil {
				t.Fatal("accepted as base64")
			}
		})
	}
}

func TestBIP174Valid(t *testing.T) {
	for _, c := range load174(t).Valid {
		t.Run(c.Description, func(t *testing.T) {
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
		})
	}
}

// TestBIP174SignerChecks: these PSBTs parse, but a signer must refuse them.
func TestBIP174SignerChecks(t *testing.T) {
	key, _ := btcec.NewPrivateKey()
	for _, c := range load174(t).SignerCheckFailures.Cases {
		t.Run(c.Description, func(t *testing.T) {
			p := decodeHex(t, c.Hex)
			refused := 0
			for i := range p.Inputs {
				if _, err := p.SigHash(i, nil, txscript.SigHashAll); err != nil {
					refused++
				}
				if _, err := p.SignInput(i, key, txscript.SigHashAll); err == nil {
					t.Fatalf("input %d: signed", i)
				}
			}
			if refused == 0 {
				t.Fatal("no input's sighash was refused")
			}
		})
	}
}

func TestBIP174Roles(t *testing.T) {
	v := load174(t).Roles
	// Creator.
	tx := wire.NewMsgTx(2)
	for _, in := range v.Creator.Inputs {
		h, err := chainhash.NewHashFromStr(in.TxID)
		if err != nil {
			t.Fatal(err)
		}
		tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(h, in.Index), nil, nil))
	}
	for _, out := range v.Creator.Outputs {
		script, _ := hex.DecodeString(out.Script)
		var whole, frac int64
		fmt.Sscanf(strings.Replace(out.Amount, ".", " ", 1), "%d %d", &whole, &frac)
		tx.AddTxOut(wire.NewTxOut(whole*1e8+frac, script))
	}
	p, err := New(tx)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("creator", func(t *testing.T) {
		if got := encodeHex(t, p); got != v.Creator.Result.Hex {
			t.Fatalf("got  %s\nwant %s", got, v.Creator.Result.Hex)
		}
	})
	// Updater: the results are given; the roles below start from them.
	for _, step := range []struct {
		name string
		in   string
		keys signerStep
	}{{"signer_1", v.SighashAll.Result.Hex, v.Signer1}, {"signer_2", v.SighashAll.Result.Hex, v.Signer2}} {
		t.Run(step.name, func(t *testing.T) {
			p := decodeHex(t, step.in)
			for _, k := range step.keys.Keys {
				w, err := btcutil.DecodeWIF(k.WIF)
				if err != nil {
					t.Fatal(err)
				}
				signed := 0
				for i := range p.Inputs {
					if _, err := p.SignInput(i, w.PrivKey, txscript.SigHashAll); err == nil {
						signed++
					}
				}
				if signed != 1 {
					t.Fatalf("key signed %d inputs, want 1", signed)
				}
			}
			if got := encodeHex(t, p); got != step.keys.Result.Hex {
				t.Fatalf("got  %s\nwant %s", got, step.keys.Result.Hex)
			}
			for i := range p.Inputs {
				for _, s := range p.Inputs[i].PartialSigs {
					if err := VerifyPartialSig(p, i, s); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
	t.Run("combiner", func(t *testing.T) {
		c, err := Combine(decodeHex(t, v.Signer1.Result.Hex), decodeHex(t, v.Signer2.Result.Hex))
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeHex(t, c); got != v.Combiner.Result.Hex {
			t.Fatalf("got  %s\nwant %s", got, v.Combiner.Result.Hex)
		}
	})
	t.Run("finalizer", func(t *testing.T) {
		c := decodeHex(t, v.Combiner.Result.Hex)
		if err := c.Finalize(); err != nil {
			t.Fatal(err)
		}
		if got := encodeHex(t, c); got != v.Finalizer.Result.Hex {
			t.Fatalf("got  %s\nwant %s", got, v.Finalizer.Result.Hex)
		}
	})
	t.Run("extractor", func(t *testing.T) {
		f := decodeHex(t, v.Finalizer.Result.Hex)
		prevs := make([]*wire.TxOut, len(f.Inputs))
		for i := range f.Inputs {
			if prevs[i], err = f.PrevOut(i); err != nil {
				t.Fatal(err)
			}
		}
		tx, err := f.Extract()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		tx.Serialize(&b)
		if got := hex.EncodeToString(b.Bytes()); got != v.Extractor.Result.TxHex {
			t.Fatalf("got  %s\nwant %s", got, v.Extractor.Result.TxHex)
		}
		if err := VerifyScripts(tx, prevs); err != nil {
			t.Fatalf("btcd's script engine refuses the extracted transaction: %v", err)
		}
	})
	t.Run("combiner_unknown_keys", func(t *testing.T) {
		var ps []*Packet
		for _, in := range v.CombinerUnknown.Inputs {
			ps = append(ps, decodeHex(t, in.Hex))
		}
		c, err := Combine(ps...)
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeHex(t, c); got != v.CombinerUnknown.Result.Hex {
			t.Fatalf("got  %s\nwant %s", got, v.CombinerUnknown.Result.Hex)
		}
	})
}

type rpcVectors struct {
	Invalid        []string   `json:"invalid"`
	InvalidWithMsg [][]string `json:"invalid_with_msg"`
	Valid          []string   `json:"valid"`
}

// TestCorePSBTVectors runs Bitcoin Core's rpc_psbt.json parse cases: every
// invalid case refused, every valid one, version 0 or 2, parsed and
// re-encoded stably, and byte for byte where Core wrote it.
func TestCorePSBTVectors(t *testing.T) {
	var v rpcVectors
	if err := json.Unmarshal(vectorsFile(t, "psbt-rpc_psbt.json"), &v); err != nil {
		t.Fatal(err)
	}
	isV2 := func(s string) bool {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		return err == nil && bytes.Contains(b, []byte{0x01, 0xfb, 0x04, 0x02, 0x00, 0x00, 0x00})
	}
	exact := 0
	for i, s := range v.Valid {
		t.Run(fmt.Sprintf("valid/%d", i), func(t *testing.T) {
			p, err := Decode([]byte(s))
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]uint32{false: 0, true: 2}[isV2(s)]; p.Version != want {
				t.Fatalf("version %d, want %d", p.Version, want)
			}
			b, err := p.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if raw, _ := base64.StdEncoding.DecodeString(s); bytes.Equal(raw, b) {
				exact++
			}
			q, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := q.Encode()
			if !bytes.Equal(b, c) {
				t.Fatal("encoding is not stable")
			}
		})
	}
	t.Logf("%d of %d valid PSBTs re-encode byte for byte", exact, len(v.Valid))
	all := append([]string{}, v.Invalid...)
	for _, c := range v.InvalidWithMsg {
		all = append(all, c[0])
	}
	for i, s := range all {
		t.Run(fmt.Sprintf("invalid/%d", i), func(t *testing.T) {
			if _, err := Decode([]byte(s)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestPrevOutRefusesUTXOMismatch(t *testing.T) {
	v := load174(t)
	p := decodeHex(t, v.Roles.SighashAll.Result.Hex)
	in := &p.Inputs[1]
	if in.WitnessUtxo == nil {
		t.Fatal("vector changed: input 1 has no witness utxo")
	}
	// Give input 1 a non-witness utxo that is its real previous tx, then lie
	// in witness_utxo about the amount.
	for _, prevHex := range v.Roles.Updater.PrevTxs {
		b, _ := hex.DecodeString(prevHex)
		var tx wire.MsgTx
		tx.Deserialize(bytes.NewReader(b))
		if tx.TxHash() == p.UnsignedTx.TxIn[1].PreviousOutPoint.Hash {
			in.NonWitnessUtxo = &tx
		}
	}
	if _, err := p.PrevOut(1); err != nil {
		t.Fatalf("honest pair refused: %v", err)
	}
	in.WitnessUtxo = wire.NewTxOut(in.WitnessUtxo.Value-1, in.WitnessUtxo.PkScript)
	if _, err := p.PrevOut(1); !errors.Is(err, ErrUTXOMismatch) {
		t.Fatalf("got %v, want ErrUTXOMismatch", err)
	}
}

func TestDecodeRefusesOversize(t *testing.T) {
	b := append(append([]byte{}, magic...), make([]byte, MaxSize)...)
	if _, err := Decode(b); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v", err)
	}
}

func TestDecodeRefusesDuplicateKey(t *testing.T) {
	for _, c := range load174(t).Invalid {
		if strings.Contains(c.Description, "duplicate keys") {
			b, _ := hex.DecodeString(c.Hex)
			if _, err := Decode(b); err == nil || !strings.Contains(err.Error(), "duplicate key") {
				t.Fatalf("got %v", err)
			}
			return
		}
	}
	t.Fatal("no duplicate-key vector found")
}

func TestCombineRefusesDifferentTx(t *testing.T) {
	v := load174(t)
	a := decodeHex(t, v.Roles.SighashAll.Result.Hex)
	b := decodeHex(t, v.Valid[0].Hex)
	if _, err := Combine(a, b); err == nil {
		t.Fatal("combined PSBTs of different transactions")
	}
}

func signedFixture(t *testing.T) (*Packet, *btcec.PrivateKey, PartialSig) {
	v := load174(t)
	p := decodeHex(t, v.Roles.SighashAll.Result.Hex)
	w, _ := btcutil.DecodeWIF(v.Roles.Signer1.Keys[0].WIF)
	for i := range p.Inputs {
		if s, err := p.SignInput(i, w.PrivKey, txscript.SigHashAll); err == nil {
			p.Inputs[i].PartialSigs = nil
			return p, w.PrivKey, s
		}
	}
	t.Fatal("no input to sign")
	return nil, nil, PartialSig{}
}

func TestVerifyPartialSigRefusesHighS(t *testing.T) {
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
	sig, _ := ecdsa.ParseDERSignature(s.Signature[:len(s.Signature)-1])
	r, sv := sig.R(), sig.S()
	sv.Negate()
	rb, sb := r.Bytes(), sv.Bytes()
	der := func(x []byte) []byte {
		x = bytes.TrimLeft(x[:], "\x00")
		if x[0]&0x80 != 0 {
			x = append([]byte{0}, x...)
		}
		return append([]byte{0x02, byte(len(x))}, x...)
	}
	body := append(der(rb[:]), der(sb[:])...)
	high := append([]byte{0x30, byte(len(body))}, body...)
	bad := PartialSig{PubKey: s.PubKey, Signature: append(high, s.Signature[len(s.Signature)-1])}
	if err := VerifyPartialSig(p, idx, bad); err == nil || !strings.Contains(err.Error(), "high S") {
		t.Fatalf("got %v", err)
	}
}

func TestVerifyPartialSigRefusesWrongSighashType(t *testing.T) {
	p, _, s := signedFixture(t)
	for i := range p.Inputs {
		bad := PartialSig{PubKey: s.PubKey, Signature: append(bytes.Clone(s.Signature[:len(s.Signature)-1]), byte(txscript.SigHashSingle))}
		if err := VerifyPartialSig(p, i, bad); err == nil {
			t.Fatalf("input %d: SIGHASH_SINGLE signature accepted for a SIGHASH_ALL input", i)
		}
	}
}

func FuzzDecode(f *testing.F) {
	var v bip174
	if err := json.Unmarshal(vectorsFile(f, "bip174.json"), &v); err != nil {
		f.Fatal(err)
	}
	seeds := append(append([]hexCase{}, v.Valid...), v.Invalid...)
	v370, v371 := load370(f), load371(f)
	seeds = append(append(append(seeds, v370.Valid...), v370.Invalid...), hexCasesOf(v370.LockTime)...)
	seeds = append(append(seeds, v371.Valid...), v371.Invalid...)
	for _, c := range seeds {
		b, _ := hex.DecodeString(c.Hex)
		f.Add(b)
	}
	var rpc rpcVectors
	if err := json.Unmarshal(vectorsFile(f, "psbt-rpc_psbt.json"), &rpc); err != nil {
		f.Fatal(err)
	}
	for _, s := range rpc.Valid {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			f.Add(b)
			seeds = append(seeds, hexCase{})
		}
	}
	if len(seeds) < 100 {
		f.Fatalf("seed corpus of %d", len(seeds))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Decode(in)
		if err != nil {
			return
		}
		b, err := p.Encode()
		if err != nil {
			t.Fatalf("decoded PSBT does not encode: %v", err)
		}
		q, err := Decode(b)
		if err != nil {
			t.Fatalf("encoded PSBT does not decode: %v", err)
		}
		c, err := q.Encode()
		if err != nil || !bytes.Equal(b, c) {
			t.Fatal("decode→encode is not stable")
		}
		// Both versions convert, to the same transaction, and back.
		other, err := p.ToV2()
		if p.Version == 2 {
			other, err = p.ToV0()
		}
		if err != nil {
			t.Fatalf("version %d does not convert: %v", p.Version, err)
		}
		ob, err := other.Encode()
		if err != nil {
			t.Fatalf("converted PSBT does not encode: %v", err)
		}
		r, err := Decode(ob)
		if err != nil {
			t.Fatalf("converted PSBT does not decode: %v", err)
		}
		if !equalTx(r.UnsignedTx, p.UnsignedTx) {
			t.Fatal("conversion changed the transaction")
		}
	})
}
