package envelope

import (
	"crypto/ed25519"
	"crypto/sha256"
	"sync"
)

// maxVerified bounds the process's cache of verified signatures.
const maxVerified = 1 << 15

// verified is the process's set of Ed25519 signatures that verified, each
// named by the SHA-256 of its public key, signature and the SHA-256 of
// the message signed. A coordinator checks an approval when it is handed
// in and again when it finalizes, a station reads the same policy chain
// for every proposal: each signature is verified once. Only signatures
// that verified are entered, under every byte they cover, so a changed
// message, key or signature never finds an entry. Bounded: a random entry
// is evicted when full, as in Bitcoin Core's and btcd's signature caches.
var verified struct {
	sync.Mutex
	m map[[32]byte]struct{}
}

// verify is ed25519.Verify through the cache.
func verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return false
	}
	m := sha256.Sum256(msg)
	h := sha256.New()
	h.Write(pub)
	h.Write(sig)
	h.Write(m[:])
	id := [32]byte(h.Sum(nil))
	verified.Lock()
	_, ok := verified.m[id]
	verified.Unlock()
	if ok {
		return true
	}
	if !ed25519.Verify(pub, msg, sig) {
		return false
	}
	verified.Lock()
	if verified.m == nil {
		verified.m = make(map[[32]byte]struct{})
	}
	if len(verified.m) >= maxVerified {
		for k := range verified.m {
			delete(verified.m, k)
			break
		}
	}
	verified.m[id] = struct{}{}
	verified.Unlock()
	return true
}

// PurgeVerified empties the process's cache of verified signatures, so a
// benchmark measures verification from cold.
func PurgeVerified() {
	verified.Lock()
	verified.m = nil
	verified.Unlock()
}
