package bitcoin

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/address/v2/base58"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/keys"
)

// More flag codes (docs/flags.md).
const (
	FlagNetworkMismatch      = "network-mismatch"
	FlagXPubMismatch         = "xpub-mismatch"
	FlagDuplicateFingerprint = "duplicate-fingerprint"
)

// checkGlobalXPubs compares the PSBT's global xpubs with the vault's
// account keys: one for another network, one that is not the vault's, or
// two different keys under one master fingerprint block signing.
func (a *analysis) checkGlobalXPubs() {
	seen := map[[4]byte]string{}
	for _, x := range a.pkt.XPubs {
		s := encodeXPub(x.ExtendedKey)
		k, err := hdkeychain.NewKeyFromString(s)
		if err != nil {
			a.flag(FlagXPubMismatch, chain.Block, "global xpub %s does not decode: %v", short(s), err)
			continue
		}
		if !k.IsForNet(a.vi.net) {
			a.flag(FlagNetworkMismatch, chain.Block, "global xpub %s is not for %s, the vault's network", short(s), a.vi.net.Name)
			continue
		}
		if prev, ok := seen[x.Fingerprint]; ok && prev != s {
			a.flag(FlagDuplicateFingerprint, chain.Block, "two different global xpubs claim master fingerprint %s", keys.FormatFingerprint(x.Fingerprint))
		}
		seen[x.Fingerprint] = s
		match := false
		for _, vk := range a.vi.keys {
			if vk.XPub == s && vk.Fingerprint == x.Fingerprint && equalPath(vk.Path, x.Path) {
				match = true
			}
		}
		if !match {
			a.flag(FlagXPubMismatch, chain.Block, "global xpub [%s%s]%s is not one of the vault's keys", keys.FormatFingerprint(x.Fingerprint), strings.TrimPrefix(keys.FormatPath(x.Path), "m"), short(s))
		}
	}
}

// checkDerivationFingerprints blocks a PSBT in which two different public
// keys claim the same master fingerprint and path: two devices posing as
// one, or a forged derivation.
func (a *analysis) checkDerivationFingerprints() {
	check := func(where string, ds [][]byte, fps [][4]byte, paths [][]uint32) {
		for i := range ds {
			for j := i + 1; j < len(ds); j++ {
				if fps[i] == fps[j] && equalPath(paths[i], paths[j]) && !bytes.Equal(ds[i], ds[j]) {
					a.flag(FlagDuplicateFingerprint, chain.Block, "%s: two different keys claim %s%s", where, keys.FormatFingerprint(fps[i]), strings.TrimPrefix(keys.FormatPath(paths[i]), "m"))
				}
			}
		}
	}
	for i, in := range a.pkt.Inputs {
		var ds [][]byte
		var fps [][4]byte
		var paths [][]uint32
		for _, d := range in.Bip32Derivations {
			ds, fps, paths = append(ds, d.PubKey), append(fps, d.Fingerprint), append(paths, d.Path)
		}
		check(fmt.Sprintf("input %d", i), ds, fps, paths)
	}
	for i, out := range a.pkt.Outputs {
		var ds [][]byte
		var fps [][4]byte
		var paths [][]uint32
		for _, d := range out.Bip32Derivations {
			ds, fps, paths = append(ds, d.PubKey), append(fps, d.Fingerprint), append(paths, d.Path)
		}
		check(fmt.Sprintf("output %d", i), ds, fps, paths)
	}
}

// encodeXPub writes a 78-byte BIP-32 serialization as base58check.
func encodeXPub(b []byte) string {
	h := sha256.Sum256(b)
	h = sha256.Sum256(h[:])
	return base58.Encode(append(append([]byte(nil), b...), h[:4]...))
}

// VaultFromDescriptor makes a vault for a stateless check from a
// descriptor alone: its keys (xpubs with their origins, or static keys),
// its threshold and network. Two keys under one master fingerprint are
// refused with a duplicate-fingerprint error.
func VaultFromDescriptor(desc, network string) (chain.Vault, error) {
	d, err := descriptor.ParseStrict(desc)
	if err != nil {
		return chain.Vault{}, fmt.Errorf("bitcoin: %v", err)
	}
	net, err := Network(network)
	if err != nil {
		return chain.Vault{}, err
	}
	if !d.Network().Allows(net) {
		return chain.Vault{}, fmt.Errorf("bitcoin: %s: the descriptor's keys are %s keys, not for %s", FlagNetworkMismatch, d.Network(), net.Name)
	}
	k, _, ok := d.Threshold()
	all := d.Keys()
	rp, recovery := d.Recovery()
	if recovery {
		k, all = rp.K, append(append([]*descriptor.Key(nil), rp.Primary...), rp.Recovery)
	} else if !ok {
		return chain.Vault{}, errors.New("bitcoin: the descriptor is not a k-of-n multisig, nor one with a recovery path")
	}
	v := chain.Vault{Name: "inspect", Chain: "bitcoin", Network: net.Name, Threshold: k, Descriptor: d.String()}
	fps := map[[4]byte]bool{}
	for i, key := range all {
		fp := key.Fingerprint()
		if fps[fp] {
			return chain.Vault{}, fmt.Errorf("bitcoin: %s: two keys of the descriptor have master fingerprint %s", FlagDuplicateFingerprint, keys.FormatFingerprint(fp))
		}
		fps[fp] = true
		var expr string
		switch {
		case key.IsXPub() && key.Origin != nil:
			expr = "[" + keys.FormatFingerprint(fp) + strings.TrimPrefix(keys.FormatPath(key.Origin.Path), "m") + "]" + key.ExtendedKey()
		case !key.IsExtended() && len(key.PubKey()) == 33:
			expr = StaticKeyExpression(key.PubKey())
		default:
			return chain.Vault{}, fmt.Errorf("bitcoin: key %s: a vault key needs an xpub with its origin, or a compressed public key", key)
		}
		if recovery && i == len(all)-1 {
			blocks, ok := rp.Blocks()
			if !ok {
				return chain.Vault{}, fmt.Errorf("bitcoin: the recovery lock older(%d) is not a block count of at most 65535", rp.Older)
			}
			v.Recovery = &chain.Recovery{Key: expr, After: uint32(blocks)}
			continue
		}
		v.Keys = append(v.Keys, expr)
	}
	return v, nil
}
