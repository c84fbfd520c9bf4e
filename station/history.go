package station

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"golang.org/x/mod/sumdb/tlog"
)

// spendHistory is what the station counts for velocity on one proposal:
// its own approvals (from its verified log) united, by proposal id, with
// the proposals of the coordinator's proven spend history, each counted
// once and the proposal under review left out. Counted says how many
// proposals only the coordinator's history showed.
type spendHistory struct {
	Ledger  *policy.Ledger
	Counted int    // proposals counted from the coordinator's history alone
	Range   string // the coordinator's log entries it read, "a..b"
}

// velocityHistory builds the history for res. When the vault has
// velocity rules and the proposal's history cannot be proven (absent,
// malformed, not signed by the coordinator the proposal names, not
// reaching back a whole period, or not extending the coordinator's
// checkpoint this station witnessed), refusal says why: the station
// fails closed, it never falls back to its own log alone.
func (s *Station) velocityHistory(ctx context.Context, res *Result) (h *spendHistory, refusal string, err error) {
	own := map[string][]policy.Entry{}
	var seen []byte
	var arrived bool
	origin := "coordinator/" + res.Proposal.Coordinator
	err = s.WS.View(ctx, func(r store.Reader) error {
		// Spending reads the log; keep files each approval's spending under
		// its proposal instead of the flat list.
		_, err := s.WS.SpendingOf(r, "approval.created", func(i int64, ev audit.Event) (bool, error) {
			es, err := policy.ParseSpending(ev.Time, ev.Detail["vault"], ev.Detail["spent"])
			if err != nil {
				return false, fmt.Errorf("%w: entry %d: %v", audit.ErrTampered, i, err)
			}
			for k := range es {
				es[k].Template = ev.Detail["template"]
			}
			own[ev.Detail["proposal"]] = append(own[ev.Detail["proposal"]], es...)
			return false, nil
		})
		if err != nil {
			return err
		}
		if seen, err = r.Witness("seen:" + origin); err != nil {
			return err
		}
		// A proposal that arrived on media was checked against the
		// manifest's checkpoint at the import (CheckHistoryArrival).
		switch _, err := r.Proposal(res.ID); {
		case err == nil:
			arrived = true
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	h = &spendHistory{}
	theirs, refusal := s.coordinatorSpends(res, origin, seen, arrived)
	if theirs != nil {
		h.Range = theirs.rng
	}
	var all []policy.Entry
	self := hex.EncodeToString(res.ID[:])
	for id, es := range own {
		if id != self {
			all = append(all, es...)
		}
	}
	if theirs != nil {
		for id, es := range theirs.spends {
			if _, mine := own[id]; mine || id == self {
				continue
			}
			h.Counted++
			all = append(all, es...)
		}
	}
	if h.Ledger, err = policy.NewLedger(all); err != nil {
		return nil, "", err
	}
	return h, refusal, nil
}

type coordinatorSpends struct {
	spends map[string][]policy.Entry
	rng    string
}

// coordinatorSpends verifies the proposal's history; a refusal says why
// it cannot be counted. A vault without velocity rules needs none.
func (s *Station) coordinatorSpends(res *Result, origin string, seen []byte, arrived bool) (*coordinatorSpends, string) {
	pol, p := res.Policy, res.Proposal
	v, ok := pol.Vault(p.Vault)
	if !ok {
		return nil, ""
	}
	period := proposal.VelocityPeriod(pol, v)
	if period == 0 {
		return nil, ""
	}
	fail := func(err error) (*coordinatorSpends, string) {
		return nil, fmt.Sprintf("the coordinator's spend history, which the vault's velocity rules need, does not prove what it spent in the last %v: %v", period, err)
	}
	if p.History == nil {
		return fail(proposal.ErrNoHistory)
	}
	c, ok := pol.Coordinator(p.Coordinator)
	if !ok {
		return fail(fmt.Errorf("%q is not a coordinator of the policy", p.Coordinator))
	}
	pub := ed25519.PublicKey(c.Identity)
	rg, proofs, err := p.History.Range()
	if err != nil {
		return fail(err)
	}
	vr, err := audit.VerifyRange(rg, "airlock/"+origin, pub)
	if err != nil {
		return fail(err)
	}
	// The range reaches back a whole period: the entry before it is
	// older than the period's start as this station counts it.
	since := s.Now().Add(-period)
	if vr.Before != nil && vr.Before.Event.Time.After(since) {
		return fail(fmt.Errorf("its first entry %d follows one of %s, inside the period", vr.From, vr.Before.Event.Time.Format("2006-01-02T15:04:05Z")))
	}
	// It extends the newest checkpoint of the coordinator's log this
	// station witnessed (from media it imported). One newer than the
	// history's cannot be checked here without a proof: the import that
	// brought the proposal checked it (the import of this very proposal
	// brings one); a proposal carried otherwise is refused.
	if seen != nil {
		old, err := audit.OpenCheckpoint(seen, "airlock/"+origin, pub)
		if err != nil {
			return fail(fmt.Errorf("the coordinator's checkpoint this station kept does not verify: %v", err))
		}
		switch {
		case old.Size <= vr.Checkpoint.Size:
			if err := vr.Extends(old, proofs[old.Size]); err != nil {
				return fail(err)
			}
		case !arrived:
			return fail(fmt.Errorf("its checkpoint of %d entries is older than the coordinator's of %d this station witnessed, and nothing proves the newer one extends it: import the proposal from the coordinator's media (the import checks it)", vr.Checkpoint.Size, old.Size))
		}
	}
	spends, err := proposal.Spends(vr, p.Vault)
	if err != nil {
		return fail(err)
	}
	return &coordinatorSpends{spends: spends, rng: fmt.Sprintf("%d..%d", vr.From, vr.Checkpoint.Size)}, ""
}

// note says, for a velocity denial, that the coordinator's history was
// counted: the station may not have signed what the limit counted.
func (h *spendHistory) note(v *policy.Verdict) string {
	if v.Rule.Kind != policy.RuleVelocity || h.Range == "" {
		return ""
	}
	what := "proposals"
	if h.Counted == 1 {
		what = "proposal"
	}
	return fmt.Sprintf(", counting the coordinator's proven spend history (its log entries %s: %d %s this station did not sign)", h.Range, h.Counted, what)
}

// CheckHistoryArrival checks, when a proposal arrives on media, that the
// checkpoint the manifest carries (the coordinator's log as it stood at
// the export, which the import checks extends every checkpoint this
// station saw before) extends the checkpoint of the proposal's spend
// history: proofs are the manifest's consistency proofs by their start.
// So a history cut from a fork of the log is refused at the door, even
// though the import brings a checkpoint newer than the history's. A
// proposal without a history has nothing to check here (the review
// decides whether a history is needed).
func CheckHistoryArrival(pol *policy.Policy, p *proposal.Proposal, origin string, manifestCP []byte, proofs map[int64]tlog.TreeProof) error {
	if p.History == nil || len(p.History.Checkpoint) == 0 {
		return nil
	}
	// The review trusts that an imported proposal's history was checked
	// here: one that cannot be is refused at the door.
	c, ok := pol.Coordinator(p.Coordinator)
	if !ok || origin != "coordinator/"+p.Coordinator || len(manifestCP) == 0 {
		return fmt.Errorf("station: a proposal with a spend history comes on its coordinator's own media, with its checkpoint; this came from %s", origin)
	}
	pub := ed25519.PublicKey(c.Identity)
	hist, err := audit.OpenCheckpoint(p.History.Checkpoint, "airlock/"+origin, pub)
	if err != nil {
		return fmt.Errorf("station: the proposal's spend history: %w", err)
	}
	now, err := audit.OpenCheckpoint(manifestCP, "airlock/"+origin, pub)
	if err != nil {
		return err
	}
	if err := audit.CheckConsistency(hist, now, proofs[hist.Size]); err != nil {
		return fmt.Errorf("station: the proposal's spend history is not the log %s showed this station: %w", origin, err)
	}
	return nil
}
