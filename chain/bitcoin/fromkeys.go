package bitcoin

import (
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
)

// MaxDescriptorKeys bounds the keys DescriptorFromKeys takes: the most a
// policy's vault holds.
const MaxDescriptorKeys = 15

// DescriptorFromKeys writes, with its checksum, the descriptor of a k-of-n
// vault over the signers' account keys "[fingerprint/path]xpub", as
// hardware wallets export them (SLIP-132 keys, Zpub or Vpub, are
// converted; a token's static key is written "[fingerprint]pubkey"), of a
// script type: "" or "p2wsh" (the default), "p2sh-p2wsh", "p2sh" or "tr".
// It is the descriptor a policy with these signers gets (PrepareVault):
// sortedmulti over the keys in the order given, branch 0 to receive and 1
// for change (BIP-389). The keys may be for any one network;
// VaultFromDescriptor checks it against the network asked for.
func DescriptorFromKeys(keys []string, k int, script string) (string, error) {
	build, err := builder(script)
	if err != nil {
		return "", err
	}
	if len(keys) == 0 || len(keys) > MaxDescriptorKeys {
		return "", fmt.Errorf("bitcoin: %d keys, want 1..%d", len(keys), MaxDescriptorKeys)
	}
	if k < 1 || k > len(keys) {
		return "", fmt.Errorf("bitcoin: threshold %d outside 1..%d", k, len(keys))
	}
	specs := make([]descriptor.KeySpec, 0, len(keys))
	for _, s := range keys {
		ak, err := parseAccountKeyAnyNet(s)
		if err != nil {
			return "", err
		}
		if ak.Static != nil && script == ScriptTaproot {
			return "", fmt.Errorf("bitcoin: key %s is a static key; a taproot vault needs extended keys", short(s))
		}
		specs = append(specs, descriptor.KeySpec{Fingerprint: ak.Fingerprint, Path: ak.Path, XPub: ak.XPub, PubKey: ak.Static})
	}
	d, err := build(k, specs)
	if err != nil {
		return "", fmt.Errorf("bitcoin: %v", strings.TrimPrefix(err.Error(), "bitcoin: "))
	}
	return d.String(), nil
}

// parseAccountKeyAnyNet parses an account key for whichever network its
// version bytes name: mainnet, or the test networks (whose tpub regtest
// shares).
func parseAccountKeyAnyNet(s string) (*AccountKey, error) {
	k, err := ParseAccountKey(s, &chaincfg.MainNetParams)
	if err == nil {
		return k, nil
	}
	if !strings.Contains(err.Error(), "is not for") {
		return nil, err
	}
	return ParseAccountKey(s, &chaincfg.RegressionNetParams)
}

// DescriptorFromWalletPolicy writes, with its checksum, the descriptor a
// BIP-388 wallet policy stands for: a template such as
// "wsh(sortedmulti(2,@0/**,@1/**))" and its key information, one
// "[fingerprint/path]xpub" per placeholder. BIP-388's rules are checked
// (placeholders in order, every key used, distinct keys of one network),
// and the descriptor must be one airlock parses (no miniscript beyond a
// recovery path, no musig).
func DescriptorFromWalletPolicy(template string, keyInfo []string) (string, error) {
	w, err := descriptor.NewWalletPolicy(template, keyInfo)
	if err != nil {
		return "", fmt.Errorf("bitcoin: wallet policy: %v", err)
	}
	text := w.DescriptorText()
	sum, err := descriptor.Checksum(text)
	if err != nil {
		return "", fmt.Errorf("bitcoin: wallet policy: %v", err)
	}
	d, err := descriptor.ParseStrict(text + "#" + sum)
	if err != nil {
		return "", fmt.Errorf("bitcoin: wallet policy: %v", err)
	}
	return d.String(), nil
}
