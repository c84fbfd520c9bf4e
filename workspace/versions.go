package workspace

import (
	"bytes"
	"fmt"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/policy"
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
	versions, err := w.Policies()
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("%w: no policy in %s", ErrNotFound, w.Dir)
	}
	ps, err := policy.Verify(versions, reg)
	if err != nil {
		return nil, err
	}
	c := &PolicyChain{Versions: ps, Now: w.Now()}
	for i, e := range versions {
		c.IDs = append(c.IDs, e.ID())
		if i == 0 || ps[i].InEffect(c.Now) {
			c.InEffect = i
		}
	}
	return c, nil
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
