package vault_test

import (
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/vault"
)

// The readers of package setup are fuzzed there (FuzzParse). These fuzz
// what this package adds on top of them, on the same untrusted files: the
// choice of reader, the first address, the station's key search, and a key
// record's trimming, network check and counting once.

// importSeeds are the test vaults in every format a hardware signer
// registers, in clear and encrypted.
func importSeeds(f *testing.F) [][]byte {
	q := newQuorum(f)
	var seeds [][]byte
	for _, name := range []string{"ops", "cold", "vault"} {
		d := q.descriptor(f, name)
		seeds = append(seeds, []byte(d.String()+"\n"))
		for _, tok := range [][]byte{nil, stdToken} {
			rec, err := d.BSMS(tok)
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, rec)
		}
		if cc, err := d.Coldcard(name); err == nil {
			seeds = append(seeds, cc)
		}
	}
	return seeds
}

// FuzzImport: whatever Import accepts has the first address it reports,
// reads back the same from its descriptor, and holds every key it lists
// with an origin.
func FuzzImport(f *testing.F) {
	seeds := importSeeds(f)
	if len(seeds) == 0 {
		f.Fatal("no seeds")
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tok := range [][]byte{nil, stdToken} {
			im, err := vault.Import(data, "regtest", tok)
			if err != nil {
				continue
			}
			if first, err := im.Address(0, 0); err != nil || first != im.FirstAddress {
				t.Fatalf("first address %s, reported %s (%v)", first, im.FirstAddress, err)
			}
			back, err := vault.Import([]byte(im.String()), "regtest", nil)
			if err != nil || back.String() != im.String() || back.FirstAddress != im.FirstAddress {
				t.Fatalf("%s does not read back: %v", im, err)
			}
			for _, key := range im.Keys() {
				if !strings.HasPrefix(key, "[") {
					continue
				}
				if _, err := im.Place(key); err != nil {
					t.Fatalf("%s lists key %s but does not hold it: %v", im, key, err)
				}
			}
		}
	})
}

// FuzzKeyRecord: a key record Add accepts names a key with an origin, and
// counts once.
func FuzzKeyRecord(f *testing.F) {
	q := newQuorum(f)
	n := 0
	for _, s := range []station{q.alice, q.bob, q.carol} {
		for _, tok := range [][]byte{nil, stdToken} {
			u, err := vault.PrepareKeyRecord(s.key, s.name, tok)
			if err != nil {
				f.Fatal(err)
			}
			data, err := u.Sign(s.ks)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
			f.Add(append(data, '\n'))
			n += 2
		}
	}
	if n == 0 {
		f.Fatal("no seeds")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, tok := range [][]byte{nil, stdToken} {
			recs, err := vault.NewKeyRecords(tok, "regtest")
			if err != nil {
				t.Fatal(err)
			}
			r, err := recs.Add("a", data)
			if err != nil {
				continue
			}
			if !strings.HasPrefix(r.Key, "[") {
				t.Fatalf("accepted key %q without origin", r.Key)
			}
			if _, err := recs.Add("b", data); err == nil || !strings.Contains(err.Error(), "hold the same key") {
				t.Fatalf("the same record twice: %v", err)
			}
		}
	})
}
