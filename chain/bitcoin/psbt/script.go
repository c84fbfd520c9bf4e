package psbt

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// spendKind names the outputs this package signs for and finalizes.
type spendKind int

const (
	spendP2PKH      spendKind = iota + 1 // a key hash
	spendP2WPKH                          // a segwit v0 key hash
	spendP2SHP2WPKH                      // a segwit v0 key hash nested in P2SH
	spendP2SH                            // a redeem script (legacy P2SH)
	spendP2WSH                           // a segwit v0 witness script
	spendP2SHP2WSH                       // a segwit v0 witness script nested in P2SH
)

func (k spendKind) String() string {
	return [...]string{"?", "P2PKH", "P2WPKH", "P2SH-P2WPKH", "P2SH", "P2WSH", "P2SH-P2WSH"}[k]
}

func (k spendKind) segwit() bool { return k != spendP2PKH && k != spendP2SH }

// singleKey says the spend needs one signature and its key, not a script.
func (k spendKind) singleKey() bool {
	return k == spendP2PKH || k == spendP2WPKH || k == spendP2SHP2WPKH
}

// spend is what an input spends and how, once checked.
type spend struct {
	kind    spendKind
	prev    *wire.TxOut  // the spent output
	code    []byte       // the script code a signature commits to
	redeem  []byte       // the P2SH redeem script, when nested
	witness []byte       // the witness script of P2WSH and P2SH-P2WSH
	keys    *verifyCache // the packet's parsed keys
}

// resolve applies BIP-174 "Data Signers Check For" to input i and returns
// what it spends. Every hash commitment is checked: the previous
// transaction against the outpoint and the witness UTXO (in PrevOut), the
// redeem script against the P2SH output, the witness script against the
// witness program. An input that carries a witness UTXO but spends a
// non-witness output is refused: no non-witness signature may be made for
// it, since its amount would not be signed.
//
// script, when not nil, is the caller's idea of the script code (the
// witness script, or the redeem script of legacy P2SH). It must be the
// script code resolve finds; when the PSBT lacks the redeem or witness
// script, script stands in for it, after the same hash checks.
func (p *Packet) resolve(i int, script []byte) (*spend, error) {
	prev, err := p.PrevOut(i)
	if err != nil {
		return nil, err
	}
	in := &p.Inputs[i]
	s := &spend{prev: prev, keys: p.verified()}
	inner := prev.PkScript
	nested := txscript.IsPayToScriptHash(inner)
	if nested {
		redeem := in.RedeemScript
		if redeem == nil && script != nil {
			for _, c := range [][]byte{script, p2wsh(script)} {
				if bytes.Equal(p2sh(c), inner) {
					redeem = c
				}
			}
		}
		if redeem == nil {
			return nil, fmt.Errorf("psbt: input %d spends a P2SH output but has no redeem script", i)
		}
		if !bytes.Equal(p2sh(redeem), inner) {
			return nil, fmt.Errorf("psbt: input %d: the redeem script does not hash to the P2SH output it spends", i)
		}
		s.redeem, inner = redeem, redeem
	} else if in.RedeemScript != nil {
		return nil, fmt.Errorf("psbt: input %d has a redeem script but does not spend a P2SH output", i)
	}

	switch {
	case txscript.IsPayToWitnessPubKeyHash(inner):
		if in.WitnessScript != nil {
			return nil, fmt.Errorf("psbt: input %d has a witness script but spends a P2WPKH program", i)
		}
		// BIP-143: the script code of P2WPKH is the P2PKH script of
		// its key hash.
		s.kind, s.code = spendP2WPKH, p2pkh(inner[2:22])
		if nested {
			s.kind = spendP2SHP2WPKH
		}
	case txscript.IsPayToWitnessScriptHash(inner):
		ws := in.WitnessScript
		if ws == nil {
			ws = script
		}
		if ws == nil {
			return nil, fmt.Errorf("psbt: input %d spends a P2WSH program but has no witness script", i)
		}
		if !bytes.Equal(p2wsh(ws), inner) {
			return nil, fmt.Errorf("psbt: input %d: the witness script does not hash to the witness program it spends", i)
		}
		// btcd computes the BIP-143 digest of such a witness script as
		// if it were a P2WPKH program, which consensus does not.
		if txscript.IsPayToWitnessPubKeyHash(ws) {
			return nil, fmt.Errorf("psbt: input %d: a witness script shaped like a P2WPKH program is refused", i)
		}
		s.kind, s.code, s.witness = spendP2WSH, ws, ws
		if nested {
			s.kind = spendP2SHP2WSH
		}
	case txscript.IsWitnessProgram(inner):
		version, _, _ := txscript.ExtractWitnessProgramInfo(inner)
		return nil, fmt.Errorf("psbt: input %d spends a witness version %d program, which this package does not sign", i, version)
	default:
		// BIP-174: "If a witness UTXO is provided, no non-witness
		// signature may be created."
		if in.WitnessUtxo != nil {
			return nil, fmt.Errorf("psbt: input %d has a witness UTXO but spends a non-witness output; no non-witness signature may be made for it", i)
		}
		if in.WitnessScript != nil {
			return nil, fmt.Errorf("psbt: input %d has a witness script but spends a non-witness output", i)
		}
		switch {
		case nested:
			s.kind, s.code = spendP2SH, s.redeem
		case txscript.IsPayToPubKeyHash(inner):
			s.kind, s.code = spendP2PKH, inner
		default:
			return nil, fmt.Errorf("psbt: input %d spends a %s output, which this package does not sign", i, txscript.GetScriptClass(inner))
		}
	}
	if script != nil && !bytes.Equal(script, s.code) {
		return nil, fmt.Errorf("psbt: input %d: the given script is not the script code of its %s spend", i, s.kind)
	}
	if err := checkScriptCode(s.code); err != nil {
		return nil, fmt.Errorf("psbt: input %d: %v", i, err)
	}
	return s, nil
}

// checkScriptCode refuses a script code that does not parse, or that holds
// OP_CODESEPARATOR, which makes the digest depend on where execution is.
func checkScriptCode(code []byte) error {
	tok := txscript.MakeScriptTokenizer(0, code)
	for tok.Next() {
		if tok.Opcode() == txscript.OP_CODESEPARATOR {
			return errors.New("the script holds OP_CODESEPARATOR")
		}
	}
	if err := tok.Err(); err != nil {
		return fmt.Errorf("the script does not parse: %v", err)
	}
	return nil
}

// signers returns who can sign for s: for multisig the threshold and the
// keys in script order, for a single-key spend 1 and no keys (the key hash
// is in the script code).
func (s *spend) signers() (int, [][]byte, error) {
	if s.kind.singleKey() {
		return 1, nil, nil
	}
	return parseMultisig(s.code, s.keys)
}

// names says whether s's script names pub: as one of the multisig keys,
// as the key hash of a single-key spend, or, in any other script (a
// miniscript such as a recovery vault's), as a pushed key or a pushed
// HASH160 of it (pkh()).
func (s *spend) names(pub []byte) (bool, error) {
	if s.kind.singleKey() {
		return bytes.Equal(address.Hash160(pub), s.code[3:23]), nil
	}
	if _, keys, err := parseMultisig(s.code, s.keys); err == nil {
		for _, k := range keys {
			if bytes.Equal(k, pub) {
				return true, nil
			}
		}
		return false, nil
	}
	hash := address.Hash160(pub)
	tok := txscript.MakeScriptTokenizer(0, s.code)
	for tok.Next() {
		if d := tok.Data(); bytes.Equal(d, pub) || bytes.Equal(d, hash) {
			return true, nil
		}
	}
	return false, tok.Err()
}

// parseMultisig reads a bare multisig script, OP_m <key>... OP_n
// OP_CHECKMULTISIG, strictly: txscript must class it as multisig, every key
// must be valid and named once, 1 <= m <= n <= 20, and the script must be
// exactly the canonical one (minimal pushes). Keys are parsed through c,
// which may be nil.
func parseMultisig(script []byte, c *verifyCache) (int, [][]byte, error) {
	errNot := errors.New("the script is not a multisig script this package signs (OP_m <keys> OP_n OP_CHECKMULTISIG)")
	if ok, err := txscript.IsMultisigScript(script); err != nil || !ok {
		return 0, nil, errNot
	}
	tok := txscript.MakeScriptTokenizer(0, script)
	if !tok.Next() || !txscript.IsSmallInt(tok.Opcode()) {
		return 0, nil, errNot
	}
	m := txscript.AsSmallInt(tok.Opcode())
	var keys [][]byte
	for tok.Next() && !txscript.IsSmallInt(tok.Opcode()) {
		keys = append(keys, tok.Data())
	}
	n := len(keys)
	if m < 1 || m > n || n > txscript.MaxPubKeysPerMultiSig {
		return 0, nil, fmt.Errorf("multisig %d-of-%d is refused", m, n)
	}
	b := txscript.NewScriptBuilder().AddInt64(int64(m))
	seen := make(map[string]bool, n)
	for _, k := range keys {
		if !c.valid(k) {
			return 0, nil, fmt.Errorf("multisig key %x is not a valid public key", k)
		}
		if seen[string(k)] {
			return 0, nil, fmt.Errorf("multisig names key %x twice", k)
		}
		seen[string(k)] = true
		b.AddData(k)
	}
	canonical, err := b.AddInt64(int64(n)).AddOp(txscript.OP_CHECKMULTISIG).Script()
	if err != nil || !bytes.Equal(canonical, script) {
		return 0, nil, errors.New("multisig script is not in canonical form")
	}
	return m, keys, nil
}

func p2pkh(hash []byte) []byte {
	b, _ := txscript.NewScriptBuilder().AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).
		AddData(hash).AddOp(txscript.OP_EQUALVERIFY).AddOp(txscript.OP_CHECKSIG).Script()
	return b
}

func p2sh(script []byte) []byte {
	b, _ := txscript.NewScriptBuilder().AddOp(txscript.OP_HASH160).AddData(address.Hash160(script)).
		AddOp(txscript.OP_EQUAL).Script()
	return b
}

func p2wsh(script []byte) []byte {
	h := sha256.Sum256(script)
	b, _ := txscript.NewScriptBuilder().AddOp(txscript.OP_0).AddData(h[:]).Script()
	return b
}
