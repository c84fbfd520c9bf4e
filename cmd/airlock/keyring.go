package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/airlock-vault/airlock/chain/safe"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"

	"golang.org/x/term"

	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/keys/pkcs11"
	"github.com/airlock-vault/airlock/keys/unlock"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/workspace"
	"github.com/btcsuite/btcd/chaincfg/v2"
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

// pin reads a token PIN from a file, AIRLOCK_PIN or the terminal (without
// echo), in that order.
func (e *env) pin(file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading PIN: %v", err)
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return nil, fmt.Errorf("PIN file %s is empty", file)
		}
		return line, nil
	}
	if p := os.Getenv("AIRLOCK_PIN"); p != "" {
		return []byte(p), nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil || !term.IsTerminal(int(tty.Fd())) {
		return nil, withHint(errors.New("no PIN given and no terminal to ask on"), "use --pin-file FILE or set AIRLOCK_PIN")
	}
	defer tty.Close()
	fmt.Fprint(tty, "Token PIN: ")
	p, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, errors.New("empty PIN")
	}
	return p, nil
}

// yamlString quotes s for a YAML scalar.
func yamlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// keyNewToken creates a workspace whose keys are generated on a PKCS#11
// token and never leave it: an Ed25519 identity and, at a station, a
// secp256k1 chain key (static: a token has no BIP-32). On any failure the
// keys made so far are destroyed and no workspace is written.
func (e *env) keyNewToken(role, name, device string, net *chaincfg.Params, module, label, pinFile string, drill bool) (err error) {
	abs, err := filepath.Abs(module)
	if err != nil {
		return err
	}
	pin, err := e.pin(pinFile)
	if err != nil {
		return err
	}
	tok, err := pkcs11.Open(abs, label, pin)
	if err != nil {
		return tokenHint(err)
	}
	defer tok.Close()
	info, err := tok.Info()
	if err != nil {
		return tokenHint(err)
	}
	t := &workspace.Token{Module: abs, Label: label, Serial: info.Serial, Vendor: info.Manufacturer, Model: info.Model,
		IdentityKey: "airlock/" + name + "/identity"}
	var made []string
	defer func() {
		if err != nil {
			for _, l := range made {
				tok.Destroy(l)
			}
		}
	}()
	id, err := tok.GenerateEd25519(t.IdentityKey)
	if err != nil {
		if errors.Is(err, pkcs11.ErrKeyExists) {
			return withHint(err, "this token already holds keys for "+name+"; pick another --name or token")
		}
		return tokenHint(err)
	}
	made = append(made, t.IdentityKey)
	pub, err := keys.IdentityPublic(id)
	if err != nil {
		return err
	}
	cfg := workspace.Config{Role: role, Name: name, Network: net.Name, Created: e.now().UTC().Truncate(1e9), Drill: drill,
		Identity: policy.EncodeIdentity(pub), Token: t}
	k := &keyring{Identity: id}
	if role == workspace.Station {
		t.ChainKey = "airlock/" + name + "/chain"
		ck, err := tok.GenerateSecp256k1(t.ChainKey)
		if err != nil {
			if errors.Is(err, pkcs11.ErrKeyExists) {
				return withHint(err, "this token already holds keys for "+name+"; pick another --name or token")
			}
			return tokenHint(err)
		}
		made = append(made, t.ChainKey)
		cfg.Key, cfg.Device = bitcoin.StaticKeyExpression(ck.PublicKey()), device
		k.Chain = pkcs11.StaticSigner{Key: ck}
		if cfg.Ethereum, err = ethereumKey(k.Chain, nil); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		return err
	}
	ws, err := e.initWS(cfg)
	if err != nil {
		return err
	}
	defer ws.Close()
	detail := map[string]string{"identity": cfg.Identity, "token": label, "serial": info.Serial, "vendor": info.Manufacturer, "model": info.Model, "firmware": info.FirmwareVersion}
	if cfg.Key != "" {
		detail["key"] = cfg.Key
	}
	if err := e.logger(ws, k)("key.created", "", detail); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created %s %q in %s (%s), keys on token %q\n", role, name, e.dir, net.Name, label)
	return e.printKeys(ws, false)
}

// ethereumKey is the Safe owner key a chain signer holds at path, as a
// policy writes it.
func ethereumKey(s keys.ChainSigner, path []uint32) (string, error) {
	pub, err := s.PublicKey(path)
	if err != nil {
		return "", err
	}
	pk, err := ethcrypto.DecompressPubkey(pub)
	if err != nil {
		return "", err
	}
	return safe.OwnerKeyExpression(s.MasterFingerprint(), path, ethcrypto.PubkeyToAddress(*pk)), nil
}
