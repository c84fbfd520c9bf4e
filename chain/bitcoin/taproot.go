package bitcoin

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
)

// ScriptTaproot is a vault tr(NUMS, sortedmulti_a(k, ...)): no key path
// (the internal key is the BIP-341 NUMS point, which nobody can sign
// for), one leaf that any k of the n keys satisfy.
const ScriptTaproot = "tr"

func isTaproot(d *descriptor.Derived) bool { return d != nil && d.InternalKey != nil }

// leaf is the vault's single tapscript leaf.
func leaf(d *descriptor.Derived) (descriptor.TapLeaf, error) {
	if len(d.Leaves) != 1 {
		return descriptor.TapLeaf{}, fmt.Errorf("bitcoin: taproot vault with %d leaves, want 1", len(d.Leaves))
	}
	return d.Leaves[0], nil
}

// claims merges an input's or output's BIP-32 and taproot BIP-32
// derivations into one list of (pubkey, origin) claims; taproot keys are
// 32-byte x-only keys.
func claims(b []psbt.Bip32Derivation, t []psbt.TaprootBip32Derivation) []psbt.Bip32Derivation {
	out := append([]psbt.Bip32Derivation(nil), b...)
	for _, d := range t {
		out = append(out, psbt.Bip32Derivation{PubKey: d.XOnlyPubKey, Fingerprint: d.Fingerprint, Path: d.Path})
	}
	return out
}

// sameKey says a claimed key (33 bytes, or 32 x-only) is the derived one.
func sameKey(k descriptor.DerivedKey, claimed []byte) bool {
	if len(claimed) == 32 {
		return k.XOnly != nil && bytes.Equal(k.XOnly, claimed)
	}
	return bytes.Equal(k.PubKey, claimed)
}

// isTaprootScript says a script is a segwit v1 output.
func isTaprootScript(s []byte) bool { return len(s) == 34 && s[0] == txscript.OP_1 && s[1] == 0x20 }

// fillTaprootInput writes the BIP-371 fields a signer needs for a vault
// input at derivation d: every leaf, and every key's derivation.
func fillTaprootInput(in *psbt.Input, d *descriptor.Derived) error {
	if len(d.Leaves) == 0 {
		return errors.New("bitcoin: taproot vault without a script path")
	}
	in.TaprootInternalKey = d.InternalKey
	in.TaprootMerkleRoot = d.MerkleRoot
	for _, l := range d.Leaves {
		in.TaprootLeafScripts = append(in.TaprootLeafScripts, psbt.TaprootLeafScript{ControlBlock: l.ControlBlock, Script: l.Script, LeafVersion: l.LeafVersion})
	}
	for _, k := range d.Keys {
		if k.XOnly == nil || len(k.LeafHashes) == 0 {
			continue
		}
		in.TaprootBip32Derivations = append(in.TaprootBip32Derivations, psbt.TaprootBip32Derivation{XOnlyPubKey: k.XOnly, LeafHashes: k.LeafHashes, Fingerprint: k.Fingerprint, Path: k.Path})
	}
	return nil
}

// fillTaprootOutput marks a change output with its tree (the leaves in
// depth-first order, as BIP-371 lists them) and derivations.
func fillTaprootOutput(out *psbt.Output, d *descriptor.Derived) error {
	if len(d.Leaves) == 0 {
		return errors.New("bitcoin: taproot vault without a script path")
	}
	out.TaprootInternalKey = d.InternalKey
	for _, l := range d.Leaves {
		out.TaprootTree = append(out.TaprootTree, psbt.TaprootTreeLeaf{Depth: uint8(l.Depth), LeafVersion: l.LeafVersion, Script: l.Script})
	}
	for _, k := range d.Keys {
		if k.XOnly == nil || len(k.LeafHashes) == 0 {
			continue
		}
		out.TaprootBip32Derivations = append(out.TaprootBip32Derivations, psbt.TaprootBip32Derivation{XOnlyPubKey: k.XOnly, LeafHashes: k.LeafHashes, Fingerprint: k.Fingerprint, Path: k.Path})
	}
	return nil
}

// verifySchnorr checks a 64-byte BIP-340 signature (SIGHASH_DEFAULT) by
// the x-only key of pub over digest.
func verifySchnorr(pub, digest, sig []byte) error {
	if len(sig) != 64 {
		return fmt.Errorf("bitcoin: Schnorr signature of %d bytes, want 64 (SIGHASH_DEFAULT)", len(sig))
	}
	if len(pub) == 33 {
		pub = pub[1:]
	}
	pk, err := schnorr.ParsePubKey(pub)
	if err != nil {
		return err
	}
	s, err := schnorr.ParseSignature(sig)
	if err != nil {
		return err
	}
	if !s.Verify(digest, pk) {
		return errors.New("bitcoin: Schnorr signature does not verify")
	}
	return nil
}

// taprootWitness builds a script-path witness for the vault leaf: one
// item per key of the leaf script, in reverse script order (the first key
// is checked last), the signature where a signer approved and an empty
// item where one is absent; then the script and the control block.
func taprootWitness(d *descriptor.Derived, sigs map[string][]byte) (wire.TxWitness, error) {
	l, err := leaf(d)
	if err != nil {
		return nil, err
	}
	keys, err := leafKeys(l.Script)
	if err != nil {
		return nil, err
	}
	w := make(wire.TxWitness, 0, len(keys)+2)
	for i := len(keys) - 1; i >= 0; i-- {
		w = append(w, sigs[string(keys[i])])
	}
	return append(w, l.Script, l.ControlBlock), nil
}

// leafKeys lists the x-only keys of a multi_a leaf, in script order:
// <key> OP_CHECKSIG (<key> OP_CHECKSIGADD)* <k> OP_NUMEQUAL.
func leafKeys(script []byte) ([][]byte, error) {
	var keys [][]byte
	t := txscript.MakeScriptTokenizer(0, script)
	for t.Next() {
		if d := t.Data(); len(d) == 32 {
			keys = append(keys, d)
		}
	}
	if err := t.Err(); err != nil {
		return nil, fmt.Errorf("bitcoin: leaf script: %v", err)
	}
	if len(keys) == 0 {
		return nil, errors.New("bitcoin: leaf script holds no keys")
	}
	return keys, nil
}
