package workspace

import (
	"context"
	"fmt"
	"strings"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/store"
)

var bg = context.Background()

// AddPolicy stores a complete policy version after checking that it
// follows the stored chain, with its audit entry. Storing the same version
// again is a no-op.
func (w *Workspace) AddPolicy(e *envelope.Envelope, reg *chain.Registry, ev func(*policy.Policy) (kind string, detail map[string]string), extra ...func(store.Tx) error) (*policy.Policy, error) {
	p, err := policy.Open(e)
	if err != nil {
		return nil, err
	}
	raw, err := e.Encode()
	if err != nil {
		return nil, err
	}
	err = w.Update(bg, func(tx store.Tx) error {
		versions, err := policies(tx)
		if err != nil {
			return err
		}
		for _, v := range versions {
			if v.ID() == e.ID() {
				return errSame
			}
			if held, err := policy.Open(v); err == nil && held.Version == p.Version {
				return fmt.Errorf("%w: this workspace already holds %s version %d with id %s, this one is %s: two different versions with one number (a fork); refused", policy.ErrBrokenChain, p.Name, p.Version, v.IDHex()[:16], e.IDHex()[:16])
			}
		}
		if _, err := policy.Verify(append(versions, e), reg); err != nil {
			return err
		}
		kind, detail := ev(p)
		if _, err := tx.Log(w.Event(kind, e.IDHex(), detail)); err != nil {
			return err
		}
		if err := tx.PutPolicy(p.Version, e.ID(), raw); err != nil {
			return err
		}
		for _, f := range extra {
			if err := f(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == errSame {
		return p, nil
	}
	return p, err
}

var errSame = fmt.Errorf("workspace: same policy")

func policies(r store.Reader) ([]*envelope.Envelope, error) {
	raws, err := r.Policies()
	if err != nil {
		return nil, err
	}
	out := make([]*envelope.Envelope, len(raws))
	for i, b := range raws {
		if out[i], err = envelope.Decode(b); err != nil {
			return nil, fmt.Errorf("workspace: stored policy: %w", err)
		}
	}
	return out, nil
}

// Policies returns the stored policy versions, oldest first.
func (w *Workspace) Policies() ([]*envelope.Envelope, error) {
	var out []*envelope.Envelope
	err := w.View(bg, func(r store.Reader) (err error) {
		out, err = policies(r)
		return err
	})
	return out, err
}

// Policy verifies the stored chain and returns the version in effect now
// (the newest whose not-before time has come) and its id. A later
// version still waiting for its time is stored and verified but not in
// effect (see PolicyChain).
func (w *Workspace) Policy(reg *chain.Registry) (*policy.Policy, [32]byte, error) {
	c, err := w.PolicyChain(reg)
	if err != nil {
		return nil, [32]byte{}, err
	}
	return c.Current(), c.IDs[c.InEffect], nil
}

// FindProposal finds a stored proposal by id or unique hex prefix (at
// least 4 digits).
func FindProposal(r store.Reader, ref string) (*envelope.Envelope, error) {
	ref = strings.ToLower(ref)
	if len(ref) < 4 {
		return nil, fmt.Errorf("workspace: proposal reference %q is shorter than 4 hex digits", ref)
	}
	ps, err := r.FindProposals(ref)
	if err != nil {
		return nil, err
	}
	switch len(ps) {
	case 0:
		return nil, fmt.Errorf("%w: no proposal %s", ErrNotFound, ref)
	case 1:
		return envelope.Decode(ps[0].Envelope)
	}
	return nil, fmt.Errorf("workspace: %d proposals start with %s", len(ps), ref)
}

// Proposal finds a stored proposal by id or unique hex prefix.
func (w *Workspace) Proposal(ref string) (*envelope.Envelope, error) {
	var e *envelope.Envelope
	err := w.View(bg, func(r store.Reader) (err error) {
		e, err = FindProposal(r, ref)
		return err
	})
	return e, err
}

// Proposals lists stored proposals, in id order.
func (w *Workspace) Proposals() ([]*envelope.Envelope, error) {
	var out []*envelope.Envelope
	err := w.View(bg, func(r store.Reader) error {
		ps, err := r.Proposals()
		if err != nil {
			return err
		}
		for _, p := range ps {
			e, err := envelope.Decode(p.Envelope)
			if err != nil {
				return fmt.Errorf("workspace: stored proposal %x: %w", p.ID[:8], err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Decisions returns the decisions stored for a proposal, by participant.
func Decisions(r store.Reader, proposalID [32]byte) (map[string]*envelope.Envelope, error) {
	ds, err := r.Decisions(proposalID)
	if err != nil {
		return nil, err
	}
	out := map[string]*envelope.Envelope{}
	for who, d := range ds {
		if out[who], err = envelope.Decode(d.Envelope); err != nil {
			return nil, fmt.Errorf("workspace: stored decision by %q: %w", who, err)
		}
	}
	return out, nil
}

// Approvals returns the decisions collected for a proposal, by participant.
func (w *Workspace) Approvals(proposalID [32]byte) (map[string]*envelope.Envelope, error) {
	var out map[string]*envelope.Envelope
	err := w.View(bg, func(r store.Reader) (err error) {
		out, err = Decisions(r, proposalID)
		return err
	})
	return out, err
}

// Decision returns the station's own decision on a proposal, or
// ErrNotFound.
func (w *Workspace) Decision(proposalID [32]byte) (*envelope.Envelope, error) {
	ds, err := w.Approvals(proposalID)
	if err != nil {
		return nil, err
	}
	e, ok := ds[w.Config.Name]
	if !ok {
		return nil, ErrNotFound
	}
	return e, nil
}

// Final returns a proposal's threshold proof, or ErrNotFound.
func (w *Workspace) Final(proposalID [32]byte) (*envelope.Envelope, error) {
	var e *envelope.Envelope
	err := w.View(bg, func(r store.Reader) error {
		b, err := r.Final(proposalID)
		if err != nil {
			return err
		}
		e, err = envelope.Decode(b)
		return err
	})
	return e, err
}

// Health returns a device's latest health check, or ErrNotFound.
func (w *Workspace) Health(device string) ([]byte, error) {
	var b []byte
	err := w.View(bg, func(r store.Reader) (err error) {
		b, err = r.Health(device)
		return err
	})
	return b, err
}

// Witness returns the witness record under key, or nil.
func (w *Workspace) Witness(key string) []byte {
	var v []byte
	w.View(bg, func(r store.Reader) (err error) {
		v, err = r.Witness(key)
		return err
	})
	return v
}

// Witnesses returns every witness record whose key starts with prefix.
func (w *Workspace) Witnesses(prefix string) map[string][]byte {
	out := map[string][]byte{}
	w.View(bg, func(r store.Reader) (err error) {
		out, err = r.Witnesses(prefix)
		return err
	})
	return out
}

// LastReceived is the last sequence number received from peer (0: none).
func (w *Workspace) LastReceived(peer string) uint64 {
	var n uint64
	w.View(bg, func(r store.Reader) (err error) {
		n, err = r.Sequence("in:" + peer)
		return err
	})
	return n
}

// Conflict is a resource another proposal already spends.
type Conflict struct {
	Resource string
	Proposal [32]byte
}

// Conflicts lists the resources in spends that a different proposal the
// station approved already claims.
func Conflicts(r store.Reader, proposalID [32]byte, spends []string) ([]Conflict, error) {
	var out []Conflict
	for _, s := range spends {
		c, err := r.Claim(s)
		if err == nil && c.Proposal != proposalID {
			out = append(out, Conflict{Resource: s, Proposal: c.Proposal})
		} else if err != nil && !isNotFound(err) {
			return nil, err
		}
	}
	return out, nil
}

// Conflicts lists the resources in spends that a different proposal the
// station approved already claims.
func (w *Workspace) Conflicts(proposalID [32]byte, spends []string) ([]Conflict, error) {
	var out []Conflict
	err := w.View(bg, func(r store.Reader) (err error) {
		out, err = Conflicts(r, proposalID, spends)
		return err
	})
	return out, err
}

// ProposalsIn returns the stored proposals in one of states, with their
// states, read in one view without reading the others.
func (w *Workspace) ProposalsIn(states ...string) ([]*envelope.Envelope, []string, error) {
	var out []*envelope.Envelope
	var got []string
	err := w.View(bg, func(r store.Reader) error {
		ps, err := r.ProposalsIn(states...)
		if err != nil {
			return err
		}
		for _, p := range ps {
			e, err := envelope.Decode(p.Envelope)
			if err != nil {
				return fmt.Errorf("workspace: stored proposal %x: %w", p.ID[:8], err)
			}
			out = append(out, e)
			got = append(got, p.State)
		}
		return nil
	})
	return out, got, err
}
