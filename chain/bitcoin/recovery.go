package bitcoin

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/chain/bitcoin/maturity"
	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
	"github.com/airlock-vault/airlock/keys"
)

// A vault with a recovery path: k of the signers spend at any time; the
// recovery key alone once every coin a transaction spends is After blocks
// old. The transaction itself says which path it can take: the recovery
// path needs version 2 and every input's nSequence to hold a block-based
// relative lock of at least After (BIP-68), which consensus enforces on
// the whole transaction, whichever path signs it.
//
// An offline station cannot see the chain, so the coordinator attaches a
// maturity proof (package maturity) to a recovery PSBT: block headers and
// merkle branches that show how deep each spent transaction is. The
// station verifies it and flags the spend recovery-immature (block) until
// every input is After blocks deep.

// Flag codes of the recovery path (documented in docs/flags.md).
const (
	FlagRecoveryPath     = "recovery-path"
	FlagRecoveryImmature = "recovery-immature"
)

// Spend paths, as Details.Path reports them.
const (
	PathPrimary  = "primary"
	PathRecovery = "recovery"
)

// buildRecovery builds the descriptor of a vault with a recovery path.
func buildRecovery(v chain.Vault, net *chaincfg.Params, specs []descriptor.KeySpec, fps map[[4]byte]bool, ids map[string]bool) (*descriptor.Descriptor, error) {
	r := v.Recovery
	if r.After < 1 || r.After > 0xffff {
		return nil, fmt.Errorf("bitcoin: recovery lock of %d blocks, want 1..65535 (a BIP-68 block-based lock)", r.After)
	}
	k, err := ParseAccountKey(r.Key, net)
	if err != nil {
		return nil, fmt.Errorf("bitcoin: recovery key: %v", err)
	}
	if fps[k.Fingerprint] || ids[k.ID()] {
		return nil, fmt.Errorf("bitcoin: the recovery key %s is also a signer's key (or shares its master fingerprint)", short(r.Key))
	}
	script := "wsh"
	switch v.Script {
	case "", ScriptP2WSH:
	case ScriptP2SHP2WSH:
		script = "sh-wsh"
	case ScriptTaproot:
		script = "tr"
		if k.Static != nil {
			return nil, fmt.Errorf("bitcoin: the recovery key %s is a token's static key, and a PKCS#11 token cannot make the Schnorr signatures a taproot vault needs", short(r.Key))
		}
	default:
		return nil, fmt.Errorf("bitcoin: a recovery path needs script p2wsh, p2sh-p2wsh or tr (miniscript does not exist for legacy P2SH), not %q", v.Script)
	}
	rs := descriptor.KeySpec{Fingerprint: k.Fingerprint, Path: k.Path, XPub: k.XPub, PubKey: k.Static}
	return descriptor.NewRecovery(script, v.Threshold, specs, rs, r.After)
}

// parseRecovery checks that the descriptor's recovery path is the
// vault's: the same key and lock, the signers as its primary keys.
func (vi *vaultInfo) parseRecovery(v chain.Vault) error {
	rp, ok := vi.desc.Recovery()
	if v.Recovery == nil {
		if ok {
			return fmt.Errorf("bitcoin: vault %q: the descriptor has a recovery path the policy does not name", v.Name)
		}
		return nil
	}
	if !ok {
		return fmt.Errorf("bitcoin: vault %q: the policy names a recovery path, the descriptor has none", v.Name)
	}
	k, err := ParseAccountKey(v.Recovery.Key, vi.net)
	if err != nil {
		return fmt.Errorf("bitcoin: vault %q: recovery key: %v", v.Name, err)
	}
	if blocks, ok := rp.Blocks(); !ok || uint32(blocks) != v.Recovery.After {
		return fmt.Errorf("bitcoin: vault %q: the descriptor's lock older(%d) is not the policy's %d blocks", v.Name, rp.Older, v.Recovery.After)
	}
	if rp.K != v.Threshold || len(rp.Primary) != len(vi.keys) {
		return fmt.Errorf("bitcoin: vault %q: the descriptor's primary path is %d of %d, the policy's %d of %d", v.Name, rp.K, len(rp.Primary), v.Threshold, len(vi.keys))
	}
	if rp.Recovery.Fingerprint() != k.Fingerprint {
		return fmt.Errorf("bitcoin: vault %q: the descriptor's recovery key is not the policy's", v.Name)
	}
	vi.recovery, vi.rpath = k, rp
	vi.keys = append(vi.keys, k)
	vi.byText[v.Recovery.Key] = k
	return nil
}

// isRecoveryKey says whether k is the vault's recovery key.
func (vi *vaultInfo) isRecoveryKey(k *AccountKey) bool {
	return vi.recovery != nil && k.ID() == vi.recovery.ID() && k.Fingerprint == vi.recovery.Fingerprint
}

// sequenceHolds says whether nSequence seq (in a version 2 transaction)
// holds a block-based relative lock of at least blocks (BIP-68).
func sequenceHolds(seq uint32, blocks uint32) bool {
	return seq&wire.SequenceLockTimeDisabled == 0 && seq&wire.SequenceLockTimeIsSeconds == 0 && seq&wire.SequenceLockTimeMask >= blocks
}

// checkRecovery works out which path the transaction can take and, for
// the recovery path, how deep its coins are by the PSBT's maturity proof.
func (a *analysis) checkRecovery() {
	rp := a.vi.rpath
	if rp == nil {
		return
	}
	blocks, _ := rp.Blocks()
	lock := uint32(blocks)
	tx := a.pkt.UnsignedTx
	recovery := tx.Version >= 2
	for i, in := range tx.TxIn {
		if a.inputs[i].derived != nil && !sequenceHolds(in.Sequence, lock) {
			recovery = false
		}
	}
	k, n := a.vi.threshold()
	a.details.Path = PathPrimary
	a.details.Lock = lock
	if !recovery {
		a.pathLine = fmt.Sprintf("  path: primary, %d of %d signers (the recovery path needs every input's nSequence to hold %d blocks)", k, n, lock)
		return
	}
	a.details.Path = PathRecovery
	rk := keys.FormatFingerprint(a.vi.recovery.Fingerprint)
	a.flag(FlagRecoveryPath, chain.Warn, "this transaction can spend through the recovery path: key %s alone, once every input is %d blocks old (nSequence); %d of %d signers can sign it too", rk, lock, k, n)
	a.pathLine = fmt.Sprintf("  path: RECOVERY, key %s alone after %d blocks (or %d of %d signers)", rk, lock, k, n)
	proof, err := maturity.FromPSBT(a.pkt)
	if err == nil && proof == nil {
		err = errors.New("the PSBT carries no maturity proof")
	}
	var v *maturity.Verified
	if err == nil {
		v, err = proof.Verify(a.vi.net)
	}
	if err != nil {
		a.flag(FlagRecoveryImmature, chain.Block, "the station cannot tell the coins are %d blocks old: %v (the coordinator attaches a proof with 'psbt build --rpc')", lock, err)
		return
	}
	a.details.Tip = v.Tip.String()
	for i, in := range tx.TxIn {
		depth := v.Depth[in.PreviousOutPoint.Hash] // 0 when not proven
		a.details.Inputs[i].Depth = depth
		switch {
		case depth == 0:
			a.flag(FlagRecoveryImmature, chain.Block, "input %d (%s): the maturity proof does not show its transaction in the chain", i, in.PreviousOutPoint)
		case uint32(depth) < lock:
			a.flag(FlagRecoveryImmature, chain.Block, "input %d (%s) is %d blocks deep at tip %s; the %d-block lock matures in %d more blocks", i, in.PreviousOutPoint, depth, short(v.Tip.String()), lock, lock-uint32(depth))
		}
	}
}

// leafFor is the tapscript leaf holding key pub (33 bytes) at a vault
// input: the vault's single leaf, or the leaf of the path pub is on.
func leafFor(d *descriptor.Derived, pub []byte) (descriptor.TapLeaf, error) {
	if len(d.Leaves) == 1 {
		return d.Leaves[0], nil
	}
	for _, k := range d.Keys {
		if !bytes.Equal(k.PubKey, pub) || len(k.LeafHashes) != 1 {
			continue
		}
		for _, l := range d.Leaves {
			if bytes.Equal(l.LeafHash, k.LeafHashes[0]) {
				return l, nil
			}
		}
	}
	return descriptor.TapLeaf{}, fmt.Errorf("bitcoin: no single tapscript leaf holds key %x", pub)
}

// assembleMiniscript builds each input's witness with the descriptor's
// satisfier from the verified signatures: the primary path when k signers
// approved, else the recovery path when the recovery key approved and
// every input's nSequence holds the lock. btcd's script engine then runs
// every input.
func (a *analysis) assembleMiniscript(keyNames []string, sets map[string][]chain.Signature) (*chain.Final, error) {
	bySigner := make([]map[string][]byte, len(a.inputs)) // script key -> signature
	for i := range bySigner {
		bySigner[i] = map[string][]byte{}
	}
	for _, name := range keyNames {
		if _, err := a.verify(name, sets[name]); err != nil {
			return nil, err
		}
		for _, s := range sets[name] {
			key := s.PubKey
			if isTaproot(a.inputs[s.Input].derived) {
				key = key[1:]
			}
			sig := s.Sig
			if !isTaproot(a.inputs[s.Input].derived) && len(sig) == 0 {
				continue
			}
			bySigner[s.Input][string(key)] = sig
		}
	}
	tx := a.pkt.UnsignedTx.Copy()
	prevOuts := make([]*wire.TxOut, len(a.inputs))
	k, n := a.vi.threshold()
	for i, info := range a.inputs {
		prevOuts[i] = info.prevOut
		seq := tx.TxIn[i].Sequence
		sat := &descriptor.Satisfier{
			Sig:   func(pub []byte) []byte { return bySigner[i][string(pub)] },
			Older: func(n uint32) bool { return tx.Version >= 2 && sequenceHolds(seq, n) },
		}
		stack, leaf, err := a.vi.desc.Satisfy(info.branch, info.index, sat)
		if errors.Is(err, descriptor.ErrUnsatisfiable) {
			blocks, _ := a.vi.rpath.Blocks()
			return nil, fmt.Errorf("bitcoin: input %d: the approvals satisfy neither path: %d of the %d signers, or the recovery key with every input's nSequence holding %d blocks", i, k, n, blocks)
		}
		if err != nil {
			return nil, fmt.Errorf("bitcoin: input %d: %v", i, err)
		}
		d := info.derived
		switch {
		case isTaproot(d):
			l := d.Leaves[leaf]
			tx.TxIn[i].Witness = append(stack, l.Script, l.ControlBlock)
		default:
			tx.TxIn[i].Witness = append(stack, d.WitnessScript)
			if len(d.RedeemScript) > 0 {
				ss, err := txscript.NewScriptBuilder().AddData(d.RedeemScript).Script()
				if err != nil {
					return nil, err
				}
				tx.TxIn[i].SignatureScript = ss
			}
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
