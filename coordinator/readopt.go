package coordinator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

// Re-adopting a proposal the coordinator lost.
//
// A coordinator whose database was restored from a backup (workspace.Accept)
// no longer knows the proposals it made after the backup; the stations that
// decided on one still keep it, and refuse a new proposal spending the same
// coin or nonce (their double-sign guard). Readopt takes such a proposal
// back from a copy that survived, on nothing but what the copy proves: this
// coordinator's own signature, a policy version still in force for it, its
// expiry, the coordinator's review and rules, and no other proposal it
// knows spending the same coin or nonce.

// ErrAlreadyKnown is returned by Readopt for a proposal the coordinator
// holds: nothing changed.
var ErrAlreadyKnown = errors.New("coordinator: already known")

// ErrNotReadoptable is wrapped by every Readopt refusal: the copy is
// genuine enough to judge, and the judgement is no (another coordinator's
// key, a stale or unknown policy version, expired, a blocking flag, the
// rules deny it, a coin or nonce spent by another proposal).
var ErrNotReadoptable = errors.New("coordinator: cannot re-adopt")

// ReasonRestore is the reason recorded for a proposal lost in a database
// restore.
const ReasonRestore = "restore"

// Readopted is a proposal taken back.
type Readopted struct {
	Env      *envelope.Envelope
	Proposal *proposal.Proposal
	TxID     string
	// Entry is the index of its "proposal.readopted" audit entry.
	Entry int64
}

// Readopt takes back a proposal this coordinator signed and no longer
// knows (lost in a restore of its database), recorded as open with a
// "proposal.readopted" audit entry citing reason, in one store
// transaction. The decisions the stations made on it are then handed in
// again as usual (Collect). A proposal it already holds is
// ErrAlreadyKnown, and nothing changes.
func (c *Coordinator) Readopt(ctx context.Context, pe *envelope.Envelope, reason string) (*Readopted, error) {
	if reason == "" {
		reason = ReasonRestore
	}
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("%w proposal %s: %w", ErrNotReadoptable, pe.IDHex()[:16], fmt.Errorf(format, args...))
	}
	p, err := proposal.Decode(pe)
	if err != nil {
		return nil, fmt.Errorf("coordinator: cannot re-adopt: %w", err)
	}
	if known, err := c.knows(ctx, pe.ID()); err != nil {
		return nil, err
	} else if known {
		return nil, fmt.Errorf("%w: proposal %s; nothing changed", ErrAlreadyKnown, pe.IDHex()[:16])
	}
	if why, err := c.WS.Halted(ctx); err != nil {
		return nil, err
	} else if why != "" {
		return nil, fmt.Errorf("%w (%s)", workspace.ErrHalted, why)
	}
	// Signed by this coordinator, with the key this workspace holds: a
	// copy signed by another coordinator of the policy is that one's to
	// take back, not ours.
	if p.Coordinator != c.WS.Config.Name {
		return nil, refuse("it names coordinator %q, this is %q", p.Coordinator, c.WS.Config.Name)
	}
	own, err := policy.DecodeIdentity(c.WS.Config.Identity)
	if err != nil {
		return nil, fmt.Errorf("coordinator: this workspace's identity: %w", err)
	}
	if len(pe.Signatures) != 1 || pe.Signatures[0].KeyID != envelope.KeyID(own) {
		return nil, refuse("it is not signed by this coordinator's key %s", envelope.KeyID(own))
	}
	if err := pe.Verify(own); err != nil {
		return nil, fmt.Errorf("coordinator: cannot re-adopt proposal %s: its signature does not verify (tampered): %w", pe.IDHex()[:16], err)
	}
	// The policy version it cites, held and not superseded by a change
	// that touches its vault (what a decision on it would be refused for),
	// its vault and chain, and its times: the checks a station makes.
	cur, _, err := c.WS.Policy(c.Reg)
	if err != nil {
		return nil, err
	}
	pc, err := c.WS.PolicyChain(c.Reg)
	if err != nil {
		return nil, err
	}
	cited, citedID, ok := pc.ByID(p.Policy)
	if !ok {
		return nil, refuse("it cites policy %x, not a version this workspace holds", p.Policy[:min(8, len(p.Policy))])
	}
	now := c.Now()
	if _, err := proposal.OpenAt(pe, cited, citedID, cur, now); err != nil {
		return nil, refuse("%w", err)
	}
	if _, ok := cur.Coordinator(c.WS.Config.Name); !ok {
		return nil, refuse("%q is not a coordinator in policy %s", c.WS.Config.Name, cur.Name)
	}
	// The coordinator's own review and rules, as at Propose (without the
	// proposal itself in the history: it is not there).
	cv, err := proposal.ChainVault(p, cited)
	if err != nil {
		return nil, err
	}
	a, err := c.Reg.Lookup(p.Chain)
	if err != nil {
		return nil, err
	}
	rv, err := proposal.ReviewWith(ctx, a, cv, p)
	if err != nil {
		return nil, refuse("its review: %v", err)
	}
	if b := rv.Blocking(); len(b) > 0 {
		return nil, refuse("a blocking flag: %s: %s", b[0].Code, b[0].Message)
	}
	spent, err := policy.Spending(rv.Effects)
	if err != nil {
		return nil, err
	}
	pid := pe.ID()
	verdict, err := c.decide(ctx, cur, policy.Input{Vault: p.Vault, Effects: rv.Effects, Template: p.Template}, &pid)
	if err != nil {
		return nil, refuse("%w", err)
	}
	if !verdict.Allowed {
		return nil, refuse("the policy's rules do not allow it: %s (%s)", verdict.Reason, verdict.Rule)
	}
	// No proposal the coordinator knows, live or finalized, holds the same
	// transaction or spends a coin or nonce it spends.
	if err := c.ExpireDue(ctx); err != nil {
		return nil, err
	}
	if other, what, err := c.spentElsewhere(ctx, pid, rv.TxID, rv.Spends); err != nil {
		return nil, err
	} else if other != "" {
		return nil, refuse("proposal %s (%s) already spends %s: at most one of them can execute", other[:16], what[0], what[1])
	}
	detail := map[string]string{
		"vault": p.Vault, "txid": rv.TxID, "policy_version": fmt.Sprint(p.PolicyVersion),
		"created": p.CreatedTime().Format(time.RFC3339), "expires": p.ExpiresTime().Format(time.RFC3339),
		"spent": spent, "reason": reason,
	}
	if verdict.Template != "" {
		detail["template"] = verdict.Template
	}
	if p.Urgent {
		detail["urgent"] = "true"
	}
	raw, err := pe.Encode()
	if err != nil {
		return nil, err
	}
	var entry int64
	err = c.update(ctx, nil, func(tx Tx) error {
		if _, err := tx.Proposal(pid); err == nil {
			return fmt.Errorf("%w: proposal %s; nothing changed", ErrAlreadyKnown, pe.IDHex()[:16])
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if entry, err = tx.Log(c.WS.Event("proposal.readopted", pe.IDHex(), detail)); err != nil {
			return err
		}
		return tx.PutProposal(store.Proposal{ID: pid, Envelope: raw, State: string(proposal.StateOpen)})
	})
	if err != nil {
		return nil, err
	}
	return &Readopted{Env: pe, Proposal: p, TxID: rv.TxID, Entry: entry}, nil
}

// knows says whether the coordinator holds proposal id.
func (c *Coordinator) knows(ctx context.Context, id [32]byte) (bool, error) {
	err := c.WS.View(ctx, func(r store.Reader) error {
		_, err := r.Proposal(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// spentElsewhere finds a proposal other than id, open, approved,
// finalized or broadcast, holding transaction txid or spending one of
// spends: its id and state, and what it spends.
func (c *Coordinator) spentElsewhere(ctx context.Context, id [32]byte, txid string, spends []string) (string, [2]string, error) {
	es, states, err := c.WS.ProposalsIn(string(proposal.StateOpen), string(proposal.StateApproved), string(proposal.StateFinalized), string(proposal.StateBroadcast))
	if err != nil {
		return "", [2]string{}, err
	}
	mine := map[string]bool{}
	for _, s := range spends {
		mine[s] = true
	}
	for i, oe := range es {
		if oid := oe.ID(); bytes.Equal(oid[:], id[:]) {
			continue
		}
		op, pol, _, err := c.open(oe)
		if err != nil {
			return "", [2]string{}, err
		}
		rv, err := c.review(ctx, op, pol)
		if err != nil {
			return "", [2]string{}, fmt.Errorf("coordinator: reviewing stored proposal %s: %w", oe.IDHex()[:16], err)
		}
		if rv.TxID == txid {
			return oe.IDHex(), [2]string{states[i], "this transaction"}, nil
		}
		for _, s := range rv.Spends {
			if mine[s] {
				return oe.IDHex(), [2]string{states[i], s}, nil
			}
		}
	}
	return "", [2]string{}, nil
}
