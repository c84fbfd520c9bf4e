// Package keystore is airlock's software key holder: a BIP-39 seed and an
// Ed25519 identity key, encrypted at rest with age under an scrypt
// passphrase.
//
// The file is an age file (https://age-encryption.org/v1) with one scrypt
// recipient. Its plaintext is a small JSON document:
//
//	{"format":"airlock-keystore/v1","network":"regtest",
//	 "mnemonic":"abandon ... art","identity":"<hex Ed25519 seed>"}
//
// A coordinator keystore has no mnemonic: it holds only an identity.
//
// The identity key is generated independently of the seed, so that a leaked
// identity reveals nothing of the funds; it is rotated through the policy.
// A station's chain keys live under the BIP-48 account m/48'/coin'/0'/2'
// (P2WSH multisig), coin 0 on mainnet and 1 on every test network.
//
// The file is written once, atomically, with mode 0600, and never
// overwritten: creating a keystore where one exists is refused.
package keystore

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"filippo.io/age"
	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/cosmos/go-bip39"

	"github.com/airlock-vault/airlock/keys"
)

const format = "airlock-keystore/v1"

// DefaultWorkFactor is the scrypt work factor (log2 N) new keystores use:
// age's own default, about a second on a laptop.
const DefaultWorkFactor = 18

// MinWorkFactor is the lowest work factor Create accepts. Values below the
// default exist for tests and demos only.
const MinWorkFactor = 10

// maxFileSize bounds the encrypted file read at Open.
const maxFileSize = 64 << 10

// ErrWrongPassphrase is returned by Open when the passphrase does not
// decrypt the keystore.
var ErrWrongPassphrase = errors.New("keystore: wrong passphrase")

// ErrExists is returned by Create when a keystore file is already present.
var ErrExists = errors.New("keystore: a keystore already exists")

// Options control Create.
type Options struct {
	Network      *chaincfg.Params
	IdentityOnly bool      // a coordinator holds no chain keys
	WorkFactor   int       // scrypt log2 N; DefaultWorkFactor when 0
	Rand         io.Reader // entropy; crypto/rand when nil
}

// Keystore is an unlocked key holder.
type Keystore struct {
	network  *chaincfg.Params
	mnemonic string
	identity ed25519.PrivateKey
	master   *hdkeychain.ExtendedKey
	fp       [4]byte

	// parents caches the parent node of keys signed with (a path less
	// its last step: the account's branch node, 48'/1'/0'/2'/0), so that
	// signing many inputs derives one level each instead of six from the
	// master. The nodes are as secret as the master the keystore already
	// holds in memory. Bounded by maxParents.
	mu      sync.Mutex
	parents map[string]*hdkeychain.ExtendedKey
}

// maxParents bounds the parent-node cache; a station uses a handful.
const maxParents = 64

var _ keys.ChainSigner = (*Keystore)(nil)

type document struct {
	Format   string `json:"format"`
	Network  string `json:"network"`
	Mnemonic string `json:"mnemonic,omitempty"`
	Identity string `json:"identity"`
}

// Create generates a new keystore and writes it to path, encrypted to
// passphrase. It refuses to overwrite an existing file.
func Create(path string, passphrase []byte, opt Options) (*Keystore, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("keystore: empty passphrase")
	}
	if opt.Network == nil {
		return nil, errors.New("keystore: no network")
	}
	wf := opt.WorkFactor
	if wf == 0 {
		wf = DefaultWorkFactor
	}
	if wf < MinWorkFactor || wf > 22 {
		return nil, fmt.Errorf("keystore: scrypt work factor %d outside %d..22", wf, MinWorkFactor)
	}
	r := opt.Rand
	if r == nil {
		r = rand.Reader
	}
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%w at %s", ErrExists, path)
	}
	doc := document{Format: format, Network: opt.Network.Name}
	idSeed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(r, idSeed); err != nil {
		return nil, fmt.Errorf("keystore: entropy: %v", err)
	}
	doc.Identity = hex.EncodeToString(idSeed)
	if !opt.IdentityOnly {
		entropy := make([]byte, 32)
		if _, err := io.ReadFull(r, entropy); err != nil {
			return nil, fmt.Errorf("keystore: entropy: %v", err)
		}
		m, err := bip39.NewMnemonic(entropy)
		if err != nil {
			return nil, fmt.Errorf("keystore: mnemonic: %v", err)
		}
		doc.Mnemonic = m
	}
	ks, err := fromDocument(doc)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	rcp, err := age.NewScryptRecipient(string(passphrase))
	if err != nil {
		return nil, fmt.Errorf("keystore: %v", err)
	}
	rcp.SetWorkFactor(wf)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rcp)
	if err != nil {
		return nil, fmt.Errorf("keystore: encrypt: %v", err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("keystore: encrypt: %v", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("keystore: encrypt: %v", err)
	}
	if err := writeNew(path, buf.Bytes()); err != nil {
		return nil, err
	}
	return ks, nil
}

// writeNew writes data to a new file at path atomically: a temporary file in
// the same folder, synced, then linked into place (link fails if path
// appeared meanwhile, so nothing is ever overwritten).
func writeNew(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".keystore-*")
	if err != nil {
		return fmt.Errorf("keystore: %v", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("keystore: %v", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("keystore: %v", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("keystore: %v", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keystore: %v", err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w at %s", ErrExists, path)
		}
		return fmt.Errorf("keystore: %v", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Open decrypts the keystore at path.
func Open(path string, passphrase []byte) (*Keystore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("keystore: %v", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("keystore: %s is larger than %d bytes", path, maxFileSize)
	}
	id, err := age.NewScryptIdentity(string(passphrase))
	if err != nil {
		return nil, fmt.Errorf("keystore: %v", err)
	}
	id.SetMaxWorkFactor(22)
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, ErrWrongPassphrase
		}
		return nil, fmt.Errorf("keystore: decrypt %s: %v", path, err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxFileSize))
	if err != nil {
		return nil, fmt.Errorf("keystore: decrypt %s: %v", path, err)
	}
	var doc document
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("keystore: %s: %v", path, err)
	}
	return fromDocument(doc)
}

func fromDocument(doc document) (*Keystore, error) {
	if doc.Format != format {
		return nil, fmt.Errorf("keystore: unknown format %q", doc.Format)
	}
	net, err := NetworkByName(doc.Network)
	if err != nil {
		return nil, err
	}
	idSeed, err := hex.DecodeString(doc.Identity)
	if err != nil || len(idSeed) != ed25519.SeedSize {
		return nil, errors.New("keystore: malformed identity key")
	}
	ks := &Keystore{network: net, identity: ed25519.NewKeyFromSeed(idSeed)}
	if doc.Mnemonic == "" {
		return ks, nil
	}
	seed, err := bip39.NewSeedWithErrorChecking(doc.Mnemonic, "")
	if err != nil {
		return nil, fmt.Errorf("keystore: mnemonic: %v", err)
	}
	master, err := hdkeychain.NewMaster(seed, net)
	if err != nil {
		return nil, fmt.Errorf("keystore: master key: %v", err)
	}
	pub, err := master.ECPubKey()
	if err != nil {
		return nil, fmt.Errorf("keystore: master key: %v", err)
	}
	copy(ks.fp[:], address.Hash160(pub.SerializeCompressed())[:4])
	ks.mnemonic, ks.master = doc.Mnemonic, master
	return ks, nil
}

// NetworkByName maps "mainnet", "testnet3", "testnet4", "signet", "regtest"
// (and btcd's own names) to chain parameters.
func NetworkByName(name string) (*chaincfg.Params, error) {
	switch name {
	case "mainnet", "bitcoin":
		return &chaincfg.MainNetParams, nil
	case "testnet", "testnet3":
		return &chaincfg.TestNet3Params, nil
	case "testnet4":
		return &chaincfg.TestNet4Params, nil
	case "signet":
		return &chaincfg.SigNetParams, nil
	case "regtest":
		return &chaincfg.RegressionNetParams, nil
	}
	return nil, fmt.Errorf("keystore: unknown network %q", name)
}

// Network is the chain the keystore's keys are for.
func (k *Keystore) Network() *chaincfg.Params { return k.network }

// HasChainKeys reports whether the keystore holds a seed.
func (k *Keystore) HasChainKeys() bool { return k.master != nil }

// Identity returns the identity key as a signer.
func (k *Keystore) Identity() keys.Identity { return k.identity }

// IdentityKey returns the Ed25519 identity key.
func (k *Keystore) IdentityKey() ed25519.PrivateKey { return k.identity }

// MasterFingerprint returns the BIP-32 master key fingerprint.
func (k *Keystore) MasterFingerprint() [4]byte { return k.fp }

// AccountPath is the BIP-48 P2WSH multisig account path m/48'/coin'/0'/2'.
func (k *Keystore) AccountPath() []uint32 {
	coin := uint32(1)
	if k.network.Net == chaincfg.MainNetParams.Net {
		coin = 0
	}
	h := keys.HardenedOffset
	return []uint32{48 + h, coin + h, 0 + h, 2 + h}
}

// AccountXPub returns the neutered account key (xpub or tpub).
func (k *Keystore) AccountXPub() (string, error) {
	key, err := k.derive(k.AccountPath())
	if err != nil {
		return "", err
	}
	pub, err := key.Neuter()
	if err != nil {
		return "", fmt.Errorf("keystore: %v", err)
	}
	return pub.String(), nil
}

// KeyExpression returns the account key with its origin, as descriptors
// write it: "[fingerprint/48'/1'/0'/2']tpub...".
func (k *Keystore) KeyExpression() (string, error) {
	xpub, err := k.AccountXPub()
	if err != nil {
		return "", err
	}
	return "[" + keys.FormatFingerprint(k.fp) + keys.FormatPath(k.AccountPath())[1:] + "]" + xpub, nil
}

func (k *Keystore) derive(path []uint32) (*hdkeychain.ExtendedKey, error) {
	if k.master == nil {
		return nil, fmt.Errorf("%w: keystore holds only an identity", keys.ErrNoKey)
	}
	if len(path) > 32 {
		return nil, fmt.Errorf("keystore: path deeper than 32 levels")
	}
	if len(path) == 0 {
		return k.master, nil
	}
	parent, err := k.parent(path[:len(path)-1])
	if err != nil {
		return nil, fmt.Errorf("keystore: derive %s: %v", keys.FormatPath(path), err)
	}
	key, err := parent.Derive(path[len(path)-1])
	if err != nil {
		return nil, fmt.Errorf("keystore: derive %s: %v", keys.FormatPath(path), err)
	}
	return key, nil
}

// parent returns the node at path, from the cache or derived from the
// master and cached.
func (k *Keystore) parent(path []uint32) (*hdkeychain.ExtendedKey, error) {
	id := keys.FormatPath(path)
	k.mu.Lock()
	defer k.mu.Unlock()
	if n, ok := k.parents[id]; ok {
		return n, nil
	}
	n := k.master
	for _, i := range path {
		var err error
		if n, err = n.Derive(i); err != nil {
			return nil, err
		}
	}
	// Memoize the node's public key now, under the lock: hdkeychain
	// computes it lazily on first use, which concurrent signers would
	// race on.
	if _, err := n.ECPubKey(); err != nil {
		return nil, err
	}
	if k.parents == nil || len(k.parents) >= maxParents {
		k.parents = map[string]*hdkeychain.ExtendedKey{}
	}
	k.parents[id] = n
	return n, nil
}

// PublicKey returns the compressed public key at path.
func (k *Keystore) PublicKey(path []uint32) ([]byte, error) {
	key, err := k.derive(path)
	if err != nil {
		return nil, err
	}
	pub, err := key.ECPubKey()
	if err != nil {
		return nil, fmt.Errorf("keystore: %v", err)
	}
	return pub.SerializeCompressed(), nil
}

// SignECDSA signs digest with the key at path: RFC 6979 nonces, low S, DER.
func (k *Keystore) SignECDSA(path []uint32, digest []byte) ([]byte, error) {
	if len(digest) != 32 {
		return nil, fmt.Errorf("keystore: digest is %d bytes, want 32", len(digest))
	}
	key, err := k.derive(path)
	if err != nil {
		return nil, err
	}
	priv, err := key.ECPrivKey()
	if err != nil {
		return nil, fmt.Errorf("keystore: %v", err)
	}
	defer priv.Zero()
	return ecdsa.Sign((*btcec.PrivateKey)(priv), digest).Serialize(), nil
}

// SignSchnorr signs a 32-byte digest with the key at path (BIP-340,
// taproot script paths) and verifies the signature.
func (k *Keystore) SignSchnorr(path []uint32, digest []byte) ([]byte, error) {
	if len(digest) != 32 {
		return nil, fmt.Errorf("keystore: digest is %d bytes, want 32", len(digest))
	}
	key, err := k.derive(path)
	if err != nil {
		return nil, err
	}
	priv, err := key.ECPrivKey()
	if err != nil {
		return nil, fmt.Errorf("keystore: %v", err)
	}
	defer priv.Zero()
	sig, err := schnorr.Sign((*btcec.PrivateKey)(priv), digest)
	if err != nil {
		return nil, fmt.Errorf("keystore: %v", err)
	}
	if !sig.Verify(digest, priv.PubKey()) {
		return nil, errors.New("keystore: own Schnorr signature does not verify")
	}
	return sig.Serialize(), nil
}

var _ keys.SchnorrSigner = (*Keystore)(nil)

// Backups: a keystore's secrets as one byte string to split into shares.
//
//	version(1) = 1 | network(1) | BIP-39 entropy(32) | identity seed(32)
var networkCodes = []string{"mainnet", "testnet3", "testnet4", "signet", "regtest"}

// BackupSecret returns the secrets a backup must hold. The caller must
// zero it after use.
func (k *Keystore) BackupSecret() ([]byte, error) {
	if k.master == nil {
		return nil, errors.New("keystore: an identity-only keystore has no seed to back up")
	}
	full, err := bip39.MnemonicToByteArray(k.mnemonic)
	if err != nil || len(full) != 33 {
		return nil, errors.New("keystore: mnemonic does not give 32 bytes of entropy")
	}
	entropy := full[:32]
	if again, err := bip39.NewMnemonic(entropy); err != nil || again != k.mnemonic {
		return nil, errors.New("keystore: mnemonic does not round-trip through its entropy")
	}
	code := -1
	for i, n := range networkCodes {
		if n == k.network.Name {
			code = i
		}
	}
	if code < 0 {
		return nil, fmt.Errorf("keystore: no backup code for network %q", k.network.Name)
	}
	out := append([]byte{1, byte(code)}, entropy...)
	return append(out, k.identity.Seed()...), nil
}

// FromBackup rebuilds an unlocked keystore from a backup secret, in
// memory only.
func FromBackup(secret []byte) (*Keystore, error) {
	if len(secret) != 66 || secret[0] != 1 || int(secret[1]) >= len(networkCodes) {
		return nil, errors.New("keystore: not an airlock keystore backup")
	}
	m, err := bip39.NewMnemonic(secret[2:34])
	if err != nil {
		return nil, fmt.Errorf("keystore: %v", err)
	}
	net, err := NetworkByName(networkCodes[secret[1]])
	if err != nil {
		return nil, err
	}
	return fromDocument(document{Format: format, Network: net.Name, Mnemonic: m, Identity: hex.EncodeToString(secret[34:66])})
}

// Save writes an unlocked keystore (a restored one) to a new file at path,
// encrypted to passphrase; it never overwrites.
func (k *Keystore) Save(path string, passphrase []byte, workFactor int) error {
	if len(passphrase) == 0 {
		return errors.New("keystore: empty passphrase")
	}
	if workFactor == 0 {
		workFactor = DefaultWorkFactor
	}
	if workFactor < MinWorkFactor || workFactor > 22 {
		return fmt.Errorf("keystore: scrypt work factor %d outside %d..22", workFactor, MinWorkFactor)
	}
	doc := document{Format: format, Network: k.network.Name, Mnemonic: k.mnemonic, Identity: hex.EncodeToString(k.identity.Seed())}
	plain, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	rcp, err := age.NewScryptRecipient(string(passphrase))
	if err != nil {
		return fmt.Errorf("keystore: %v", err)
	}
	rcp.SetWorkFactor(workFactor)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rcp)
	if err != nil {
		return fmt.Errorf("keystore: encrypt: %v", err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		return fmt.Errorf("keystore: encrypt: %v", err)
	}
	return writeNew(path, buf.Bytes())
}
