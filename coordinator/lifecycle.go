package coordinator

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

// counted is what a proposal's collected decisions add up to.
type counted struct {
	tally     proposal.Tally
	met       bool // the threshold path or the recovery path can assemble
	approvers []string
	rejects   map[string]string
	note      string
}

// count adds up a proposal's decisions against its vault: approvals and
// rejections by the vault's signers, whether the threshold is met (device
// rules included, or the recovery signer's path), whether it is still in
// reach.
func count(pol *policy.Policy, v *policy.Vault, ds map[string]*envelope.Envelope) (counted, error) {
	c := counted{rejects: map[string]string{}, tally: proposal.Tally{Threshold: v.Threshold}}
	signers, err := pol.Signers(v)
	if err != nil {
		return c, err
	}
	c.tally.Signers = len(signers)
	var devs []*policy.Device
	recoveryApproves, recoveryRejects := false, false
	for _, who := range workspace.SortedKeys(ds) {
		ap, err := proposal.DecodeApproval(ds[who])
		if err != nil {
			return c, err
		}
		s, ok := pol.SignerFor(v, who)
		if !ok {
			// An endorsement counts for the rules' groups (rulesMet), not
			// toward the threshold.
			if _, endorser := pol.Endorser(v, who); endorser {
				if ap.Decision == proposal.Approve {
					c.approvers = append(c.approvers, who)
				} else {
					c.rejects[who] = ap.Reason
				}
			}
			continue
		}
		if ap.Decision == proposal.Approve {
			c.approvers = append(c.approvers, who)
			if s.Recovery {
				recoveryApproves = true
			} else {
				c.tally.Approvals++
				devs = append(devs, s.Device)
			}
		} else {
			c.rejects[who] = ap.Reason
			if s.Recovery {
				recoveryRejects = true
			} else {
				c.tally.Rejections++
			}
		}
	}
	_, hasRecovery, _ := pol.RecoverySigner(v)
	switch {
	case c.tally.Approvals >= v.Threshold:
		if _, ok := policy.SelectDiverse(v, devs); ok {
			c.met = true
		} else {
			c.note = fmt.Sprintf("%d approvals, but the vault's device rules are not met (%d vendors, %d kinds needed)", c.tally.Approvals, v.Rules.MinVendors, v.Rules.MinKinds)
		}
	case recoveryApproves:
		c.met = true
		c.note = "recovery path: the recovery signer approved; the transaction confirms once its coins are old enough"
	}
	if !c.met && !c.tally.Reachable() && (!hasRecovery || recoveryRejects) {
		c.note = "the threshold can no longer be met"
	}
	return c, nil
}

// step is the lifecycle step a proposal's count asks for.
func (c counted) step() proposal.Step {
	switch {
	case c.met:
		return proposal.StepThresholdMet
	case c.note == "the threshold can no longer be met":
		return proposal.StepOutOfReach
	}
	return proposal.StepCollectApprove
}

// stored returns a proposal's stored lifecycle state.
// liveStates are the states of a proposal still in play.
var liveStates = []string{string(proposal.StateOpen), string(proposal.StateApproved)}

func stored(r store.Reader, id [32]byte) (proposal.State, error) {
	p, err := r.Proposal(id)
	if err != nil {
		return "", err
	}
	return proposal.State(p.State), nil
}

// advance moves a proposal's stored state by step inside tx, logging the
// move when the state changes.
func (c *Coordinator) advance(tx Tx, pe *envelope.Envelope, step proposal.Step, detail map[string]string) (proposal.State, error) {
	from, err := stored(tx, pe.ID())
	if err != nil {
		return "", err
	}
	to, err := proposal.Transition(from, step)
	if err != nil {
		return from, err
	}
	if to == from {
		return to, nil
	}
	if detail == nil {
		detail = map[string]string{}
	}
	detail["from"], detail["to"] = string(from), string(to)
	if _, err := tx.Log(c.WS.Event("proposal."+string(to), pe.IDHex(), detail)); err != nil {
		return from, err
	}
	return to, tx.SetProposalState(pe.ID(), string(to))
}

// recount moves a proposal to approved or rejected once its decisions say
// so, inside the transaction that stored the last of them.
func (c *Coordinator) recount(tx Tx, pe *envelope.Envelope, pol *policy.Policy, v *policy.Vault) error {
	ds, err := workspace.Decisions(tx, pe.ID())
	if err != nil {
		return err
	}
	cnt, err := count(pol, v, ds)
	if err != nil {
		return err
	}
	if cnt.met && cnt.tally.Approvals >= v.Threshold {
		// The threshold path: the policy's rules may ask for more.
		ok, why, err := c.rulesMet(tx, pe, pol, v, cnt.approvers)
		if err != nil {
			return err
		}
		if !ok {
			cnt.met, cnt.note = false, why
		}
	}
	detail := map[string]string{"decisions": cnt.tally.String()}
	if len(cnt.rejects) > 0 {
		var rs []string
		for _, who := range workspace.SortedKeys(cnt.rejects) {
			rs = append(rs, who+": "+cnt.rejects[who])
		}
		detail["rejections"] = strings.Join(rs, "; ")
	}
	_, err = c.advance(tx, pe, cnt.step(), detail)
	return err
}

// Row is one proposal's state.
type Row struct {
	ID        string            `json:"id"`
	Vault     string            `json:"vault"`
	TxID      string            `json:"txid"`
	State     proposal.State    `json:"state"`
	Decisions string            `json:"decisions"` // "2/2 of 3": approvals of the threshold, of the signers
	Threshold int               `json:"threshold"`
	Signers   int               `json:"signers"`
	Approvals []string          `json:"approvals"`
	Rejects   map[string]string `json:"rejections"`
	Expires   time.Time         `json:"expires"`
	// Left is the time left to sign, only while the proposal is open or
	// approved (never a countdown on an ended or finalized proposal).
	Left time.Duration `json:"-"`
	Note string        `json:"note,omitempty"`
	// Duplicates lists other live proposals of the same transaction.
	Duplicates []string `json:"duplicates,omitempty"`
}

// Status lists every proposal with its state, decisions and time left.
// A live proposal past its expiry is moved to expired first (logged).
func (c *Coordinator) Status(ctx context.Context) ([]Row, error) {
	if err := c.ExpireDue(ctx); err != nil {
		return nil, err
	}
	es, err := c.WS.Proposals()
	if err != nil {
		return nil, err
	}
	now := c.Now()
	var rows []Row
	byTx := map[string][]string{}
	for _, pe := range es {
		p, pol, _, err := c.open(pe)
		if err != nil {
			return nil, err
		}
		v, _ := pol.Vault(p.Vault)
		row := Row{ID: pe.IDHex(), Vault: p.Vault, Threshold: v.Threshold, Expires: p.ExpiresTime()}
		if rv, err := c.review(ctx, p, pol); err == nil {
			row.TxID = rv.TxID
		}
		var st proposal.State
		var cnt counted
		rules := c.rules(pol)
		err = c.WS.View(ctx, func(r store.Reader) (err error) {
			if st, err = stored(r, pe.ID()); err != nil {
				return err
			}
			ds, err := workspace.Decisions(r, pe.ID())
			if err != nil {
				return err
			}
			if cnt, err = count(pol, v, ds); err != nil {
				return err
			}
			if st == proposal.StateOpen && cnt.met && cnt.tally.Approvals >= v.Threshold {
				// Why a proposal with its threshold is still open.
				if ok, why, err := c.rulesMet(r, pe, rules, v, cnt.approvers); err != nil {
					return err
				} else if !ok {
					cnt.note = why
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		row.State, row.Decisions, row.Signers = st, cnt.tally.String(), cnt.tally.Signers
		row.Approvals, row.Rejects, row.Note = cnt.approvers, cnt.rejects, cnt.note
		if st == proposal.StateOpen || st == proposal.StateApproved {
			row.Left = p.ExpiresTime().Sub(now).Truncate(time.Second)
			if row.TxID != "" {
				byTx[row.TxID] = append(byTx[row.TxID], row.ID)
			}
		}
		if st.End() || st == proposal.StateFinalized {
			row.Note = ""
		}
		rows = append(rows, row)
	}
	for i := range rows {
		if ids := byTx[rows[i].TxID]; len(ids) > 1 && rows[i].Left > 0 {
			for _, id := range ids {
				if id != rows[i].ID {
					rows[i].Duplicates = append(rows[i].Duplicates, id)
				}
			}
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Expires.Before(rows[j].Expires) })
	return rows, nil
}

// ExpireDue moves every open or approved proposal past its expiry to
// expired, one logged transaction each.
func (c *Coordinator) ExpireDue(ctx context.Context) error {
	// The live ones only, with their states, in one view: reading every
	// ended proposal of the history at each call would make every call
	// slower as the history grows.
	es, _, err := c.WS.ProposalsIn(liveStates...)
	if err != nil {
		return err
	}
	now := c.Now()
	type dueOne struct {
		pe *envelope.Envelope
		p  *proposal.Proposal
	}
	var due []dueOne
	for _, pe := range es {
		p, err := proposal.Decode(pe)
		if err != nil {
			return err
		}
		if !now.Before(p.ExpiresTime()) {
			due = append(due, dueOne{pe, p})
		}
	}
	for _, d := range due {
		pe, p := d.pe, d.p
		err = c.update(ctx, nil, func(tx Tx) error {
			// Again inside: it may have moved on since the view.
			st, err := stored(tx, pe.ID())
			if err != nil || (st != proposal.StateOpen && st != proposal.StateApproved) {
				return err
			}
			_, err = c.advance(tx, pe, proposal.StepExpire, map[string]string{"expired": p.ExpiresTime().Format(time.RFC3339)})
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Withdraw ends an open or approved proposal at its proposer's request:
// a signed release with the reason, kept and logged in one transaction.
// Stations that verify the release free the coins or nonce they claimed.
func (c *Coordinator) Withdraw(ctx context.Context, ref, reason string, id keys.Identity) (*envelope.Envelope, error) {
	if err := c.ExpireDue(ctx); err != nil {
		return nil, err
	}
	if strings.TrimSpace(reason) == "" {
		return nil, errors.New("coordinator: withdrawing a proposal needs a reason")
	}
	pe, err := c.WS.Proposal(ref)
	if err != nil {
		return nil, err
	}
	_, pol, polID, err := c.open(pe)
	if err != nil {
		return nil, err
	}
	var rel *envelope.Envelope
	err = c.update(ctx, nil, func(tx Tx) error {
		st, err := stored(tx, pe.ID())
		if err != nil {
			return err
		}
		if _, err := proposal.Transition(st, proposal.StepWithdraw); err != nil {
			return err
		}
		if rel, err = c.sealRelease(pe, pol, polID, proposal.StateWithdrawn, reason, id); err != nil {
			return err
		}
		if _, err := c.advance(tx, pe, proposal.StepWithdraw, map[string]string{"reason": reason, "release": rel.IDHex()}); err != nil {
			return err
		}
		return keepRelease(tx, rel)
	})
	return rel, err
}

// Release gives the signed release of a proposal that ended without a
// transaction (withdrawn, rejected, expired), making it once.
func (c *Coordinator) Release(ctx context.Context, ref string, id keys.Identity) (*envelope.Envelope, error) {
	if err := c.ExpireDue(ctx); err != nil {
		return nil, err
	}
	pe, err := c.WS.Proposal(ref)
	if err != nil {
		return nil, err
	}
	if rel, err := c.keptRelease(ctx, pe); err != nil || rel != nil {
		return rel, err
	}
	p, pol, polID, err := c.open(pe)
	if err != nil {
		return nil, err
	}
	var rel *envelope.Envelope
	err = c.update(ctx, nil, func(tx Tx) error {
		st, err := stored(tx, pe.ID())
		if err != nil {
			return err
		}
		if !st.Releases() {
			return fmt.Errorf("coordinator: proposal %s is %s: only a withdrawn, rejected or expired proposal releases its claims", pe.IDHex()[:16], st)
		}
		reason := "expired at " + p.ExpiresTime().Format(time.RFC3339)
		if st == proposal.StateRejected {
			v, _ := pol.Vault(p.Vault)
			ds, err := workspace.Decisions(tx, pe.ID())
			if err != nil {
				return err
			}
			cnt, err := count(pol, v, ds)
			if err != nil {
				return err
			}
			var rs []string
			for _, who := range workspace.SortedKeys(cnt.rejects) {
				rs = append(rs, fmt.Sprintf("%s: %q", who, cnt.rejects[who]))
			}
			reason = "rejected (" + cnt.tally.String() + "): " + strings.Join(rs, "; ")
		}
		if rel, err = c.sealRelease(pe, pol, polID, st, reason, id); err != nil {
			return err
		}
		if _, err := tx.Log(c.WS.Event("proposal.released", pe.IDHex(), map[string]string{"state": string(st), "reason": reason, "release": rel.IDHex()})); err != nil {
			return err
		}
		return keepRelease(tx, rel)
	})
	return rel, err
}

// sealRelease signs a release; it reads nothing from the store, so it may
// run inside a transaction.
func (c *Coordinator) sealRelease(pe *envelope.Envelope, pol *policy.Policy, polID [32]byte, st proposal.State, reason string, id keys.Identity) (*envelope.Envelope, error) {
	pid := pe.ID()
	if len(reason) > proposal.MaxReason {
		reason = reason[:proposal.MaxReason]
	}
	return proposal.SealRelease(&proposal.Release{Format: 1, Proposal: pid[:], State: st, Reason: reason,
		Coordinator: c.WS.Config.Name, Policy: polID[:], PolicyVersion: pol.Version, Time: c.Now().UTC().Unix()}, id)
}

func keepRelease(tx Tx, rel *envelope.Envelope) error {
	raw, err := rel.Encode()
	if err != nil {
		return err
	}
	return tx.PutArtifact(store.Artifact{ID: rel.ID(), Kind: "release", Data: raw})
}

// keptRelease finds the release made for a proposal, if any: the log's
// withdrawal or release entry names it.
func (c *Coordinator) keptRelease(ctx context.Context, pe *envelope.Envelope) (*envelope.Envelope, error) {
	var rel *envelope.Envelope
	err := c.WS.View(ctx, func(r store.Reader) error {
		for _, kind := range []string{"proposal.withdrawn", "proposal.released"} {
			idx, err := r.EntriesOfKind(kind)
			if err != nil {
				return err
			}
			for _, i := range idx {
				en, err := entry(r, i)
				if err != nil {
					return err
				}
				if en.Subject != pe.IDHex() || en.Detail["release"] == "" {
					continue
				}
				b, err := hex.DecodeString(en.Detail["release"])
				if err != nil || len(b) != 32 {
					return fmt.Errorf("%w: entry %d names a malformed release", store.ErrCorrupt, i)
				}
				a, err := r.Artifact([32]byte(b))
				if err != nil {
					return err
				}
				rel, err = envelope.Decode(a.Data)
				return err
			}
		}
		return nil
	})
	return rel, err
}

// MarkBroadcast records that a finalized proposal's transaction was
// accepted by a node.
func (c *Coordinator) MarkBroadcast(ctx context.Context, pid [32]byte, txid, node string) error {
	return c.update(ctx, nil, func(tx Tx) error {
		p, err := tx.Proposal(pid)
		if err != nil {
			return err
		}
		pe, err := envelope.Decode(p.Envelope)
		if err != nil {
			return err
		}
		st := proposal.State(p.State)
		if st == proposal.StateBroadcast {
			_, err := tx.Log(c.WS.Event("transaction.broadcast", pe.IDHex(), map[string]string{"txid": txid, "node": node, "again": "true"}))
			return err
		}
		_, err = c.advance(tx, pe, proposal.StepBroadcast, map[string]string{"txid": txid, "node": node})
		return err
	})
}

// flagLive warns, on a new proposal's review, of every live (open or
// approved) proposal of the same transaction or spending the same coin or
// nonce: only one of them can ever execute, and stations will see the
// conflict.
func (c *Coordinator) flagLive(ctx context.Context, rv *chain.Review) error {
	if err := c.ExpireDue(ctx); err != nil {
		return err
	}
	es, states, err := c.WS.ProposalsIn(liveStates...)
	if err != nil {
		return err
	}
	spends := map[string]bool{}
	for _, s := range rv.Spends {
		spends[s] = true
	}
	for i, pe := range es {
		st := proposal.State(states[i])
		p, pol, _, err := c.open(pe)
		if err != nil {
			return err
		}
		other, err := c.review(ctx, p, pol)
		if err != nil {
			continue
		}
		if other.TxID == rv.TxID {
			rv.Flags = append(rv.Flags, chain.Flag{Code: "duplicate-proposal", Severity: chain.Warn,
				Message: fmt.Sprintf("proposal %s (%s) already holds this transaction; withdraw one of them", pe.IDHex()[:16], st)})
			continue
		}
		for _, s := range other.Spends {
			if spends[s] {
				rv.Flags = append(rv.Flags, chain.Flag{Code: "conflicting-proposal", Severity: chain.Warn,
					Message: fmt.Sprintf("proposal %s (%s) also spends %s: at most one of them can execute", pe.IDHex()[:16], st, s)})
				break
			}
		}
	}
	return nil
}
