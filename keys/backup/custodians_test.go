package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

// TestCustodianPassphraseFileOpensItsShare: a share sealed to a
// custodian's passphrase file opens with the same file written on another
// system (CRLF), an empty passphrase file is refused rather than sealing
// to "", and a malformed recipient says what is accepted.
func TestCustodianPassphraseFileOpensItsShare(t *testing.T) {
	dir := t.TempDir()
	unix, dos, empty := filepath.Join(dir, "unix"), filepath.Join(dir, "dos"), filepath.Join(dir, "empty")
	os.WriteFile(unix, []byte("custodian words\n"), 0o600)
	os.WriteFile(dos, []byte("custodian words\r\n"), 0o600)
	os.WriteFile(empty, []byte("\n"), 0o600)
	r, err := ParseRecipient("passphrase-file:" + unix)
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	shares := split(t, 1, 2, 3)
	sealed, err := Seal(shares[0], r)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := LoadIdentities(nil, []string{dos})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadShare("s.age", sealed, ids)
	if err != nil || got.X != shares[0].X || got.ID != shares[0].ID {
		t.Fatalf("the CRLF passphrase file does not open the share: %v", err)
	}
	if _, err := ReadShare("s.age", sealed, []age.Identity{id}); err == nil {
		t.Fatal("another custodian's identity opened the share")
	}
	if _, err := ParseRecipient("passphrase-file:" + empty); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Fatalf("empty passphrase file: %v", err)
	}
	if _, err := LoadIdentities(nil, []string{empty}); err == nil {
		t.Fatal("an empty share passphrase file was taken")
	}
	if _, err := ParseRecipient("age2qqq"); err == nil || !strings.Contains(err.Error(), "want age1") {
		t.Fatalf("bad recipient: %v", err)
	}
}
