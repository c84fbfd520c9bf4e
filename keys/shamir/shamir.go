// Package shamir splits a secret into K-of-N shares (Shamir's secret
// sharing over GF(2^8), the AES field, polynomial x^8+x^4+x^3+x+1) and
// recombines them, refusing anything that would silently give a wrong
// secret.
//
// Every share carries the backup's random id, K, N, its x coordinate, a
// commitment to the secret and a checksum of itself:
//
//	"AIRLOCK-SSS1" | id(16) | k | n | x | len(2) | y(len) | commit(32) | check(8)
//
// The checksum (SHA-256 of everything before it) finds a corrupted share
// and names it. The commitment, SHA-256("airlock shamir v1" | id | secret),
// is checked after combining: shares from two backups, a forged share or
// any wrong y can only produce a secret that fails it, since finding one
// that passes means finding a SHA-256 preimage. Fewer than K shares are
// refused before any arithmetic.
package shamir

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	magic = "AIRLOCK-SSS1"
	// MaxSecret bounds the secret.
	MaxSecret = 1024
)

// Errors callers branch on.
var (
	ErrCorrupt     = errors.New("shamir: corrupt share")
	ErrMixed       = errors.New("shamir: shares from different backups")
	ErrTooFew      = errors.New("shamir: fewer shares than the threshold")
	ErrWrongSecret = errors.New("shamir: the shares do not reconstruct the committed secret")
)

// Share is one share of a backup.
type Share struct {
	ID     [16]byte
	K, N   byte
	X      byte
	Y      []byte
	Commit [32]byte
}

// exp and log tables of GF(2^8) with generator 3.
var expT, logT [256]byte

func init() {
	x := byte(1)
	for i := 0; i < 255; i++ {
		expT[i] = x
		logT[x] = byte(i)
		// multiply by the generator 3: x*2 ^ x
		hi := x & 0x80
		x2 := x << 1
		if hi != 0 {
			x2 ^= 0x1b
		}
		x = x2 ^ x
	}
	expT[255] = expT[0]
}

func mul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return expT[(int(logT[a])+int(logT[b]))%255]
}

func div(a, b byte) byte {
	if b == 0 {
		panic("shamir: division by zero")
	}
	if a == 0 {
		return 0
	}
	return expT[(int(logT[a])-int(logT[b])+255)%255]
}

func commitment(id [16]byte, secret []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("airlock shamir v1"))
	h.Write(id[:])
	h.Write(secret)
	var c [32]byte
	copy(c[:], h.Sum(nil))
	return c
}

// Split shares secret among n custodians so that any k of them rebuild it.
func Split(secret []byte, k, n int, rnd io.Reader) ([]Share, error) {
	if len(secret) == 0 || len(secret) > MaxSecret {
		return nil, fmt.Errorf("shamir: secret of %d bytes outside 1..%d", len(secret), MaxSecret)
	}
	if k < 1 || n < k || n > 255 {
		return nil, fmt.Errorf("shamir: threshold %d of %d shares: want 1 <= k <= n <= 255", k, n)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	var id [16]byte
	if _, err := io.ReadFull(rnd, id[:]); err != nil {
		return nil, err
	}
	commit := commitment(id, secret)
	// One random polynomial of degree k-1 per byte, constant term the
	// secret byte.
	coef := make([]byte, (k-1)*len(secret))
	if _, err := io.ReadFull(rnd, coef); err != nil {
		return nil, err
	}
	shares := make([]Share, n)
	for i := range shares {
		x := byte(i + 1)
		y := make([]byte, len(secret))
		for j, s := range secret {
			// Horner: ((c_{k-1} x + c_{k-2}) x + ...) x + s
			acc := byte(0)
			for d := k - 2; d >= 0; d-- {
				acc = mul(acc, x) ^ coef[d*len(secret)+j]
			}
			y[j] = mul(acc, x) ^ s
		}
		shares[i] = Share{ID: id, K: byte(k), N: byte(n), X: x, Y: y, Commit: commit}
	}
	for i := range coef {
		coef[i] = 0
	}
	return shares, nil
}

// Combine rebuilds the secret from at least K shares of one backup and
// checks it against the commitment.
func Combine(shares []Share) ([]byte, error) {
	if len(shares) == 0 {
		return nil, ErrTooFew
	}
	first := shares[0]
	seen := map[byte]bool{}
	var use []Share
	for _, s := range shares {
		if s.ID != first.ID || s.K != first.K || s.N != first.N || s.Commit != first.Commit || len(s.Y) != len(first.Y) {
			return nil, fmt.Errorf("%w: share %d is from backup %x, share %d from %x", ErrMixed, first.X, first.ID[:4], s.X, s.ID[:4])
		}
		if s.X == 0 || s.X > s.N {
			return nil, fmt.Errorf("%w: x = %d outside 1..%d", ErrCorrupt, s.X, s.N)
		}
		if seen[s.X] {
			continue
		}
		seen[s.X] = true
		use = append(use, s)
	}
	k := int(first.K)
	if len(use) < k {
		return nil, fmt.Errorf("%w: %d distinct shares, the backup needs %d", ErrTooFew, len(use), k)
	}
	use = use[:k]
	secret := make([]byte, len(first.Y))
	// Lagrange interpolation at x = 0.
	for i, si := range use {
		num, den := byte(1), byte(1)
		for j, sj := range use {
			if i == j {
				continue
			}
			num = mul(num, sj.X)
			den = mul(den, si.X^sj.X)
		}
		l := div(num, den)
		for b := range secret {
			secret[b] ^= mul(si.Y[b], l)
		}
	}
	c := commitment(first.ID, secret)
	if subtle.ConstantTimeCompare(c[:], first.Commit[:]) != 1 {
		for i := range secret {
			secret[i] = 0
		}
		return nil, ErrWrongSecret
	}
	return secret, nil
}

// Encode serialises a share with its checksum.
func (s *Share) Encode() []byte {
	var b bytes.Buffer
	b.WriteString(magic)
	b.Write(s.ID[:])
	b.Write([]byte{s.K, s.N, s.X})
	binary.Write(&b, binary.BigEndian, uint16(len(s.Y)))
	b.Write(s.Y)
	b.Write(s.Commit[:])
	sum := sha256.Sum256(b.Bytes())
	b.Write(sum[:8])
	return b.Bytes()
}

// Decode parses a share and checks its checksum.
func Decode(b []byte) (*Share, error) {
	const fixed = len(magic) + 16 + 3 + 2
	if len(b) < fixed+32+8 || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: not an airlock share", ErrCorrupt)
	}
	body, sum := b[:len(b)-8], b[len(b)-8:]
	want := sha256.Sum256(body)
	if subtle.ConstantTimeCompare(want[:8], sum) != 1 {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	s := &Share{}
	p := len(magic)
	copy(s.ID[:], b[p:p+16])
	p += 16
	s.K, s.N, s.X = b[p], b[p+1], b[p+2]
	p += 3
	n := int(binary.BigEndian.Uint16(b[p:]))
	p += 2
	if n == 0 || n > MaxSecret || len(body) != p+n+32 {
		return nil, fmt.Errorf("%w: length", ErrCorrupt)
	}
	s.Y = append([]byte{}, b[p:p+n]...)
	copy(s.Commit[:], b[p+n:])
	if s.K < 1 || s.N < s.K || s.X == 0 || s.X > s.N {
		return nil, fmt.Errorf("%w: k=%d n=%d x=%d", ErrCorrupt, s.K, s.N, s.X)
	}
	return s, nil
}
