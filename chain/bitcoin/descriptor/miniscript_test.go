package descriptor

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// miniKeys are four private keys: three primary signers and a recovery
// key.
func miniKeys(t *testing.T) []*btcec.PrivateKey {
	t.Helper()
	var out []*btcec.PrivateKey
	for i := range 4 {
		h := sha256.Sum256([]byte(fmt.Sprintf("airlock miniscript test key %d", i)))
		k, _ := btcec.PrivKeyFromBytes(h[:])
		out = append(out, k)
	}
	return out
}

func pubHex(k *btcec.PrivateKey) string { return hex.EncodeToString(k.PubKey().SerializeCompressed()) }

func recoveryWSH(ks []*btcec.PrivateKey, older int) string {
	return fmt.Sprintf("wsh(or_d(multi(2,%s,%s,%s),and_v(v:pkh(%s),older(%d))))", pubHex(ks[0]), pubHex(ks[1]), pubHex(ks[2]), pubHex(ks[3]), older)
}

func recoveryTR(ks []*btcec.PrivateKey, older int) string {
	return fmt.Sprintf("tr(%s,{sortedmulti_a(2,%s,%s,%s),and_v(v:pk(%s),older(%d))})", NUMS, pubHex(ks[0]), pubHex(ks[1]), pubHex(ks[2]), pubHex(ks[3]), older)
}

// TestMiniscriptRecoveryScripts: the witness script of the wsh recovery
// vault is the one BIP-379 gives, assembled here with btcd's script
// builder, and the descriptor prints back as written.
func TestMiniscriptRecoveryScripts(t *testing.T) {
	ks := miniKeys(t)
	d := mustParse(t, recoveryWSH(ks, 144))
	if got := d.String(); !strings.HasPrefix(got, recoveryWSH(ks, 144)+"#") {
		t.Fatalf("String %s", got)
	}
	x, err := d.Derive(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := txscript.NewScriptBuilder().AddOp(txscript.OP_2)
	for _, k := range ks[:3] {
		b.AddData(k.PubKey().SerializeCompressed())
	}
	b.AddOp(txscript.OP_3).AddOp(txscript.OP_CHECKMULTISIG).AddOp(txscript.OP_IFDUP).AddOp(txscript.OP_NOTIF)
	b.AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).AddData(address.Hash160(ks[3].PubKey().SerializeCompressed()))
	b.AddOp(txscript.OP_EQUALVERIFY).AddOp(txscript.OP_CHECKSIGVERIFY).AddInt64(144).AddOp(txscript.OP_CHECKSEQUENCEVERIFY).AddOp(txscript.OP_ENDIF)
	want, _ := b.Script()
	if !bytes.Equal(x.WitnessScript, want) {
		t.Fatalf("witness script\n got %x\nwant %x", x.WitnessScript, want)
	}
	if len(x.Keys) != 4 {
		t.Fatalf("%d keys", len(x.Keys))
	}
	r, ok := d.Recovery()
	if !ok || r.K != 2 || len(r.Primary) != 3 || r.Older != 144 || hex.EncodeToString(r.Recovery.PubKey()) != pubHex(ks[3]) {
		t.Fatalf("Recovery: %+v %v", r, ok)
	}
	if n, ok := r.Blocks(); !ok || n != 144 {
		t.Fatalf("Blocks %d %v", n, ok)
	}

	tr := mustParse(t, recoveryTR(ks, 70000))
	y, err := tr.Derive(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(y.Leaves) != 2 {
		t.Fatalf("%d leaves", len(y.Leaves))
	}
	rb := txscript.NewScriptBuilder().AddData(schnorr.SerializePubKey(ks[3].PubKey())).AddOp(txscript.OP_CHECKSIGVERIFY).AddInt64(70000).AddOp(txscript.OP_CHECKSEQUENCEVERIFY)
	wantLeaf, _ := rb.Script()
	if !bytes.Equal(y.Leaves[1].Script, wantLeaf) {
		t.Fatalf("recovery leaf\n got %x\nwant %x", y.Leaves[1].Script, wantLeaf)
	}
	r, ok = tr.Recovery()
	if !ok || r.K != 2 || r.PrimaryLeaf != 0 || r.RecoveryLeaf != 1 || r.Older != 70000 {
		t.Fatalf("taproot Recovery: %+v %v", r, ok)
	}
	if _, ok := r.Blocks(); ok {
		t.Fatal("a lock over 65535 blocks does not fit nSequence")
	}
	// The same vault with the leaves the other way round.
	swapped := fmt.Sprintf("tr(%s,{and_v(v:pk(%s),older(9)),multi_a(2,%s,%s,%s)})", NUMS, pubHex(ks[3]), pubHex(ks[0]), pubHex(ks[1]), pubHex(ks[2]))
	if r, ok := mustParse(t, swapped).Recovery(); !ok || r.PrimaryLeaf != 1 || r.RecoveryLeaf != 0 {
		t.Fatalf("swapped: %+v %v", r, ok)
	}
	// A plain multisig vault has no recovery path.
	if _, ok := mustParse(t, "wsh(sortedmulti(2,"+pubHex(ks[0])+","+pubHex(ks[1])+"))").Recovery(); ok {
		t.Fatal("sortedmulti vault reported a recovery path")
	}
}

// TestMiniscriptRefusals: the type rules, sanity and bounds.
func TestMiniscriptRefusals(t *testing.T) {
	ks := miniKeys(t)
	a, b, c, r := pubHex(ks[0]), pubHex(ks[1]), pubHex(ks[2]), pubHex(ks[3])
	for _, tc := range []struct{ desc, want string }{
		{"wsh(older(10))", "needs no signature"},
		{"wsh(and_v(v:pk(" + a + "),older(0)))", "older(0)"},
		{"wsh(and_v(v:pk(" + a + "),older(2147483648)))", "older(2147483648)"},
		{"wsh(and_v(v:pk(" + a + "),older(010)))", "older(010)"},
		{"wsh(and_v(pk(" + a + "),older(10)))", "and_v(X,Y) needs X of type V"},
		{"wsh(v:pk(" + a + "))", "type V"},
		{"wsh(or_d(older(5),pk(" + a + ")))", "or_d(X,Z) needs X"},
		{"wsh(or_d(pk(" + a + "),older(5)))", "needs no signature"},
		{"wsh(or_d(sortedmulti(2," + a + "," + b + "),and_v(v:pk(" + r + "),older(5))))", "sortedmulti() is not a miniscript fragment"},
		{"wsh(or_d(multi(2," + a + "," + b + "),and_v(v:pk(" + a + "),older(5))))", "same public key"},
		{"wsh(or_d(multi_a(2," + a + "," + b + "),and_v(v:pk(" + r + "),older(5))))", "not allowed"},
		{"tr(" + NUMS + ",or_d(multi(2," + a + "," + b + "),and_v(v:pk(" + r + "),older(5))))", "not allowed"},
		{"sh(or_d(multi(2," + a + "," + b + "),and_v(v:pk(" + r + "),older(5))))", "unknown script expression"},
		{"or_d(multi(2," + a + "," + b + "),and_v(v:pk(" + r + "),older(5)))", "unknown script expression"},
		{"wsh(or_d(multi(2," + a + "," + b + "," + c + "),and_v(v:pk(" + r + "),after(5))))", "not supported"},
	} {
		_, err := Parse(tc.desc)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.desc, err, tc.want)
		}
	}
	_, err := Parse("wsh(or_d(multi(2," + a + "," + b + "),and_v(v:pk(" + r + "),after(5))))")
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("after(): %v, want ErrUnsupported", err)
	}
	// v:multi is in the subset (BIP-388's own example).
	mustParse(t, "wsh(or_d(pk("+r+"),and_v(v:multi(2,"+a+","+b+","+c+"),older(65535))))")
}

// spend is a one-input, one-output transaction spending prev with
// nSequence seq.
func spend(prev *wire.TxOut, seq uint32) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash{1}, Index: 0}, Sequence: seq})
	tx.AddTxOut(&wire.TxOut{Value: prev.Value - 1000, PkScript: []byte{txscript.OP_1, 0x20, 32: 0}})
	return tx
}

func execute(t *testing.T, prev *wire.TxOut, tx *wire.MsgTx) error {
	t.Helper()
	fetch := txscript.NewCannedPrevOutputFetcher(prev.PkScript, prev.Value)
	vm, err := txscript.NewEngine(prev.PkScript, tx, 0, txscript.StandardVerifyFlags, nil, txscript.NewTxSigHashes(tx, fetch), prev.Value, fetch)
	if err != nil {
		return err
	}
	return vm.Execute()
}

// sequenceOlder is what a station's satisfier does: a block-based
// relative lock in seq of at least n.
func sequenceOlder(seq uint32) func(uint32) bool {
	return func(n uint32) bool {
		return seq&wire.SequenceLockTimeDisabled == 0 && seq&SequenceLockTypeFlag == n&SequenceLockTypeFlag && seq&0xffff >= n&0xffff
	}
}

// TestMiniscriptSatisfyRunsInScriptEngine: the witnesses Satisfy builds,
// for both paths of both vault shapes, pass btcd's script engine; the
// recovery path is unsatisfiable before the lock, and a witness forced
// for it then fails in the engine on CHECKSEQUENCEVERIFY.
func TestMiniscriptSatisfyRunsInScriptEngine(t *testing.T) {
	ks := miniKeys(t)
	const lock = 10
	for _, shape := range []string{"wsh", "tr"} {
		desc := recoveryWSH(ks, lock)
		if shape == "tr" {
			desc = recoveryTR(ks, lock)
		}
		d := mustParse(t, desc)
		x, err := d.Derive(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		prev := &wire.TxOut{Value: 100_000, PkScript: x.ScriptPubKey}
		run := func(name string, signers []int, seq uint32, forceOlder bool) error {
			tx := spend(prev, seq)
			fetch := txscript.NewCannedPrevOutputFetcher(prev.PkScript, prev.Value)
			hashes := txscript.NewTxSigHashes(tx, fetch)
			sigs := map[string][]byte{}
			for leaf := range max(len(x.Leaves), 1) {
				for _, i := range signers {
					k := ks[i]
					if shape == "wsh" {
						h, err := txscript.CalcWitnessSigHash(x.WitnessScript, hashes, txscript.SigHashAll, tx, 0, prev.Value)
						if err != nil {
							t.Fatal(err)
						}
						sigs[string(k.PubKey().SerializeCompressed())] = append(ecdsa.Sign(k, h).Serialize(), byte(txscript.SigHashAll))
						continue
					}
					h, err := txscript.CalcTapscriptSignaturehash(hashes, txscript.SigHashDefault, tx, 0, fetch, txscript.NewBaseTapLeaf(x.Leaves[leaf].Script))
					if err != nil {
						t.Fatal(err)
					}
					s, err := schnorr.Sign(k, h)
					if err != nil {
						t.Fatal(err)
					}
					sigs[fmt.Sprint(leaf, string(schnorr.SerializePubKey(k.PubKey())))] = s.Serialize()
				}
			}
			var leafNow int
			sat := &Satisfier{
				Sig: func(pub []byte) []byte {
					if len(pub) == 32 {
						return sigs[fmt.Sprint(leafNow, string(pub))]
					}
					return sigs[string(pub)]
				},
				Older: func(n uint32) bool { return forceOlder || sequenceOlder(seq)(n) },
			}
			var stack [][]byte
			var leaf int
			if shape == "tr" {
				// Leaf signatures differ per leaf: try each in turn, as
				// a signer signs for the leaf its key is in.
				for leafNow = range x.Leaves {
					if stack, leaf, err = d.Satisfy(0, 0, sat); err == nil && leaf == leafNow {
						break
					}
				}
				if err == nil && leaf != leafNow {
					err = ErrUnsatisfiable
				}
			} else {
				stack, leaf, err = d.Satisfy(0, 0, sat)
			}
			if err != nil {
				return err
			}
			if shape == "wsh" {
				tx.TxIn[0].Witness = append(stack, x.WitnessScript)
			} else {
				tx.TxIn[0].Witness = append(stack, x.Leaves[leaf].Script, x.Leaves[leaf].ControlBlock)
			}
			return execute(t, prev, tx)
		}
		t.Run(shape, func(t *testing.T) {
			for _, ok := range []struct {
				name    string
				signers []int
				seq     uint32
			}{
				{"primary 1+3", []int{0, 2}, wire.MaxTxInSequenceNum - 2},
				{"primary 2+3", []int{1, 2}, 0},
				{"primary with recovery key too", []int{0, 1, 3}, lock},
				{"recovery at the lock", []int{3}, lock},
				{"recovery after the lock", []int{3}, lock + 5},
			} {
				if err := run(ok.name, ok.signers, ok.seq, false); err != nil {
					t.Errorf("%s: %v", ok.name, err)
				}
			}
			for _, bad := range []struct {
				name    string
				signers []int
				seq     uint32
			}{
				{"one primary", []int{0}, 0},
				{"recovery before the lock", []int{3}, lock - 1},
				{"recovery with the lock disabled", []int{3}, wire.MaxTxInSequenceNum},
				{"recovery with a time-based lock", []int{3}, SequenceLockTypeFlag | lock},
				{"one primary and recovery before the lock", []int{0, 3}, lock - 1},
			} {
				if err := run(bad.name, bad.signers, bad.seq, false); !errors.Is(err, ErrUnsatisfiable) {
					t.Errorf("%s: %v, want ErrUnsatisfiable", bad.name, err)
				}
			}
			// Forced past the satisfier, the script engine refuses it.
			if err := run("forced", []int{3}, lock-1, true); err == nil || !strings.Contains(err.Error(), "locktime requirement not satisfied") {
				t.Errorf("recovery before the lock forced into a witness: %v, want a script engine sequence error", err)
			}
		})
	}
}
