package policy

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
)

// Errors callers branch on.
var (
	// ErrIncomplete: the version lacks signatures it needs to be valid.
	ErrIncomplete = errors.New("policy: not signed by enough participants")
	// ErrBrokenChain: a version does not follow the one before it.
	ErrBrokenChain = errors.New("policy: broken version chain")
)

// Seal wraps a policy in an unsigned envelope.
func Seal(p *Policy) (*envelope.Envelope, error) {
	b, err := envelope.Marshal(p)
	if err != nil {
		return nil, err
	}
	return envelope.New(envelope.TypePolicy, b)
}

// Open decodes the policy inside an envelope (without checking signatures).
func Open(e *envelope.Envelope) (*Policy, error) {
	if e.Type != envelope.TypePolicy {
		return nil, fmt.Errorf("policy: envelope holds %s, not a policy", e.Type)
	}
	var p Policy
	if err := envelope.Unmarshal(e.Payload, &p); err != nil {
		return nil, fmt.Errorf("policy: malformed payload: %v", err)
	}
	return &p, nil
}

// Status reports who has signed a policy version and what it still needs.
type Status struct {
	Policy   *Policy
	ID       string   // hex policy id
	Signed   []string // participant ids whose signatures verify, in policy order
	Missing  []string // participant ids still to sign (genesis: all; later: candidates)
	Needed   int      // signatures required
	Complete bool
}

// Check verifies every signature on a policy envelope against the keys of
// the version that must approve it (prev, or the policy itself for the
// genesis) and reports whether it is complete. A signature by anyone else,
// or one that fails, is an error.
func Check(e *envelope.Envelope, prev *Policy, reg *chain.Registry) (*Status, error) {
	p, err := Open(e)
	if err != nil {
		return nil, err
	}
	approvers, needed := p, len(p.Participants)
	if prev != nil {
		if p.Version != prev.Version+1 {
			return nil, fmt.Errorf("%w: version %d follows version %d", ErrBrokenChain, p.Version, prev.Version)
		}
		prevID, err := ID(prev)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(p.Previous, prevID[:]) {
			return nil, fmt.Errorf("%w: version %d names previous %x, not version %d's id %x", ErrBrokenChain, p.Version, p.Previous, prev.Version, prevID)
		}
		if p.Name != prev.Name || p.Network != prev.Network {
			return nil, fmt.Errorf("%w: version %d changes the policy name or network", ErrBrokenChain, p.Version)
		}
		approvers, needed = prev, prev.PolicyThreshold
	} else if p.Version != 1 || p.Previous != nil {
		return nil, fmt.Errorf("%w: version %d without its predecessor", ErrBrokenChain, p.Version)
	}
	// A later version is approved by the previous version's participants
	// who are not revoked: a revoked key signs nothing, policies included.
	known := map[string]ed25519.PublicKey{}
	for _, part := range approvers.Participants {
		if prev != nil && part.Revoked != nil {
			continue
		}
		known[envelope.KeyID(part.Identity)] = part.Identity
	}
	// Signatures first: nothing in an unauthenticated document is worth
	// validating.
	kids, err := e.Signers(known)
	if err != nil {
		return nil, fmt.Errorf("policy %s version %d: %w", p.Name, p.Version, err)
	}
	if err := p.Validate(reg); err != nil {
		return nil, err
	}
	if prev != nil {
		if err := CheckSuccessor(prev, p); err != nil {
			return nil, err
		}
	}
	signed := map[string]bool{}
	for _, k := range kids {
		signed[k] = true
	}
	id := e.ID()
	st := &Status{Policy: p, ID: hex.EncodeToString(id[:]), Needed: needed}
	for _, part := range approvers.Participants {
		if prev != nil && part.Revoked != nil {
			continue
		}
		if signed[envelope.KeyID(part.Identity)] {
			st.Signed = append(st.Signed, part.ID)
		} else {
			st.Missing = append(st.Missing, part.ID)
		}
	}
	st.Complete = len(st.Signed) >= needed
	return st, nil
}

// ID is a policy's id: the SHA-256 of its canonical payload.
func ID(p *Policy) ([32]byte, error) {
	e, err := Seal(p)
	if err != nil {
		return [32]byte{}, err
	}
	return e.ID(), nil
}

// Verify checks a whole version chain, oldest first, and returns the
// newest version. Every version must be complete.
func Verify(versions []*envelope.Envelope, reg *chain.Registry) ([]*Policy, error) {
	if len(versions) == 0 {
		return nil, errors.New("policy: no versions")
	}
	var chainOut []*Policy
	var prev *Policy
	for _, e := range versions {
		st, err := Check(e, prev, reg)
		if err != nil {
			return nil, err
		}
		if !st.Complete {
			return nil, fmt.Errorf("%w: %s version %d has %d of %d signatures (missing: %v)", ErrIncomplete, st.Policy.Name, st.Policy.Version, len(st.Signed), st.Needed, st.Missing)
		}
		chainOut = append(chainOut, st.Policy)
		prev = st.Policy
	}
	return chainOut, nil
}

// SortVersions orders policy envelopes by version.
func SortVersions(es []*envelope.Envelope) error {
	vs := make(map[*envelope.Envelope]uint64, len(es))
	for _, e := range es {
		p, err := Open(e)
		if err != nil {
			return err
		}
		vs[e] = p.Version
	}
	sort.SliceStable(es, func(i, j int) bool { return vs[es[i]] < vs[es[j]] })
	return nil
}
