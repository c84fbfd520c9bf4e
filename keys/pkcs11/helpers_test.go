//go:build cgo

package pkcs11

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	btcecdsa "github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// curveN is the secp256k1 group order, big-endian.
var curveN = mustHex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")

func mustHex(s string) []byte {
	var b []byte
	if _, err := fmt.Sscanf(s, "%x", &b); err != nil {
		panic(err)
	}
	return b
}

// negate returns n - s for a 32-byte s.
func negate(s []byte) []byte {
	var v secp256k1.ModNScalar
	v.SetByteSlice(s)
	v.Negate()
	b := v.Bytes()
	return b[:]
}

// softSig signs digest with a software key and returns r, s (low-S, as
// btcec produces) and the recovery id from SignCompact.
func softSig(t *testing.T, priv *btcec.PrivateKey, digest []byte) (r, s []byte, recid byte) {
	t.Helper()
	sig := btcecdsa.Sign(priv, digest)
	rr, ss := sig.R(), sig.S()
	rb, sb := rr.Bytes(), ss.Bytes()
	compact := btcecdsa.SignCompact(priv, digest, true)
	if !bytes.Equal(compact[1:33], rb[:]) || !bytes.Equal(compact[33:], sb[:]) {
		t.Fatal("Sign and SignCompact disagree")
	}
	return rb[:], sb[:], compact[0] - 27 - 4
}

// TestLowSAndRecoveryIDVersusSoftware checks the pure helpers against
// software signatures from btcec for a table of keys and digests.
func TestLowSAndRecoveryIDVersusSoftware(t *testing.T) {
	var nMinus1 secp256k1.ModNScalar
	nMinus1.SetInt(1)
	nMinus1.Negate()
	nm1 := nMinus1.Bytes()
	keys := map[string][]byte{
		"one":   {1},
		"two":   {2},
		"n-1":   nm1[:],
		"hashA": digestOf("key A")[:],
		"hashB": digestOf("key B")[:],
	}
	seen := map[byte]bool{}
	for name, scalar := range keys {
		priv, pub := btcec.PrivKeyFromBytes(scalar)
		for i := range 20 {
			digest := sha256.Sum256(fmt.Appendf(nil, "%s/%d", name, i))
			t.Run(fmt.Sprintf("%s/%d", name, i), func(t *testing.T) {
				r, s, recid := softSig(t, priv, digest[:])
				seen[recid] = true

				// Already low: unchanged.
				r2, s2, err := LowS(r, s)
				if err != nil || !bytes.Equal(r2, r) || !bytes.Equal(s2, s) {
					t.Fatalf("LowS(low) = %x %x %v, want unchanged", r2, s2, err)
				}
				// High: flipped back to the software value.
				high := negate(s)
				r3, s3, err := LowS(r, high)
				if err != nil || !bytes.Equal(r3, r) || !bytes.Equal(s3, s) {
					t.Fatalf("LowS(high) = %x %x %v, want %x", r3, s3, err, s)
				}
				// Leading zeros may be stripped on input.
				if r4, _, err := LowS(bytes.TrimLeft(r, "\x00"), s); err != nil || !bytes.Equal(r4, r) {
					t.Fatalf("LowS(trimmed r) = %x %v", r4, err)
				}

				for _, form := range [][]byte{pub.SerializeCompressed(), pub.SerializeUncompressed()} {
					v, err := RecoveryID(form, digest[:], r, s)
					if err != nil || v != recid {
						t.Fatalf("RecoveryID = %d %v, SignCompact says %d", v, err, recid)
					}
				}
				// Negating s flips the recovery id.
				if v, err := RecoveryID(pub.SerializeCompressed(), digest[:], r, high); err != nil || v != recid^1 {
					t.Fatalf("RecoveryID(high s) = %d %v, want %d", v, err, recid^1)
				}
				// Another digest or key does not recover.
				other := sha256.Sum256(digest[:])
				if _, err := RecoveryID(pub.SerializeCompressed(), other[:], r, s); err == nil {
					t.Fatal("RecoveryID succeeded for the wrong digest")
				}
				_, otherPub := btcec.PrivKeyFromBytes([]byte{9, 9, 9})
				if _, err := RecoveryID(otherPub.SerializeCompressed(), digest[:], r, s); err == nil {
					t.Fatal("RecoveryID succeeded for the wrong key")
				}
			})
		}
	}
	if !seen[0] || !seen[1] {
		t.Errorf("table only exercised recovery ids %v", seen)
	}
}

func TestLowSAndRecoveryIDRejectMalformed(t *testing.T) {
	priv, pub := btcec.PrivKeyFromBytes([]byte{7})
	digest := digestOf("malformed")
	r, s, _ := softSig(t, priv, digest)
	zero := make([]byte, 32)
	pk := pub.SerializeCompressed()
	badPub := append([]byte{0x02}, bytes.Repeat([]byte{0xff}, 32)...) // x >= p

	for _, tc := range []struct {
		name      string
		r, s      []byte
		lowSFails bool
	}{
		{"r zero", zero, s, true},
		{"s zero", r, zero, true},
		{"r empty", nil, s, true},
		{"s = n", r, curveN, true},
		{"r = n", curveN, s, true},
		{"s 33 bytes", r, append([]byte{0}, s...), true},
		{"s all ones", r, bytes.Repeat([]byte{0xff}, 32), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := LowS(tc.r, tc.s); (err != nil) != tc.lowSFails {
				t.Errorf("LowS error = %v, want failure %v", err, tc.lowSFails)
			}
			if _, err := RecoveryID(pk, digest, tc.r, tc.s); err == nil {
				t.Error("RecoveryID accepted a malformed signature")
			}
		})
	}
	if _, err := RecoveryID(badPub, digest, r, s); err == nil {
		t.Error("RecoveryID accepted an invalid public key")
	}
	if _, err := RecoveryID(pk, digest[:31], r, s); err == nil {
		t.Error("RecoveryID accepted a 31-byte digest")
	}
}

func TestParsePoints(t *testing.T) {
	_, pub := btcec.PrivKeyFromBytes([]byte{5})
	un := pub.SerializeUncompressed()
	der := append([]byte{0x04, 0x41}, un...)
	for name, v := range map[string][]byte{"der": der, "raw": un, "raw compressed": pub.SerializeCompressed()} {
		got, err := parseECPoint(v)
		if err != nil || !got.IsEqual(pub) {
			t.Errorf("%s: %v", name, err)
		}
	}
	offCurve := bytes.Clone(un)
	offCurve[64] ^= 1
	for name, v := range map[string][]byte{
		"off curve":  offCurve,
		"der off":    append([]byte{0x04, 0x41}, offCurve...),
		"bad tag":    append([]byte{0x03, 0x41}, un...),
		"bad length": append([]byte{0x04, 0x40}, un...),
		"truncated":  der[:60],
		"empty":      nil,
		"x only":     un[1:33],
	} {
		if _, err := parseECPoint(v); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ed := bytes.Repeat([]byte{0x42}, 32)
	if got := unwrapOctetString(append([]byte{0x04, 0x20}, ed...), 32); !bytes.Equal(got, ed) {
		t.Error("DER Ed25519 point not unwrapped")
	}
	if got := unwrapOctetString(ed, 32); !bytes.Equal(got, ed) {
		t.Error("raw Ed25519 point not accepted")
	}
	if got := unwrapOctetString(ed[:31], 32); got != nil {
		t.Error("short Ed25519 point accepted")
	}
}
