package setup

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
)

// MaxInput bounds every record, file and descriptor this package reads.
const MaxInput = 64 << 10

// Mode is a BSMS encryption mode (BIP-129 "The Token").
type Mode int

const (
	NoEncryption Mode = iota // TOKEN 0x00
	Standard                 // TOKEN is a 64-bit nonce
	Extended                 // TOKEN is a 128-bit nonce
)

func (m Mode) String() string {
	switch m {
	case NoEncryption:
		return "NO_ENCRYPTION"
	case Standard:
		return "STANDARD"
	case Extended:
		return "EXTENDED"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Size is the token's length in bytes: 1, 8 or 16.
func (m Mode) Size() int {
	switch m {
	case Standard:
		return 8
	case Extended:
		return 16
	}
	return 1
}

// BIP-129 key derivation parameters.
const (
	kdfPassword   = "No SPOF"
	kdfIterations = 2048
	kdfKeyLen     = 32 // dkLen = 256 bits
	macLen        = sha256.Size
)

// TokenMode is the mode a token selects: nil or {0x00} is NO_ENCRYPTION,
// 8 bytes STANDARD, 16 bytes EXTENDED; anything else is refused.
func TokenMode(token []byte) (Mode, error) {
	switch {
	case len(token) == 0 || len(token) == 1 && token[0] == 0:
		return NoEncryption, nil
	case len(token) == 8:
		return Standard, nil
	case len(token) == 16:
		return Extended, nil
	}
	return 0, fmt.Errorf("setup: a token of %d bytes is none of 0x00, 8 bytes (STANDARD) or 16 bytes (EXTENDED)", len(token))
}

// tokenHex is the TOKEN line of a record: "00" without encryption.
func tokenHex(token []byte) (string, error) {
	m, err := TokenMode(token)
	if err != nil {
		return "", err
	}
	if m == NoEncryption {
		return "00", nil
	}
	return hex.EncodeToString(token), nil
}

// NewToken returns a random token for mode.
func NewToken(m Mode) ([]byte, error) {
	switch m {
	case NoEncryption:
		return []byte{0}, nil
	case Standard, Extended:
		t := make([]byte, m.Size())
		if _, err := rand.Read(t); err != nil {
			return nil, fmt.Errorf("setup: token: %v", err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("setup: unknown mode %v", m)
}

// EncryptionKey derives ENCRYPTION_KEY from an 8- or 16-byte token.
func EncryptionKey(token []byte) ([]byte, error) {
	m, err := TokenMode(token)
	if err != nil {
		return nil, err
	}
	if m == NoEncryption {
		return nil, errors.New("setup: token 00 means no encryption, there is no key")
	}
	k, err := pbkdf2.Key(sha512.New, kdfPassword, token, kdfIterations, kdfKeyLen)
	if err != nil {
		return nil, fmt.Errorf("setup: key derivation: %v", err)
	}
	return k, nil
}

// mac is HMAC-SHA256(SHA256(key), hex(token) || plaintext).
func mac(key, token, plaintext []byte) []byte {
	hk := sha256.Sum256(key)
	h := hmac.New(sha256.New, hk[:])
	h.Write([]byte(hex.EncodeToString(token)))
	h.Write(plaintext)
	return h.Sum(nil)
}

func ctr(key, iv, in []byte) []byte {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // the key is always 32 bytes
	}
	out := make([]byte, len(in))
	cipher.NewCTR(block, iv).XORKeyStream(out, in)
	return out
}

// Encrypt returns the .dat content of plaintext for an 8- or 16-byte
// token: the hex text of MAC || ciphertext.
func Encrypt(token, plaintext []byte) ([]byte, error) {
	if len(plaintext) > MaxInput {
		return nil, fmt.Errorf("setup: plaintext of %d bytes exceeds %d", len(plaintext), MaxInput)
	}
	key, err := EncryptionKey(token)
	if err != nil {
		return nil, err
	}
	m := mac(key, token, plaintext)
	out := append(m, ctr(key, m[:aes.BlockSize], plaintext)...)
	return []byte(hex.EncodeToString(out)), nil
}

// Decrypt reverses Encrypt: data is the hex text of MAC || ciphertext
// (surrounding white space is ignored). The plaintext is returned only if
// its MAC is right.
func Decrypt(token, data []byte) ([]byte, error) {
	if len(data) > 2*MaxInput+2*macLen+4 {
		return nil, fmt.Errorf("setup: encrypted record of %d bytes exceeds the limit", len(data))
	}
	raw, err := hex.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil {
		return nil, errors.New("setup: encrypted record is not hex")
	}
	if len(raw) <= macLen {
		return nil, fmt.Errorf("setup: encrypted record of %d bytes is too short", len(raw))
	}
	key, err := EncryptionKey(token)
	if err != nil {
		return nil, err
	}
	got, ct := raw[:macLen], raw[macLen:]
	pt := ctr(key, got[:aes.BlockSize], ct)
	if !hmac.Equal(got, mac(key, token, pt)) {
		return nil, errors.New("setup: MAC mismatch: wrong token or tampered record")
	}
	return pt, nil
}
