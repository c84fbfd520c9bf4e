package descriptor

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// BIP-380 "Character Set": three groups of 32 so that case errors and
// substitutions within the first group each cost one symbol.
const (
	inputCharset    = "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "
	checksumCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	checksumLen     = 8
)

// BIP-380 "Checksum": the generator of the BCH code (descsum_polymod).
var generator = [5]uint64{0xf5dee51989, 0xa9fdca3312, 0x1bab10e32d, 0x3706b1677a, 0x644d626ffd}

func polymod(c uint64, v uint64) uint64 {
	top := c >> 35
	c = (c&0x7ffffffff)<<5 ^ v
	for i, g := range generator {
		if (top>>i)&1 == 1 {
			c ^= g
		}
	}
	return c
}

// Checksum returns the 8-character BIP-380 checksum of desc, a descriptor
// given without "#...". It fails on characters outside BIP-380's set.
func Checksum(desc string) (string, error) {
	c := uint64(1)
	groups, n := uint64(0), 0
	for i := 0; i < len(desc); i++ {
		// BIP-380 descsum_expand: each character gives its position in
		// its group, and every third one also the three group numbers.
		pos := strings.IndexByte(inputCharset, desc[i])
		if pos < 0 {
			r, _ := utf8.DecodeRuneInString(desc[i:])
			return "", fmt.Errorf("descriptor: character %q at offset %d is not in the BIP-380 character set", r, i)
		}
		c = polymod(c, uint64(pos&31))
		groups = groups*3 + uint64(pos>>5)
		if n++; n == 3 {
			c = polymod(c, groups)
			groups, n = 0, 0
		}
	}
	if n > 0 {
		c = polymod(c, groups)
	}
	for i := 0; i < checksumLen; i++ {
		c = polymod(c, 0)
	}
	c ^= 1
	var out [checksumLen]byte
	for i := range out {
		out[i] = checksumCharset[(c>>(5*(7-i)))&31]
	}
	return string(out[:]), nil
}

// splitChecksum separates "SCRIPT#CHECKSUM" and verifies the checksum when
// there is one; required makes a missing checksum an error. BIP-380: "the
// checksum is optional for parsing, [but] applications may choose to reject
// descriptors that do not contain a checksum."
func splitChecksum(s string, required bool) (string, error) {
	body, sum, has := strings.Cut(s, "#")
	want, err := Checksum(body)
	if err != nil {
		return "", err
	}
	if !has {
		if required {
			return "", fmt.Errorf("%w: missing (want SCRIPT#CHECKSUM)", ErrBadChecksum)
		}
		return body, nil
	}
	if len(sum) != checksumLen {
		return "", fmt.Errorf("%w: %q has %d characters, want %d", ErrBadChecksum, sum, len(sum), checksumLen)
	}
	if sum != want {
		return "", fmt.Errorf("%w: %q does not match the descriptor", ErrBadChecksum, sum)
	}
	return body, nil
}
