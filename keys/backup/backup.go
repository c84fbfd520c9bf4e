// Package backup keeps a station's software keystore recoverable while no
// custodian alone can use it.
//
// The keystore's backup secret (keystore.BackupSecret: network, BIP-39
// entropy and identity seed) is split into K-of-N Shamir shares (package
// shamir), and each share is sealed to its custodian with age
// (https://age-encryption.org/v1): an X25519 recipient, or an scrypt
// passphrase. A share can also be written out as Bytewords for paper; it is
// then a secret on screen. A sealed share is an age file whose plaintext is
// the encoded share:
//
//	age-encryption.org/v1 … | AIRLOCK-SSS1 | id | k | n | x | len | y | commit | check
//
// What each layer stops:
//
//   - A custodian reads nothing of the keys: one share reveals no byte of
//     the secret below the threshold, and a sealed share opens only with
//     its custodian's identity or passphrase (ReadShare).
//   - A share altered in storage is refused and named: age authenticates
//     the ciphertext, and a share's own checksum catches altered words.
//   - Shares of two backups do not mix, fewer than K are refused, and a
//     forged share cannot make a wrong secret pass: every share commits to
//     the secret (package shamir).
//   - A restore that rebuilds other keys than the station's is caught by
//     the drill, Verify, before anyone relies on the backup.
package backup

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/keys/shamir"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/transport/qr/ur"
	"github.com/airlock-vault/airlock/workspace"
)

// MaxShares bounds the number of shares of one backup.
const MaxShares = 32

// maxShare bounds the plaintext read from a sealed share; an encoded
// share of a keystore secret is about a hundred bytes.
const maxShare = 4096

// ageHeader starts every binary age file.
const ageHeader = "age-encryption.org/v1"

// ErrNoIdentity is returned by ReadShare for a sealed share when no
// identity was given to open it.
var ErrNoIdentity = errors.New("backup: a sealed share and no identity or passphrase to open it")

// Split splits a keystore's backup secret into n shares, any k of which
// restore it, 1 <= k <= n <= MaxShares. It refuses a secret that does not
// rebuild a keystore, and checks that k of the shares give the secret back
// before any is handed to a custodian.
func Split(secret []byte, k, n int) ([]shamir.Share, error) {
	if k < 1 || n < k || n > MaxShares {
		return nil, fmt.Errorf("backup: threshold %d of %d shares: want 1 <= k <= n <= %d", k, n, MaxShares)
	}
	if _, err := keystore.FromBackup(secret); err != nil {
		return nil, err
	}
	shares, err := shamir.Split(secret, k, n, nil)
	if err != nil {
		return nil, err
	}
	again, err := shamir.Combine(shares[:k])
	if err != nil {
		return nil, fmt.Errorf("backup: the new shares do not combine: %v", err)
	}
	defer clear(again)
	if !bytes.Equal(again, secret) {
		return nil, errors.New("backup: the new shares do not give the secret back")
	}
	return shares, nil
}

// Seal encrypts a share to its custodian.
func Seal(s shamir.Share, to age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, to)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(s.Encode()); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Words writes a share as Bytewords (standard style, words separated by
// spaces), for a custodian who keeps it on paper.
func Words(s shamir.Share) string {
	return ur.EncodeBytewords(s.Encode(), ur.Standard)
}

// ShareFile names the file of the i-th of n shares (i from 1) of name's
// backup: "alice-share-1-of-3.age".
func ShareFile(name string, i, n int) string {
	return fmt.Sprintf("%s-share-%d-of-%d.age", name, i, n)
}

// WriteSealed seals shares[i] to to[i] and writes it into dir, which must
// exist, as ShareFile(name, i+1, len(shares)), mode 0600. It writes all
// the shares or none: an existing file is never overwritten, and on any
// failure the shares already written are removed.
func WriteSealed(dir, name string, shares []shamir.Share, to []age.Recipient) error {
	if len(to) != len(shares) {
		return fmt.Errorf("backup: %d recipients for %d shares", len(to), len(shares))
	}
	var written []string
	fail := func(err error) error {
		for _, p := range written {
			os.Remove(p)
		}
		return err
	}
	for i, s := range shares {
		path := filepath.Join(dir, ShareFile(name, i+1, len(shares)))
		if _, err := os.Stat(path); err == nil {
			return fail(fmt.Errorf("%s exists; no share written", path))
		}
		sealed, err := Seal(s, to[i])
		if err != nil {
			return fail(err)
		}
		if err := workspace.WriteFileAtomic(path, sealed, 0o600); err != nil {
			return fail(err)
		}
		written = append(written, path)
	}
	return nil
}

// noIdentityError is ErrNoIdentity for the share file named name.
type noIdentityError struct{ name string }

func (e *noIdentityError) Error() string {
	return e.name + " is encrypted and no identity or passphrase was given"
}

func (e *noIdentityError) Is(target error) bool { return target == ErrNoIdentity }

// ReadShare reads one share from raw, the contents of the share file
// named name (the caller bounds its size): a sealed share, opened with
// the first of ids that can, or share words. Errors name the file. A share
// sealed to another custodian does not open; a damaged one is refused,
// wrapping shamir.ErrCorrupt when it decrypts or decodes but is not a
// share.
func ReadShare(name string, raw []byte, ids []age.Identity) (*shamir.Share, error) {
	var data []byte
	if bytes.HasPrefix(raw, []byte(ageHeader)) {
		if len(ids) == 0 {
			return nil, &noIdentityError{name}
		}
		r, err := age.Decrypt(bytes.NewReader(raw), ids...)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot decrypt: %v", name, err)
		}
		if data, err = io.ReadAll(io.LimitReader(r, maxShare)); err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
	} else {
		var err error
		if data, err = ur.DecodeBytewords(strings.TrimSpace(string(raw)), ur.Standard); err != nil {
			return nil, fmt.Errorf("%s: neither an age-encrypted share nor share words: %v", name, err)
		}
	}
	defer clear(data)
	s, err := shamir.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// Restore rebuilds a keystore, in memory only, from at least the
// threshold of one backup's shares. Errors wrap shamir.ErrTooFew,
// shamir.ErrMixed, shamir.ErrCorrupt or shamir.ErrWrongSecret.
func Restore(shares []shamir.Share) (*keystore.Keystore, error) {
	secret, err := shamir.Combine(shares)
	if err != nil {
		return nil, err
	}
	defer clear(secret)
	return keystore.FromBackup(secret)
}

// MismatchError is a restore that does not give the keys a station
// records: the backup is not this station's, or the station's records
// are not what the backup was made from.
type MismatchError struct {
	Problems []string
}

func (e *MismatchError) Error() string {
	return "backup: " + strings.Join(e.Problems, "; ")
}

// Verify is the backup drill: it compares the keys of ks, rebuilt by
// Restore, with the Bitcoin key and identity the station's workspace
// configuration c records and, when pol is not nil, with the station's
// devices in the policy. A difference is a *MismatchError listing each.
func Verify(ks *keystore.Keystore, c workspace.Config, pol *policy.Policy) error {
	key, err := ks.KeyExpression()
	if err != nil {
		return err
	}
	identity := policy.EncodeIdentity(ks.IdentityKey().Public().(ed25519.PublicKey))
	var problems []string
	if key != c.Key {
		problems = append(problems, fmt.Sprintf("the backup's key %s is not this station's %s", key, c.Key))
	}
	if identity != c.Identity {
		problems = append(problems, "the backup's identity key is not this station's")
	}
	if pol != nil {
		if part, ok := pol.Participant(c.Name); ok {
			found := false
			for _, d := range part.Devices {
				found = found || d.Key == key
			}
			if !found {
				problems = append(problems, fmt.Sprintf("policy %s version %d records no device of %q with the backup's key", pol.Name, pol.Version, part.ID))
			}
		}
	}
	if len(problems) > 0 {
		return &MismatchError{Problems: problems}
	}
	return nil
}
