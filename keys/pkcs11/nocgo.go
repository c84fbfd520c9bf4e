//go:build !cgo

package pkcs11

import (
	"crypto"
	"io"
)

// Without cgo no PKCS#11 module can be loaded: Open fails with ErrNoCgo,
// and the types exist only so that the rest of airlock builds (the
// software keystore works as before).

// Token is an open session on a token (unavailable without cgo).
type Token struct{}

// ECKey is a secp256k1 key on a token (unavailable without cgo).
type ECKey struct{}

// EdKey is an Ed25519 key on a token (unavailable without cgo).
type EdKey struct{}

// Open fails with ErrNoCgo.
func Open(module, label string, pin []byte) (*Token, error) { return nil, ErrNoCgo }

func (t *Token) Close() error                                   { return nil }
func (t *Token) Label() string                                  { return "" }
func (t *Token) Info() (Info, error)                            { return Info{}, ErrNoCgo }
func (t *Token) GenerateSecp256k1(label string) (*ECKey, error) { return nil, ErrNoCgo }
func (t *Token) GenerateEd25519(label string) (*EdKey, error)   { return nil, ErrNoCgo }
func (t *Token) Secp256k1(label string) (*ECKey, error)         { return nil, ErrNoCgo }
func (t *Token) Ed25519(label string) (*EdKey, error)           { return nil, ErrNoCgo }
func (t *Token) Destroy(label string) (int, error)              { return 0, ErrNoCgo }

func (k *ECKey) Label() string                                 { return "" }
func (k *ECKey) PublicKey() []byte                             { return nil }
func (k *ECKey) SignDigest(digest []byte) ([]byte, error)      { return nil, ErrNoCgo }
func (k *ECKey) SignRecoverable(digest []byte) ([]byte, error) { return nil, ErrNoCgo }

func (k *EdKey) Label() string            { return "" }
func (k *EdKey) Public() crypto.PublicKey { return nil }
func (k *EdKey) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, ErrNoCgo
}
