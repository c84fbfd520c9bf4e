package coordinator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

// ErrDenied is returned when the policy's transaction rules deny a
// proposal, or an assembly lacks the approvals they require.
var ErrDenied = fmt.Errorf("coordinator: the policy's rules do not allow it")

// history is what the coordinator's proposals spend, per vault and asset,
// from the "spent" of their proposal.created entries: every proposal that
// has not ended without effect (rejected, withdrawn, expired proposals do
// not count; open, approved, finalized and broadcast ones do). skip, when
// set, leaves one proposal out (the one being decided).
func (c *Coordinator) history(ctx context.Context, skip *[32]byte) (*policy.Ledger, error) {
	var l *policy.Ledger
	err := c.WS.View(ctx, func(r store.Reader) (err error) {
		l, err = historyIn(c.WS, r, skip)
		return err
	})
	return l, err
}

// historyIn is history read inside a transaction.
func historyIn(w *workspace.Workspace, r store.Reader, skip *[32]byte) (*policy.Ledger, error) {
	// Every proposal's state in one query, not one per entry.
	states, err := r.ProposalStates()
	if err != nil {
		return nil, err
	}
	keep := func(i int64, ev audit.Event) (bool, error) {
		id, err := hex.DecodeString(ev.Subject)
		if err != nil || len(id) != 32 {
			return false, fmt.Errorf("%w: entry %d: malformed proposal id", audit.ErrTampered, i)
		}
		if skip != nil && [32]byte(id) == *skip {
			return false, nil
		}
		st, ok := states[[32]byte(id)]
		if !ok {
			return false, fmt.Errorf("%w: no proposal %x", store.ErrNotFound, id[:8])
		}
		s := proposal.State(st)
		return s != proposal.StateRejected && s != proposal.StateWithdrawn && s != proposal.StateExpired, nil
	}
	entries, err := w.SpendingOf(r, "proposal.created", keep)
	if err != nil {
		return nil, err
	}
	// A proposal re-adopted after a restore (Readopt) spends as one made.
	readopted, err := w.SpendingOf(r, "proposal.readopted", keep)
	if err != nil {
		return nil, err
	}
	return policy.NewLedger(append(entries, readopted...))
}

// rulesMet says, inside a transaction, whether the approvals gathered on a
// proposal meet what the policy's rules require (an amount tier may ask
// more than the vault's threshold); when not, it says what is missing. The
// recovery path is not theirs to decide (the chain's time lock is).
func (c *Coordinator) rulesMet(tx store.Reader, pe *envelope.Envelope, pol *policy.Policy, v *policy.Vault, approvers []string) (bool, string, error) {
	p, err := proposal.Decode(pe)
	if err != nil {
		return false, "", err
	}
	cv, err := pol.ChainVault(v)
	if err != nil {
		return false, "", err
	}
	a, err := c.Reg.Lookup(p.Chain)
	if err != nil {
		return false, "", err
	}
	rv, err := reviewFor(context.Background(), a, pe.ID(), cv, p.Payload)
	if err != nil {
		return false, "", err
	}
	in := policy.Input{Vault: v.Name, Effects: rv.Effects, Template: p.Template}
	for _, who := range approvers {
		if s, ok := pol.SignerFor(v, who); ok && !s.Recovery {
			in.Approvals = append(in.Approvals, policy.Approval{Participant: who, Device: s.Device.ID})
		} else if _, ok := pol.Endorser(v, who); ok {
			in.Approvals = append(in.Approvals, policy.Approval{Participant: who})
		}
	}
	id := pe.ID()
	// The spend history is read (every proposal.created entry of the
	// log) only when a rule asks for it: a velocity rule or a template's
	// rate. A history that cannot be read is an error, as it was.
	hist := &lazyHistory{load: func() (*policy.Ledger, error) { return historyIn(c.WS, tx, &id) }}
	verdict, err := policy.Evaluate(pol, in, hist, c.Now())
	if hist.err != nil {
		return false, "", hist.err
	}
	switch {
	case err != nil:
		return false, fmt.Sprintf("the policy's rules cannot decide: %v", err), nil
	case !verdict.Allowed:
		return false, fmt.Sprintf("the policy's rules deny it: %s", verdict.Reason), nil
	case !verdict.Met:
		return false, fmt.Sprintf("%s requires %s; missing %s", verdict.Rule, verdict.Required, verdict.Missing), nil
	}
	return true, "", nil
}

// decide runs the policy's transaction rules (policy.Evaluate) on a
// proposal with the coordinator's history and the approvals gathered.
func (c *Coordinator) decide(ctx context.Context, pol *policy.Policy, in policy.Input, skip *[32]byte) (*policy.Verdict, error) {
	hist, err := c.history(ctx, skip)
	if err != nil {
		return nil, err
	}
	v, err := policy.Evaluate(pol, in, hist, c.Now())
	if err != nil {
		return nil, fmt.Errorf("%w: the rules cannot decide: %v", ErrDenied, err)
	}
	return v, nil
}

// Verdict decides the policy's rules on a proposal as they stand now, on
// the coordinator's own decoding of its payload and its history without
// the proposal itself, before any approval: what every station decides
// offline on the same inputs.
func (c *Coordinator) Verdict(ctx context.Context, pe *envelope.Envelope) (*policy.Verdict, error) {
	pol, _, err := c.WS.Policy(c.Reg)
	if err != nil {
		return nil, err
	}
	p, err := proposal.Decode(pe)
	if err != nil {
		return nil, err
	}
	v, ok := pol.Vault(p.Vault)
	if !ok {
		return nil, fmt.Errorf("coordinator: policy %s has no vault %q", pol.Name, p.Vault)
	}
	cv, err := pol.ChainVault(v)
	if err != nil {
		return nil, err
	}
	a, err := c.Reg.Lookup(p.Chain)
	if err != nil {
		return nil, err
	}
	rv, err := a.Review(ctx, cv, p.Payload)
	if err != nil {
		return nil, err
	}
	id := pe.ID()
	return c.decide(ctx, pol, policy.Input{Vault: p.Vault, Effects: rv.Effects}, &id)
}

// lazyHistory is a history read on its first use.
type lazyHistory struct {
	load   func() (*policy.Ledger, error)
	ledger *policy.Ledger
	err    error
	done   bool
}

var _ policy.TemplateHistory = (*lazyHistory)(nil)

func (h *lazyHistory) get() (*policy.Ledger, error) {
	if !h.done {
		h.ledger, h.err = h.load()
		h.done = true
	}
	return h.ledger, h.err
}

func (h *lazyHistory) Spent(vault, asset string, since, until time.Time) (*big.Int, error) {
	l, err := h.get()
	if err != nil {
		return nil, err
	}
	return l.Spent(vault, asset, since, until)
}

func (h *lazyHistory) TemplateSpent(vault, template, asset string, since, until time.Time) (int, *big.Int, error) {
	l, err := h.get()
	if err != nil {
		return 0, nil, err
	}
	return l.TemplateSpent(vault, template, asset, since, until)
}

// reviews keeps the reviews rulesMet made last, by proposal and vault
// definition: every approval recorded past a threshold re-evaluates the
// rules, and decoding the same payload again each time is waste. A
// review depends on nothing else (chain.Adapter.Review is a function of
// the vault and the payload).
var reviews = struct {
	sync.Mutex
	m map[[32]byte]*chain.Review
}{}

// maxReviews bounds reviews; past it, it starts again empty.
const maxReviews = 1024

// reviewFor is a.Review(cv, payload), remembered for proposal id.
func reviewFor(ctx context.Context, a chain.Adapter, id [32]byte, cv chain.Vault, payload []byte) (*chain.Review, error) {
	b, err := json.Marshal(cv)
	if err != nil {
		return a.Review(ctx, cv, payload)
	}
	h := sha256.New()
	h.Write(id[:])
	h.Write(b)
	key := [32]byte(h.Sum(nil))
	reviews.Lock()
	rv, ok := reviews.m[key]
	reviews.Unlock()
	if ok {
		return rv, nil
	}
	if rv, err = a.Review(ctx, cv, payload); err != nil {
		return nil, err
	}
	reviews.Lock()
	if reviews.m == nil || len(reviews.m) >= maxReviews {
		reviews.m = map[[32]byte]*chain.Review{}
	}
	reviews.m[key] = rv
	reviews.Unlock()
	return rv, nil
}
