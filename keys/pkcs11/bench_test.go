//go:build cgo

package pkcs11

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	btcecdsa "github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/airlock-vault/airlock/keys/keystore"
)

// Run with: go test -run '^$' -bench . -benchtime 200x ./keys/pkcs11/
// The softhsm and software sub-benchmarks of one benchmark run in the same
// process one after the other, so their sigs/s ratio is meaningful.

func reportSigsPerSec(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sigs/s")
}

func benchDigest() []byte {
	d := sha256.Sum256([]byte("airlock benchmark digest"))
	return d[:]
}

func BenchmarkSignSecp256k1(b *testing.B) {
	tok := openToken(b, "bench-ec")
	k, err := tok.GenerateSecp256k1("k")
	if err != nil {
		b.Fatal(err)
	}
	digest := benchDigest()
	b.Run("softhsm", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.SignDigest(digest); err != nil {
				b.Fatal(err)
			}
		}
		reportSigsPerSec(b)
	})
	b.Run("software", func(b *testing.B) {
		priv, _ := btcec.PrivKeyFromBytes(digestOf("software key"))
		for b.Loop() {
			_ = btcecdsa.Sign(priv, digest).Serialize()
		}
		reportSigsPerSec(b)
	})
	// airlock's software keystore as a station uses it: BIP-32 derivation
	// to the address key, then a low-S signature.
	b.Run("keystore", func(b *testing.B) {
		ks, err := keystore.Create(filepath.Join(b.TempDir(), "keystore.age"), []byte("bench"), keystore.Options{Network: &chaincfg.RegressionNetParams, WorkFactor: 10})
		if err != nil {
			b.Fatal(err)
		}
		path := append(ks.AccountPath(), 0, 7)
		for b.Loop() {
			if _, err := ks.SignECDSA(path, digest); err != nil {
				b.Fatal(err)
			}
		}
		reportSigsPerSec(b)
	})
}

func BenchmarkSignEd25519(b *testing.B) {
	tok := openToken(b, "bench-ed")
	k, err := tok.GenerateEd25519("k")
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte("airlock benchmark message, a few dozen bytes long")
	b.Run("softhsm", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.Sign(nil, msg, crypto.Hash(0)); err != nil {
				b.Fatal(err)
			}
		}
		reportSigsPerSec(b)
	})
	b.Run("software", func(b *testing.B) {
		priv := ed25519.NewKeyFromSeed(digestOf("software key"))
		for b.Loop() {
			_ = ed25519.Sign(priv, msg)
		}
		reportSigsPerSec(b)
	})
	b.Run("keystore", func(b *testing.B) {
		ks, err := keystore.Create(filepath.Join(b.TempDir(), "keystore.age"), []byte("bench"), keystore.Options{Network: &chaincfg.RegressionNetParams, WorkFactor: 10})
		if err != nil {
			b.Fatal(err)
		}
		id := ks.Identity()
		for b.Loop() {
			if _, err := id.Sign(nil, msg, crypto.Hash(0)); err != nil {
				b.Fatal(err)
			}
		}
		reportSigsPerSec(b)
	})
}

func BenchmarkSignRecoverable(b *testing.B) {
	tok := openToken(b, "bench-rec")
	k, err := tok.GenerateSecp256k1("k")
	if err != nil {
		b.Fatal(err)
	}
	digest := benchDigest()
	b.Run("softhsm", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.SignRecoverable(digest); err != nil {
				b.Fatal(err)
			}
		}
		reportSigsPerSec(b)
	})
}

// BenchmarkSignRecoverableShare splits SignRecoverable into the device's
// C_SignInit/C_Sign and this package's post-processing (low-S, verification
// against the public key, recovery id) and reports the latter's share of
// the total as share%.
func BenchmarkSignRecoverableShare(b *testing.B) {
	tok := openToken(b, "bench-share")
	k, err := tok.GenerateSecp256k1("k")
	if err != nil {
		b.Fatal(err)
	}
	digest := benchDigest()
	if _, err := k.SignRecoverable(digest); err != nil { // warm up curve tables
		b.Fatal(err)
	}
	var device, post time.Duration
	for b.Loop() {
		t0 := time.Now()
		raw, err := k.signRaw(digest)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := k.recoverable(digest, raw); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		device += t1.Sub(t0)
		post += t2.Sub(t1)
	}
	b.ReportMetric(100*float64(post)/float64(device+post), "share%")
	b.ReportMetric(float64(device.Microseconds())/float64(b.N), "device-µs/op")
	b.ReportMetric(float64(post.Microseconds())/float64(b.N), "post-µs/op")
}

func BenchmarkLowS(b *testing.B) {
	priv, _ := btcec.PrivKeyFromBytes(digestOf("software key"))
	sig := btcecdsa.Sign(priv, benchDigest())
	rr, ss := sig.R(), sig.S()
	r, s := rr.Bytes(), ss.Bytes()
	high := negate(s[:]) // the case that does work
	for b.Loop() {
		if _, _, err := LowS(r[:], high); err != nil {
			b.Fatal(err)
		}
	}
	reportSigsPerSec(b)
}

func BenchmarkRecoveryID(b *testing.B) {
	priv, pub := btcec.PrivKeyFromBytes(digestOf("software key"))
	digest := benchDigest()
	compact := btcecdsa.SignCompact(priv, digest, true)
	pk := pub.SerializeCompressed()
	if _, err := RecoveryID(pk, digest, compact[1:33], compact[33:]); err != nil { // warm up curve tables
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := RecoveryID(pk, digest, compact[1:33], compact[33:]); err != nil {
			b.Fatal(err)
		}
	}
	reportSigsPerSec(b)
}
