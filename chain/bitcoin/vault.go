// Package bitcoin is airlock's Bitcoin chain adapter: it reviews PSBTs for a
// descriptor vault on its own, signs them with a station's BIP-32 key,
// checks partial signatures, and finalizes the transaction, verifying every
// input with btcd's script engine before it calls the work done.
//
// The station trusts nothing in the PSBT it did not recompute. An input
// belongs to the vault only if the descriptor, derived at the branch and
// index the PSBT's BIP-32 derivations point to, gives exactly the script the
// spent output pays; an output is change only if the same derivation proves
// it. Amounts come from the previous transactions, and a witness_utxo that
// disagrees with its non_witness_utxo blocks signing.
package bitcoin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/chain/bitcoin/setup"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/keys/keystore"
)

// Adapter implements chain.Adapter for Bitcoin.
type Adapter struct{}

var _ chain.Adapter = Adapter{}

// Chain returns "bitcoin".
func (Adapter) Chain() string { return "bitcoin" }

// AccountKey is a signer's account key with its origin, as a policy names
// it: an extended public key "[fp/path]xpub", or for a signer without BIP-32
// (a PKCS#11 token) a static key "[fp]pubkey" whose fingerprint is the
// first four bytes of HASH160(pubkey), as Bitcoin Core gives a bare key.
type AccountKey struct {
	Fingerprint [4]byte
	Path        []uint32
	XPub        string
	Static      []byte // the compressed key of a static signer; XPub is then empty
	key         *hdkeychain.ExtendedKey
}

// ID is what makes the key unique in a vault: the xpub, or the static key.
func (k *AccountKey) ID() string {
	if k.Static != nil {
		return hex.EncodeToString(k.Static)
	}
	return k.XPub
}

var (
	keyExpr    = regexp.MustCompile(`^\[([0-9a-fA-F]{8})((?:/[0-9]+['hH]?)*)\]([1-9A-HJ-NP-Za-km-z]{100,120})$`)
	staticExpr = regexp.MustCompile(`^\[([0-9a-fA-F]{8})\]((?:02|03)[0-9a-fA-F]{64})$`)
)

// StaticFingerprint is the fingerprint of a key used as its own master:
// the first four bytes of HASH160(pub).
func StaticFingerprint(pub []byte) [4]byte {
	var fp [4]byte
	copy(fp[:], address.Hash160(pub))
	return fp
}

// StaticKeyExpression writes a static key as a policy names it.
func StaticKeyExpression(pub []byte) string {
	fp := StaticFingerprint(pub)
	return "[" + keys.FormatFingerprint(fp) + "]" + hex.EncodeToString(pub)
}

// ParseAccountKey parses "[fingerprint/path]xpub" and checks the key is
// public, for net, and as deep as its origin path says; or a static key
// "[fingerprint]pubkey", checking the point is on the curve and the
// fingerprint is HASH160(pubkey)'s.
func ParseAccountKey(s string, net *chaincfg.Params) (*AccountKey, error) {
	if m := staticExpr.FindStringSubmatch(s); m != nil {
		pub, _ := hex.DecodeString(m[2])
		if _, err := btcec.ParsePubKey(pub); err != nil {
			return nil, fmt.Errorf("bitcoin: key %q: not a valid public key: %v", short(s), err)
		}
		fp := StaticFingerprint(pub)
		if !strings.EqualFold(m[1], keys.FormatFingerprint(fp)) {
			return nil, fmt.Errorf("bitcoin: key %q: a static key's fingerprint must be HASH160(key)[:4] = %s", short(s), keys.FormatFingerprint(fp))
		}
		return &AccountKey{Fingerprint: fp, Static: pub}, nil
	}
	m := keyExpr.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("bitcoin: key %q: want [fingerprint/path]xpub, or [fingerprint]pubkey for a static key", short(s))
	}
	fp, err := keys.ParseFingerprint(strings.ToLower(m[1]))
	if err != nil {
		return nil, fmt.Errorf("bitcoin: key %q: %v", short(s), err)
	}
	path, err := keys.ParsePath(m[2])
	if err != nil {
		return nil, fmt.Errorf("bitcoin: key %q: %v", short(s), err)
	}
	// SLIP-132 keys (Ypub, Zpub, Vpub...) name a script type in their
	// version bytes; the policy keeps the plain xpub or tpub.
	xpub := m[3]
	if conv, err := setup.ConvertSLIP132(xpub); err == nil {
		xpub = conv
	}
	k, err := hdkeychain.NewKeyFromString(xpub)
	if err != nil {
		return nil, fmt.Errorf("bitcoin: key %q: %v", short(s), err)
	}
	if k.IsPrivate() {
		return nil, fmt.Errorf("bitcoin: key %q is a private key; a policy holds only public keys", short(s))
	}
	if !k.IsForNet(net) {
		return nil, fmt.Errorf("bitcoin: key %q is not for %s", short(s), net.Name)
	}
	if int(k.Depth()) != len(path) {
		return nil, fmt.Errorf("bitcoin: key %q has depth %d but its origin path has %d steps", short(s), k.Depth(), len(path))
	}
	return &AccountKey{Fingerprint: fp, Path: path, XPub: xpub, key: k}, nil
}

func short(s string) string {
	if len(s) > 40 {
		return s[:24] + "…" + s[len(s)-8:]
	}
	return s
}

// Network returns the chain parameters for a policy's network name.
func Network(name string) (*chaincfg.Params, error) {
	net, err := keystore.NetworkByName(name)
	if err != nil {
		return nil, fmt.Errorf("bitcoin: %v", strings.TrimPrefix(err.Error(), "keystore: "))
	}
	return net, nil
}

// PrepareVault builds the vault's descriptor,
// wsh(sortedmulti(k, [fp/path]xpub/<0;1>/*, ...)) with its checksum, from
// the signers' account keys (a static key is written [fp]pubkey and is the
// same in every script). Two signers with one master fingerprint or one
// key are refused.
func (Adapter) PrepareVault(v chain.Vault) (chain.Vault, error) {
	net, err := Network(v.Network)
	if err != nil {
		return v, err
	}
	build, err := builder(v.Script)
	if err != nil {
		return v, err
	}
	if len(v.Keys) == 0 || len(v.Keys) > 15 {
		return v, fmt.Errorf("bitcoin: %d keys, want 1..15", len(v.Keys))
	}
	if v.Threshold < 1 || v.Threshold > len(v.Keys) {
		return v, fmt.Errorf("bitcoin: threshold %d outside 1..%d", v.Threshold, len(v.Keys))
	}
	specs := make([]descriptor.KeySpec, 0, len(v.Keys))
	fps := map[[4]byte]bool{}
	xpubs := map[string]bool{}
	for _, s := range v.Keys {
		k, err := ParseAccountKey(s, net)
		if err != nil {
			return v, err
		}
		if fps[k.Fingerprint] {
			return v, fmt.Errorf("bitcoin: duplicate master fingerprint %s", keys.FormatFingerprint(k.Fingerprint))
		}
		if xpubs[k.ID()] {
			return v, fmt.Errorf("bitcoin: duplicate key %s", short(k.ID()))
		}
		if k.Static != nil && v.Script == ScriptTaproot {
			return v, fmt.Errorf("bitcoin: key %s is a token's static key, and a PKCS#11 token cannot make the Schnorr signatures a taproot vault needs", short(s))
		}
		fps[k.Fingerprint], xpubs[k.ID()] = true, true
		specs = append(specs, descriptor.KeySpec{Fingerprint: k.Fingerprint, Path: k.Path, XPub: k.XPub, PubKey: k.Static})
	}
	var d *descriptor.Descriptor
	if v.Recovery != nil {
		d, err = buildRecovery(v, net, specs, fps, xpubs)
	} else {
		d, err = build(v.Threshold, specs)
	}
	if err != nil {
		return v, fmt.Errorf("bitcoin: %v", strings.TrimPrefix(err.Error(), "bitcoin: "))
	}
	built := d.String()
	if v.Descriptor != "" && v.Descriptor != built {
		return v, fmt.Errorf("bitcoin: descriptor %s does not match the signers' keys (%s)", v.Descriptor, built)
	}
	v.Descriptor = built
	return v, nil
}

// Script types of a vault.
const (
	ScriptP2WSH     = "p2wsh"
	ScriptP2SHP2WSH = "p2sh-p2wsh"
	ScriptP2SH      = "p2sh"
)

// builder returns the descriptor builder of a script type.
func builder(script string) (func(int, []descriptor.KeySpec) (*descriptor.Descriptor, error), error) {
	switch script {
	case "", ScriptP2WSH:
		return descriptor.NewSortedMultiWSH, nil
	case ScriptP2SHP2WSH:
		return descriptor.NewSortedMultiShWsh, nil
	case ScriptP2SH:
		return descriptor.NewSortedMultiSh, nil
	case ScriptTaproot:
		return descriptor.NewSortedMultiTaproot, nil
	}
	return nil, fmt.Errorf("bitcoin: script type %q: want p2wsh, p2sh-p2wsh, p2sh or tr", script)
}

// vaultInfo is a vault parsed once for a review or a signature.
type vaultInfo struct {
	net  *chaincfg.Params
	desc *descriptor.Descriptor
	keys []*AccountKey // the signers' keys, then the recovery key
	// byText is each of keys by the text the policy writes it as: an
	// approval names its key that way, and parsing it again (an xpub's
	// base58 and checksum) for every approval verified is waste.
	byText map[string]*AccountKey
	// For a vault with a recovery path: its key (also last in keys) and
	// the path as the descriptor gives it.
	recovery *AccountKey
	rpath    *descriptor.RecoveryPath
}

// threshold is the number of primary signatures the vault needs, and its
// number of primary keys.
func (vi *vaultInfo) threshold() (k, n int) {
	if vi.rpath != nil {
		return vi.rpath.K, len(vi.rpath.Primary)
	}
	k, n, _ = vi.desc.Threshold()
	return k, n
}

// parsed keeps the vaults parseVault read last, by their whole
// definition: every review and every approval of a vault would otherwise
// parse its descriptor and derive its keys again (most of what verifying
// an approval costs). A vaultInfo is read-only once made; its
// descriptor's child cache is safe for concurrent use.
var parsed = struct {
	sync.Mutex
	m map[[32]byte]*vaultInfo
}{}

// maxParsed bounds parsed; past it, it starts again empty.
const maxParsed = 64

func parseVault(v chain.Vault) (*vaultInfo, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return parseVaultOnce(v)
	}
	key := sha256.Sum256(b)
	parsed.Lock()
	vi, ok := parsed.m[key]
	parsed.Unlock()
	if ok {
		return vi, nil
	}
	if vi, err = parseVaultOnce(v); err != nil {
		return nil, err
	}
	parsed.Lock()
	if parsed.m == nil || len(parsed.m) >= maxParsed {
		parsed.m = map[[32]byte]*vaultInfo{}
	}
	parsed.m[key] = vi
	parsed.Unlock()
	return vi, nil
}

func parseVaultOnce(v chain.Vault) (*vaultInfo, error) {
	net, err := Network(v.Network)
	if err != nil {
		return nil, err
	}
	d, err := descriptor.ParseStrict(v.Descriptor)
	if err != nil {
		return nil, fmt.Errorf("bitcoin: vault %q: %v", v.Name, err)
	}
	vi := &vaultInfo{net: net, desc: d, byText: map[string]*AccountKey{}}
	for _, s := range v.Keys {
		k, err := ParseAccountKey(s, net)
		if err != nil {
			return nil, err
		}
		vi.keys = append(vi.keys, k)
		vi.byText[s] = k
	}
	if err := vi.parseRecovery(v); err != nil {
		return nil, err
	}
	return vi, nil
}

// accountKey returns the vault key written as s.
func (vi *vaultInfo) accountKey(s string) (*AccountKey, error) {
	if k, ok := vi.byText[s]; ok {
		return k, nil
	}
	k, err := ParseAccountKey(s, vi.net)
	if err != nil {
		return nil, err
	}
	for _, vk := range vi.keys {
		if vk.ID() == k.ID() && vk.Fingerprint == k.Fingerprint {
			return vk, nil
		}
	}
	return nil, fmt.Errorf("bitcoin: key %s is not one of the vault's keys", short(s))
}
