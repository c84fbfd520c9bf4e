package vault_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/vault"
)

func TestFromPolicyRefusesUnknownVault(t *testing.T) {
	q := newQuorum(t)
	_, err := vault.FromPolicy(q.policy(t), "hot")
	wantErr(t, err, `policy treasury has no vault "hot"`)
}

func TestAddressIsTheDescriptors(t *testing.T) {
	q := newQuorum(t)
	v, d := q.vault(t, "ops"), q.descriptor(t, "ops")
	for _, branch := range []int{0, 1} {
		for _, index := range []uint32{0, 7} {
			a, err := v.Address(branch, index)
			if err != nil {
				t.Fatal(err)
			}
			b, err := d.Address(branch, index)
			if err != nil {
				t.Fatal(err)
			}
			if a != b || !strings.HasPrefix(a, "bcrt1q") {
				t.Fatalf("%d/%d: vault %s, descriptor %s", branch, index, a, b)
			}
		}
	}
	if _, err := v.Address(0, 1<<31); err == nil {
		t.Fatal("an address at a hardened index")
	}
}

// TestExportedVaultImportsBack: every format a hardware signer registers
// reads back to the same descriptor and first address.
func TestExportedVaultImportsBack(t *testing.T) {
	q := newQuorum(t)
	std := []byte{0xa5, 0x40, 0x44, 0x30, 0x8c, 0xea, 0xc9, 0xb7}
	ext := []byte("sixteen byte tok")
	for _, name := range []string{"ops", "cold", "vault"} {
		v, d := q.vault(t, name), q.descriptor(t, name)
		first, err := v.Address(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		exports := map[string]struct {
			data   func() ([]byte, error)
			token  []byte
			source vault.Source
		}{
			"descriptor":    {func() ([]byte, error) { return []byte(d.String() + "\n"), nil }, nil, vault.SourceDescriptor},
			"coldcard":      {func() ([]byte, error) { return d.Coldcard(name) }, nil, vault.SourceColdcard},
			"bsms clear":    {func() ([]byte, error) { return d.BSMS(nil) }, nil, vault.SourceBSMS},
			"bsms 00":       {func() ([]byte, error) { return d.BSMS([]byte{0}) }, []byte{0}, vault.SourceBSMS},
			"bsms standard": {func() ([]byte, error) { return d.BSMS(std) }, std, vault.SourceBSMS},
			"bsms extended": {func() ([]byte, error) { return d.BSMS(ext) }, ext, vault.SourceBSMS},
		}
		for format, x := range exports {
			t.Run(name+"/"+format, func(t *testing.T) {
				data, err := x.data()
				if name == "vault" && format == "coldcard" {
					// A recovery path is no sortedmulti: Coldcard cannot
					// register it, and nothing is written.
					wantErr(t, err, "setup: coldcard takes sortedmulti()")
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(x.token) == 8 || len(x.token) == 16 {
					if strings.Contains(string(data), "BSMS") {
						t.Fatal("an encrypted record is readable")
					}
				}
				im, err := vault.Import(data, "regtest", x.token)
				if err != nil {
					t.Fatal(err)
				}
				if im.String() != d.String() || im.FirstAddress != first || im.Source != x.source {
					t.Fatalf("imported %s (%v), first address %s; want %s (%v), %s", im, im.Source, im.FirstAddress, d, x.source, first)
				}
				if x.source == vault.SourceColdcard && im.Name != name {
					t.Fatalf("coldcard name %q, want %q", im.Name, name)
				}
				k, n := im.Threshold()
				if wk, wn := d.Threshold(); k != wk || n != wn {
					t.Fatalf("%d of %d, want %d of %d", k, n, wk, wn)
				}
				if !slices.Equal(im.Keys(), d.Keys()) {
					t.Fatalf("keys %q, want %q", im.Keys(), d.Keys())
				}
			})
		}
	}
}

func TestRecoveryPathIsReported(t *testing.T) {
	q := newQuorum(t)
	d := q.descriptor(t, "vault")
	key, older, ok := d.Recovery()
	if !ok || older != 110 || !strings.HasPrefix(key, q.dave.key) {
		t.Fatalf("recovery %q after %d (%v); want dave's key after 110", key, older, ok)
	}
	if k, n := d.Threshold(); k != 2 || n != 3 {
		t.Fatalf("primary path %d of %d, want 2 of 3", k, n)
	}
	if _, _, ok := q.descriptor(t, "ops").Recovery(); ok {
		t.Fatal("ops has no recovery path")
	}
}

// TestPlaceFindsOnlyTheStationsOwnKey: a station registers a vault only
// if it holds the station's key, compared by origin and key, not by
// fingerprint.
func TestPlaceFindsOnlyTheStationsOwnKey(t *testing.T) {
	q := newQuorum(t)
	aliceOrigin := q.alice.key[:strings.IndexByte(q.alice.key, ']')+1]
	erinXPub := q.erin.key[strings.IndexByte(q.erin.key, ']')+1:]
	aliceXPub := q.alice.key[strings.IndexByte(q.alice.key, ']')+1:]
	ops := q.descriptor(t, "ops")
	for _, tc := range []struct {
		name  string
		vault string
		key   string
		want  *vault.Place // nil: ErrKeyNotHeld
	}{
		{"a signer's key is found", "ops", q.alice.key, &vault.Place{Signers: []int{signerIndex(ops, q.alice.key)}, Of: 3}},
		{"the recovery key is the recovery path", "vault", q.dave.key, &vault.Place{Recovery: true, Older: 110}},
		{"a signer of the primary path of a recovery vault", "vault", q.bob.key, &vault.Place{Signers: []int{signerIndex(ops, q.bob.key)}, Of: 3}},
		{"a vault without the station's key is refused", "ops", q.dave.key, nil},
		{"a key in no vault is refused", "ops", q.erin.key, nil},
		{"the station's fingerprint and path on another key is refused", "ops", aliceOrigin + erinXPub, nil},
		{"the station's key under another origin path is refused", "ops", strings.Replace(aliceOrigin, "/0'/2']", "/1'/2']", 1) + aliceXPub, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := q.descriptor(t, tc.vault).Place(tc.key)
			if tc.want == nil {
				if !errors.Is(err, vault.ErrKeyNotHeld) {
					t.Fatalf("Place(%s) = %+v, %v; want ErrKeyNotHeld", tc.key, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Recovery != tc.want.Recovery || got.Older != tc.want.Older || !slices.Equal(got.Signers, tc.want.Signers) || got.Of != tc.want.Of {
				t.Fatalf("Place = %+v, want %+v", got, tc.want)
			}
		})
	}
	if _, err := ops.Place("not a key"); err == nil || errors.Is(err, vault.ErrKeyNotHeld) {
		t.Fatalf("a malformed key: %v; want a parse error", err)
	}
}

// signerIndex is key's position, from 1, among d's keys.
func signerIndex(d *vault.Descriptor, key string) int {
	for i, k := range d.Keys() {
		if strings.HasPrefix(k, key+"/") {
			return i + 1
		}
	}
	return 0
}

func TestImportRefuses(t *testing.T) {
	q := newQuorum(t)
	d := q.descriptor(t, "ops")
	tok := []byte("8 bytes!")
	coldcard, err := d.Coldcard("ops")
	if err != nil {
		t.Fatal(err)
	}
	record, err := d.BSMS(nil)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := d.BSMS(tok)
	if err != nil {
		t.Fatal(err)
	}
	other, err := q.vault(t, "cold").Address(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := d.Address(0, 0)
	for _, tc := range []struct {
		name    string
		data    []byte
		network string
		token   []byte
		want    string
	}{
		{"keys for another network", coldcard, "mainnet", nil, "setup: "},
		{"a descriptor for another network", []byte(d.String()), "mainnet", nil, "setup: descriptor keys are for test, not mainnet"},
		{"a record under another token", sealed, "regtest", []byte("8 bytes?"), "setup: MAC mismatch"},
		{"an encrypted record read as clear text", sealed, "regtest", nil, "setup: "},
		{"a record whose first address is another vault's", []byte(strings.Replace(string(record), first, other, 1)), "regtest", nil, "setup: first address is"},
		{"a flipped byte in an encrypted record", flip(sealed, 40), "regtest", tok, "setup: "},
		{"an unknown network", []byte(d.String()), "moonnet", nil, "bitcoin: unknown network"},
		{"no vault at all", []byte("hello"), "regtest", nil, "setup: descriptor without checksum"},
		{"a descriptor with a private key", withChecksum(t, "wsh(pk(cVt4o7BGAig1UXywgGSmARhxMdzP5qvQsxKkSsc1XEkw3tDTQFpy))"), "regtest", nil, "private"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im, err := vault.Import(tc.data, tc.network, tc.token)
			if err == nil {
				t.Fatalf("imported %s", im)
			}
			wantErr(t, err, tc.want)
		})
	}
}

func withChecksum(t *testing.T, desc string) []byte {
	t.Helper()
	sum, err := descriptor.Checksum(desc)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(desc + "#" + sum)
}

func flip(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 1
	return c
}

func TestCheckNetwork(t *testing.T) {
	for _, n := range []string{"mainnet", "testnet3", "testnet4", "signet", "regtest"} {
		if err := vault.CheckNetwork(n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	wantErr(t, vault.CheckNetwork("moonnet"), "bitcoin: unknown network")
}
