package backup

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"filippo.io/age"
)

// ParseRecipient reads who a share is sealed to: an age X25519 recipient
// ("age1…"), "recipient-file:PATH" (a file holding one), or
// "passphrase-file:PATH" (the first line of the file is a custodian's
// passphrase: the share is sealed with scrypt).
func ParseRecipient(spec string) (age.Recipient, error) {
	if path, ok := strings.CutPrefix(spec, "passphrase-file:"); ok {
		line, err := firstLine(path, "passphrase")
		if err != nil {
			return nil, err
		}
		return age.NewScryptRecipient(string(line))
	}
	s := spec
	if path, ok := strings.CutPrefix(spec, "recipient-file:"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		s = strings.TrimSpace(string(b))
	}
	r, err := age.ParseX25519Recipient(s)
	if err != nil {
		return nil, fmt.Errorf("recipient %q: want age1…, recipient-file:PATH or passphrase-file:PATH", s)
	}
	return r, nil
}

// LoadIdentities reads what opens sealed shares: age identity files, and
// files whose first line is a custodian's share passphrase.
func LoadIdentities(identityFiles, passphraseFiles []string) ([]age.Identity, error) {
	var ids []age.Identity
	for _, f := range identityFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		parsed, err := age.ParseIdentities(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f, err)
		}
		ids = append(ids, parsed...)
	}
	for _, f := range passphraseFiles {
		line, err := firstLine(f, "passphrase")
		if err != nil {
			return nil, err
		}
		id, err := age.NewScryptIdentity(string(line))
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// firstLine is a secret file's first line, without its line ending.
func firstLine(path, what string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return nil, fmt.Errorf("%s file %s is empty", what, path)
	}
	return line, nil
}

// NewCustodian makes an age X25519 identity for a backup custodian, in the
// file format age-keygen writes (a comment with its creation time and
// public key, then the secret key), and returns the file's bytes and the
// recipient (age1…) to seal a share to.
func NewCustodian(now time.Time) (file []byte, recipient string, err error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, "", err
	}
	r := id.Recipient().String()
	file = fmt.Appendf(nil, "# created: %s\n# public key: %s\n%s\n", now.UTC().Format(time.RFC3339), r, id.String())
	return file, r, nil
}
