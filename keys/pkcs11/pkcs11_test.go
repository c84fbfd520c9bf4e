//go:build cgo

package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	btcecdsa "github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	dcrecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	p11 "github.com/miekg/pkcs11"

	"github.com/airlock-vault/airlock/keys/pkcs11/softhsmtest"
)

const testPIN = "0000-test-pin"

// openToken creates a fresh SoftHSM2 token labelled label and opens it; the
// Token is closed when the test ends.
func openToken(t testing.TB, label string) *Token {
	t.Helper()
	module := softhsmtest.New(t, label, testPIN)
	return openExisting(t, module, label)
}

func openExisting(t testing.TB, module, label string) *Token {
	t.Helper()
	tok, err := Open(module, label, []byte(testPIN))
	if err != nil {
		t.Fatalf("Open(%q): %v", label, err)
	}
	t.Cleanup(func() {
		if err := tok.Close(); err != nil {
			t.Errorf("Close(%q): %v", label, err)
		}
	})
	return tok
}

func digestOf(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// verifyECDSA checks sig (DER, low S) over digest with btcec, independently
// of the package's own verification.
func verifyECDSA(t testing.TB, pub, digest, der []byte) {
	t.Helper()
	if err := checkECDSA(pub, digest, der); err != nil {
		t.Fatal(err)
	}
}

// checkECDSA is verifyECDSA for goroutines other than the test's.
func checkECDSA(pub, digest, der []byte) error {
	pk, err := btcec.ParsePubKey(pub)
	if err != nil {
		return fmt.Errorf("btcec.ParsePubKey: %v", err)
	}
	sig, err := btcecdsa.ParseDERSignature(der)
	if err != nil {
		return fmt.Errorf("btcec ParseDERSignature(%x): %v", der, err)
	}
	if !sig.Verify(digest, pk) {
		return fmt.Errorf("btcec rejects signature %x", der)
	}
	if err := btcecdsa.VerifyLowS(der); err != nil {
		return fmt.Errorf("signature %x is not low-S strict DER: %v", der, err)
	}
	return nil
}

func TestSecp256k1GenerateSignVerify(t *testing.T) {
	tok := openToken(t, "secp")
	k, err := tok.GenerateSecp256k1("vault-key")
	if err != nil {
		t.Fatal(err)
	}
	if k.Label() != "vault-key" {
		t.Errorf("Label() = %q", k.Label())
	}
	pub := k.PublicKey()
	if len(pub) != 33 || (pub[0] != 2 && pub[0] != 3) {
		t.Fatalf("PublicKey() = %x, want 33-byte compressed", pub)
	}
	digest := digestOf("spend 1 BTC")
	sig, err := k.SignDigest(digest)
	if err != nil {
		t.Fatal(err)
	}
	verifyECDSA(t, pub, digest, sig)

	// Found again by label: same public key, signs for it.
	k2, err := tok.Secp256k1("vault-key")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k2.PublicKey(), pub) {
		t.Fatalf("lookup returned key %x, generated %x", k2.PublicKey(), pub)
	}
	sig2, err := k2.SignDigest(digest)
	if err != nil {
		t.Fatal(err)
	}
	verifyECDSA(t, pub, digest, sig2)

	// A signature by this key must not verify for another digest.
	pk, _ := btcec.ParsePubKey(pub)
	parsed, _ := btcecdsa.ParseDERSignature(sig)
	if parsed.Verify(digestOf("spend 2 BTC"), pk) {
		t.Fatal("signature verifies for a different digest")
	}

	for _, n := range []int{0, 20, 31, 33, 64} {
		if _, err := k.SignDigest(make([]byte, n)); err == nil || !strings.Contains(err.Error(), "32-byte digest") {
			t.Errorf("SignDigest(%d bytes) = %v, want a 32-byte digest error", n, err)
		}
	}
}

func TestEd25519GenerateSignVerify(t *testing.T) {
	tok := openToken(t, "ed")
	k, err := tok.GenerateEd25519("witness-key")
	if err != nil {
		t.Fatal(err)
	}
	var signer crypto.Signer = k
	pub, ok := signer.Public().(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		t.Fatalf("Public() = %T %x, want 32-byte ed25519.PublicKey", signer.Public(), pub)
	}
	for _, msg := range [][]byte{nil, []byte("checkpoint 42"), bytes.Repeat([]byte{0xa5}, 10000)} {
		sig, err := signer.Sign(nil, msg, crypto.Hash(0))
		if err != nil {
			t.Fatal(err)
		}
		if !ed25519.Verify(pub, msg, sig) {
			t.Fatalf("crypto/ed25519 rejects signature over %d bytes", len(msg))
		}
		if ed25519.Verify(pub, append(msg, 0), sig) {
			t.Fatal("signature verifies for a different message")
		}
	}
	if _, err := k.Sign(nil, []byte("x"), &ed25519.Options{}); err != nil {
		t.Errorf("Sign with empty *ed25519.Options: %v", err)
	}
	if _, err := k.Sign(nil, digestOf("x"), crypto.SHA256); err == nil {
		t.Error("Sign with crypto.SHA256 succeeded, want refusal (pure Ed25519 only)")
	}
	if _, err := k.Sign(nil, []byte("x"), &ed25519.Options{Context: "ctx"}); err == nil {
		t.Error("Sign with an Ed25519ctx context succeeded, want refusal")
	}

	k2, err := tok.Ed25519("witness-key")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k2.Public().(ed25519.PublicKey), pub) {
		t.Fatal("lookup returned a different public key")
	}
	sig, err := k2.Sign(nil, []byte("again"), crypto.Hash(0))
	if err != nil || !ed25519.Verify(pub, []byte("again"), sig) {
		t.Fatalf("signature by looked-up key: %v", err)
	}
}

// TestLowSAlways signs many digests: every returned signature is low-S, and
// the device's raw output is high-S about half the time, so normalisation is
// really exercised.
func TestLowSAlways(t *testing.T) {
	tok := openToken(t, "lows")
	k, err := tok.GenerateSecp256k1("k")
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	highRaw := 0
	for i := range n {
		digest := digestOf(fmt.Sprint("low-s ", i))
		sig, err := k.SignDigest(digest)
		if err != nil {
			t.Fatal(err)
		}
		verifyECDSA(t, k.PublicKey(), digest, sig) // includes VerifyLowS

		rec, err := k.SignRecoverable(digest)
		if err != nil {
			t.Fatal(err)
		}
		var s secp256k1.ModNScalar
		s.SetByteSlice(rec[32:64])
		if s.IsOverHalfOrder() {
			t.Fatalf("SignRecoverable returned high S: %x", rec)
		}

		raw, err := tok.sign("raw", p11.CKM_ECDSA, k.priv, digest)
		if err != nil {
			t.Fatal(err)
		}
		s.SetByteSlice(raw[32:])
		if s.IsOverHalfOrder() {
			highRaw++
		}
	}
	t.Logf("%d of %d raw SoftHSM signatures were high-S and needed normalising", highRaw, n)
	if highRaw == 0 {
		t.Fatal("no raw signature was high-S; the test does not exercise normalisation")
	}
}

// TestSignRecoverable checks the Ethereum r||s||v form by recovering the key
// the way go-ethereum's Ecrecover does: header 27+v, uncompressed key.
func TestSignRecoverable(t *testing.T) {
	tok := openToken(t, "recover")
	k, err := tok.GenerateSecp256k1("eth")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := secp256k1.ParsePubKey(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[byte]int{}
	for i := range 50 {
		digest := digestOf(fmt.Sprint("tx ", i))
		sig, err := k.SignRecoverable(digest)
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) != 65 || sig[64] > 1 {
			t.Fatalf("SignRecoverable = %x, want 65 bytes with v in {0,1}", sig)
		}
		seen[sig[64]]++
		compact := append([]byte{27 + sig[64]}, sig[:64]...)
		got, compressed, err := dcrecdsa.RecoverCompact(compact, digest)
		if err != nil {
			t.Fatal(err)
		}
		if compressed || !bytes.Equal(got.SerializeUncompressed(), pub.SerializeUncompressed()) {
			t.Fatalf("recovered %x, want %x", got.SerializeUncompressed(), pub.SerializeUncompressed())
		}
		// The other v must give a different key.
		compact[0] = 27 + (1 - sig[64])
		if other, _, err := dcrecdsa.RecoverCompact(compact, digest); err == nil && other.IsEqual(pub) {
			t.Fatal("both recovery ids recover the key")
		}
		// And r||s verifies as a plain ECDSA signature.
		var r, s secp256k1.ModNScalar
		r.SetByteSlice(sig[:32])
		s.SetByteSlice(sig[32:64])
		if !dcrecdsa.NewSignature(&r, &s).Verify(digest, pub) {
			t.Fatal("r||s does not verify")
		}
	}
	t.Logf("recovery ids seen: %v", seen)
}

// TestKeysNonExtractable reads the private keys' attributes back from the
// token and tries to read their secret value.
func TestKeysNonExtractable(t *testing.T) {
	tok := openToken(t, "attrs")
	ec, err := tok.GenerateSecp256k1("ec")
	if err != nil {
		t.Fatal(err)
	}
	ed, err := tok.GenerateEd25519("ed")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []struct {
		name string
		priv p11.ObjectHandle
	}{{"secp256k1", ec.priv}, {"ed25519", ed.priv}} {
		t.Run(key.name, func(t *testing.T) {
			ctx, sh := tok.ctx, tok.session
			a, err := attrs(ctx, sh, key.priv, p11.CKA_TOKEN, p11.CKA_PRIVATE, p11.CKA_SENSITIVE,
				p11.CKA_EXTRACTABLE, p11.CKA_ALWAYS_SENSITIVE, p11.CKA_NEVER_EXTRACTABLE, p11.CKA_SIGN, p11.CKA_ID)
			if err != nil {
				t.Fatal(err)
			}
			for typ, want := range map[uint]bool{
				p11.CKA_TOKEN: true, p11.CKA_PRIVATE: true, p11.CKA_SENSITIVE: true,
				p11.CKA_EXTRACTABLE: false, p11.CKA_ALWAYS_SENSITIVE: true,
				p11.CKA_NEVER_EXTRACTABLE: true, p11.CKA_SIGN: true,
			} {
				if got := boolAttr(a[typ]); got != want {
					t.Errorf("attribute 0x%x = %v, want %v", typ, got, want)
				}
			}
			if len(a[p11.CKA_ID]) != 16 {
				t.Errorf("CKA_ID is %d bytes, want 16", len(a[p11.CKA_ID]))
			}

			_, err = ctx.GetAttributeValue(sh, key.priv, []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE, nil)})
			if rv, ok := ckr(err); !ok || rv != p11.CKR_ATTRIBUTE_SENSITIVE {
				t.Fatalf("reading CKA_VALUE of the private key: %v, want CKR_ATTRIBUTE_SENSITIVE", err)
			}
			err = ctx.SetAttributeValue(sh, key.priv, []*p11.Attribute{p11.NewAttribute(p11.CKA_EXTRACTABLE, true)})
			if err == nil {
				t.Fatal("token let CKA_EXTRACTABLE be switched back on")
			}
			err = ctx.SetAttributeValue(sh, key.priv, []*p11.Attribute{p11.NewAttribute(p11.CKA_SENSITIVE, false)})
			if err == nil {
				t.Fatal("token let CKA_SENSITIVE be switched off")
			}
		})
	}
}

func TestWrongPIN(t *testing.T) {
	module := softhsmtest.New(t, "pin", testPIN)
	const wrong = "wrong-pin-999"
	tok, err := Open(module, "pin", []byte(wrong))
	if !errors.Is(err, ErrWrongPIN) {
		t.Fatalf("Open with wrong PIN: %v, want ErrWrongPIN", err)
	}
	if tok != nil {
		t.Fatal("Open returned a Token along with an error")
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), testPIN) {
		t.Fatalf("error leaks the PIN: %v", err)
	}
	var pe p11.Error
	if !errors.As(err, &pe) || pe != p11.CKR_PIN_INCORRECT {
		t.Errorf("error does not carry CKR_PIN_INCORRECT: %v", err)
	}
	// The failed attempt left nothing behind: the right PIN still works.
	openExisting(t, module, "pin")

	if _, err := Open(module, "pin", nil); err == nil {
		t.Error("Open with an empty PIN succeeded")
	}
}

func TestTokenNotFound(t *testing.T) {
	module := softhsmtest.New(t, "present", testPIN)
	_, err := Open(module, "absent", []byte(testPIN))
	if !errors.Is(err, ErrTokenNotFound) {
		t.Fatalf("Open(absent): %v, want ErrTokenNotFound", err)
	}
	if !strings.Contains(err.Error(), `"absent"`) || !strings.Contains(err.Error(), `"present"`) {
		t.Errorf("error should name the wanted and the present tokens: %v", err)
	}
	if _, err := Open("/nonexistent/libnothing.so", "x", []byte(testPIN)); err == nil || !strings.Contains(err.Error(), "cannot load module") {
		t.Errorf("Open with a missing module: %v", err)
	}
	if _, err := Open("", "x", []byte(testPIN)); err == nil {
		t.Error("Open with no module succeeded")
	}
}

func TestKeyNotFound(t *testing.T) {
	tok := openToken(t, "lookup")
	if _, err := tok.GenerateSecp256k1("ec"); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.GenerateEd25519("ed"); err != nil {
		t.Fatal(err)
	}
	for name, lookup := range map[string]func() error{
		"secp256k1 missing":    func() error { _, err := tok.Secp256k1("nope"); return err },
		"ed25519 missing":      func() error { _, err := tok.Ed25519("nope"); return err },
		"secp256k1 is ed25519": func() error { _, err := tok.Secp256k1("ed"); return err },
		"ed25519 is secp256k1": func() error { _, err := tok.Ed25519("ec"); return err },
	} {
		err := lookup()
		if !errors.Is(err, ErrKeyNotFound) {
			t.Errorf("%s: %v, want ErrKeyNotFound", name, err)
			continue
		}
		if !strings.Contains(err.Error(), `"lookup"`) {
			t.Errorf("%s: error does not name the token: %v", name, err)
		}
	}
}

func TestKeyExists(t *testing.T) {
	tok := openToken(t, "dups")
	ec, err := tok.GenerateSecp256k1("taken")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.GenerateEd25519("taken-ed"); err != nil {
		t.Fatal(err)
	}
	for name, gen := range map[string]func() error{
		"secp256k1 twice":      func() error { _, err := tok.GenerateSecp256k1("taken"); return err },
		"ed25519 twice":        func() error { _, err := tok.GenerateEd25519("taken-ed"); return err },
		"ed25519 on secp":      func() error { _, err := tok.GenerateEd25519("taken"); return err },
		"secp256k1 on ed25519": func() error { _, err := tok.GenerateSecp256k1("taken-ed"); return err },
	} {
		if err := gen(); !errors.Is(err, ErrKeyExists) {
			t.Errorf("%s: %v, want ErrKeyExists", name, err)
		}
	}
	// The original key is untouched and still the only one.
	again, err := tok.Secp256k1("taken")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.PublicKey(), ec.PublicKey()) {
		t.Fatal("existing key changed")
	}
	if _, err := tok.GenerateSecp256k1(""); err == nil {
		t.Error("empty label accepted")
	}
}

// TestTokenRemoved simulates losing the token under an open Token in the two
// ways SoftHSM2 can really show it:
//
//   - deleted: another process runs softhsm2-util --delete-token. SoftHSM
//     keeps the slot and our session, but the key handles die
//     (CKR_OBJECT_HANDLE_INVALID) and the slot's token can no longer be
//     read (CKR_GENERAL_ERROR); the package probes the slot and reports
//     ErrTokenRemoved.
//   - sessions closed: C_CloseAllSessions on the slot (what a token reset or
//     another component of the process does) invalidates our session
//     handle (CKR_SESSION_HANDLE_INVALID).
func TestTokenRemoved(t *testing.T) {
	t.Run("deleted", func(t *testing.T) {
		module := softhsmtest.New(t, "pulled", testPIN)
		tok, err := Open(module, "pulled", []byte(testPIN))
		if err != nil {
			t.Fatal(err)
		}
		ec, err := tok.GenerateSecp256k1("ec")
		if err != nil {
			t.Fatal(err)
		}
		ed, err := tok.GenerateEd25519("ed")
		if err != nil {
			t.Fatal(err)
		}
		softhsmtest.DeleteToken(t, "pulled")

		_, err = ec.SignDigest(digestOf("after removal"))
		checkRemoved(t, err, "pulled")
		_, err = ed.Sign(nil, []byte("after removal"), crypto.Hash(0))
		checkRemoved(t, err, "pulled")
		_, err = tok.Info()
		checkRemoved(t, err, "pulled")
		if err := tok.Close(); err != nil {
			t.Fatalf("Close after removal: %v", err)
		}
		// Opening again finds nothing.
		if _, err := Open(module, "pulled", []byte(testPIN)); !errors.Is(err, ErrTokenNotFound) {
			t.Fatalf("Open after removal: %v, want ErrTokenNotFound", err)
		}
	})
	t.Run("sessions closed", func(t *testing.T) {
		module := softhsmtest.New(t, "reset", testPIN)
		tok, err := Open(module, "reset", []byte(testPIN))
		if err != nil {
			t.Fatal(err)
		}
		ec, err := tok.GenerateSecp256k1("ec")
		if err != nil {
			t.Fatal(err)
		}
		if err := tok.ctx.CloseAllSessions(tok.slot); err != nil {
			t.Fatal(err)
		}
		_, err = ec.SignRecoverable(digestOf("after reset"))
		checkRemoved(t, err, "reset")
		var pe p11.Error
		if !errors.As(err, &pe) || pe != p11.CKR_SESSION_HANDLE_INVALID {
			t.Errorf("want CKR_SESSION_HANDLE_INVALID underneath, got %v", err)
		}
		_, err = tok.Secp256k1("ec")
		checkRemoved(t, err, "reset")
		if err := tok.Close(); err != nil {
			t.Fatalf("Close after reset: %v", err)
		}
		// The token itself is fine: open it again and sign.
		tok2 := openExisting(t, module, "reset")
		k, err := tok2.Secp256k1("ec")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.SignDigest(digestOf("back")); err != nil {
			t.Fatal(err)
		}
	})
}

func checkRemoved(t *testing.T, err error, label string) {
	t.Helper()
	if !errors.Is(err, ErrTokenRemoved) {
		t.Fatalf("got %v, want ErrTokenRemoved", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("token %q is no longer present", label)) {
		t.Errorf("message %q does not say the token is gone", err)
	}
}

// TestTwoTokensSameModule opens two tokens of one SoftHSM module at once and
// signs on both concurrently; closing one must not finalise the module
// under the other.
func TestTwoTokensSameModule(t *testing.T) {
	module := softhsmtest.New(t, "alpha", testPIN)
	softhsmtest.AddToken(t, "beta", testPIN)
	a := openExisting(t, module, "alpha")
	b := openExisting(t, module, "beta")

	ka, err := a.GenerateSecp256k1("k")
	if err != nil {
		t.Fatal(err)
	}
	kb, err := b.GenerateSecp256k1("k") // same key label, other token
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(ka.PublicKey(), kb.PublicKey()) {
		t.Fatal("two tokens produced the same key")
	}
	eb, err := b.GenerateEd25519("e")
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 8 {
		for _, k := range []*ECKey{ka, kb} {
			wg.Go(func() {
				for j := range 5 {
					d := digestOf(fmt.Sprint(i, j))
					sig, err := k.SignDigest(d)
					if err == nil {
						err = checkECDSA(k.PublicKey(), d, sig)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Go(func() {
			if _, err := eb.Sign(nil, []byte{byte(i)}, crypto.Hash(0)); err != nil {
				errs <- err
			}
			if _, err := a.Info(); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// The same token twice is refused: login state is shared per token, so
	// the second PIN could not be checked.
	if _, err := Open(module, "alpha", []byte("whatever")); err == nil || !strings.Contains(err.Error(), "already open") {
		t.Fatalf("second Open of the same token: %v, want refusal", err)
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ka.SignDigest(digestOf("closed")); err == nil {
		t.Fatal("key of a closed Token still signs")
	}
	if _, err := kb.SignDigest(digestOf("still open")); err != nil {
		t.Fatalf("closing one token broke the other: %v", err)
	}
	// alpha can be opened again now.
	a2 := openExisting(t, module, "alpha")
	if _, err := a2.Secp256k1("k"); err != nil {
		t.Fatal(err)
	}
}

func TestInfo(t *testing.T) {
	tok := openToken(t, "info")
	info, err := tok.Info()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", info)
	if info.Label != "info" {
		t.Errorf("Label = %q", info.Label)
	}
	if info.Manufacturer != "SoftHSM project" {
		t.Errorf("Manufacturer = %q, want SoftHSM project", info.Manufacturer)
	}
	version := regexp.MustCompile(`^\d+\.\d+$`)
	for name, v := range map[string]string{"firmware": info.FirmwareVersion, "hardware": info.HardwareVersion, "library": info.LibraryVersion} {
		if !version.MatchString(v) || v == "0.0" {
			t.Errorf("%s version = %q, want major.minor", name, v)
		}
	}
	if info.Serial == "" || info.Model == "" || info.SlotDescription == "" || info.LibraryManufacturer == "" || info.LibraryDescription == "" {
		t.Errorf("missing fields: %+v", info)
	}
}

func TestClose(t *testing.T) {
	module := softhsmtest.New(t, "close", testPIN)
	tok, err := Open(module, "close", []byte(testPIN))
	if err != nil {
		t.Fatal(err)
	}
	k, err := tok.GenerateEd25519("e")
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tok.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := k.Sign(nil, []byte("x"), crypto.Hash(0)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Sign after Close: %v", err)
	}
	if _, err := tok.Info(); err == nil {
		t.Fatal("Info after Close succeeded")
	}
	modulesMu.Lock()
	n := len(modules)
	modulesMu.Unlock()
	if n != 0 {
		t.Fatalf("%d modules still loaded after the last Token closed", n)
	}
}

// TestConcurrentSigning hammers one key from many goroutines; run with
// -race.
func TestConcurrentSigning(t *testing.T) {
	tok := openToken(t, "busy")
	k, err := tok.GenerateSecp256k1("k")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 4 {
				d := digestOf(fmt.Sprint("c", i, j))
				sig, err := k.SignRecoverable(d)
				if err != nil {
					t.Error(err)
					return
				}
				if v, err := RecoveryID(k.PublicKey(), d, sig[:32], sig[32:64]); err != nil || v != sig[64] {
					t.Errorf("RecoveryID = %d, %v; signature says %d", v, err, sig[64])
				}
			}
		})
	}
	wg.Wait()
}

func TestMapErr(t *testing.T) {
	for _, tc := range []struct {
		rv   uint
		want error
	}{
		{p11.CKR_PIN_INCORRECT, ErrWrongPIN},
		{p11.CKR_PIN_LOCKED, ErrPINLocked},
		{p11.CKR_DEVICE_REMOVED, ErrTokenRemoved},
		{p11.CKR_TOKEN_NOT_PRESENT, ErrTokenRemoved},
		{p11.CKR_SESSION_HANDLE_INVALID, ErrTokenRemoved},
		{p11.CKR_SESSION_CLOSED, ErrTokenRemoved},
		{p11.CKR_DEVICE_ERROR, ErrTokenRemoved},
		{p11.CKR_TOKEN_NOT_RECOGNIZED, ErrTokenRemoved},
		{p11.CKR_MECHANISM_INVALID, nil},
	} {
		err := mapErr("tok", "signing", p11.Error(tc.rv))
		for _, s := range []error{ErrWrongPIN, ErrPINLocked, ErrTokenRemoved} {
			if errors.Is(err, s) != (s == tc.want) {
				t.Errorf("0x%x: errors.Is(%v, %v) = %v", tc.rv, err, s, !(s == tc.want))
			}
		}
		var pe p11.Error
		if !errors.As(err, &pe) || uint(pe) != tc.rv {
			t.Errorf("0x%x: underlying error lost: %v", tc.rv, err)
		}
		if !strings.HasPrefix(err.Error(), "pkcs11: ") {
			t.Errorf("0x%x: message %q lacks the pkcs11: prefix", tc.rv, err)
		}
	}
	err := mapErr("hsm1", "signing", p11.Error(p11.CKR_DEVICE_REMOVED))
	if want := `pkcs11: token "hsm1" is no longer present (removed or reset) while signing; reinsert it`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want prefix %q", err, want)
	}
}

// TestKeyDeletedUnderUs destroys the key object behind a live ECKey: the
// token is still there, so the error is ErrKeyNotFound, not removal, and
// the Token keeps working.
func TestKeyDeletedUnderUs(t *testing.T) {
	tok := openToken(t, "vanish")
	k, err := tok.GenerateSecp256k1("k")
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.ctx.DestroyObject(tok.session, k.priv); err != nil {
		t.Fatal(err)
	}
	_, err = k.SignDigest(digestOf("gone"))
	if !errors.Is(err, ErrKeyNotFound) || errors.Is(err, ErrTokenRemoved) {
		t.Fatalf("signing with a deleted key: %v, want ErrKeyNotFound", err)
	}
	if _, err := tok.Secp256k1("k"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("lookup of a deleted key: %v, want ErrKeyNotFound", err)
	}
	if _, err := tok.GenerateEd25519("other"); err != nil {
		t.Fatalf("token unusable after a key vanished: %v", err)
	}
}
