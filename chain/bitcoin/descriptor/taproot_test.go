package descriptor

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

const xonlyA = "a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd"

// checkTaproot verifies every leaf's control block against the output key
// with txscript, and the output key against the internal key and root.
func checkTaproot(t *testing.T, x *Derived) {
	t.Helper()
	if len(x.ScriptPubKey) != 34 || x.ScriptPubKey[0] != txscript.OP_1 || x.ScriptPubKey[1] != 32 || len(x.InternalKey) != 32 {
		t.Fatalf("script %x, internal key %x", x.ScriptPubKey, x.InternalKey)
	}
	internal, err := schnorr.ParsePubKey(x.InternalKey)
	if err != nil {
		t.Fatal(err)
	}
	var out *btcec.PublicKey
	if x.MerkleRoot == nil {
		out = txscript.ComputeTaprootKeyNoScript(internal)
	} else {
		out = txscript.ComputeTaprootOutputKey(internal, x.MerkleRoot)
	}
	if !bytes.Equal(schnorr.SerializePubKey(out), x.ScriptPubKey[2:]) {
		t.Fatal("output key is not the tweaked internal key")
	}
	for i, l := range x.Leaves {
		if l.LeafVersion != 0xc0 || len(l.ControlBlock) != 33+32*l.Depth {
			t.Fatalf("leaf %d: version %x, control block of %d bytes at depth %d", i, l.LeafVersion, len(l.ControlBlock), l.Depth)
		}
		cb, err := txscript.ParseControlBlock(l.ControlBlock)
		if err != nil {
			t.Fatal(err)
		}
		if err := txscript.VerifyTaprootLeafCommitment(cb, x.ScriptPubKey[2:], l.Script); err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
		if h := txscript.NewBaseTapLeaf(l.Script).TapHash(); !bytes.Equal(h[:], l.LeafHash) {
			t.Fatalf("leaf %d: leaf hash", i)
		}
	}
}

// TestTaprootVectorsSpendable: the script trees of the BIP-386/387 vectors
// give control blocks that txscript verifies.
func TestTaprootVectorsSpendable(t *testing.T) {
	v := loadVectors(t)
	n := 0
	for _, c := range v.Valid {
		if c.BIP != 386 && c.BIP != 387 {
			continue
		}
		d := mustParse(t, c.Descriptor)
		for i := range uint32(3) {
			x, err := d.Derive(0, i)
			if err != nil {
				if !d.IsRange() && i > 0 {
					break
				}
				t.Fatal(err)
			}
			checkTaproot(t, x)
			n++
		}
	}
	if n == 0 {
		t.Fatal("no taproot vectors")
	}
}

// TestTaprootTreeMatchesTxscript: for balanced trees, the root and control
// blocks are those of txscript.AssembleTaprootScriptTree.
func TestTaprootTreeMatchesTxscript(t *testing.T) {
	keys := xonlyKeys(t, 4)
	for _, tree := range []string{
		"pk(" + keys[0] + ")",
		"{pk(" + keys[0] + "),pk(" + keys[1] + ")}",
		"{{pk(" + keys[0] + "),pk(" + keys[1] + ")},{pk(" + keys[2] + "),pk(" + keys[3] + ")}}",
	} {
		d := mustParse(t, "tr("+NUMS+","+tree+")")
		x, err := d.Derive(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkTaproot(t, x)
		var leaves []txscript.TapLeaf
		for _, l := range x.Leaves {
			leaves = append(leaves, txscript.NewBaseTapLeaf(l.Script))
		}
		idx := txscript.AssembleTaprootScriptTree(leaves...)
		root := idx.RootNode.TapHash()
		if !bytes.Equal(root[:], x.MerkleRoot) {
			t.Fatalf("%s: merkle root %x, txscript %x", tree, x.MerkleRoot, root)
		}
		internal, _ := schnorr.ParsePubKey(x.InternalKey)
		for i, p := range idx.LeafMerkleProofs {
			cb := p.ToControlBlock(internal)
			b, _ := cb.ToBytes()
			if !bytes.Equal(b, x.Leaves[i].ControlBlock) {
				t.Fatalf("%s leaf %d: control block %x, txscript %x", tree, i, x.Leaves[i].ControlBlock, b)
			}
		}
	}
}

// xonlyKeys returns n distinct x-only keys in hex.
func xonlyKeys(t testing.TB, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		var b [32]byte
		b[30], b[31] = byte(i>>8), byte(i)
		_, pub := btcec.PrivKeyFromBytes(b[:])
		out = append(out, hex.EncodeToString(schnorr.SerializePubKey(pub)))
	}
	return out
}

// TestTapscriptPKH: BIP-386 lists tr(KEY,pkh(KEY)) without a script; its
// leaf is miniscript's pkh() over the x-only key.
func TestTapscriptPKH(t *testing.T) {
	d := mustParse(t, "tr("+xonlyA+",pkh(L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1))")
	x, err := d.Derive(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkTaproot(t, x)
	want := "76a914" + hex.EncodeToString(address.Hash160(mustHex(t, xonlyA))) + "88ac"
	if got := hex.EncodeToString(x.Leaves[0].Script); got != want {
		t.Fatalf("leaf %s, want %s", got, want)
	}
}

func TestNewSortedMultiTaproot(t *testing.T) {
	specs, privs := testAccounts(t)
	d, err := NewSortedMultiTaproot(2, specs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.String(), "tr("+NUMS+",sortedmulti_a(2,["+hexFP(specs[0])+"/48'/1'/0'/2']"+specs[0].XPub+"/<0;1>/*,") {
		t.Fatalf("descriptor %s", d)
	}
	if again, err := ParseStrict(d.String()); err != nil || again.String() != d.String() {
		t.Fatalf("round trip: %v", err)
	}
	if k, n, ok := d.Threshold(); k != 2 || n != 3 || !ok {
		t.Fatalf("Threshold() = %d, %d, %v", k, n, ok)
	}
	x, err := d.Derive(1, 7)
	if err != nil {
		t.Fatal(err)
	}
	checkTaproot(t, x)
	// The leaf by hand: sorted x-only keys, CHECKSIG, CHECKSIGADD, 2 NUMEQUAL.
	var xs [][]byte
	for _, p := range privs {
		xs = append(xs, childPub(t, p, 1, 7)[1:])
	}
	sort.Slice(xs, func(i, j int) bool { return bytes.Compare(xs[i], xs[j]) < 0 })
	leaf := append([]byte{32}, xs[0]...)
	leaf = append(leaf, txscript.OP_CHECKSIG, 32)
	leaf = append(append(leaf, xs[1]...), txscript.OP_CHECKSIGADD, 32)
	leaf = append(append(leaf, xs[2]...), txscript.OP_CHECKSIGADD, txscript.OP_2, txscript.OP_NUMEQUAL)
	if len(x.Leaves) != 1 || !bytes.Equal(x.Leaves[0].Script, leaf) {
		t.Fatalf("leaf %x, want %x", x.Leaves, leaf)
	}
	nums, _ := schnorr.ParsePubKey(mustHex(t, NUMS))
	h := txscript.NewBaseTapLeaf(leaf).TapHash()
	want := txscript.ComputeTaprootOutputKey(nums, h[:])
	if !bytes.Equal(x.ScriptPubKey[2:], schnorr.SerializePubKey(want)) {
		t.Fatal("output key")
	}
	// Keys: the internal key with no leaf, then the signers with the leaf.
	if len(x.Keys) != 4 || len(x.Keys[0].LeafHashes) != 0 || hex.EncodeToString(x.Keys[0].XOnly) != NUMS {
		t.Fatalf("internal key %+v", x.Keys[0])
	}
	for i, k := range x.Keys[1:] {
		if len(k.XOnly) != 32 || len(k.LeafHashes) != 1 || !bytes.Equal(k.LeafHashes[0], h[:]) || k.Fingerprint != specs[i].Fingerprint {
			t.Fatalf("key %d: %+v", i+1, k)
		}
		key, mp, idx, ok := d.MatchPubKey(k.XOnly, k.Fingerprint, k.Path)
		if !ok || key != i+1 || mp != 1 || idx != 7 {
			t.Fatalf("MatchPubKey(x-only key %d) = %d %d %d %v", i+1, key, mp, idx, ok)
		}
	}
	// bech32m address paying the same script.
	a, err := d.Address(1, 7, &chaincfg.RegressionNetParams)
	if err != nil || !strings.HasPrefix(a, "bcrt1p") {
		t.Fatalf("address %s: %v", a, err)
	}
	dec, err := address.DecodeAddress(a, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := txscript.PayToAddrScript(dec); !bytes.Equal(s, x.ScriptPubKey) {
		t.Fatal("address does not pay the script")
	}
	if _, err := d.Address(0, 0, &chaincfg.MainNetParams); err == nil {
		t.Fatal("test keys gave a mainnet address")
	}
	// A spendable internal key makes no threshold promise.
	real := mustParse(t, strings.Replace(d.String()[:strings.IndexByte(d.String(), '#')], NUMS, xonlyA, 1))
	if _, _, ok := real.Threshold(); ok {
		t.Fatal("Threshold() with a spendable internal key")
	}
	if _, err := NewSortedMultiTaproot(4, specs); err == nil {
		t.Fatal("threshold above n accepted")
	}
}

// TestNUMSExtendedInternalKey: an xpub-style NUMS internal key, H with a
// chain code, as some wallets write it so that each address has its own
// internal key.
func TestNUMSExtendedInternalKey(t *testing.T) {
	specs, _ := testAccounts(t)
	cc := sha256.Sum256([]byte("airlock NUMS chain code"))
	nums := hdkeychain.NewExtendedKey(chaincfg.TestNet3Params.HDPublicKeyID[:], append([]byte{2}, mustHex(t, NUMS)...), cc[:], []byte{0, 0, 0, 0}, 0, 0, false)
	var keys []string
	for _, s := range specs {
		keys = append(keys, fmt.Sprintf("[%s/48'/1'/0'/2']%s/<0;1>/*", hexFP(s), s.XPub))
	}
	d := mustParse(t, "tr("+nums.String()+"/<0;1>/*,sortedmulti_a(2,"+strings.Join(keys, ",")+"))")
	if k, n, ok := d.Threshold(); k != 2 || n != 3 || !ok {
		t.Fatalf("Threshold() = %d, %d, %v", k, n, ok)
	}
	a, _ := d.Derive(0, 0)
	b, _ := d.Derive(0, 1)
	checkTaproot(t, a)
	checkTaproot(t, b)
	if bytes.Equal(a.InternalKey, b.InternalKey) {
		t.Fatal("internal key does not change with the index")
	}
}

func TestMultiA(t *testing.T) {
	keys := xonlyKeys(t, 1000)
	d := mustParse(t, "tr("+NUMS+",multi_a(17,"+strings.Join(keys[:17], ",")+"))")
	x, _ := d.Derive(0, 0)
	if s := x.Leaves[0].Script; !bytes.HasSuffix(s, []byte{txscript.OP_CHECKSIGADD, 1, 17, txscript.OP_NUMEQUAL}) || len(s) != 17*34+3 {
		t.Fatalf("script ends %x", s[len(s)-4:])
	}
	d = mustParse(t, "tr("+NUMS+",multi_a(999,"+strings.Join(keys[:999], ",")+"))")
	x, _ = d.Derive(0, 0)
	if s := x.Leaves[0].Script; !bytes.HasSuffix(s, []byte{2, 0xe7, 0x03, txscript.OP_NUMEQUAL}) {
		t.Fatalf("script ends %x", s[len(s)-4:])
	}
	refuse(t, nil,
		"tr("+NUMS+",multi_a(1,"+strings.Join(keys, ",")+"))",
		"tr("+NUMS+",multi_a(1000,"+strings.Join(keys[:999], ",")+"))",
		"tr("+NUMS+",multi_a(01,"+keys[0]+"))",
	)
	// The same x-only key with either parity is one signer.
	refuse(t, ErrDuplicateKey, "tr("+NUMS+",sortedmulti_a(2,02"+xonlyA+",03"+xonlyA+"))")
}

func TestTaprootRefusals(t *testing.T) {
	deep := strings.Repeat("{pk("+xonlyA+"),", MaxTreeDepth+1) + "pk(" + xonlyA + ")" + strings.Repeat("}", MaxTreeDepth+1)
	ok := strings.Repeat("{pk("+xonlyA+"),", MaxTreeDepth) + "pk(" + xonlyA + ")" + strings.Repeat("}", MaxTreeDepth)
	x, err := mustParse(t, "tr("+NUMS+","+ok+")").Derive(0, 0)
	if err != nil || len(x.Leaves) != MaxTreeDepth+1 {
		t.Fatal(err)
	}
	checkTaproot(t, x)
	refuse(t, nil,
		"tr("+NUMS+","+deep+")",
		"tr("+pubU+")",
		"tr("+NUMS+",pk("+pubU+"))",
		"tr("+NUMS+",multi(1,"+pubC+"))",
		"tr("+NUMS+",sortedmulti(1,"+pubC+"))",
		"tr("+NUMS+",wpkh("+pubC+"))",
		"tr("+NUMS+",wsh(pk("+pubC+")))",
		"tr("+NUMS+",tr("+pubC+"))",
		"tr("+NUMS+","+pubC+")",
		"tr("+NUMS+",{pk("+pubC+")})",
		"tr("+NUMS+",{pk("+pubC+"),pk("+pubC+"),pk("+pubC+")})",
		"tr("+NUMS+",)",
		"tr("+NUMS+"){}",
		"wsh(tr("+NUMS+"))",
		"pk("+xonlyA+")",
		"wsh(multi(1,"+xonlyA+"))",
		"rawtr("+NUMS+",pk("+pubC+"))",
		"sortedmulti_a(1,"+pubC+")",
		"tr(0000000000000000000000000000000000000000000000000000000000000000)",
	)
	x, err = mustParse(t, "rawtr("+xonlyA+")").Derive(0, 0)
	if err != nil || hex.EncodeToString(x.ScriptPubKey) != "5120"+xonlyA {
		t.Fatalf("rawtr: %x %v", x.ScriptPubKey, err)
	}
}

func TestRawAndAddr(t *testing.T) {
	d := mustParse(t, "addr(3PUNyaW7M55oKWJ3kDukwk9bsKvryra15j)")
	if d.Network() != Mainnet {
		t.Fatal(d.Network())
	}
	if a, err := d.Address(0, 0, &chaincfg.MainNetParams); err != nil || a != "3PUNyaW7M55oKWJ3kDukwk9bsKvryra15j" {
		t.Fatalf("%s %v", a, err)
	}
	if _, err := d.Address(0, 0, &chaincfg.TestNet3Params); err == nil {
		t.Fatal("mainnet address on testnet")
	}
	r := mustParse(t, "raw(a914eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee87)")
	if a, err := r.Address(0, 0, &chaincfg.MainNetParams); err != nil || a != "3PUNyaW7M55oKWJ3kDukwk9bsKvryra15j" {
		t.Fatalf("%s %v", a, err)
	}
	if _, err := mustParse(t, "raw(deadbeef)").Address(0, 0, &chaincfg.MainNetParams); err == nil {
		t.Fatal("raw(deadbeef) has an address")
	}
	specs, _ := testAccounts(t)
	tb, _ := mustParse(t, "tr("+xonlyA+")").Address(0, 0, &chaincfg.TestNet3Params)
	mustParse(t, "addr("+tb+")")
	refuse(t, nil, "raw()", "raw(0)", "raw(zz)", "addr()", "addr("+pubC+")", "addr(BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4)",
		"addr("+tb+"x)", "raw(00,00)", "sh(raw(00))", "tr(raw(00))", "wsh(multi(1,"+specs[0].XPub+"/*,"+specs[1].XPub+"/*),addr("+tb+"))")
	if !errors.Is(func() error { _, err := Parse("combo(" + pubC + ")"); return err }(), ErrUnsupported) {
		t.Fatal("combo() is not refused as unsupported")
	}
}

func TestNestedBuilders(t *testing.T) {
	specs, _ := testAccounts(t)
	for _, c := range []struct {
		build  func(int, []KeySpec) (*Descriptor, error)
		prefix string
		limit  int
	}{
		{NewSortedMultiShWsh, "sh(wsh(sortedmulti(2,", 20},
		{NewSortedMultiSh, "sh(sortedmulti(2,", 15},
		{NewSortedMultiWSH, "wsh(sortedmulti(2,", 20},
	} {
		d, err := c.build(2, specs)
		if err != nil || !strings.HasPrefix(d.String(), c.prefix) {
			t.Fatalf("%s: %v %v", c.prefix, d, err)
		}
		if k, n, ok := d.Threshold(); k != 2 || n != 3 || !ok {
			t.Fatalf("%s: Threshold", c.prefix)
		}
		x, err := d.Derive(1, 3)
		if err != nil || x.RedeemScript == nil && c.prefix[0] == 's' {
			t.Fatalf("%s: %v", c.prefix, err)
		}
		if _, err := d.Address(1, 3, &chaincfg.RegressionNetParams); err != nil {
			t.Fatal(err)
		}
		// limit+1 distinct static keys are refused.
		var many []KeySpec
		for i := range c.limit + 1 {
			priv, _ := btcec.PrivKeyFromBytes([]byte{byte(i + 1)})
			many = append(many, KeySpec{Fingerprint: [4]byte{byte(i)}, PubKey: priv.PubKey().SerializeCompressed()})
		}
		if _, err := c.build(1, many[:c.limit]); err != nil {
			t.Fatalf("%s with %d keys: %v", c.prefix, c.limit, err)
		}
		if _, err := c.build(1, many); err == nil {
			t.Fatalf("%s with %d keys accepted", c.prefix, c.limit+1)
		}
	}
}
