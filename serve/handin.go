package serve

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
)

// handIn takes a decision: the bytes "airlock collect" takes (an
// approval or rejection envelope, or a PSBT signed by an external device).
// The same approval handed in again is answered as the first time,
// recording nothing.
//
// A station's envelope is taken in three steps (coordinator.Pending):
// its proposal and policy are read under the workspace's lock; its
// signatures, the identity signature and every chain signature, are
// verified outside it, beside other requests on every core; then it is
// checked again and recorded under the lock, in one commit with the
// hand-ins that were verified meanwhile (record).
func (s *Server) handIn(c *call) (*reply, error) {
	if len(c.body) == 0 {
		if err := s.enter(c); err != nil {
			return nil, err
		}
		_, err := s.lookup(c)
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return nil, problem("malformed", "the body is empty: want an approval envelope or a signed PSBT")
	}
	e, err := envelope.Decode(c.body)
	if err != nil {
		if err := s.enter(c); err != nil {
			return nil, err
		}
		defer s.mu.Unlock()
		return s.handInExternal(c)
	}
	pd, again, err := s.pend(c, e)
	if err != nil || again != nil {
		return again, err
	}
	if err := pd.Verify(); err != nil {
		return nil, err
	}
	ch := pd.Checked()
	out := HandIn{Proposal: hex.EncodeToString(ch.Approval.Proposal), Decisions: []Decision{{
		Participant: ch.Participant.ID, Decision: ch.Approval.Decision, Reason: ch.Approval.Reason, Approval: hex.EncodeToString(ch.ID[:]),
	}}}
	switch err := s.record(c, pd); {
	case errors.Is(err, coordinator.ErrAlreadyCollected):
		// The same approval, in flight twice at once: the other one
		// recorded it.
		return jsonReply(http.StatusOK, out), nil
	case err != nil:
		return nil, err
	}
	s.met.handedIn(pd.Proposal(), []string{ch.Approval.Decision}, pd.State, s.cfg.Now())
	s.cfg.Log.Info("decision handed in", "proposal", out.Proposal, "principal", c.who.ID, "decisions", len(out.Decisions))
	return jsonReply(http.StatusCreated, out), nil
}

// pend makes a hand-in ready to verify. A proposal met before (its id
// whole in the path) is taken from memory, without the workspace's lock:
// what may have changed since, the proposal finalized, the participant
// decided, the signer revoked, record checks under the lock. Otherwise
// the proposal is read under the lock (prepare).
func (s *Server) pend(c *call, e *envelope.Envelope) (*coordinator.Pending, *reply, error) {
	if id, err := hex.DecodeString(c.r.PathValue("id")); err == nil && len(id) == 32 {
		if o := s.opened.get([32]byte(id)); o != nil {
			ap, err := proposal.DecodeApproval(e)
			if err != nil {
				return nil, nil, err
			}
			if !bytes.Equal(ap.Proposal, id) {
				return nil, nil, problem("invalid", fmt.Sprintf("the approval is for proposal %x, not %x", ap.Proposal, id))
			}
			pd, err := s.coord().Pend(c.body, o)
			return pd, nil, err
		}
	}
	if err := s.enter(c); err != nil {
		return nil, nil, err
	}
	defer s.mu.Unlock()
	return s.prepare(c, e)
}

// prepare, under s.mu, finds the proposal of the path and checks the
// approval is for it; an approval stored already is answered as the
// first time (again).
func (s *Server) prepare(c *call, e *envelope.Envelope) (pd *coordinator.Pending, again *reply, err error) {
	pe, err := s.lookup(c)
	if err != nil {
		return nil, nil, err
	}
	ap, err := proposal.DecodeApproval(e)
	if err != nil {
		return nil, nil, err
	}
	if hex.EncodeToString(ap.Proposal) != pe.IDHex() {
		return nil, nil, problem("invalid", fmt.Sprintf("the approval is for proposal %x, not %s", ap.Proposal, pe.IDHex()))
	}
	if ds, err := s.coord().WS.Approvals(pe.ID()); err == nil {
		if prev, ok := ds[ap.Participant]; ok && prev.ID() == e.ID() {
			d, err := decision(prev)
			if err != nil {
				return nil, nil, err
			}
			return nil, jsonReply(http.StatusOK, HandIn{Proposal: pe.IDHex(), Decisions: []Decision{d}}), nil
		}
	}
	o, err := s.coord().Open(ap.Proposal)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.coord().WS.Final(o.ID()); err == nil {
		return nil, nil, fmt.Errorf("coordinator: proposal %s is already finalized", pe.IDHex()[:12])
	}
	s.opened.put(o)
	pd, err = s.coord().Pend(c.body, o)
	return pd, nil, err
}

// openedCache keeps the proposals hand-ins were verified against
// (coordinator.Opened: fixed by their ids), bounded.
type openedCache struct {
	mu sync.RWMutex
	m  map[[32]byte]*coordinator.Opened
}

// maxOpened bounds openedCache; past it, it starts again empty.
const maxOpened = 1 << 16

func (oc *openedCache) get(id [32]byte) *coordinator.Opened {
	oc.mu.RLock()
	defer oc.mu.RUnlock()
	return oc.m[id]
}

func (oc *openedCache) put(o *coordinator.Opened) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if oc.m == nil || len(oc.m) >= maxOpened {
		oc.m = map[[32]byte]*coordinator.Opened{}
	}
	oc.m[o.ID()] = o
}

// recording is a verified hand-in waiting for its commit.
type recording struct {
	pd   *coordinator.Pending
	who  *Principal
	done chan error
}

// record records a verified hand-in: queued, then recorded by the
// committer together with every hand-in queued by then, in one store
// transaction (a savepoint each, so each is kept or refused alone) and
// one commit. The first hand-in to find no committer at work becomes it
// and commits batch after batch, each gathered while the one before was
// committing, until the queue is empty; the others only wait for their
// answer. (Each taking s.mu in turn would commit one at a time: a
// convoy, one fsync per hand-in.) Each signer is looked up again in the
// policy in effect.
func (s *Server) record(c *call, pd *coordinator.Pending) error {
	r := &recording{pd: pd, who: c.who, done: make(chan error, 1)}
	s.qmu.Lock()
	s.queue = append(s.queue, r)
	lead := !s.committing
	s.committing = true
	s.qmu.Unlock()
	if lead {
		// Not one client's context: its cancel would undo the others'.
		s.commitQueued(context.WithoutCancel(c.ctx))
	}
	return <-r.done
}

// commitQueued commits the queued hand-ins, batch after batch, until
// none is left; then the next hand-in leads.
func (s *Server) commitQueued(ctx context.Context) {
	for {
		s.mu.Lock()
		s.qmu.Lock()
		batch := s.queue
		s.queue = nil
		if len(batch) == 0 {
			s.committing = false
			s.qmu.Unlock()
			s.mu.Unlock()
			return
		}
		s.qmu.Unlock()
		var pds []*coordinator.Pending
		var at []*recording
		sg, perr := s.current()
		for _, b := range batch {
			err := perr
			if err == nil {
				err = s.stillIn(sg, b.who, []string{RoleApprover})
			}
			if err != nil {
				b.done <- err
				continue
			}
			pds = append(pds, b.pd)
			at = append(at, b)
		}
		if len(pds) > 0 {
			for i, err := range s.coord().Record(ctx, pds) {
				at[i].done <- err
			}
		}
		s.mu.Unlock()
	}
}

// handInExternal takes, under s.mu, a PSBT an external device signed.
func (s *Server) handInExternal(c *call) (*reply, error) {
	pe, err := s.lookup(c)
	if err != nil {
		return nil, err
	}
	// For this proposal: a PSBT or a Service transaction must be its
	// transaction; a Safe owner's bare signature, confirmation or
	// ur:eth-signature is taken for it.
	got, err := s.coord().CollectAnyFor(c.ctx, pe.IDHex(), c.body, func() (keys.Identity, error) { return s.cfg.Identity, nil })
	if err != nil {
		return nil, err
	}
	out := HandIn{Proposal: pe.IDHex()}
	for _, g := range got {
		if hex.EncodeToString(g.Approval.Proposal) != pe.IDHex() {
			// CollectExternal matched another proposal; it is stored,
			// and the answer says so.
			out.Proposal = hex.EncodeToString(g.Approval.Proposal)
		}
		out.Decisions = append(out.Decisions, Decision{Participant: g.Participant.ID, Decision: g.Approval.Decision, Reason: g.Approval.Reason, Approval: hex.EncodeToString(g.ID[:])})
	}
	var ds []string
	for _, d := range out.Decisions {
		ds = append(ds, d.Decision)
	}
	var state string
	if err := s.coord().WS.View(c.ctx, func(r store.Reader) error {
		sp, err := r.Proposal(pe.ID())
		state = sp.State
		return err
	}); err != nil {
		state = ""
	}
	if p, err := proposal.Decode(pe); err == nil {
		s.met.handedIn(p, ds, proposal.State(state), s.cfg.Now())
	}
	s.cfg.Log.Info("decision handed in", "proposal", out.Proposal, "principal", c.who.ID, "decisions", len(out.Decisions))
	return jsonReply(http.StatusCreated, out), nil
}
