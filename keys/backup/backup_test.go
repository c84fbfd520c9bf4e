package backup

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/keys/shamir"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/transport/qr/ur"
	"github.com/airlock-vault/airlock/workspace"
)

// secret is a keystore backup (keystore.BackupSecret) with the given
// entropy byte, on regtest.
func secret(b byte) []byte {
	s := []byte{1, 4}
	s = append(s, bytes.Repeat([]byte{b}, 32)...)
	return append(s, bytes.Repeat([]byte{b ^ 0xff}, 32)...)
}

// config is the workspace record of the keystore backup(b) restores.
func config(t *testing.T, b byte) workspace.Config {
	t.Helper()
	ks, err := keystore.FromBackup(secret(b))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ks.KeyExpression()
	if err != nil {
		t.Fatal(err)
	}
	return workspace.Config{Role: workspace.Station, Name: "alice", Key: key,
		Identity: policy.EncodeIdentity(ks.IdentityKey().Public().(ed25519.PublicKey))}
}

func split(t *testing.T, b byte, k, n int) []shamir.Share {
	t.Helper()
	shares, err := Split(secret(b), k, n)
	if err != nil {
		t.Fatal(err)
	}
	return shares
}

func x25519(t testing.TB) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func scrypt(t *testing.T, pass string) (*age.ScryptRecipient, *age.ScryptIdentity) {
	t.Helper()
	r, err := age.NewScryptRecipient(pass)
	if err != nil {
		t.Fatal(err)
	}
	r.SetWorkFactor(10)
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		t.Fatal(err)
	}
	return r, id
}

func seal(t testing.TB, s shamir.Share, to age.Recipient) []byte {
	t.Helper()
	b, err := Seal(s, to)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func read(t *testing.T, raw []byte, ids ...age.Identity) shamir.Share {
	t.Helper()
	s, err := ReadShare("share.age", raw, ids)
	if err != nil {
		t.Fatal(err)
	}
	return *s
}

// TestSealedAndWrittenSharesRestore: any two of a 2-of-3 backup restore
// the station's keys, whether a share was sealed to an X25519 custodian,
// to a passphrase, or kept as words, and the drill passes.
func TestSealedAndWrittenSharesRestore(t *testing.T) {
	shares := split(t, 1, 2, 3)
	carol := x25519(t)
	daveR, daveI := scrypt(t, "dave's passphrase")
	got := []shamir.Share{
		read(t, seal(t, shares[0], carol.Recipient()), carol),
		read(t, seal(t, shares[1], daveR), daveI),
		read(t, []byte(Words(shares[2])+"\n")),
	}
	if !reflect.DeepEqual(got, shares) {
		t.Fatal("the shares read back are not the ones sealed")
	}
	c := config(t, 1)
	for _, pair := range [][]shamir.Share{{got[0], got[1]}, {got[1], got[2]}, {got[2], got[0]}} {
		ks, err := Restore(pair)
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(ks, c, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestShareOfAnotherBackupIsRefused: two backups of the same keystore
// have different ids; their shares do not combine.
func TestShareOfAnotherBackupIsRefused(t *testing.T) {
	a, b := split(t, 1, 2, 3), split(t, 1, 2, 3)
	if _, err := Restore([]shamir.Share{a[0], b[1]}); !errors.Is(err, shamir.ErrMixed) {
		t.Fatalf("Restore of mixed backups: %v, want ErrMixed", err)
	}
}

// TestTooFewSharesAreRefused: below the threshold nothing is rebuilt,
// and a share given twice counts once.
func TestTooFewSharesAreRefused(t *testing.T) {
	s := split(t, 1, 3, 5)
	for _, few := range [][]shamir.Share{nil, s[:1], s[:2], {s[3], s[3], s[3]}} {
		if ks, err := Restore(few); !errors.Is(err, shamir.ErrTooFew) || ks != nil {
			t.Fatalf("Restore of %d shares: %v, want ErrTooFew", len(few), err)
		}
	}
}

// TestShareSealedToAnotherRecipientCannotBeRead: a share opens only with
// its custodian's identity or passphrase, and without any identity the
// error says so.
func TestShareSealedToAnotherRecipientCannotBeRead(t *testing.T) {
	s := split(t, 1, 2, 2)[0]
	carol, mallory := x25519(t), x25519(t)
	daveR, _ := scrypt(t, "dave's passphrase")
	_, wrongPass := scrypt(t, "mallory's guess")
	for name, tc := range map[string]struct {
		sealed []byte
		id     age.Identity
	}{
		"x25519": {seal(t, s, carol.Recipient()), mallory},
		"scrypt": {seal(t, s, daveR), wrongPass},
	} {
		if _, err := ReadShare("share.age", tc.sealed, []age.Identity{tc.id}); err == nil || !strings.Contains(err.Error(), "share.age: cannot decrypt") {
			t.Errorf("%s: another custodian read the share: %v", name, err)
		}
	}
	_, err := ReadShare("share.age", seal(t, s, carol.Recipient()), nil)
	if !errors.Is(err, ErrNoIdentity) || err.Error() != "share.age is encrypted and no identity or passphrase was given" {
		t.Errorf("no identity: %v, want ErrNoIdentity naming the file", err)
	}
}

// TestTamperedShareIsDetected: flipping any byte of a sealed share, or
// changing a word of a written one, is refused and names the file.
func TestTamperedShareIsDetected(t *testing.T) {
	s := split(t, 1, 2, 2)[0]
	carol := x25519(t)
	sealed := seal(t, s, carol.Recipient())
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, err := ReadShare("bad.age", bad, []age.Identity{carol}); err == nil {
			t.Fatalf("byte %d flipped: the share was accepted", i)
		} else if !strings.HasPrefix(err.Error(), "bad.age") {
			t.Fatalf("byte %d flipped: %v does not name the file", i, err)
		}
	}
	words := strings.Fields(Words(s))
	for i := range words {
		bad := slicesReplace(words, i, "able")
		if bad[i] == words[i] {
			bad = slicesReplace(words, i, "acid")
		}
		if _, err := ReadShare("bad.txt", []byte(strings.Join(bad, " ")), nil); err == nil {
			t.Fatalf("word %d changed: the share was accepted", i)
		}
	}
	// A share whose checksum holds but whose body is not a share, sealed
	// by someone who knows the recipient, is refused as corrupt.
	var buf bytes.Buffer
	w, _ := age.Encrypt(&buf, carol.Recipient())
	w.Write([]byte("AIRLOCK-SSS1 but not a share"))
	w.Close()
	if _, err := ReadShare("junk.age", buf.Bytes(), []age.Identity{carol}); !errors.Is(err, shamir.ErrCorrupt) {
		t.Errorf("junk share: %v, want ErrCorrupt", err)
	}
}

func slicesReplace(s []string, i int, w string) []string {
	c := append([]string{}, s...)
	c[i] = w
	return c
}

// TestRestoreOfAnotherStationFailsVerification: the drill refuses a
// backup whose keys are not the station's, and one the policy does not
// record.
func TestRestoreOfAnotherStationFailsVerification(t *testing.T) {
	bob, err := Restore(split(t, 2, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	err = Verify(bob, config(t, 1), nil)
	var m *MismatchError
	if !errors.As(err, &m) || len(m.Problems) != 2 ||
		!strings.Contains(m.Problems[0], "is not this station's") || m.Problems[1] != "the backup's identity key is not this station's" {
		t.Fatalf("Verify of bob's backup as alice: %v, want key and identity mismatches", err)
	}

	alice, err := Restore(split(t, 1, 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	other := config(t, 3)
	pol := &policy.Policy{Name: "treasury", Version: 2, Participants: []policy.Participant{
		{ID: "alice", Devices: []policy.Device{{ID: "keystore", Key: other.Key}}},
	}}
	err = Verify(alice, config(t, 1), pol)
	if !errors.As(err, &m) || len(m.Problems) != 1 ||
		m.Problems[0] != `policy treasury version 2 records no device of "alice" with the backup's key` {
		t.Fatalf("Verify against a policy without the key: %v", err)
	}
	pol.Participants[0].Devices = append(pol.Participants[0].Devices, policy.Device{ID: "laptop", Key: config(t, 1).Key})
	if err := Verify(alice, config(t, 1), pol); err != nil {
		t.Fatalf("Verify against a policy with the key: %v", err)
	}
}

// TestSplitRefusesWhatWouldNotRestore: no shares are made of a secret that
// is not a keystore backup, nor beyond MaxShares.
func TestSplitRefusesWhatWouldNotRestore(t *testing.T) {
	if _, err := Split([]byte("not a keystore"), 1, 1); err == nil {
		t.Error("shares made of a secret that restores no keystore")
	}
	if _, err := Split(secret(1), 2, MaxShares+1); err == nil {
		t.Error("more than MaxShares shares made")
	}
	if _, err := Split(secret(1), 0, 1); err == nil {
		t.Error("a threshold of 0 was accepted")
	}
}

// TestWriteSealedWritesAllOrNone: a share file already present is never
// overwritten, and the shares written before it are taken back.
func TestWriteSealedWritesAllOrNone(t *testing.T) {
	dir := t.TempDir()
	shares := split(t, 1, 2, 3)
	ids := []*age.X25519Identity{x25519(t), x25519(t), x25519(t)}
	to := []age.Recipient{ids[0].Recipient(), ids[1].Recipient(), ids[2].Recipient()}
	last := filepath.Join(dir, ShareFile("alice", 3, 3))
	if err := os.WriteFile(last, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteSealed(dir, "alice", shares, to); err == nil || err.Error() != last+" exists; no share written" {
		t.Fatalf("WriteSealed over an existing share: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 1 {
		t.Fatalf("files left: %v", left)
	}
	if b, _ := os.ReadFile(last); string(b) != "keep me" {
		t.Fatal("an existing file was overwritten")
	}
	os.Remove(last)
	if err := WriteSealed(dir, "alice", shares, to); err != nil {
		t.Fatal(err)
	}
	for i := range shares {
		path := filepath.Join(dir, ShareFile("alice", i+1, 3))
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", path, fi.Mode())
		}
		raw, _ := os.ReadFile(path)
		if bytes.Contains(raw, []byte("AIRLOCK-SSS1")) {
			t.Errorf("%s holds the share in the clear", path)
		}
		if got := read(t, raw, ids[i]); !reflect.DeepEqual(got, shares[i]) {
			t.Errorf("%s does not hold share %d", path, i+1)
		}
	}
}

// FuzzReadShare feeds arbitrary share files to ReadShare with one X25519
// identity. It must not panic, and a share it accepts must give back the
// same share through its encoding, as words and sealed again.
func FuzzReadShare(f *testing.F) {
	id, err := age.ParseX25519Identity("AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX")
	if err != nil {
		f.Fatal(err)
	}
	shares, err := Split(secret(1), 2, 3)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range shares {
		f.Add(seal(f, s, id.Recipient()))
		f.Add([]byte(Words(s)))
		f.Add([]byte(ur.EncodeBytewords(s.Encode()[:40], ur.Standard)))
	}
	f.Add([]byte("age-encryption.org/v1\n-> X25519 AAAA\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := ReadShare("fuzz", raw, []age.Identity{id})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		again, err := shamir.Decode(s.Encode())
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("an accepted share does not decode from its own encoding: %v", err)
		}
		w, err := ReadShare("fuzz", []byte(Words(*s)), nil)
		if err != nil || !reflect.DeepEqual(w, s) {
			t.Fatalf("an accepted share does not read back from its words: %v", err)
		}
		sealed, err := ReadShare("fuzz", seal(t, *s, id.Recipient()), []age.Identity{id})
		if err != nil || !reflect.DeepEqual(sealed, s) {
			t.Fatalf("an accepted share does not read back sealed: %v", err)
		}
	})
}
