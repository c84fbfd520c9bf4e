package bitcoin

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
	"github.com/airlock-vault/airlock/keys"
)

// Sign signs every vault input with the station's key. It refuses a PSBT
// with any blocking flag, and refuses to sign when the signer's key at an
// input is not the pubkey the descriptor gives (a swapped device).
func (Adapter) Sign(v chain.Vault, payload []byte, key string, s keys.ChainSigner) ([]chain.Signature, error) {
	a, err := analyse(v, payload)
	if err != nil {
		return nil, err
	}
	for _, f := range a.flags {
		if f.Severity == chain.Block {
			return nil, fmt.Errorf("bitcoin: refusing to sign: %s: %s", f.Code, f.Message)
		}
	}
	ak, err := a.vi.accountKey(key)
	if err != nil {
		return nil, err
	}
	if s.MasterFingerprint() != ak.Fingerprint {
		return nil, fmt.Errorf("bitcoin: signer's master fingerprint %s is not the vault key's %s", keys.FormatFingerprint(s.MasterFingerprint()), keys.FormatFingerprint(ak.Fingerprint))
	}
	if a.vi.isRecoveryKey(ak) && a.details.Path != PathRecovery {
		return nil, fmt.Errorf("bitcoin: refusing to sign: this is the vault's recovery key, and the transaction cannot take the recovery path (it needs version 2 and every input's nSequence to hold the %d-block lock)", a.details.Lock)
	}
	var sigs []chain.Signature
	for i, info := range a.inputs {
		path, pub, ok := pathFor(info, ak)
		if !ok {
			return nil, fmt.Errorf("bitcoin: input %d: the vault gives no key for %s", i, keys.FormatFingerprint(ak.Fingerprint))
		}
		have, err := s.PublicKey(path)
		if err != nil {
			return nil, fmt.Errorf("bitcoin: input %d: %v", i, err)
		}
		if !bytes.Equal(have, pub) {
			return nil, fmt.Errorf("bitcoin: input %d: the signer's key at %s is %x, but the vault's is %x: wrong device or wrong seed", i, keys.FormatPath(path), have, pub)
		}
		if isTaproot(info.derived) {
			sig, err := signTaproot(a, i, info, path, pub, s)
			if err != nil {
				return nil, err
			}
			sigs = append(sigs, chain.Signature{Input: i, PubKey: pub, Sig: sig})
			continue
		}
		digest, err := a.pkt.SigHash(i, scriptCode(info.derived), txscript.SigHashAll)
		if err != nil {
			return nil, fmt.Errorf("bitcoin: input %d: %v", i, err)
		}
		der, err := s.SignECDSA(path, digest)
		if err != nil {
			return nil, fmt.Errorf("bitcoin: input %d: %v", i, err)
		}
		sig := append(der, byte(txscript.SigHashAll))
		if err := psbt.VerifyPartialSig(a.pkt, i, psbt.PartialSig{PubKey: pub, Signature: sig}); err != nil {
			return nil, fmt.Errorf("bitcoin: input %d: own signature does not verify: %v", i, err)
		}
		sigs = append(sigs, chain.Signature{Input: i, PubKey: pub, Sig: sig})
	}
	return sigs, nil
}

// Verify checks that sigs holds exactly one valid SIGHASH_ALL signature by
// key for every input, against the pubkey the descriptor gives there.
func (Adapter) Verify(v chain.Vault, payload []byte, key string, sigs []chain.Signature) ([]chain.Verified, error) {
	a, err := analyse(v, payload)
	if err != nil {
		return nil, err
	}
	return a.verify(key, sigs)
}

func (a *analysis) verify(key string, sigs []chain.Signature) ([]chain.Verified, error) {
	ak, err := a.vi.accountKey(key)
	if err != nil {
		return nil, err
	}
	if len(sigs) != len(a.inputs) {
		return nil, fmt.Errorf("bitcoin: %d signatures for %d inputs", len(sigs), len(a.inputs))
	}
	seen := map[int]bool{}
	var out []chain.Verified
	for _, s := range sigs {
		if s.Input < 0 || s.Input >= len(a.inputs) || seen[s.Input] {
			return nil, fmt.Errorf("bitcoin: signature for input %d is out of range or repeated", s.Input)
		}
		seen[s.Input] = true
		info := a.inputs[s.Input]
		path, pub, ok := pathFor(info, ak)
		if !ok {
			return nil, fmt.Errorf("bitcoin: input %d is not the vault's", s.Input)
		}
		if !bytes.Equal(s.PubKey, pub) {
			return nil, fmt.Errorf("bitcoin: input %d: signature by %x, but the key's pubkey there is %x", s.Input, s.PubKey, pub)
		}
		var digest []byte
		if isTaproot(info.derived) {
			l, err := leafFor(info.derived, pub)
			if err != nil {
				return nil, err
			}
			if digest, err = a.pkt.TapscriptSigHash(s.Input, l.Script); err != nil {
				return nil, err
			}
			if err := verifySchnorr(pub, digest, s.Sig); err != nil {
				return nil, fmt.Errorf("bitcoin: input %d: %v", s.Input, err)
			}
		} else {
			if err := psbt.VerifyPartialSig(a.pkt, s.Input, psbt.PartialSig{PubKey: s.PubKey, Signature: s.Sig}); err != nil {
				return nil, fmt.Errorf("bitcoin: input %d: %v", s.Input, err)
			}
			if digest, err = a.pkt.SigHash(s.Input, scriptCode(info.derived), txscript.SigHashAll); err != nil {
				return nil, fmt.Errorf("bitcoin: input %d: %v", s.Input, err)
			}
		}
		out = append(out, chain.Verified{Input: s.Input, PubKey: pub, Digest: digest, KeyPath: keys.FormatPath(path)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Input < out[j].Input })
	return out, nil
}

// Assemble adds the approvals' signatures to the PSBT, finalizes every
// input (signatures in the witness script's key order, exactly k of them),
// extracts the transaction and runs btcd's script engine on every input
// against the outputs it spends. Only a transaction that passes is returned.
func (Adapter) Assemble(v chain.Vault, payload []byte, sets map[string][]chain.Signature) (*chain.Final, error) {
	a, err := analyse(v, payload)
	if err != nil {
		return nil, err
	}
	for _, f := range a.flags {
		if f.Severity == chain.Block {
			return nil, fmt.Errorf("bitcoin: refusing to assemble: %s: %s", f.Code, f.Message)
		}
	}
	keyNames := make([]string, 0, len(sets))
	for name := range sets {
		keyNames = append(keyNames, name)
	}
	sort.Strings(keyNames)
	if a.vi.rpath != nil {
		return a.assembleMiniscript(keyNames, sets)
	}
	k, _ := a.vi.threshold()
	if len(sets) < k {
		return nil, fmt.Errorf("bitcoin: %d approvals, the vault needs %d", len(sets), k)
	}
	if len(a.inputs) > 0 && isTaproot(a.inputs[0].derived) {
		return a.assembleTaproot(keyNames, sets, k)
	}
	for _, name := range keyNames {
		if _, err := a.verify(name, sets[name]); err != nil {
			return nil, err
		}
		for _, s := range sets[name] {
			in := &a.pkt.Inputs[s.Input]
			in.PartialSigs = append(in.PartialSigs, psbt.PartialSig{PubKey: s.PubKey, Signature: s.Sig})
		}
	}
	for i, info := range a.inputs {
		in := &a.pkt.Inputs[i]
		if len(in.WitnessScript) == 0 {
			in.WitnessScript = info.derived.WitnessScript
		}
		if len(in.RedeemScript) == 0 {
			in.RedeemScript = info.derived.RedeemScript
		}
	}
	if err := a.pkt.Finalize(); err != nil {
		return nil, fmt.Errorf("bitcoin: finalize: %v", err)
	}
	// Extract returns tx only once btcd's script engine accepts every
	// input against the output it spends, the one review read: running
	// VerifyScripts here again would repeat the same check.
	tx, err := a.pkt.Extract()
	if err != nil {
		return nil, fmt.Errorf("bitcoin: extract: %v", err)
	}
	if unsignedID(tx) != a.pkt.UnsignedTx.TxHash() {
		return nil, errors.New("bitcoin: the final transaction is not the proposal's (inputs, outputs, version or lock time differ)")
	}
	return finalOf(tx)
}

// finalOf serialises a verified transaction as the final result.
func finalOf(tx *wire.MsgTx) (*chain.Final, error) {
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return nil, fmt.Errorf("bitcoin: %v", err)
	}
	return &chain.Final{
		Raw:  buf.Bytes(),
		TxID: tx.TxHash().String(),
		Lines: []string{
			fmt.Sprintf("txid %s (wtxid %s), %d bytes, %d inputs verified by btcd's script engine", tx.TxHash(), tx.WitnessHash(), buf.Len(), len(tx.TxIn)),
			"raw " + hex.EncodeToString(buf.Bytes()),
		},
	}, nil
}

// scriptCode is what a signature commits to: the witness script of a
// segwit vault, the redeem script of a legacy P2SH one.
func scriptCode(d *descriptor.Derived) []byte {
	if len(d.WitnessScript) > 0 {
		return d.WitnessScript
	}
	return d.RedeemScript
}

// signTaproot makes the BIP-340 signature of input i for the vault leaf.
func signTaproot(a *analysis, i int, info inputInfo, path []uint32, pub []byte, s keys.ChainSigner) ([]byte, error) {
	ss, ok := s.(keys.SchnorrSigner)
	if !ok {
		return nil, fmt.Errorf("bitcoin: input %d is a taproot spend and this device cannot make Schnorr signatures", i)
	}
	l, err := leafFor(info.derived, pub)
	if err != nil {
		return nil, err
	}
	digest, err := a.pkt.TapscriptSigHash(i, l.Script)
	if err != nil {
		return nil, err
	}
	sig, err := ss.SignSchnorr(path, digest)
	if err != nil {
		return nil, fmt.Errorf("bitcoin: input %d: %v", i, err)
	}
	if err := verifySchnorr(pub, digest, sig); err != nil {
		return nil, fmt.Errorf("bitcoin: input %d: own signature: %v", i, err)
	}
	return sig, nil
}

// assembleTaproot builds each input's script-path witness from exactly k
// approvals (the first k keys, in leaf order, that signed; an absent
// signer leaves an empty item) and runs btcd's script engine.
func (a *analysis) assembleTaproot(keyNames []string, sets map[string][]chain.Signature, k int) (*chain.Final, error) {
	bySigner := make([]map[string][]byte, len(a.inputs))
	for i := range bySigner {
		bySigner[i] = map[string][]byte{}
	}
	for _, name := range keyNames {
		if _, err := a.verify(name, sets[name]); err != nil {
			return nil, err
		}
		for _, s := range sets[name] {
			bySigner[s.Input][string(s.PubKey[1:])] = s.Sig
		}
	}
	tx := a.pkt.UnsignedTx.Copy()
	prevOuts := make([]*wire.TxOut, len(a.inputs))
	for i, info := range a.inputs {
		prevOuts[i] = info.prevOut
		l, err := leaf(info.derived)
		if err != nil {
			return nil, err
		}
		order, err := leafKeys(l.Script)
		if err != nil {
			return nil, err
		}
		use := map[string][]byte{}
		for _, key := range order {
			if sig, ok := bySigner[i][string(key)]; ok && len(use) < k {
				use[string(key)] = sig
			}
		}
		if len(use) < k {
			return nil, fmt.Errorf("bitcoin: input %d has %d signatures, the vault needs %d", i, len(use), k)
		}
		if tx.TxIn[i].Witness, err = taprootWitness(info.derived, use); err != nil {
			return nil, err
		}
	}
	if err := psbt.VerifyScripts(tx, prevOuts); err != nil {
		return nil, fmt.Errorf("bitcoin: final transaction fails script verification: %v", err)
	}
	if unsignedID(tx) != a.pkt.UnsignedTx.TxHash() {
		return nil, errors.New("bitcoin: the final transaction is not the proposal's")
	}
	return finalOf(tx)
}
