package descriptor

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// FuzzParse requires that Parse never panics, that whatever it accepts
// prints back as the input's own text with its checksum, that this parses
// strictly to the same text, and that a MatchPubKey answer derives the key
// it names. ParseKey is held to the same round trip on the same input. The
// seed corpus is every descriptor and key expression of the BIP vectors; an
// empty corpus fails.
func FuzzParse(f *testing.F) {
	v := loadVectors(f)
	n := 0
	add := func(s string) {
		f.Add(s)
		n++
	}
	for _, c := range v.Checksum {
		add(c.Descriptor)
	}
	// The miniscript subset: recovery vaults and near misses.
	add("wsh(or_d(multi(1," + pubC + "),and_v(v:pkh(" + pubC2 + "),older(144))))")
	add("tr(" + NUMS + ",{sortedmulti_a(1," + pubC + "),and_v(v:pk(" + pubC2 + "),older(65535))})")
	add("wsh(or_d(pk(" + pubC + "),and_v(v:multi(1," + pubC2 + "),older(1))))")
	for _, c := range v.KeyExpressions.Valid {
		add(c.Key)
		add("wsh(multi(1," + c.Key + "))")
	}
	for _, c := range v.KeyExpressions.Invalid {
		add(c.Key)
	}
	for _, c := range v.Valid {
		add(c.Descriptor)
		for _, x := range c.Expansions {
			add(x)
		}
	}
	for _, c := range v.Invalid {
		add(c.Descriptor)
	}
	add(testVault(f).String())
	specs, _ := testAccounts(f)
	if d, err := NewSortedMultiTaproot(2, specs); err == nil {
		add(d.String())
	}
	for _, tree := range []string{
		"pk(" + xonlyA + ")",
		"{pk(" + xonlyA + "),pkh(" + pubC + ")}",
		"{{pk(" + specs[0].XPub + "/<0;1>/*),multi_a(1," + xonlyA + "," + pubC2 + ")},sortedmulti_a(2," + specs[1].XPub + "/*," + specs[2].XPub + "/*)}",
		"{pk(" + xonlyA + "),{pk(" + pubC + "),{pk(" + pubC2 + "),pk(" + NUMS + ")}}}",
		"s:pk(" + xonlyA + ")",
	} {
		add("tr(" + NUMS + "," + tree + ")")
	}
	add("rawtr(" + xonlyA + ")")
	add("addr(bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080)")
	add("raw(5120" + xonlyA + ")")
	if n == 0 {
		f.Fatal("empty seed corpus")
	}
	f.Fuzz(func(t *testing.T, s string) {
		if k, err := ParseKey(s); err == nil {
			again, err := ParseKey(k.String())
			if err != nil || again.String() != k.String() || k.String() != s {
				t.Fatalf("ParseKey(%q) gives %q, which gives %v", s, k, err)
			}
		}
		d, err := Parse(s)
		if err != nil {
			if d != nil {
				t.Fatal("Parse returned a descriptor and an error")
			}
			return
		}
		str := d.String()
		if body, _, _ := strings.Cut(s, "#"); !strings.HasPrefix(str, body+"#") {
			t.Fatalf("Parse(%q).String() = %q", s, str)
		}
		again, err := ParseStrict(str)
		if err != nil {
			t.Fatalf("Parse(%q) ok but its String %q does not parse: %v", s, str, err)
		}
		if again.String() != str {
			t.Fatalf("String does not round-trip: %q then %q", str, again.String())
		}
		xs, err := d.Expand()
		if err != nil || len(xs) != d.PathCount() {
			t.Fatalf("Expand(%q): %d descriptors, %v", str, len(xs), err)
		}
		for mp := range d.PathCount() {
			if x, err := d.Derive(mp, 1); err == nil {
				for _, k := range x.Keys {
					// A match is a proof: the key is there.
					if key, m, i, ok := d.MatchPubKey(k.PubKey, k.Fingerprint, k.Path); ok && !derivesKey(d, key, m, i, k) {
						t.Fatalf("MatchPubKey(%x) = key %d at %d/%d, which does not derive it", k.PubKey, key, m, i)
					}
				}
			}
		}
	})
}

// derivesKey reports whether key expression key of d derives k at branch
// mp and child index.
func derivesKey(d *Descriptor, key, mp int, index uint32, k DerivedKey) bool {
	x, err := d.Derive(mp, index)
	if err != nil || key < 0 || key >= len(x.Keys) {
		return false
	}
	dk := x.Keys[key]
	return bytes.Equal(dk.PubKey, k.PubKey) && dk.Fingerprint == k.Fingerprint && slices.Equal(dk.Path, k.Path)
}
