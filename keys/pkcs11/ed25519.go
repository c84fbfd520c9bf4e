//go:build cgo

package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"fmt"
	"io"

	p11 "github.com/miekg/pkcs11"
)

// PKCS#11 3.0 EdDSA constants, absent from github.com/miekg/pkcs11.
const (
	CKK_EC_EDWARDS              = 0x40
	CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055
	CKM_EDDSA                   = 0x1057
)

var (
	// oidEd25519 is the DER encoding of OID 1.3.101.112 (id-Ed25519,
	// RFC 8410), the CKA_EC_PARAMS this package generates with.
	oidEd25519 = []byte{0x06, 0x03, 0x2b, 0x65, 0x70}
	// curveNameEd25519 is the DER PrintableString "edwards25519", the
	// alternative CKA_EC_PARAMS encoding allowed by PKCS#11 3.0.
	curveNameEd25519 = append([]byte{0x13, 0x0c}, "edwards25519"...)
)

var ed25519Spec = keySpec{
	name:    "Ed25519",
	keyType: CKK_EC_EDWARDS,
	genMech: CKM_EC_EDWARDS_KEY_PAIR_GEN,
	params:  oidEd25519,
	paramsOK: func(p []byte) bool {
		return bytes.Equal(p, oidEd25519) || bytes.Equal(p, curveNameEd25519)
	},
}

// EdKey is an Ed25519 private key held on a token. It implements
// crypto.Signer, is safe for concurrent use, and stops working when its
// Token is closed.
type EdKey struct {
	t     *Token
	label string
	priv  p11.ObjectHandle
	pub   ed25519.PublicKey
}

var _ crypto.Signer = (*EdKey)(nil)

// GenerateEd25519 creates an Ed25519 key pair on the token with the same
// attributes, checks and ErrKeyExists rule as GenerateSecp256k1.
func (t *Token) GenerateEd25519(label string) (*EdKey, error) {
	kp, err := t.generate(ed25519Spec, label)
	if err != nil {
		return nil, err
	}
	k, err := t.newEdKey(label, kp)
	if err == nil {
		_, err = k.Sign(nil, []byte("airlock pkcs11 self-test "+label), crypto.Hash(0))
	}
	if err != nil {
		return nil, t.discard("Ed25519", label, kp, err)
	}
	return k, nil
}

// Ed25519 finds the Ed25519 key labelled label, failing like Secp256k1.
func (t *Token) Ed25519(label string) (*EdKey, error) {
	kp, err := t.find(ed25519Spec, label)
	if err != nil {
		return nil, err
	}
	return t.newEdKey(label, kp)
}

func (t *Token) newEdKey(label string, kp keyPair) (*EdKey, error) {
	point := unwrapOctetString(kp.point, ed25519.PublicKeySize)
	if point == nil {
		return nil, fmt.Errorf("pkcs11: public key %q on token %q: CKA_EC_POINT is neither a DER OCTET STRING holding 32 bytes nor 32 bare bytes (%d bytes)", label, t.label, len(kp.point))
	}
	return &EdKey{t: t, label: label, priv: kp.priv, pub: bytes.Clone(point)}, nil
}

// Label returns the key's CKA_LABEL.
func (k *EdKey) Label() string { return k.label }

// Public returns the ed25519.PublicKey.
func (k *EdKey) Public() crypto.PublicKey { return ed25519.PublicKey(bytes.Clone(k.pub)) }

// Sign signs msg itself (pure Ed25519, RFC 8032) with CKM_EDDSA and verifies
// the signature with crypto/ed25519 before returning it. opts must be
// crypto.Hash(0) (nil is taken to mean the same); pre-hashed Ed25519ph and
// contexts are refused. rand is ignored: Ed25519 is deterministic.
func (k *EdKey) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts != nil {
		if h := opts.HashFunc(); h != crypto.Hash(0) {
			return nil, fmt.Errorf("pkcs11: Ed25519 key %q signs the message itself (pure Ed25519), not a %v digest; pass the message and crypto.Hash(0)", k.label, h)
		}
		if o, ok := opts.(*ed25519.Options); ok && o.Context != "" {
			return nil, fmt.Errorf("pkcs11: Ed25519 key %q does not support Ed25519ctx contexts", k.label)
		}
	}
	sig, err := k.t.sign(fmt.Sprintf("signing with key %q", k.label), CKM_EDDSA, k.priv, msg)
	if err != nil {
		return nil, err
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(k.pub, msg, sig) {
		return nil, fmt.Errorf("pkcs11: token %q produced a signature that does not verify against Ed25519 key %q; the device is faulty, do not use it", k.t.label, k.label)
	}
	return sig, nil
}
