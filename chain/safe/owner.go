package safe

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/keys"
)

// OwnerKey is a Safe owner as a policy names it: an address, with the
// BIP-32 origin of the key that controls it when a station derives it
// ("[fingerprint/44'/60'/0'/0/0]0xAddress"), or a static key's fingerprint
// ("[fingerprint]0xAddress", a PKCS#11 token), or nothing (an external
// wallet, or a Safe that owns this one).
type OwnerKey struct {
	Address     common.Address
	Fingerprint *[4]byte
	Path        []uint32
}

var ownerExpr = regexp.MustCompile(`^(?:\[([0-9a-fA-F]{8})((?:/[0-9]+['hH]?)*)\])?(0x[0-9a-fA-F]{40})$`)

// ParseOwnerKey parses an owner key expression; a mixed-case address must
// carry a valid EIP-55 checksum.
func ParseOwnerKey(s string) (*OwnerKey, error) {
	m := ownerExpr.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("safe: owner key %q: want 0xAddress, [fingerprint/path]0xAddress or [fingerprint]0xAddress", s)
	}
	a, err := address("owner", m[3])
	if err != nil {
		return nil, fmt.Errorf("safe: owner key %q: %v", s, strings.TrimPrefix(err.Error(), ErrPayload.Error()+": "))
	}
	k := &OwnerKey{Address: a}
	if m[1] != "" {
		fp, err := keys.ParseFingerprint(strings.ToLower(m[1]))
		if err != nil {
			return nil, err
		}
		k.Fingerprint = &fp
		if k.Path, err = keys.ParsePath(m[2]); err != nil {
			return nil, fmt.Errorf("safe: owner key %q: %v", s, err)
		}
	}
	return k, nil
}

// OwnerKeyExpression writes an owner key.
func OwnerKeyExpression(fp [4]byte, path []uint32, a common.Address) string {
	p := keys.FormatPath(path)
	return "[" + keys.FormatFingerprint(fp) + strings.TrimPrefix(p, "m") + "]" + a.Hex()
}

// EthereumPath is the BIP-44 path of a station's first Ethereum account,
// m/44'/60'/0'/0/0.
var EthereumPath = []uint32{44 + keys.HardenedOffset, 60 + keys.HardenedOffset, keys.HardenedOffset, 0, 0}
