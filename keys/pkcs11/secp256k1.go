//go:build cgo

package pkcs11

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	p11 "github.com/miekg/pkcs11"
)

// oidSecp256k1 is CKA_EC_PARAMS for secp256k1: the DER encoding of the
// named-curve OID 1.3.132.0.10.
var oidSecp256k1 = []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a}

var secp256k1Spec = keySpec{
	name:     "secp256k1",
	keyType:  p11.CKK_EC,
	genMech:  p11.CKM_EC_KEY_PAIR_GEN,
	params:   oidSecp256k1,
	paramsOK: func(p []byte) bool { return bytes.Equal(p, oidSecp256k1) },
}

// ECKey is a secp256k1 private key held on a token. It is safe for
// concurrent use, and stops working when its Token is closed.
type ECKey struct {
	t     *Token
	label string
	priv  p11.ObjectHandle
	pub   *secp256k1.PublicKey
}

// GenerateSecp256k1 creates a secp256k1 key pair on the token, labelled
// label, with a fresh random 16-byte CKA_ID. The private key is persistent,
// private, sensitive and non-extractable (it can sign but never leave the
// device); the attributes are read back and the key destroyed if the token
// did not honour them. The new key must produce a valid signature before it
// is returned. It fails with ErrKeyExists if any object on the token
// already has that label.
func (t *Token) GenerateSecp256k1(label string) (*ECKey, error) {
	kp, err := t.generate(secp256k1Spec, label)
	if err != nil {
		return nil, err
	}
	k, err := t.newECKey(label, kp)
	if err == nil {
		digest := sha256.Sum256([]byte("airlock pkcs11 self-test " + label))
		_, err = k.SignDigest(digest[:])
	}
	if err != nil {
		return nil, t.discard("secp256k1", label, kp, err)
	}
	return k, nil
}

// Secp256k1 finds the secp256k1 key labelled label. It fails with
// ErrKeyNotFound when the token has none, and with an error when the label
// is ambiguous, the public key object is missing, or the private key is
// extractable or not sensitive.
func (t *Token) Secp256k1(label string) (*ECKey, error) {
	kp, err := t.find(secp256k1Spec, label)
	if err != nil {
		return nil, err
	}
	return t.newECKey(label, kp)
}

func (t *Token) newECKey(label string, kp keyPair) (*ECKey, error) {
	pub, err := parseECPoint(kp.point)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: public key %q on token %q: %w", label, t.label, err)
	}
	return &ECKey{t: t, label: label, priv: kp.priv, pub: pub}, nil
}

// parseECPoint decodes CKA_EC_POINT: a DER OCTET STRING wrapping the SEC 1
// point, or the bare point from tokens that omit the wrapping. The point
// must lie on secp256k1.
func parseECPoint(v []byte) (*secp256k1.PublicKey, error) {
	point := unwrapOctetString(v, 65)
	if point == nil {
		point = unwrapOctetString(v, 33)
	}
	if point == nil {
		return nil, fmt.Errorf("pkcs11: CKA_EC_POINT is neither a DER OCTET STRING holding a secp256k1 point nor a bare point (%d bytes)", len(v))
	}
	pub, err := secp256k1.ParsePubKey(point)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: CKA_EC_POINT is not a valid secp256k1 point: %w", err)
	}
	return pub, nil
}

// Label returns the key's CKA_LABEL.
func (k *ECKey) Label() string { return k.label }

// PublicKey returns the 33-byte SEC 1 compressed public key.
func (k *ECKey) PublicKey() []byte { return k.pub.SerializeCompressed() }

// SignDigest signs a 32-byte digest (the caller hashes) with CKM_ECDSA and
// returns a DER-encoded signature with low S (BIP-62/BIP-146), without a
// sighash byte. The signature is verified against PublicKey before it is
// returned.
func (k *ECKey) SignDigest(digest []byte) ([]byte, error) {
	sig, err := k.signLowS(digest)
	if err != nil {
		return nil, err
	}
	return sig.Serialize(), nil
}

// SignRecoverable signs a 32-byte digest and returns the 65-byte Ethereum
// form r || s || v: r and s big-endian 32 bytes each, s low, and v the
// recovery id in {0, 1} (add 27 or an EIP-155 offset as the transaction type
// requires). Recovering the key from the signature is checked to give
// PublicKey.
func (k *ECKey) SignRecoverable(digest []byte) ([]byte, error) {
	raw, err := k.signRaw(digest)
	if err != nil {
		return nil, err
	}
	return k.recoverable(digest, raw)
}

// recoverable is SignRecoverable's work after the device has signed.
func (k *ECKey) recoverable(digest, raw []byte) ([]byte, error) {
	sig, err := k.normalise(digest, raw)
	if err != nil {
		return nil, err
	}
	r, s := sig.R(), sig.S()
	rb, sb := r.Bytes(), s.Bytes()
	v, err := RecoveryID(k.PublicKey(), digest, rb[:], sb[:])
	if err != nil {
		return nil, fmt.Errorf("pkcs11: key %q on token %q: %w", k.label, k.t.label, err)
	}
	out := make([]byte, 0, 65)
	out = append(out, rb[:]...)
	out = append(out, sb[:]...)
	return append(out, v), nil
}

// signLowS asks the token for an ECDSA signature, normalises S and
// verifies the result.
func (k *ECKey) signLowS(digest []byte) (*ecdsa.Signature, error) {
	raw, err := k.signRaw(digest)
	if err != nil {
		return nil, err
	}
	return k.normalise(digest, raw)
}

// signRaw has the token sign digest with CKM_ECDSA and returns its raw
// r || s output.
func (k *ECKey) signRaw(digest []byte) ([]byte, error) {
	if len(digest) != 32 {
		return nil, fmt.Errorf("pkcs11: secp256k1 signing needs a 32-byte digest, got %d bytes; hash the message first", len(digest))
	}
	raw, err := k.t.sign(fmt.Sprintf("signing with key %q", k.label), p11.CKM_ECDSA, k.priv, digest)
	if err != nil {
		return nil, err
	}
	if len(raw) != 64 {
		return nil, fmt.Errorf("pkcs11: token %q returned a %d-byte ECDSA signature, want 64 (r || s)", k.t.label, len(raw))
	}
	return raw, nil
}

// normalise turns the device's raw r || s into a low-S signature and
// verifies it against the public key.
func (k *ECKey) normalise(digest, raw []byte) (*ecdsa.Signature, error) {
	r, s, err := LowS(raw[:32], raw[32:])
	if err != nil {
		return nil, fmt.Errorf("pkcs11: token %q returned a malformed signature: %w", k.t.label, err)
	}
	var rs, ss secp256k1.ModNScalar
	rs.SetByteSlice(r)
	ss.SetByteSlice(s)
	sig := ecdsa.NewSignature(&rs, &ss)
	if !sig.Verify(digest, k.pub) {
		return nil, fmt.Errorf("pkcs11: token %q produced a signature that does not verify against key %q; the device is faulty, do not use it", k.t.label, k.label)
	}
	return sig, nil
}

// scalar parses a big-endian value of at most 32 bytes that must lie in
// [1, n-1].
func scalar(name string, b []byte) (secp256k1.ModNScalar, error) {
	var v secp256k1.ModNScalar
	if len(b) == 0 || len(b) > 32 {
		return v, fmt.Errorf("pkcs11: signature %s is %d bytes, want 1 to 32", name, len(b))
	}
	if overflow := v.SetByteSlice(b); overflow {
		return v, fmt.Errorf("pkcs11: signature %s is not below the curve order", name)
	}
	if v.IsZero() {
		return v, fmt.Errorf("pkcs11: signature %s is zero", name)
	}
	return v, nil
}

// LowS normalises an ECDSA signature to low S as BIP-62/BIP-146 and EIP-2
// require: if s > n/2 it is replaced by n - s, which gives an equally valid
// signature. r and s are big-endian, at most 32 bytes each, and must lie in
// [1, n-1]. The results are fresh 32-byte slices; r2 equals r left-padded.
func LowS(r, s []byte) (r2, s2 []byte, err error) {
	rs, err := scalar("r", r)
	if err != nil {
		return nil, nil, err
	}
	ss, err := scalar("s", s)
	if err != nil {
		return nil, nil, err
	}
	if ss.IsOverHalfOrder() {
		ss.Negate()
	}
	rb, sb := rs.Bytes(), ss.Bytes()
	return rb[:], sb[:], nil
}

// compact header bytes as in Bitcoin's signed messages and dcrd's
// RecoverCompact: 27 + recovery id, +4 for a compressed key.
const (
	compactMagic      = 27
	compactCompressed = 4
)

// RecoveryID returns the recovery id v in {0, 1} such that recovering the
// public key from (r, s) over digest gives pub (33-byte compressed or 65-byte
// uncompressed SEC 1). The id depends on s, so normalise with LowS first if
// the signature is to be low-S. It tries both candidates with dcrd's
// RecoverCompact; ids 2 and 3 (r >= p - n, probability ~2^-127) are not
// representable in Ethereum's v and are reported as an error.
func RecoveryID(pub []byte, digest, r, s []byte) (byte, error) {
	want, err := secp256k1.ParsePubKey(pub)
	if err != nil {
		return 0, fmt.Errorf("pkcs11: public key for recovery: %w", err)
	}
	if len(digest) != 32 {
		return 0, fmt.Errorf("pkcs11: recovery needs a 32-byte digest, got %d bytes", len(digest))
	}
	rs, err := scalar("r", r)
	if err != nil {
		return 0, err
	}
	ss, err := scalar("s", s)
	if err != nil {
		return 0, err
	}
	var compact [65]byte
	rs.PutBytesUnchecked(compact[1:33])
	ss.PutBytesUnchecked(compact[33:65])
	for v := byte(0); v < 2; v++ {
		compact[0] = compactMagic + compactCompressed + v
		got, _, err := ecdsa.RecoverCompact(compact[:], digest)
		if err == nil && got.IsEqual(want) {
			return v, nil
		}
	}
	return 0, errors.New("pkcs11: signature does not recover to the public key with recovery id 0 or 1; it is invalid for this key and digest")
}
