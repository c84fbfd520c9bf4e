// Package unlock opens a workspace's keys wherever they live, and refuses
// keys that are not the ones the workspace recorded: the age keystore
// with its passphrase, or a PKCS#11 token with its PIN, whose identity
// (and, at a station, chain) key must be exactly the workspace's, so a
// swapped device, keystore or token is caught before anything is signed.
// Reading the secret (a file, the environment, a terminal) is the
// caller's business.
package unlock

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/keys/pkcs11"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/workspace"
)

// Keyring is a workspace's unlocked keys: the identity that signs airlock
// artifacts and, at a station, the chain signer.
type Keyring struct {
	Identity keys.Identity
	Chain    keys.ChainSigner   // nil at a coordinator
	Soft     *keystore.Keystore // set for a software keystore
	Token    *pkcs11.Token      // set for keys on a token
}

// ErrNotExtractable is returned for a backup of keys on a token.
var ErrNotExtractable = errors.New("unlock: the keys of this workspace live on a PKCS#11 token and cannot be extracted, so they cannot be split into shares")

// BackupSecret is the keystore's seed for a backup.
func (k *Keyring) BackupSecret() ([]byte, error) {
	if k.Soft == nil {
		return nil, ErrNotExtractable
	}
	return k.Soft.BackupSecret()
}

// Close releases the token session, if any.
func (k *Keyring) Close() {
	if k != nil && k.Token != nil {
		k.Token.Close()
	}
}

// FromKeystore returns a keyring for an already open keystore.
func FromKeystore(ks *keystore.Keystore) *Keyring {
	k := &Keyring{Identity: ks.Identity(), Soft: ks}
	if ks.HasChainKeys() {
		k.Chain = ks
	}
	return k
}

// Keystore opens the workspace's age keystore with its passphrase.
func Keystore(ws *workspace.Workspace, passphrase []byte) (*Keyring, error) {
	ks, err := keystore.Open(ws.KeystorePath(), passphrase)
	if err != nil {
		return nil, err
	}
	if policy.EncodeIdentity(ks.IdentityKey().Public().(ed25519.PublicKey)) != ws.Config.Identity {
		return nil, fmt.Errorf("unlock: the keystore's identity is not this workspace's (%s)", ws.Config.Identity)
	}
	return FromKeystore(ks), nil
}

// Token opens the workspace's keys on its PKCS#11 token with the PIN.
func Token(ws *workspace.Workspace, pin []byte) (*Keyring, error) {
	t := ws.Config.Token
	if t == nil {
		return nil, errors.New("unlock: this workspace's keys are not on a token")
	}
	tok, err := pkcs11.Open(t.Module, t.Label, pin)
	if err != nil {
		return nil, err
	}
	k := &Keyring{Token: tok}
	fail := func(err error) (*Keyring, error) {
		tok.Close()
		return nil, err
	}
	id, err := tok.Ed25519(t.IdentityKey)
	if err != nil {
		return fail(err)
	}
	if pub, _ := keys.IdentityPublic(id); policy.EncodeIdentity(pub) != ws.Config.Identity {
		return fail(fmt.Errorf("unlock: the identity key %q on token %q is %s, not this workspace's %s: wrong token, or the key was replaced", t.IdentityKey, t.Label, policy.EncodeIdentity(pub), ws.Config.Identity))
	}
	k.Identity = id
	if t.ChainKey != "" {
		ck, err := tok.Secp256k1(t.ChainKey)
		if err != nil {
			return fail(err)
		}
		if got := bitcoin.StaticKeyExpression(ck.PublicKey()); got != ws.Config.Key {
			return fail(fmt.Errorf("unlock: the chain key %q on token %q is %s, not this workspace's %s: wrong token, or the key was replaced", t.ChainKey, t.Label, got, ws.Config.Key))
		}
		k.Chain = pkcs11.StaticSigner{Key: ck}
	}
	return k, nil
}
