package coordinator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/transport/qr/ur"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
)

// Collected is one decision a collect took in.
type Collected struct {
	*proposal.Checked
	// External: a PSBT an external device signed, recorded under the
	// coordinator's own identity.
	External bool
}

// CollectAny takes in one thing carried back across the gap: a station's
// decision (an airlock envelope), or what an external signing device
// returned: a PSBT (Coldcard, Sparrow, Keystone) in binary or base64, or,
// for a Safe, a Transaction Service transaction JSON with confirmations.
// Only for the latter is identity called: the coordinator records the
// device's signatures as an approval under its own key. Each call is its
// own transaction; a refusal leaves nothing.
func (c *Coordinator) CollectAny(ctx context.Context, raw []byte, identity func() (keys.Identity, error)) ([]Collected, error) {
	return c.CollectAnyFor(ctx, "", raw, identity)
}

// CollectAnyFor is CollectAny for proposal ref (empty: found from what
// raw holds). With a proposal named, a Safe owner's external signature
// is taken in the forms that name no transaction: 65 bytes in hex, a
// Transaction Service confirmation JSON, an ur:eth-signature (EIP-4527,
// Keystone-style devices).
func (c *Coordinator) CollectAnyFor(ctx context.Context, ref string, raw []byte, identity func() (keys.Identity, error)) ([]Collected, error) {
	if _, envErr := envelope.Decode(raw); envErr != nil {
		signed, byRef, err := external(raw)
		if err != nil {
			return nil, fmt.Errorf("neither an airlock approval (%v) nor %v", envErr, err)
		}
		if byRef && ref == "" {
			return nil, errors.New("coordinator: an external signature names no transaction: collect it for its proposal (collect --proposal ID)")
		}
		id, err := identity()
		if err != nil {
			return nil, err
		}
		var checked []*proposal.Checked
		if ref != "" && !byRef {
			// What names its own transaction must name this one's.
			if err := c.sameTransaction(ref, signed); err != nil {
				return nil, err
			}
		}
		if ref != "" {
			checked, err = c.CollectExternalFor(ctx, ref, signed, id)
		} else {
			checked, err = c.CollectExternal(ctx, signed, id)
		}
		if err != nil {
			return nil, err
		}
		out := make([]Collected, len(checked))
		for i, ch := range checked {
			out[i] = Collected{Checked: ch, External: true}
		}
		return out, nil
	}
	ch, err := c.Collect(ctx, raw, nil)
	if err != nil {
		return nil, err
	}
	return []Collected{{Checked: ch}}, nil
}

// external reads what an external device returned: a PSBT (binary or
// base64); a Transaction Service transaction JSON; or, naming no
// transaction (byRef), a Service confirmation JSON, a 65-byte signature
// in hex, an ur:eth-signature.
func external(raw []byte) (signed []byte, byRef bool, err error) {
	if bytes.HasPrefix(raw, []byte("psbt\xff")) {
		return raw, false, nil
	}
	text := strings.TrimSpace(string(raw))
	if b, err := base64.StdEncoding.DecodeString(text); err == nil && bytes.HasPrefix(b, []byte("psbt\xff")) {
		return b, false, nil
	}
	switch {
	case strings.HasPrefix(text, "{"):
		return raw, !safe.IsServiceJSON(raw), nil
	case strings.HasPrefix(strings.ToLower(text), "ur:eth-signature/"):
		var d ur.URDecoder
		if err := d.Receive(text); err != nil || !d.Complete() {
			return nil, false, fmt.Errorf("an ur:eth-signature that does not decode (%v)", err)
		}
		s, err := ur.ParseEthSignature(d.Result())
		if err != nil {
			return nil, false, err
		}
		if len(s.Signature) != 65 {
			return nil, false, fmt.Errorf("an ur:eth-signature of %d bytes, want 65", len(s.Signature))
		}
		return []byte(hex.EncodeToString(s.Signature)), true, nil
	case len(strings.TrimPrefix(text, "0x")) == 130:
		return []byte(text), true, nil
	}
	return nil, false, errors.New("a signed PSBT, a Safe owner's signature (hex, Transaction Service JSON, ur:eth-signature)")
}

// Pending is a station's decision on its way in, in three steps:
// PrepareCollect finds its proposal and the policy version that proposal
// cites (reading the workspace); Verify checks it in full, the identity
// signature and every chain signature included (no workspace: it may run
// on any goroutine, beside other Verify calls, while the workspace
// serves others); Record checks again, under the workspace's one user,
// what may have changed meanwhile (the policy in effect, the clock, the
// proposal's state, an earlier decision) and stores it. Collect is the
// three in a row.
type Pending struct {
	raw     []byte
	env     *envelope.Envelope
	ap      *proposal.Approval
	pe      *envelope.Envelope
	p       *proposal.Proposal
	pol     *policy.Policy
	polID   [32]byte
	now     time.Time
	reg     *chain.Registry
	checked *proposal.Checked
	// State is the proposal's state once Record stored the decision.
	State proposal.State
}

// ProposalID is the id of the proposal the decision is for.
func (pd *Pending) ProposalID() [32]byte { return pd.pe.ID() }

// Proposal is the proposal the decision is for.
func (pd *Pending) Proposal() *proposal.Proposal { return pd.p }

// Checked is the verified decision (nil before Verify succeeded).
func (pd *Pending) Checked() *proposal.Checked { return pd.checked }

// PrepareCollect decodes a station's decision and finds what verifying
// it needs: its proposal, stored and not finalized, and the policy
// version the proposal cites.
func (c *Coordinator) PrepareCollect(raw []byte) (*Pending, error) {
	e, err := envelope.Decode(raw)
	if err != nil {
		return nil, err
	}
	ap, err := proposal.DecodeApproval(e)
	if err != nil {
		return nil, err
	}
	o, err := c.Open(ap.Proposal)
	if err != nil {
		return nil, err
	}
	if _, err := c.WS.Final(o.pe.ID()); err == nil {
		return nil, fmt.Errorf("coordinator: proposal %s is already finalized", o.pe.IDHex()[:12])
	}
	return c.Pend(raw, o)
}

// Opened is a stored proposal with the policy version it cites, what
// verifying a decision on it needs. Both are fixed by their ids, so an
// Opened may be kept and used from any goroutine; what may change (the
// policy in effect, the proposal's state, the clock) Record checks.
type Opened struct {
	pe    *envelope.Envelope
	p     *proposal.Proposal
	pol   *policy.Policy
	polID [32]byte
}

// Open reads a stored proposal by id and the policy version it cites.
func (c *Coordinator) Open(id []byte) (*Opened, error) {
	pe, err := c.proposalByID(id)
	if err != nil {
		return nil, fmt.Errorf("coordinator: approval for an unknown proposal: %w", err)
	}
	p, pol, polID, err := c.open(pe)
	if err != nil {
		return nil, err
	}
	return &Opened{pe: pe, p: p, pol: pol, polID: polID}, nil
}

// ID is the proposal's id.
func (o *Opened) ID() [32]byte { return o.pe.ID() }

// Pend decodes a decision on the proposal o, to be verified (Verify) and
// recorded (Record); it reads nothing from the workspace. The decision
// must be for o's proposal.
func (c *Coordinator) Pend(raw []byte, o *Opened) (*Pending, error) {
	e, err := envelope.Decode(raw)
	if err != nil {
		return nil, err
	}
	ap, err := proposal.DecodeApproval(e)
	if err != nil {
		return nil, err
	}
	if id := o.pe.ID(); !bytes.Equal(ap.Proposal, id[:]) {
		return nil, fmt.Errorf("coordinator: the approval is for proposal %x, not %x", ap.Proposal, id[:])
	}
	return &Pending{raw: raw, env: e, ap: ap, pe: o.pe, p: o.p, pol: o.pol, polID: o.polID, now: c.Now(), reg: c.Reg}, nil
}

// Verify checks the decision against its proposal and the policy version
// the proposal cites (proposal.CheckApproval): the identity signature,
// participant and device, proposal and policy ids, expiry as of
// PrepareCollect, and every chain signature against the right key and
// digest. It reads nothing from the workspace.
func (pd *Pending) Verify() error {
	if pd.checked != nil {
		return nil
	}
	checked, err := proposal.CheckApproval(pd.env, pd.p, pd.pe.ID(), pd.pol, pd.polID, pd.reg, pd.now)
	if err != nil {
		return err
	}
	pd.checked = checked
	return nil
}

// recheck is what Verify's verdict may no longer tell by the time the
// decision is recorded: the approver against the policy in effect now
// (a revoked key, a rotated vault) and the proposal's expiry now.
func (c *Coordinator) recheck(pd *Pending, cur *policy.Policy) error {
	if pd.checked == nil {
		return errors.New("coordinator: a decision recorded before it was verified")
	}
	if err := proposal.CheckApprover(pd.checked, cur); err != nil {
		return err
	}
	if err := proposal.CheckStale(pd.p, pd.pol, cur); err != nil {
		return err
	}
	if now := c.Now(); !now.Before(pd.p.ExpiresTime()) {
		return fmt.Errorf("%w at %v: approvals are no longer accepted", proposal.ErrExpired, pd.p.ExpiresTime())
	}
	return nil
}

// Record stores verified decisions (Verify) in one store transaction
// with one commit, each with its audit entry and each kept or refused
// alone: errs[i] is pds[i]'s answer, as Collect would give it, except
// that a decision stored already is ErrAlreadyCollected even once its
// proposal is finalized (a service answers it as the first time). The workspace's
// one user calls it, as any change.
func (c *Coordinator) Record(ctx context.Context, pds []*Pending) []error {
	errs := make([]error, len(pds))
	cur, _, err := c.WS.Policy(c.Reg)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	var fns []func(store.Tx) error
	var at []int
	for i, pd := range pds {
		if errs[i] = c.recheck(pd, cur); errs[i] != nil {
			continue
		}
		rec := c.record(pd, true, newer(cur, pd.pol))
		fns = append(fns, func(tx store.Tx) error { return rec(tx) })
		at = append(at, i)
	}
	for j, err := range c.WS.UpdateEach(ctx, fns) {
		errs[at[j]] = err
	}
	return errs
}

// proposalByID reads a stored proposal by its whole id (an index
// lookup; a prefix search reads every proposal).
func (c *Coordinator) proposalByID(id []byte) (*envelope.Envelope, error) {
	if len(id) != 32 {
		return c.WS.Proposal(hex.EncodeToString(id))
	}
	var raw []byte
	err := c.WS.View(context.Background(), func(r store.Reader) error {
		sp, err := r.Proposal([32]byte(id))
		raw = sp.Envelope
		return err
	})
	if err != nil {
		return nil, err
	}
	return envelope.Decode(raw)
}

// sameTransaction says whether signed (a PSBT, a Service transaction)
// holds proposal ref's transaction.
func (c *Coordinator) sameTransaction(ref string, signed []byte) error {
	pe, err := c.WS.Proposal(ref)
	if err != nil {
		return err
	}
	p, err := proposal.Decode(pe)
	if err != nil {
		return err
	}
	a, err := c.Reg.Lookup(p.Chain)
	if err != nil {
		return err
	}
	ec, ok := a.(chain.ExternalCollector)
	if !ok {
		return fmt.Errorf("coordinator: %s vaults take no external signatures", p.Chain)
	}
	same, err := ec.SameTransaction(p.Payload, signed)
	if err != nil {
		return err
	}
	if !same {
		return fmt.Errorf("coordinator: what was handed in is for another transaction than proposal %s's", pe.IDHex()[:16])
	}
	return nil
}
