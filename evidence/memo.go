package evidence

import (
	"crypto/sha256"
	"encoding/json"
	"sync"

	"github.com/airlock-vault/airlock/chain"
)

// The check verifies every approval twice: as a decision of the bundle,
// and again inside its proposal's threshold proof (proposal.VerifyProof
// stands alone, for `airlock verify`). The chain adapter's part of that
// (parsing the vault's descriptor, deriving each input's keys, verifying
// the signatures) is a pure function of its arguments, so the second one
// is answered from memory: same vault, payload, key and signatures, same
// answer. Only successes are kept; a failure is recomputed and reported
// where it happens.

// memoRegistry returns a registry over reg's adapters whose Verify
// remembers its successes for the life of one check.
func memoRegistry(reg *chain.Registry) *chain.Registry {
	var as []chain.Adapter
	for _, name := range reg.Names() {
		a, err := reg.Lookup(name)
		if err != nil {
			continue
		}
		m := &verifyMemo{Adapter: a, done: map[[32]byte][]chain.Verified{}}
		if kp, ok := a.(chain.KeyProver); ok {
			as = append(as, &verifyMemoProver{m, kp})
		} else {
			as = append(as, m)
		}
	}
	return chain.NewRegistry(as...)
}

type verifyMemo struct {
	chain.Adapter
	mu   sync.Mutex
	done map[[32]byte][]chain.Verified
}

// verifyMemoProver keeps the adapter's proofs of key possession (device
// health checks) visible through the registry.
type verifyMemoProver struct {
	*verifyMemo
	chain.KeyProver
}

func (m *verifyMemoProver) Chain() string { return m.verifyMemo.Chain() }

func (m *verifyMemo) Verify(v chain.Vault, payload []byte, key string, sigs []chain.Signature) ([]chain.Verified, error) {
	args, err := json.Marshal(struct {
		V chain.Vault
		P []byte
		K string
		S []chain.Signature
	}{v, payload, key, sigs})
	if err != nil {
		return m.Adapter.Verify(v, payload, key, sigs)
	}
	k := sha256.Sum256(args)
	m.mu.Lock()
	out, ok := m.done[k]
	m.mu.Unlock()
	if ok {
		return append([]chain.Verified(nil), out...), nil
	}
	out, err = m.Adapter.Verify(v, payload, key, sigs)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.done[k] = append([]chain.Verified(nil), out...)
	m.mu.Unlock()
	return out, nil
}
