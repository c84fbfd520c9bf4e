package envelope

import (
	"crypto/ed25519"
	"errors"
	"testing"
)

// A signature verified once is remembered; the cache must never make a
// tampered envelope, a swapped signature or another key pass.
func TestCachedSignatureDoesNotCoverATamperedEnvelope(t *testing.T) {
	PurgeVerified()
	e, _ := signed(t)
	k1 := testKey(1).Public().(ed25519.PublicKey)
	if err := e.Verify(k1); err != nil {
		t.Fatal(err)
	}
	verified.Lock()
	n := len(verified.m)
	verified.Unlock()
	if n == 0 {
		t.Fatal("a verified signature was not remembered")
	}
	// Again, now from the cache.
	if err := e.Verify(k1); err != nil {
		t.Fatal(err)
	}
	tampered := *e
	tampered.Payload = append([]byte{}, e.Payload...)
	tampered.Payload[0] ^= 1
	if err := tampered.Verify(k1); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a tampered payload after its signature was cached: %v", err)
	}
	retyped := *e
	retyped.Type = TypeApproval
	if err := retyped.Verify(k1); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("another type after the signature was cached: %v", err)
	}
	swapped := *e
	swapped.Signatures = append([]Signature{}, e.Signatures...)
	swapped.Signatures[0].Sig, swapped.Signatures[1].Sig = e.Signatures[1].Sig, e.Signatures[0].Sig
	if err := swapped.Verify(k1); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("another key's signature under key 1 after both were cached: %v", err)
	}
}

func TestVerifiedCacheIsBounded(t *testing.T) {
	PurgeVerified()
	k := testKey(3)
	for i := range maxVerified + 10 {
		msg := []byte{byte(i), byte(i >> 8), byte(i >> 16)}
		if !verify(k.Public().(ed25519.PublicKey), msg, ed25519.Sign(k, msg)) {
			t.Fatal("a valid signature refused")
		}
		if i > 200 {
			break // signing 32k messages is slow; fill the rest directly
		}
	}
	verified.Lock()
	for i := 0; len(verified.m) < maxVerified; i++ {
		verified.m[[32]byte{byte(i), byte(i >> 8), byte(i >> 16), 0xff}] = struct{}{}
	}
	verified.Unlock()
	msg := []byte("one more")
	if !verify(k.Public().(ed25519.PublicKey), msg, ed25519.Sign(k, msg)) {
		t.Fatal("a valid signature refused")
	}
	verified.Lock()
	n := len(verified.m)
	verified.Unlock()
	if n > maxVerified {
		t.Fatalf("%d entries, bound %d", n, maxVerified)
	}
}
