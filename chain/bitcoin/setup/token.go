package setup

import (
	"crypto/sha256"
	"fmt"
	"math/big"
	"strings"

	"github.com/cosmos/go-bip39"
)

// TokenDecimal is the token as a decimal number, the format BIP-129
// recommends showing to users.
func TokenDecimal(token []byte) (string, error) {
	if _, err := TokenMode(token); err != nil {
		return "", err
	}
	return new(big.Int).SetBytes(token).String(), nil
}

// ParseTokenDecimal reads a decimal token for mode; the number must not
// exceed the nonce's maximum.
func ParseTokenDecimal(s string, m Mode) ([]byte, error) {
	if m != Standard && m != Extended {
		return nil, fmt.Errorf("setup: decimal tokens are for STANDARD or EXTENDED, not %v", m)
	}
	if s == "" || len(s) > 40 || strings.TrimLeft(s, "0123456789") != "" {
		return nil, fmt.Errorf("setup: token %q is not a decimal number", short(s))
	}
	n, _ := new(big.Int).SetString(s, 10)
	if n.BitLen() > 8*m.Size() {
		return nil, fmt.Errorf("setup: token %s exceeds %d bits (%v)", short(s), 8*m.Size(), m)
	}
	return n.FillBytes(make([]byte, m.Size())), nil
}

// TokenMnemonic encodes a token with the BIP-39 English word list: 6 words
// for STANDARD, 12 for EXTENDED (which BIP-129 does not recommend).
func TokenMnemonic(token []byte) (string, error) {
	m, err := TokenMode(token)
	if err != nil {
		return "", err
	}
	if m == NoEncryption {
		return "", fmt.Errorf("setup: token 00 has no mnemonic")
	}
	bits := 8 * len(token)
	n := new(big.Int).SetBytes(token)
	sum := sha256.Sum256(token)
	cs := bits / 32
	n.Lsh(n, uint(cs))
	n.Or(n, big.NewInt(int64(sum[0]>>(8-cs))))
	words := make([]string, (bits+cs)/11)
	mask := big.NewInt(2047)
	for i := len(words) - 1; i >= 0; i-- {
		words[i] = bip39.EnglishWordList[new(big.Int).And(n, mask).Int64()]
		n.Rsh(n, 11)
	}
	return strings.Join(words, " "), nil
}

// ParseTokenMnemonic reads a 6- or 12-word token, checking its BIP-39
// checksum.
func ParseTokenMnemonic(s string) ([]byte, error) {
	if len(s) > 1024 {
		return nil, fmt.Errorf("setup: token mnemonic too long")
	}
	words := strings.Fields(strings.ToLower(s))
	var size int
	switch len(words) {
	case 6:
		size = 8
	case 12:
		size = 16
	default:
		return nil, fmt.Errorf("setup: token mnemonic of %d words (want 6 or 12)", len(words))
	}
	n := new(big.Int)
	for _, w := range words {
		i, ok := bip39.ReverseWordMap[w]
		if !ok {
			return nil, fmt.Errorf("setup: %q is not a BIP-39 word", short(w))
		}
		n.Lsh(n, 11)
		n.Or(n, big.NewInt(int64(i)))
	}
	cs := size * 8 / 32
	got := new(big.Int).And(n, big.NewInt(1<<cs-1)).Int64()
	token := new(big.Int).Rsh(n, uint(cs)).FillBytes(make([]byte, size))
	sum := sha256.Sum256(token)
	if int64(sum[0]>>(8-cs)) != got {
		return nil, fmt.Errorf("setup: token mnemonic checksum mismatch")
	}
	return token, nil
}

// short bounds user text quoted in errors.
func short(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}
