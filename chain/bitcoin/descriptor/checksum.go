package descriptor

import (
	"errors"
	"fmt"
	"strings"
)

// BIP-380 "Checksum": a BCH code over the descriptor's characters, in the
// character set below, so that up to 4 errors are detected.
const (
	inputCharset    = "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ "
	checksumCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
)

var generator = [5]uint64{0xf5dee51989, 0xa9fdca3312, 0x1bab10e32d, 0x3706b1677a, 0x644d626ffd}

func polymod(c uint64, v int) uint64 {
	top := c >> 35
	c = (c&0x7ffffffff)<<5 ^ uint64(v)
	for i := 0; i < 5; i++ {
		if (top>>i)&1 == 1 {
			c ^= generator[i]
		}
	}
	return c
}

// Checksum returns the 8-character BIP-380 checksum of desc (given without
// "#...").
func Checksum(desc string) (string, error) {
	c := uint64(1)
	cls, clsCount := 0, 0
	for i := 0; i < len(desc); i++ {
		pos := strings.IndexByte(inputCharset, desc[i])
		if pos < 0 || desc[i] >= 0x80 {
			return "", fmt.Errorf("descriptor: character %q at %d is not in the descriptor character set", desc[i], i)
		}
		c = polymod(c, pos&31)
		cls = cls*3 + pos>>5
		if clsCount++; clsCount == 3 {
			c = polymod(c, cls)
			cls, clsCount = 0, 0
		}
	}
	if clsCount > 0 {
		c = polymod(c, cls)
	}
	for i := 0; i < 8; i++ {
		c = polymod(c, 0)
	}
	c ^= 1
	var out [8]byte
	for i := 0; i < 8; i++ {
		out[i] = checksumCharset[(c>>(5*(7-i)))&31]
	}
	return string(out[:]), nil
}

// ErrBadChecksum is returned when a descriptor's checksum does not match.
var ErrBadChecksum = errors.New("descriptor: bad checksum")

// splitChecksum separates "desc#checksum" and verifies the checksum when
// present. required makes a missing checksum an error.
func splitChecksum(s string, required bool) (string, error) {
	body, sum, has := strings.Cut(s, "#")
	if !has {
		if required {
			return "", fmt.Errorf("%w: missing (want desc#xxxxxxxx)", ErrBadChecksum)
		}
		if _, err := Checksum(body); err != nil {
			return "", err
		}
		return body, nil
	}
	if len(sum) != 8 {
		return "", fmt.Errorf("%w: %q is %d characters, want 8", ErrBadChecksum, sum, len(sum))
	}
	want, err := Checksum(body)
	if err != nil {
		return "", err
	}
	if sum != want {
		return "", fmt.Errorf("%w: %q, the descriptor's is %q", ErrBadChecksum, sum, want)
	}
	return body, nil
}
