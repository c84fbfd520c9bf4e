// Package keys defines what airlock needs from a key holder, whatever holds
// the key: a software keystore (package keystore) or a hardware token.
//
// Two kinds of key matter. The identity key (Ed25519) signs airlock's own
// artifacts: policy versions, proposals, approvals, audit checkpoints. Chain
// keys (secp256k1, BIP-32) sign transactions; they never sign airlock
// artifacts, and the identity key never signs a transaction.
package keys

import (
	"crypto"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// HardenedOffset is added to a BIP-32 index to make it hardened.
const HardenedOffset uint32 = 0x80000000

// Identity signs airlock artifacts with an Ed25519 key. It is a
// crypto.Signer whose Public is an ed25519.PublicKey and which signs a
// message whole (opts.HashFunc() == 0), as ed25519.PrivateKey does; a key on
// a hardware token implements it without ever revealing the private key.
type Identity interface {
	crypto.Signer
}

// IdentityPublic returns id's Ed25519 public key, or an error when id is not
// an Ed25519 signer.
func IdentityPublic(id Identity) (ed25519.PublicKey, error) {
	pub, ok := id.Public().(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("keys: identity key is a %T, want an Ed25519 public key", id.Public())
	}
	return pub, nil
}

// ChainSigner signs transaction digests with BIP-32 derived secp256k1 keys.
// Implementations derive below their master key and refuse a path they
// cannot reach.
type ChainSigner interface {
	// MasterFingerprint is the BIP-32 fingerprint of the master key.
	MasterFingerprint() [4]byte
	// PublicKey returns the compressed public key at path (from the master).
	PublicKey(path []uint32) ([]byte, error)
	// SignECDSA signs a 32-byte digest with the key at path and returns a
	// DER signature with low S (BIP-62/BIP-146), without a sighash byte.
	SignECDSA(path []uint32, digest []byte) ([]byte, error)
}

// SchnorrSigner is a ChainSigner that also makes BIP-340 Schnorr
// signatures (taproot). A PKCS#11 token cannot: no mechanism exists.
type SchnorrSigner interface {
	// SignSchnorr signs a 32-byte digest with the key at path and returns
	// the 64-byte BIP-340 signature.
	SignSchnorr(path []uint32, digest []byte) ([]byte, error)
}

// ErrNoKey is returned when a signer does not hold the requested key.
var ErrNoKey = errors.New("keys: no such key")

// FormatPath renders a BIP-32 path as "m/48'/1'/0'/2'".
func FormatPath(path []uint32) string {
	var b strings.Builder
	b.WriteString("m")
	for _, i := range path {
		b.WriteByte('/')
		if i >= HardenedOffset {
			b.WriteString(strconv.FormatUint(uint64(i-HardenedOffset), 10))
			b.WriteByte('\'')
		} else {
			b.WriteString(strconv.FormatUint(uint64(i), 10))
		}
	}
	return b.String()
}

// ParsePath parses "m/48'/1'/0'/2'" (or "48h/1h", with or without "m/").
func ParsePath(s string) ([]uint32, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "m"), "/")
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) > 32 {
		return nil, fmt.Errorf("keys: path %q deeper than 32 levels", s)
	}
	var path []uint32
	for _, p := range parts {
		hard := false
		if n := len(p); n > 0 && (p[n-1] == '\'' || p[n-1] == 'h' || p[n-1] == 'H') {
			hard, p = true, p[:n-1]
		}
		v, err := strconv.ParseUint(p, 10, 31)
		if err != nil || (len(p) > 1 && p[0] == '0') {
			return nil, fmt.Errorf("keys: bad path element %q", p)
		}
		i := uint32(v)
		if hard {
			i += HardenedOffset
		}
		path = append(path, i)
	}
	return path, nil
}

// FormatFingerprint renders a fingerprint as 8 lower-case hex digits.
func FormatFingerprint(fp [4]byte) string { return hex.EncodeToString(fp[:]) }

// ParseFingerprint parses 8 hex digits.
func ParseFingerprint(s string) ([4]byte, error) {
	var fp [4]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return fp, fmt.Errorf("keys: bad fingerprint %q: want 8 hex digits", s)
	}
	copy(fp[:], b)
	return fp, nil
}

// FingerprintUint32 returns fp as the big-endian integer hdkeychain uses.
func FingerprintUint32(fp [4]byte) uint32 { return binary.BigEndian.Uint32(fp[:]) }
