package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/airlock-vault/airlock/keys/enroll"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/keys/pkcs11"
	"github.com/airlock-vault/airlock/keys/unlock"
	"github.com/airlock-vault/airlock/workspace"
	"golang.org/x/term"
)

// secrets names where a command reads the secret that unlocks the
// workspace's keys: the keystore passphrase, or a token's PIN.
type secrets struct{ pass, pin string }

// secretFlags registers --passphrase-file and --pin-file on fs.
func (e *env) secretFlags(fs *flag.FlagSet) *secrets {
	s := &secrets{}
	fs.StringVar(&s.pass, "passphrase-file", "", "read the keystore passphrase from this file")
	fs.StringVar(&s.pin, "pin-file", "", "read the token PIN from this file (keys on a PKCS#11 token)")
	return s
}

// keyring is a workspace's unlocked keys (package unlock).
type keyring = unlock.Keyring

// backupSecret is the keystore's seed for a backup, with a hint for keys
// on a token.
func backupSecret(k *keyring) ([]byte, error) {
	b, err := k.BackupSecret()
	if errors.Is(err, unlock.ErrNotExtractable) {
		return nil, withHint(err, "a token's key is recovered through the vault's other signers or its recovery path; record the token's backup procedure in the policy")
	}
	return b, err
}

// unlock opens the workspace's keys: the age keystore with its passphrase,
// or the PKCS#11 token with its PIN.
func (e *env) unlock(ws *workspace.Workspace, s *secrets) (*keyring, error) {
	if ws.Config.Token != nil {
		pin, err := e.pin(s.pin)
		if err != nil {
			return nil, err
		}
		k, err := unlock.Token(ws, pin)
		return k, tokenHint(err)
	}
	pass, err := e.passphrase(s.pass, false)
	if err != nil {
		return nil, err
	}
	// scrypt takes about a second at the default work factor: say so on a
	// terminal, so a pause is not taken for a hang.
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "airlock: unlocking the keystore (scrypt)…")
		defer fmt.Fprint(e.stderr, "\r\x1b[K")
	}
	k, err := unlock.Keystore(ws, pass)
	if errors.Is(err, keystore.ErrWrongPassphrase) {
		return nil, withHint(err, "nothing was changed; check --passphrase-file or AIRLOCK_PASSPHRASE")
	}
	return k, err
}

// tokenHint adds what a person can do about a token error.
func tokenHint(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pkcs11.ErrWrongPIN):
		return withHint(err, "nothing was changed; check --pin-file or AIRLOCK_PIN (the token locks after too many tries)")
	case errors.Is(err, pkcs11.ErrPINLocked):
		return withHint(err, "the security officer must unlock the token")
	case errors.Is(err, pkcs11.ErrTokenNotFound):
		return withHint(err, "is the token plugged in and initialised? check the module path and the token label")
	case errors.Is(err, pkcs11.ErrKeyNotFound):
		return withHint(err, "the key is not on this token: wrong token, or the key was deleted")
	case errors.Is(err, pkcs11.ErrTokenRemoved):
		return withHint(err, "nothing was written; reinsert the token and run the command again")
	}
	return err
}

// keyNewToken creates a workspace whose keys are generated on a PKCS#11
// token and never leave it (package enroll). On any failure the keys made
// so far are destroyed.
func (e *env) keyNewToken(module, label, pinFile string, p enroll.Params, asJSON bool) (err error) {
	pin, err := e.pin(pinFile)
	if err != nil {
		return err
	}
	en, err := enroll.Token(module, label, pin, p)
	if errors.Is(err, pkcs11.ErrKeyExists) {
		return withHint(err, "this token already holds keys for "+p.Name+"; pick another --name or token")
	}
	if err != nil {
		return tokenHint(err)
	}
	defer en.Keys.Close()
	defer func() {
		if err != nil {
			en.Discard()
		}
	}()
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		return err
	}
	ws, err := e.initWS(en.Config)
	if err != nil {
		return err
	}
	defer ws.Close()
	if err := e.logger(ws, en.Keys)("key.created", "", en.Detail); err != nil {
		return err
	}
	if asJSON {
		return printJSON(e.stdout, enroll.Info(ws.Config, "token"))
	}
	fmt.Fprintf(e.stdout, "created %s %q in %s (%s), keys on token %q\n", p.Role, p.Name, e.dir, p.Network.Name, label)
	return e.printKeys(ws, false)
}
