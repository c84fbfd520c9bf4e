package coordinator

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
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
	var entries []policy.Entry
	err := c.WS.View(ctx, func(r store.Reader) error {
		idx, err := r.EntriesOfKind("proposal.created")
		if err != nil {
			return err
		}
		for _, i := range idx {
			rec, err := r.Audit().Record(i)
			if err != nil {
				return err
			}
			ev, err := audit.Decode(rec)
			if err != nil {
				return fmt.Errorf("%w: entry %d: %v", audit.ErrTampered, i, err)
			}
			spent, ok := ev.Detail["spent"]
			if !ok {
				continue // made before rules were counted
			}
			id, err := hex.DecodeString(ev.Subject)
			if err != nil || len(id) != 32 {
				return fmt.Errorf("%w: entry %d: malformed proposal id", audit.ErrTampered, i)
			}
			if skip != nil && [32]byte(id) == *skip {
				continue
			}
			st, err := stored(r, [32]byte(id))
			if err != nil {
				return err
			}
			if st == proposal.StateRejected || st == proposal.StateWithdrawn || st == proposal.StateExpired {
				continue
			}
			es, err := policy.ParseSpending(ev.Time, ev.Detail["vault"], spent)
			if err != nil {
				return fmt.Errorf("%w: entry %d: %v", audit.ErrTampered, i, err)
			}
			entries = append(entries, es...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return policy.NewLedger(entries)
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
