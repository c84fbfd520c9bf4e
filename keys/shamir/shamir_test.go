package shamir

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestFieldMatchesFIPS197(t *testing.T) {
	// FIPS-197 §4.2: {57} • {83} = {c1}; {57} • {13} = {fe}.
	if mul(0x57, 0x83) != 0xc1 || mul(0x57, 0x13) != 0xfe {
		t.Fatal("GF(2^8) multiplication is not the AES field's")
	}
	for a := 1; a < 256; a++ {
		if mul(byte(a), div(1, byte(a))) != 1 {
			t.Fatalf("%d has no inverse", a)
		}
	}
}

func subsets(n, k int) [][]int {
	var out [][]int
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == k {
			out = append(out, append([]int{}, cur...))
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
	return out
}

func TestEveryThresholdSubsetRebuilds(t *testing.T) {
	secret := []byte("abandon ability able about above absent absorb abstract absurd abuse access accident")
	shares, err := Split(secret, 3, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range subsets(5, 3) {
		var pick []Share
		for _, i := range sub {
			pick = append(pick, shares[i])
		}
		got, err := Combine(pick)
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("subset %v: %v", sub, err)
		}
	}
	for _, sub := range subsets(5, 2) {
		if _, err := Combine([]Share{shares[sub[0]], shares[sub[1]]}); !errors.Is(err, ErrTooFew) {
			t.Fatalf("two shares of a 3-of-5: %v", err)
		}
	}
	if _, err := Combine([]Share{shares[0], shares[0], shares[0]}); !errors.Is(err, ErrTooFew) {
		t.Fatalf("one share three times: %v", err)
	}
}

func TestSharesRevealNothingAlone(t *testing.T) {
	// With k = 2, one share's y is the secret xor a uniformly random
	// multiple: two splits of one secret give unrelated first shares.
	s := bytes.Repeat([]byte{7}, 32)
	a, _ := Split(s, 2, 2, nil)
	b, _ := Split(s, 2, 2, nil)
	if bytes.Equal(a[0].Y, b[0].Y) || bytes.Equal(a[0].Y, s) {
		t.Fatal("a share leaks the secret")
	}
}

func TestCorruptShareIsNamed(t *testing.T) {
	shares, _ := Split([]byte("secret seed material"), 2, 3, nil)
	raw := shares[1].Encode()
	raw[len(magic)+25] ^= 0x40
	if _, err := Decode(raw); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("got %v", err)
	}
}

func TestForgedShareNeverGivesAWrongSecret(t *testing.T) {
	secret := []byte("secret seed material")
	shares, _ := Split(secret, 2, 3, nil)
	// An attacker edits y and recomputes the checksum: decode accepts it,
	// combining refuses it.
	forged := shares[2]
	forged.Y = bytes.Clone(forged.Y)
	forged.Y[0] ^= 1
	d, err := Decode(forged.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Combine([]Share{shares[0], *d}); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("got %v", err)
	}
}

func TestMixedBackupsRefused(t *testing.T) {
	a, _ := Split([]byte("first seed"), 2, 3, nil)
	b, _ := Split([]byte("first seed"), 2, 3, nil)
	if _, err := Combine([]Share{a[0], b[1]}); !errors.Is(err, ErrMixed) {
		t.Fatalf("got %v", err)
	}
	// Even with the backup id forged to match, the commitment differs.
	c := b[1]
	c.ID = a[0].ID
	if _, err := Combine([]Share{a[0], c}); !errors.Is(err, ErrMixed) {
		t.Fatalf("forged id: %v", err)
	}
	c.Commit = a[0].Commit
	if _, err := Combine([]Share{a[0], c}); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("forged id and commitment: %v", err)
	}
}

func TestSplitRefusesBadParameters(t *testing.T) {
	for _, c := range []struct{ k, n int }{{0, 3}, {4, 3}, {2, 256}} {
		if _, err := Split([]byte{1}, c.k, c.n, nil); err == nil {
			t.Errorf("k=%d n=%d accepted", c.k, c.n)
		}
	}
	if _, err := Split(nil, 2, 3, nil); err == nil {
		t.Error("empty secret accepted")
	}
}

func FuzzDecode(f *testing.F) {
	shares, _ := Split([]byte("fuzz seed"), 2, 3, nil)
	for _, s := range shares {
		f.Add(s.Encode())
	}
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.Encode(), b) {
			t.Fatal("decode→encode changed bytes")
		}
		sum := sha256.Sum256(b[:len(b)-8])
		if !bytes.Equal(sum[:8], b[len(b)-8:]) {
			t.Fatal("accepted a bad checksum")
		}
	})
}
