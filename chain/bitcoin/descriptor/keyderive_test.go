package descriptor

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
)

// TestChildKeysMatchHDKeychain guards the unhardened child derivation
// (branchNode.child) against btcd's hdkeychain, for a public and a
// private branch key, on both multipath branches, at the first and the
// last unhardened indexes.
func TestChildKeysMatchHDKeychain(t *testing.T) {
	specs, privs := testAccounts(t)
	for name, key := range map[string]string{
		"xpub": specs[0].XPub,
		"xprv": privs[0].String(),
	} {
		t.Run(name, func(t *testing.T) {
			k, err := ParseKey(key + "/<0;1>/*")
			if err != nil {
				t.Fatal(err)
			}
			if err := k.prepare(); err != nil {
				t.Fatal(err)
			}
			if len(k.nodes) != 2 {
				t.Fatalf("%d branch nodes, want 2", len(k.nodes))
			}
			var indexes []uint32
			for i := range uint32(64) {
				indexes = append(indexes, i, hardened-1-i)
			}
			for alt, b := range k.branches {
				for _, i := range indexes {
					dk, err := k.derive(alt, i)
					if err != nil {
						t.Fatal(err)
					}
					want := hdChild(t, b, i)
					if !bytes.Equal(dk.PubKey, want) {
						t.Fatalf("branch %d child %d: %x, hdkeychain gives %x", alt, i, dk.PubKey, want)
					}
					if got := dk.Path[len(dk.Path)-1]; got != i {
						t.Fatalf("branch %d child %d: path ends in %d", alt, i, got)
					}
				}
			}
			if _, err := k.derive(0, hardened); err == nil {
				t.Fatal("derived a hardened index through an unhardened wildcard")
			}
		})
	}
}

func hdChild(t *testing.T, b *hdkeychain.ExtendedKey, i uint32) []byte {
	t.Helper()
	c, err := b.Derive(i)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := c.ECPubKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub.SerializeCompressed()
}

func BenchmarkDeriveChild(b *testing.B) {
	d := testVault(b)
	b.ResetTimer()
	for i := range b.N {
		if _, err := d.Derive(i&1, uint32(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestChildCache: a cached child is the derived one, a caller changing
// the returned slice does not change the cache, and purging works.
func TestChildCache(t *testing.T) {
	d := mustParse(t, "wsh(multi(1,"+tv2XPub+"/<0;1>/*))")
	PurgeDerivationCache()
	cold, err := d.Derive(1, 12)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), cold.Keys[0].PubKey...)
	cold.Keys[0].PubKey[5] ^= 0xff
	warm, err := d.Derive(1, 12)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(warm.Keys[0].PubKey, want) {
		t.Fatal("the cache returned another key, or one a caller changed")
	}
	children.Lock()
	n := len(children.m)
	children.Unlock()
	if n == 0 {
		t.Fatal("nothing cached")
	}
	PurgeDerivationCache()
	children.Lock()
	n = len(children.m)
	children.Unlock()
	if n != 0 {
		t.Fatal("purge left entries")
	}
}
