package pkcs11

import (
	"crypto/sha256"
	"fmt"

	"golang.org/x/crypto/ripemd160" //nolint:staticcheck // HASH160 is Bitcoin's fingerprint hash

	"github.com/airlock-vault/airlock/keys"
)

// StaticSigner makes a token's secp256k1 key a keys.ChainSigner. PKCS#11
// has no BIP-32 derivation, so the key is its own master: its fingerprint
// is HASH160(key)[:4] (as Bitcoin Core gives a bare key in a descriptor)
// and the only path it answers is the empty one. A vault names it as a
// static key, "[fingerprint]pubkey".
type StaticSigner struct {
	Key *ECKey
}

var _ keys.ChainSigner = StaticSigner{}

// MasterFingerprint is HASH160(compressed key)[:4].
func (s StaticSigner) MasterFingerprint() [4]byte {
	h := sha256.Sum256(s.Key.PublicKey())
	r := ripemd160.New()
	r.Write(h[:])
	var fp [4]byte
	copy(fp[:], r.Sum(nil))
	return fp
}

// PublicKey returns the key for the empty path and refuses any other.
func (s StaticSigner) PublicKey(path []uint32) ([]byte, error) {
	if len(path) != 0 {
		return nil, fmt.Errorf("%w: token key %q is static and has no child %s", keys.ErrNoKey, s.Key.Label(), keys.FormatPath(path))
	}
	return s.Key.PublicKey(), nil
}

// SignECDSA signs digest on the token (low S, DER, verified).
func (s StaticSigner) SignECDSA(path []uint32, digest []byte) ([]byte, error) {
	if len(path) != 0 {
		return nil, fmt.Errorf("%w: token key %q is static and has no child %s", keys.ErrNoKey, s.Key.Label(), keys.FormatPath(path))
	}
	return s.Key.SignDigest(digest)
}
