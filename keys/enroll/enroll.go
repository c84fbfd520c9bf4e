// Package enroll makes the keys of a new station or coordinator and the
// public record of them: the workspace configuration (package workspace)
// and the entry a policy author pastes into the policy.
//
// A station holds an Ed25519 identity, which signs airlock artifacts, and
// secp256k1 chain keys, which sign transactions (package keys). Where the
// keys live decides how the policy names the chain keys:
//
//   - In a software keystore (package keystore) they are BIP-32. The
//     Bitcoin key is the BIP-48 P2WSH multisig account with its origin,
//     "[d34db33f/48'/1'/0'/2']tpubDF…", and the Safe owner is the address
//     of the BIP-44 key m/44'/60'/0'/0/0, "[d34db33f/44'/60'/0'/0/0]0xAbC…".
//   - On a PKCS#11 token (package pkcs11) they are one static key, which
//     never leaves the token: "[fingerprint]02…" with fingerprint
//     HASH160(key)[:4], as Bitcoin Core writes a bare key, and the Safe
//     owner "[fingerprint]0xAbC…" is the same key's address.
//
// A coordinator holds only an identity, and so does a client (an online
// workspace that signs requests to "airlock serve" for a participant).
//
// Enrolment writes key material (a keystore file, or keys on a token)
// before the caller writes the workspace that records it. Until the
// workspace is written, Discard takes the key material back, so a failed
// enrolment leaves no orphaned keys behind and never a workspace whose
// keys are missing.
//
// The policy entry of a station, as PolicyEntry writes it, under a
// policy's participants:
//
//	participants:
//	  - id: alice
//	    name: alice
//	    identity: ed25519:q0xYN1pL…=
//	    devices:
//	      - id: keystore
//	        kind: software
//	        vendor: airlock
//	        model: keystore
//	        key: "[d34db33f/48'/1'/0'/2']tpubDF…"
//	        ethereum: "[d34db33f/44'/60'/0'/0/0]0xAbC…"
package enroll

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"

	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/keys/pkcs11"
	"github.com/airlock-vault/airlock/keys/unlock"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/workspace"
)

// Params say whose keys an enrolment makes.
type Params struct {
	Role    string // workspace.Station, workspace.Coordinator or workspace.Client
	Name    string // the participant's or coordinator's id in the policy
	Device  string // a station's device id in the policy
	Network *chaincfg.Params
	Created time.Time // recorded in UTC, to the second
	Drill   bool      // a rehearsal workspace
}

func (p *Params) check() error {
	switch {
	case p.Role != workspace.Station && p.Role != workspace.Coordinator && p.Role != workspace.Client:
		return fmt.Errorf("enroll: role %q: want %s, %s or %s", p.Role, workspace.Station, workspace.Coordinator, workspace.Client)
	case p.Name == "":
		return errors.New("enroll: no name")
	case p.Role == workspace.Station && p.Device == "":
		return errors.New("enroll: a station needs a device id")
	case p.Network == nil:
		return errors.New("enroll: no network")
	}
	return nil
}

// config is the part of a workspace configuration that does not depend on
// the keys.
func (p *Params) config() workspace.Config {
	return workspace.Config{Role: p.Role, Name: p.Name, Network: p.Network.Name,
		Created: p.Created.UTC().Truncate(time.Second), Drill: p.Drill}
}

// Enrolment is new key material and the workspace configuration that
// records its public half.
type Enrolment struct {
	// Config is the workspace configuration to write.
	Config workspace.Config
	// Keys are the new keys, unlocked. Close them when done.
	Keys *unlock.Keyring
	// Detail is what the audit event of the enrolment records: the public
	// keys and, for a token, which token holds them.
	Detail map[string]string

	discard func() error
}

// Discard takes back the key material: it removes the keystore file, or
// destroys the keys generated on the token. Call it when the workspace
// that would record the keys could not be written. The token session
// stays open until Keys.Close.
func (e *Enrolment) Discard() error {
	if e.discard == nil {
		return nil
	}
	f := e.discard
	e.discard = nil
	return f()
}

// Keystore creates a software keystore at path, encrypted to passphrase
// with the scrypt work factor (keystore.DefaultWorkFactor when 0): a seed
// and an identity at a station, an identity only at a coordinator.
func Keystore(path string, passphrase []byte, workFactor int, p Params) (*Enrolment, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	ks, err := keystore.Create(path, passphrase, keystore.Options{
		Network: p.Network, IdentityOnly: p.Role != workspace.Station, WorkFactor: workFactor,
	})
	if err != nil {
		return nil, err
	}
	return fromKeystore(ks, path, p)
}

// Restored writes a keystore rebuilt from a backup to a new file at path,
// encrypted to passphrase, and enrols it as a station. p.Network may be
// nil (the keystore's own); another network than the keystore's is
// refused.
func Restored(ks *keystore.Keystore, path string, passphrase []byte, workFactor int, p Params) (*Enrolment, error) {
	if p.Network == nil {
		p.Network = ks.Network()
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	if p.Role != workspace.Station {
		return nil, fmt.Errorf("enroll: a restored keystore is a station's, not a %s's", p.Role)
	}
	if p.Network.Name != ks.Network().Name {
		return nil, fmt.Errorf("enroll: the keystore is for %s, not %s", ks.Network().Name, p.Network.Name)
	}
	if err := ks.Save(path, passphrase, workFactor); err != nil {
		return nil, err
	}
	return fromKeystore(ks, path, p)
}

// fromKeystore enrols the keystore just written to path; on failure it
// removes the file.
func fromKeystore(ks *keystore.Keystore, path string, p Params) (*Enrolment, error) {
	en := &Enrolment{Keys: unlock.FromKeystore(ks), discard: func() error { return os.Remove(path) }}
	cfg, err := keystoreConfig(ks, p)
	if err != nil {
		en.Discard()
		return nil, err
	}
	en.Config = cfg
	en.Detail = map[string]string{"identity": cfg.Identity}
	if cfg.Key != "" {
		en.Detail["key"] = cfg.Key
	}
	return en, nil
}

// keystoreConfig records a keystore's public keys: its identity and, at a
// station, its Bitcoin account key and Safe owner key.
func keystoreConfig(ks *keystore.Keystore, p Params) (workspace.Config, error) {
	switch {
	case p.Role == workspace.Station && !ks.HasChainKeys():
		return workspace.Config{}, errors.New("enroll: a station's keystore must hold chain keys")
	case p.Role != workspace.Station && ks.HasChainKeys():
		return workspace.Config{}, fmt.Errorf("enroll: a %s's keystore holds no chain keys", p.Role)
	}
	cfg := p.config()
	cfg.Identity = policy.EncodeIdentity(ks.IdentityKey().Public().(ed25519.PublicKey))
	if !ks.HasChainKeys() {
		return cfg, nil
	}
	var err error
	if cfg.Key, err = ks.KeyExpression(); err != nil {
		return workspace.Config{}, err
	}
	if cfg.Ethereum, err = ownerKey(ks, safe.EthereumPath); err != nil {
		return workspace.Config{}, err
	}
	cfg.Device = p.Device
	return cfg, nil
}

// Token generates the keys on the PKCS#11 token labelled label, which the
// module (a .so, recorded as an absolute path) drives, logging in with
// pin: an Ed25519 identity labelled "airlock/NAME/identity" and, at a
// station, a static secp256k1 chain key "airlock/NAME/chain". The keys
// never leave the token. A label already taken on the token is refused
// with an error wrapping pkcs11.ErrKeyExists; errors of the token are
// returned as package pkcs11 made them. On any failure the keys made so
// far are destroyed and the session is closed.
func Token(module, label string, pin []byte, p Params) (_ *Enrolment, err error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(module)
	if err != nil {
		return nil, err
	}
	tok, err := pkcs11.Open(abs, label, pin)
	if err != nil {
		return nil, err
	}
	var made []string
	en := &Enrolment{Keys: &unlock.Keyring{Token: tok}, discard: func() error {
		var errs []error
		for _, l := range made {
			_, err := tok.Destroy(l)
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}}
	defer func() {
		if err != nil {
			en.Discard()
			tok.Close()
		}
	}()
	info, err := tok.Info()
	if err != nil {
		return nil, err
	}
	t := &workspace.Token{Module: abs, Label: label, Serial: info.Serial, Vendor: info.Manufacturer, Model: info.Model,
		IdentityKey: "airlock/" + p.Name + "/identity"}
	id, err := tok.GenerateEd25519(t.IdentityKey)
	if err != nil {
		return nil, err
	}
	made = append(made, t.IdentityKey)
	pub, err := keys.IdentityPublic(id)
	if err != nil {
		return nil, err
	}
	en.Keys.Identity = id
	cfg := p.config()
	cfg.Identity, cfg.Token = policy.EncodeIdentity(pub), t
	if p.Role == workspace.Station {
		t.ChainKey = "airlock/" + p.Name + "/chain"
		ck, err := tok.GenerateSecp256k1(t.ChainKey)
		if err != nil {
			return nil, err
		}
		made = append(made, t.ChainKey)
		chain := pkcs11.StaticSigner{Key: ck}
		cfg.Key, cfg.Device = bitcoin.StaticKeyExpression(ck.PublicKey()), p.Device
		if cfg.Ethereum, err = ownerKey(chain, nil); err != nil {
			return nil, err
		}
		en.Keys.Chain = chain
	}
	en.Config = cfg
	en.Detail = map[string]string{"identity": cfg.Identity, "token": label, "serial": info.Serial,
		"vendor": info.Manufacturer, "model": info.Model, "firmware": info.FirmwareVersion}
	if cfg.Key != "" {
		en.Detail["key"] = cfg.Key
	}
	return en, nil
}

// ownerKey is the Safe owner key the chain signer holds at path, as a
// policy writes it.
func ownerKey(s keys.ChainSigner, path []uint32) (string, error) {
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

// PolicyEntry is the workspace's entry in a policy source (policy.File),
// as YAML list item indented to sit under "participants:" (a station) or
// "coordinators:" (a coordinator).
func PolicyEntry(c workspace.Config) string {
	var b strings.Builder
	if c.Role == workspace.Client {
		return "" // in no policy: a participant delegates to it
	}
	if c.Role == workspace.Coordinator {
		fmt.Fprintf(&b, "  - id: %s\n    identity: %s\n", c.Name, c.Identity)
		return b.String()
	}
	kind, vendor, model := "software", "airlock", "keystore"
	if c.Token != nil {
		kind, vendor, model = "pkcs11", quote(c.Token.Vendor), quote(c.Token.Model)
	}
	fmt.Fprintf(&b, "  - id: %s\n    name: %s\n    identity: %s\n    devices:\n      - id: %s\n        kind: %s\n        vendor: %s\n        model: %s\n        key: \"%s\"\n",
		c.Name, c.Name, c.Identity, c.Device, kind, vendor, model, c.Key)
	if c.Ethereum != "" {
		fmt.Fprintf(&b, "        ethereum: \"%s\"\n", c.Ethereum)
	}
	return b.String()
}

// quote writes s as a double-quoted YAML scalar: a JSON string is one,
// so whatever a token reports as its vendor or model cannot break out of
// the field.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
