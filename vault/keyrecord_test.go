package vault_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/vault"
)

var (
	stdToken = []byte{0xa5, 0x40, 0x44, 0x30, 0x8c, 0xea, 0xc9, 0xb7}
	extToken = []byte("sixteen byte tok")
)

// keyRecord is s's key record for token, signed by signer.
func keyRecord(t *testing.T, s station, description string, token []byte, signer keys.ChainSigner) []byte {
	t.Helper()
	u, err := vault.PrepareKeyRecord(s.key, description, token)
	if err != nil {
		t.Fatal(err)
	}
	data, err := u.Sign(signer)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestKeyRecordsVerifyInEveryMode(t *testing.T) {
	q := newQuorum(t)
	for _, tc := range []struct {
		mode  string
		token []byte
	}{{"NO_ENCRYPTION", nil}, {"NO_ENCRYPTION", []byte{0}}, {"STANDARD", stdToken}, {"EXTENDED", extToken}} {
		t.Run(tc.mode, func(t *testing.T) {
			if m, err := vault.EncryptionMode(tc.token); err != nil || m != tc.mode {
				t.Fatalf("EncryptionMode = %q, %v; want %s", m, err, tc.mode)
			}
			recs, err := vault.NewKeyRecords(tc.token, "regtest")
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []station{q.alice, q.bob, q.carol} {
				data := keyRecord(t, s, s.name+" laptop", tc.token, s.ks)
				if len(tc.token) > 1 && bytes.Contains(data, []byte("BSMS")) {
					t.Fatal("an encrypted key record is readable")
				}
				// As a file holds it: a final newline.
				r, err := recs.Add(s.name+".bsms", append(data, '\n'))
				if err != nil {
					t.Fatal(err)
				}
				if r.Key != s.key || r.Description != s.name+" laptop" || r.Name != s.name+".bsms" {
					t.Fatalf("verified %+v", r)
				}
			}
			if got := recs.Records(); len(got) != 3 || got[2].Key != q.carol.key {
				t.Fatalf("records %+v", got)
			}
		})
	}
}

// TestKeyRecordRefused: a coordinator accepts a key only from a record the
// key itself signed, for this session and network, once.
func TestKeyRecordRefused(t *testing.T) {
	q := newQuorum(t)
	alice := string(keyRecord(t, q.alice, "alice", nil, q.alice.ks))
	bob := string(keyRecord(t, q.bob, "bob", nil, q.bob.ks))
	sig := func(rec string) string { return rec[strings.LastIndexByte(rec, '\n')+1:] }
	sealed := keyRecord(t, q.alice, "alice", stdToken, q.alice.ks)
	mainnetKS := newStation(t, "dave", 4, mainnet)
	for _, tc := range []struct {
		name    string
		token   []byte
		network string
		records [][]byte
		want    string
	}{
		{"a key record signed by another key", nil, "regtest",
			[][]byte{[]byte(strings.Replace(alice, sig(alice), sig(bob), 1))}, "r0: setup: signature is not by the record's key"},
		{"a key swapped under another key's signature", nil, "regtest",
			[][]byte{[]byte(strings.Replace(alice, q.alice.key, q.erin.key, 1))}, "r0: setup: signature is not by the record's key"},
		{"a changed description", nil, "regtest",
			[][]byte{[]byte(strings.Replace(alice, "\nalice\n", "\nmallory\n", 1))}, "r0: setup: signature is not by the record's key"},
		{"a key record for the wrong network", nil, "regtest",
			[][]byte{keyRecord(t, mainnetKS, "dave", nil, mainnetKS.ks)}, "r0: setup: KEY is for mainnet, not regtest"},
		{"a key record under another token", []byte("8 bytes?"), "regtest",
			[][]byte{sealed}, "r0: setup: MAC mismatch: wrong token or tampered record"},
		{"a flipped byte in an encrypted key record", stdToken, "regtest",
			[][]byte{flip(sealed, 40)}, "r0: setup: "},
		{"a clear key record in an encrypted session", stdToken, "regtest",
			[][]byte{[]byte(alice)}, "r0: setup: encrypted record is not hex"},
		{"an encrypted key record in a clear session", nil, "regtest",
			[][]byte{sealed}, "r0: setup: "},
		{"the same key twice", nil, "regtest",
			[][]byte{[]byte(alice), []byte(alice)}, "r0 and r1 hold the same key " + q.alice.key},
		{"the same key with another description", nil, "regtest",
			[][]byte{[]byte(alice), keyRecord(t, q.alice, "alice again", nil, q.alice.ks)}, "r0 and r1 hold the same key"},
		{"an oversized key record", nil, "regtest",
			[][]byte{append([]byte(alice), bytes.Repeat([]byte(" "), vault.MaxKeyRecord)...)}, "r0 is larger than 4096 bytes; a key record is smaller"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := vault.NewKeyRecords(tc.token, tc.network)
			if err != nil {
				t.Fatal(err)
			}
			for i, data := range tc.records {
				if _, err = recs.Add("r"+string(rune('0'+i)), data); err != nil {
					break
				}
			}
			wantErr(t, err, tc.want)
		})
	}
}

func TestNewKeyRecordsRefused(t *testing.T) {
	_, err := vault.NewKeyRecords([]byte{1, 2}, "regtest")
	wantErr(t, err, "setup: a token of 2 bytes")
	_, err = vault.NewKeyRecords(nil, "moonnet")
	wantErr(t, err, "bitcoin: unknown network")
}

// TestKeyRecordSignedOnlyByItsOwnKey: a station signs a record only with
// the key the record names, and checks that before it signs.
func TestKeyRecordSignedOnlyByItsOwnKey(t *testing.T) {
	q := newQuorum(t)
	u, err := vault.PrepareKeyRecord(q.alice.key, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = u.Sign(q.bob.ks)
	wantErr(t, err, "is not under this station's master key")
	_, err = u.Sign(nil)
	wantErr(t, err, "this station's keys hold no chain key")
	// alice's fingerprint and path on bob's key: alice's keystore has
	// another key there.
	origin := q.alice.key[:strings.IndexByte(q.alice.key, ']')+1]
	forged := origin + q.bob.key[strings.IndexByte(q.bob.key, ']')+1:]
	u, err = vault.PrepareKeyRecord(forged, "alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = u.Sign(q.alice.ks)
	wantErr(t, err, "the station's key at "+origin+" is not the workspace's key")
}

func TestPrepareKeyRecordRefused(t *testing.T) {
	q := newQuorum(t)
	xpub := q.alice.key[strings.IndexByte(q.alice.key, ']')+1:]
	for _, tc := range []struct {
		name, key, description string
		token                  []byte
		want                   string
	}{
		{"no key", "", "alice", nil, "this station has no Bitcoin key"},
		{"a key without origin", xpub, "alice", nil, "has no origin"},
		{"a token of another length", q.alice.key, "alice", []byte{1, 2, 3}, "setup: a token of 3 bytes"},
		{"a description too long", q.alice.key, strings.Repeat("a", 81), nil, "setup: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := vault.PrepareKeyRecord(tc.key, tc.description, tc.token)
			if err == nil {
				// The description is BIP-129's to check, at signing.
				_, err = u.Sign(q.alice.ks)
			}
			wantErr(t, err, tc.want)
		})
	}
}

// TestCheckPolicy: with key records, a policy is sealed only if every
// Bitcoin signer's key is proven by one and every record is a signer's.
func TestCheckPolicy(t *testing.T) {
	q := newQuorum(t)
	record := func(s station) []byte { return keyRecord(t, s, s.name, stdToken, s.ks) }
	records := map[string][]byte{"alice": record(q.alice), "bob": record(q.bob), "carol": record(q.carol), "erin": record(q.erin)}
	for _, tc := range []struct {
		name    string
		swap    []string // key swaps in the policy's entries
		network string   // of the key records
		records []string
		want    []string // proven signers, or
		err     any      // the error type wanted
		errText string
	}{
		{name: "every signer proven", network: "regtest", records: []string{"carol", "alice", "bob"},
			want: []string{"alice/keystore", "bob/keystore", "carol/keystore"}},
		{name: "a policy whose signer has no matching key record is refused", network: "regtest", records: []string{"alice", "bob"},
			err: &vault.UnprovenSignerError{}, errText: "no BSMS key record proves the key of carol/keystore (vault ops): " + q.carol.key},
		{name: "a key swapped in a policy entry is refused", swap: []string{q.alice.key, q.erin.key}, network: "regtest", records: []string{"alice", "bob", "carol"},
			err: &vault.UnprovenSignerError{}, errText: "no BSMS key record proves the key of alice/keystore (vault ops): " + q.erin.key},
		{name: "a key record for no signer is refused", network: "regtest", records: []string{"alice", "bob", "carol", "erin"},
			err: &vault.UnusedKeyRecordError{}, errText: "erin: the key " + q.erin.key + " is not the key of any Bitcoin vault signer in the policy"},
		{name: "key records verified for another network are refused", network: "testnet3", records: []string{"alice", "bob", "carol"},
			errText: "the key records were verified for testnet3, but policy treasury is for regtest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := vault.NewKeyRecords(stdToken, tc.network)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range tc.records {
				if _, err := recs.Add(name, records[name]); err != nil {
					t.Fatal(err)
				}
			}
			proven, err := recs.CheckPolicy(q.policy(t, tc.swap...))
			if tc.errText != "" {
				wantErr(t, err, tc.errText)
				switch want := tc.err.(type) {
				case *vault.UnprovenSignerError:
					if !errors.As(err, &want) {
						t.Fatalf("error %T, want %T", err, tc.err)
					}
				case *vault.UnusedKeyRecordError:
					if !errors.As(err, &want) {
						t.Fatalf("error %T, want %T", err, tc.err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range proven {
				got = append(got, p.Signer)
				if p.Record.Name != strings.TrimSuffix(p.Signer, "/keystore") || p.Vault != "ops" {
					t.Fatalf("signer %s proven by %+v in vault %s", p.Signer, p.Record, p.Vault)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("proven %q, want %q", got, tc.want)
			}
		})
	}
}
