package inspect

import (
	"errors"
	"fmt"

	"github.com/airlock-vault/airlock/chain/bitcoin"
)

// ErrVaultForm is a [VaultSpec] that is not exactly one of its forms, or
// that mixes the fields of two.
var ErrVaultForm = errors.New("inspect: name the vault one way: a descriptor, account keys with a threshold, or a wallet policy with its keys")

// VaultSpec names the Bitcoin vault [PSBTFor] checks a PSBT against, in
// one of three forms:
//
//   - Descriptor: its output descriptor, with checksum;
//   - XPubs, Threshold and Script: the signers' account keys
//     "[fingerprint/path]xpub", as hardware wallets export them, k of
//     them needed, sortedmulti in P2WSH by default (Script "p2sh-p2wsh",
//     "p2sh" or "tr" for the others): the descriptor a policy with these
//     signers gets;
//   - WalletPolicy and PolicyKeys: a BIP-388 wallet policy,
//     "wsh(sortedmulti(2,@0/**,@1/**))", and its key information.
type VaultSpec struct {
	Descriptor   string
	XPubs        []string
	Threshold    int
	Script       string
	WalletPolicy string
	PolicyKeys   []string
}

// Resolve returns the descriptor the spec names, with its checksum. A
// spec that is not exactly one form wraps [ErrVaultForm].
func (s VaultSpec) Resolve() (string, error) {
	keyed := len(s.XPubs) > 0 || s.Threshold != 0 || s.Script != ""
	policy := s.WalletPolicy != "" || len(s.PolicyKeys) > 0
	forms := 0
	for _, f := range []bool{s.Descriptor != "", keyed, policy} {
		if f {
			forms++
		}
	}
	if forms != 1 {
		return "", ErrVaultForm
	}
	switch {
	case keyed:
		if len(s.XPubs) == 0 || s.Threshold == 0 {
			return "", fmt.Errorf("%w (account keys need a threshold, and a threshold needs keys)", ErrVaultForm)
		}
		return bitcoin.DescriptorFromKeys(s.XPubs, s.Threshold, s.Script)
	case policy:
		if s.WalletPolicy == "" || len(s.PolicyKeys) == 0 {
			return "", fmt.Errorf("%w (a wallet policy needs its keys, and keys need the policy)", ErrVaultForm)
		}
		return bitcoin.DescriptorFromWalletPolicy(s.WalletPolicy, s.PolicyKeys)
	}
	return s.Descriptor, nil
}
