package workspace

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/store"
)

// PolicyChain is the verified chain of policy versions a workspace holds,
// oldest first, and which of them is in effect at the workspace's clock.
type PolicyChain struct {
	Versions []*policy.Policy
	IDs      [][32]byte
	// InEffect indexes the version in effect: the newest whose
	// not-before time has come. Later versions are pending.
	InEffect int
	Now      time.Time
}

// PolicyChain verifies the stored policy chain and says which version is
// in effect now.
func (w *Workspace) PolicyChain(reg *chain.Registry) (*PolicyChain, error) {
	var raws [][]byte
	if err := w.View(bg, func(r store.Reader) (err error) {
		raws, err = r.Policies()
		return err
	}); err != nil {
		return nil, err
	}
	if len(raws) == 0 {
		return nil, fmt.Errorf("%w: no policy in %s", ErrNotFound, w.Dir)
	}
	v, err := w.verifiedChain(raws, reg)
	if err != nil {
		return nil, err
	}
	c := &PolicyChain{Versions: v.versions, IDs: v.ids, Now: w.Now()}
	for i, p := range v.versions {
		if i == 0 || p.InEffect(c.Now) {
			c.InEffect = i
		}
	}
	return c, nil
}

// verified is a stored policy chain policy.Verify accepted: the stored
// bytes of every version, signatures included, hashed, and the result.
type verified struct {
	key      [32]byte
	reg      *chain.Registry
	versions []*policy.Policy
	ids      [][32]byte
}

// verifiedChain verifies the stored chain raws, or gives back the last
// result when the stored bytes are exactly those verified then (a
// service verifies its policy chain on every request otherwise). Which
// version is in effect depends on the clock and is not kept.
func (w *Workspace) verifiedChain(raws [][]byte, reg *chain.Registry) (*verified, error) {
	h := sha256.New()
	for _, b := range raws {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	key := [32]byte(h.Sum(nil))
	if v := w.chainCache.Load(); v != nil && v.key == key && v.reg == reg {
		return v, nil
	}
	versions := make([]*envelope.Envelope, len(raws))
	for i, b := range raws {
		var err error
		if versions[i], err = envelope.Decode(b); err != nil {
			return nil, fmt.Errorf("workspace: stored policy: %w", err)
		}
	}
	ps, err := policy.Verify(versions, reg)
	if err != nil {
		return nil, err
	}
	v := &verified{key: key, reg: reg, versions: ps}
	for _, e := range versions {
		v.ids = append(v.ids, e.ID())
	}
	w.chainCache.Store(v)
	return v, nil
}

// Current is the version in effect, with the revocations of every later
// version held applied at once: a revocation only tightens and is never
// lifted, so an emergency revocation made after a pending version (which
// it must follow, and so cannot take effect before) still stops the
// revoked key now. The result is a copy; its id is still IDs[InEffect].
func (c *PolicyChain) Current() *policy.Policy {
	cur := c.Versions[c.InEffect]
	var later []*policy.Policy
	for _, p := range c.Versions[c.InEffect+1:] {
		later = append(later, p)
	}
	return policy.WithRevocations(cur, later...)
}

// Newest is the newest version held, in effect or pending.
func (c *PolicyChain) Newest() (*policy.Policy, [32]byte) {
	n := len(c.Versions) - 1
	return c.Versions[n], c.IDs[n]
}

// Pending lists the versions held that are not in effect yet.
func (c *PolicyChain) Pending() []*policy.Policy { return c.Versions[c.InEffect+1:] }

// ByID finds a held version by id.
func (c *PolicyChain) ByID(id []byte) (*policy.Policy, [32]byte, bool) {
	for i := range c.IDs {
		if bytes.Equal(c.IDs[i][:], id) {
			return c.Versions[i], c.IDs[i], true
		}
	}
	return nil, [32]byte{}, false
}
