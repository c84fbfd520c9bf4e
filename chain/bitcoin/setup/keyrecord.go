package setup

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
)

// Version is the BSMS version line this package reads and writes.
const Version = "BSMS 1.0"

// MaxDescription is BIP-129's limit on a key record's description.
const MaxDescription = 80

// KeyRecord is a Signer's round-1 key record (BIP-129).
type KeyRecord struct {
	Token       []byte // the session token; nil or {0x00} without encryption
	Key         string // "[fingerprint/path]xpub" or "[fingerprint/path]pubkey"
	Description string // at most 80 characters
	Signature   string // legacy signed message over the first four lines, base64
}

// ParseKeyRecord reads a key record. With an 8- or 16-byte token data is
// the encrypted .dat content, which is decrypted and its MAC checked;
// with token nil or 00 it is the plain .bsms text. The record's TOKEN line
// must be token, and its signature must verify against its key.
func ParseKeyRecord(data, token []byte) (*KeyRecord, error) {
	text, err := open(data, token)
	if err != nil {
		return nil, err
	}
	r, err := parseKeyRecordText(text)
	if err != nil {
		return nil, err
	}
	if !sameToken(r.Token, token) {
		return nil, errors.New("setup: key record is for another token")
	}
	return r, nil
}

// open checks data's size and decrypts it if the token asks for it.
func open(data, token []byte) ([]byte, error) {
	m, err := TokenMode(token)
	if err != nil {
		return nil, err
	}
	if m == NoEncryption {
		if len(data) > MaxInput {
			return nil, fmt.Errorf("setup: record of %d bytes exceeds %d", len(data), MaxInput)
		}
		return data, nil
	}
	return Decrypt(token, data)
}

// seal is open's reverse.
func seal(text string, token []byte) ([]byte, error) {
	m, err := TokenMode(token)
	if err != nil {
		return nil, err
	}
	if m == NoEncryption {
		return []byte(text), nil
	}
	return Encrypt(token, []byte(text))
}

func sameToken(a, b []byte) bool {
	ha, err1 := tokenHex(a)
	hb, err2 := tokenHex(b)
	return err1 == nil && err2 == nil && ha == hb
}

// lines splits a record into exactly n lines; one final newline is
// allowed, carriage returns are not.
func lines(text []byte, n int, what string) ([]string, error) {
	if !utf8.Valid(text) {
		return nil, fmt.Errorf("setup: %s is not UTF-8", what)
	}
	s := strings.TrimSuffix(string(text), "\n")
	if strings.ContainsRune(s, '\r') {
		return nil, fmt.Errorf("setup: %s has carriage returns", what)
	}
	l := strings.Split(s, "\n")
	if len(l) != n {
		return nil, fmt.Errorf("setup: %s has %d lines, want %d", what, len(l), n)
	}
	if l[0] != Version {
		return nil, fmt.Errorf("setup: %s version %q is not %q", what, short(l[0]), Version)
	}
	return l, nil
}

func parseKeyRecordText(text []byte) (*KeyRecord, error) {
	l, err := lines(text, 5, "key record")
	if err != nil {
		return nil, err
	}
	token, err := parseTokenLine(l[1])
	if err != nil {
		return nil, err
	}
	r := &KeyRecord{Token: token, Key: l[2], Description: l[3], Signature: l[4]}
	if err := r.verify(); err != nil {
		return nil, err
	}
	return r, nil
}

func parseTokenLine(s string) ([]byte, error) {
	if s == "00" {
		return []byte{0}, nil
	}
	if s != strings.ToLower(s) {
		return nil, errors.New("setup: TOKEN line is not lower-case hex")
	}
	t, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("setup: TOKEN line %q is not hex", short(s))
	}
	if m, err := TokenMode(t); err != nil || m == NoEncryption {
		return nil, fmt.Errorf("setup: TOKEN line %q is not 00, 16 or 32 hex digits", short(s))
	}
	return t, nil
}

// message is what the signature covers: the first four lines.
func (r *KeyRecord) message() (string, error) {
	th, err := tokenHex(r.Token)
	if err != nil {
		return "", err
	}
	return Version + "\n" + th + "\n" + r.Key + "\n" + r.Description, nil
}

// PubKey checks the record's key expression and returns its public key:
// the key itself, or the xpub's own key. The key must have an origin.
func (r *KeyRecord) PubKey() ([]byte, error) {
	if len(r.Key) > 300 {
		return nil, errors.New("setup: KEY too long")
	}
	k, err := descriptor.ParseKey(r.Key)
	if err != nil {
		return nil, fmt.Errorf("setup: KEY: %w", err)
	}
	switch {
	case k.IsPrivate():
		return nil, errors.New("setup: KEY is a private key")
	case k.Origin == nil:
		return nil, errors.New("setup: KEY has no [fingerprint/path] origin")
	case len(k.Steps()) > 0 || k.Wildcard() != descriptor.NoWildcard:
		return nil, errors.New("setup: KEY has derivation steps after the key")
	}
	pub := k.PubKey()
	if k.IsXPub() {
		x, err := hdkeychain.NewKeyFromString(k.ExtendedKey())
		if err != nil {
			return nil, fmt.Errorf("setup: KEY: %v", err)
		}
		if int(x.Depth()) != len(k.Origin.Path) {
			return nil, fmt.Errorf("setup: KEY is an xpub of depth %d with an origin path of %d steps", x.Depth(), len(k.Origin.Path))
		}
	} else if len(pub) != 33 || len(r.Key)-strings.IndexByte(r.Key, ']')-1 != 66 {
		return nil, errors.New("setup: KEY is neither an xpub nor a compressed public key")
	}
	return pub, nil
}

func (r *KeyRecord) verify() error {
	if err := checkDescription(r.Description); err != nil {
		return err
	}
	pub, err := r.PubKey()
	if err != nil {
		return err
	}
	msg, err := r.message()
	if err != nil {
		return err
	}
	return verifyMessage(pub, msg, r.Signature)
}

func checkDescription(s string) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxDescription {
		return fmt.Errorf("setup: description is longer than %d characters", MaxDescription)
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return errors.New("setup: description has control characters")
		}
	}
	return nil
}

// SignKeyRecord signs rec (its Token, Key and Description) with priv, the
// private key of rec.Key, and sets rec.Signature.
func SignKeyRecord(rec *KeyRecord, priv *btcec.PrivateKey) error {
	if err := checkDescription(rec.Description); err != nil {
		return err
	}
	pub, err := rec.PubKey()
	if err != nil {
		return err
	}
	if !bytes.Equal(priv.PubKey().SerializeCompressed(), pub) {
		return errors.New("setup: private key does not match the record's key")
	}
	msg, err := rec.message()
	if err != nil {
		return err
	}
	rec.Signature = signMessage(priv, msg)
	return nil
}

// Encode writes the record, encrypted with token unless it is nil or 00.
// rec.Token must be token (or nil, and then token is used) and the
// signature must verify.
func (r *KeyRecord) Encode(token []byte) ([]byte, error) {
	c := *r
	if len(c.Token) == 0 {
		c.Token = token
	}
	if !sameToken(c.Token, token) {
		return nil, errors.New("setup: record token differs from the encryption token")
	}
	if err := c.verify(); err != nil {
		return nil, err
	}
	msg, _ := c.message()
	return seal(msg+"\n"+c.Signature, token)
}
