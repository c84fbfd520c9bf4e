package descriptor

import (
	"bytes"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// TestStringKeepsHardenedMarkers: String gives the text as written, so the
// checksum is the author's; "h" is not rewritten to "'".
func TestStringKeepsHardenedMarkers(t *testing.T) {
	body := "pkh([deadbeef/1h/2']" + tv2XPrv + "/3h/<4';5h>/*h)"
	d := mustParse(t, body)
	sum, _ := Checksum(body)
	if d.String() != body+"#"+sum {
		t.Fatalf("String() = %s", d)
	}
	xs, err := d.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(xs[1].String(), "#")[0]; got != "pkh([deadbeef/1h/2']"+tv2XPrv+"/3h/5h/*h)" {
		t.Fatalf("expansion 1: %s", got)
	}
}

// TestKeysAreCopies: a caller changing what Keys returns cannot change the
// descriptor.
func TestKeysAreCopies(t *testing.T) {
	d := testVault(t)
	before := d.String()
	ks := d.Keys()
	ks[0].Origin.Path[0] = 0
	ks[0].Origin.Fingerprint[0] ^= 1
	ks[0].Steps()[0].Alternatives[0] = 9
	if d.String() != before || d.Keys()[0].Origin.Path[0] != accountPath[0] {
		t.Fatal("Keys() exposes the descriptor's own keys")
	}
	x, _ := d.Derive(0, 0)
	fp := d.Keys()[0].Origin.Fingerprint
	if _, _, _, ok := d.MatchPubKey(x.Keys[0].PubKey, fp, x.Keys[0].Path); !ok {
		t.Fatal("descriptor changed through Keys()")
	}
}

func TestKeyAccessors(t *testing.T) {
	specs, _ := testAccounts(t)
	d := testVault(t)
	k := d.Keys()[0]
	if !k.IsExtended() || !k.IsXPub() || k.IsPrivate() || k.ExtendedKey() != specs[0].XPub ||
		k.Wildcard() != UnhardenedWildcard || k.PathCount() != 2 || k.Network() != Testnet ||
		k.Fingerprint() != specs[0].Fingerprint || len(k.PubKey()) != 33 {
		t.Fatalf("accessors of %s", k)
	}
	st := k.Steps()
	if len(st) != 1 || !st[0].IsMultipath() || !slices.Equal(st[0].Alternatives, []uint32{0, 1}) {
		t.Fatalf("Steps() = %+v", st)
	}
	w, err := ParseKey("L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1")
	if err != nil || w.IsExtended() || !w.IsPrivate() || hex.EncodeToString(w.PubKey()) != pubC || w.Network() != Mainnet {
		t.Fatalf("WIF key: %v", err)
	}
	if _, err := ParseKey(pubC + ",x"); err == nil {
		t.Fatal("ParseKey accepted a comma")
	}
}

// TestDerivedKeysCarryOrigins: with an origin, paths start from the
// master; without, the key is its own master (Bitcoin Core's convention).
func TestDerivedKeysCarryOrigins(t *testing.T) {
	const other = "xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL"
	d := mustParse(t, "wsh(multi(1,[deadbeef/48h/0h]"+tv2XPub+"/1/*,"+other+"/2/*,"+pubC+"))")
	x, err := d.Derive(0, 7)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := hex.DecodeString(pubC)
	want := []DerivedKey{
		{Fingerprint: [4]byte{0xde, 0xad, 0xbe, 0xef}, Path: []uint32{48 + hardened, hardened, 1, 7}},
		{Fingerprint: [4]byte(address.Hash160(d.Keys()[1].PubKey())[:4]), Path: []uint32{2, 7}},
		{Fingerprint: [4]byte(address.Hash160(pub)[:4]), PubKey: pub},
	}
	for i, w := range want {
		got := x.Keys[i]
		if got.Fingerprint != w.Fingerprint || !slices.Equal(got.Path, w.Path) || w.PubKey != nil && !bytes.Equal(got.PubKey, w.PubKey) {
			t.Errorf("key %d: %x %v, want %x %v", i, got.Fingerprint, got.Path, w.Fingerprint, w.Path)
		}
	}
	// The fixed key cannot say which child a claim is on.
	if _, _, _, ok := d.MatchPubKey(pub, want[2].Fingerprint, nil); ok {
		t.Fatal("a fixed key in a ranged descriptor named a child")
	}
	if key, mp, i, ok := d.MatchPubKey(x.Keys[1].PubKey, want[1].Fingerprint, want[1].Path); !ok || key != 1 || mp != 0 || i != 7 {
		t.Fatalf("key without origin: key %d at %d/%d %v", key, mp, i, ok)
	}
}

func TestDeriveRefusesOutOfRange(t *testing.T) {
	d := testVault(t)
	for _, c := range []struct {
		mp    int
		index uint32
	}{{2, 0}, {-1, 0}, {0, hardened}} {
		if _, err := d.Derive(c.mp, c.index); err == nil {
			t.Errorf("Derive(%d, %d) accepted", c.mp, c.index)
		}
		if _, err := d.Address(c.mp, c.index, &chaincfg.RegressionNetParams); err == nil {
			t.Errorf("Address(%d, %d) accepted", c.mp, c.index)
		}
	}
	fixed := mustParse(t, "wpkh("+pubC+")")
	if _, err := fixed.Derive(0, 1); err == nil {
		t.Error("child 1 of a descriptor without wildcard")
	}
	if _, err := fixed.SingleMultipath(1); err == nil {
		t.Error("branch 1 of a descriptor without multipath")
	}
	if x, err := fixed.Expand(); err != nil || len(x) != 1 || x[0] != fixed {
		t.Errorf("Expand() of a single descriptor: %v", err)
	}
}

// TestAddressMatchesScript: each script type's address encodes the script
// Derive gives; pk() and bare multisig have none.
func TestAddressMatchesScript(t *testing.T) {
	for _, c := range []struct{ desc, prefix string }{
		{"pkh(" + tv2XPub + "/0/*)", "1"},
		{"wpkh(" + tv2XPub + "/0/*)", "bc1q"},
		{"sh(wpkh(" + tv2XPub + "/0/*))", "3"},
		{"wsh(multi(1," + tv2XPub + "/0/*," + pubC + "))", "bc1q"},
		{"sh(wsh(multi(1," + tv2XPub + "/0/*," + pubC + ")))", "3"},
	} {
		d := mustParse(t, c.desc)
		a, err := d.Address(0, 3, &chaincfg.MainNetParams)
		if err != nil {
			t.Fatalf("%s: %v", c.desc, err)
		}
		x, _ := d.Derive(0, 3)
		_, addrs, _, err := txscript.ExtractPkScriptAddrs(x.ScriptPubKey, &chaincfg.MainNetParams)
		if err != nil || len(addrs) != 1 || addrs[0].EncodeAddress() != a || !strings.HasPrefix(a, c.prefix) {
			t.Errorf("%s: address %s, script gives %v", c.desc, a, addrs)
		}
	}
	for _, s := range []string{"pk(" + pubC + ")", "multi(1," + pubC + ")"} {
		if _, err := mustParse(t, s).Address(0, 0, &chaincfg.MainNetParams); err == nil {
			t.Errorf("%s gave an address", s)
		}
	}
}

// TestNestedSegwitScripts: in sh(wsh(X)) the redeemScript is the P2WSH
// program of X and the witnessScript is X (BIP-381, BIP-382).
func TestNestedSegwitScripts(t *testing.T) {
	d := mustParse(t, "sh(wsh(sortedmulti(1,"+pubC+","+pubC2+")))")
	x, err := d.Derive(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.RedeemScript, p2wsh(x.WitnessScript)) || !bytes.Equal(x.ScriptPubKey, p2sh(x.RedeemScript)) {
		t.Fatalf("redeem %x witness %x spk %x", x.RedeemScript, x.WitnessScript, x.ScriptPubKey)
	}
	// sortedmulti puts 0260… before 03a3…, whatever the text order.
	if !bytes.Equal(x.WitnessScript[2:35], mustHex(t, pubC2)) {
		t.Fatalf("witness script %x is not sorted", x.WitnessScript)
	}
	if k, n, ok := d.Threshold(); k != 1 || n != 2 || !ok {
		t.Fatalf("Threshold() = %d %d %v", k, n, ok)
	}
	if _, _, ok := mustParse(t, "wpkh("+pubC+")").Threshold(); ok {
		t.Fatal("wpkh() has a threshold")
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDescriptorIsSafeForConcurrentUse: a signer may check several inputs
// at once against one parsed vault (run with -race).
func TestDescriptorIsSafeForConcurrentUse(t *testing.T) {
	d := testVault(t)
	want, err := d.Derive(1, 9)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			x, err := d.Derive(1, 9)
			if err != nil || !bytes.Equal(x.ScriptPubKey, want.ScriptPubKey) {
				t.Errorf("Derive: %v", err)
			}
			k := want.Keys[2]
			if key, mp, i, ok := d.MatchPubKey(k.PubKey, k.Fingerprint, k.Path); !ok || key != 2 || mp != 1 || i != 9 {
				t.Errorf("MatchPubKey: key %d at %d/%d %v", key, mp, i, ok)
			}
		})
	}
	wg.Wait()
}
