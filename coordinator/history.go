package coordinator

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"golang.org/x/mod/sumdb/tlog"
)

// attachHistory attaches to p, a proposal for a vault with velocity
// rules, the coordinator's proven spend history: it signs a checkpoint of
// its log as it stands, and proves the entries since the last one older
// than the longest velocity period (plus the clock skew a station may
// have) are all of its log after it. A period too full to carry is said
// in History.Missing; stations then refuse the proposal, so the
// coordinator refuses to make it unless forced.
func (c *Coordinator) attachHistory(ctx context.Context, pol *policy.Policy, p *proposal.Proposal, id keys.Identity, force bool) error {
	v, ok := pol.Vault(p.Vault)
	if !ok {
		return nil
	}
	period := proposal.VelocityPeriod(pol, v)
	if period == 0 {
		return nil
	}
	since := p.CreatedTime().Add(-period - proposal.ClockSkew)
	err := c.WS.Update(ctx, func(tx store.Tx) error {
		l, err := audit.New(tx.AuditWriter(), c.WS.Config.LogOrigin(), id)
		if err != nil {
			return err
		}
		if _, err := l.Checkpoint(); err != nil {
			return err
		}
		n := l.Size()
		// The range starts after the newest entry at or before since.
		from := n
		for from > 0 && n-from <= audit.MaxRangeRecords {
			e, err := l.Entry(from - 1)
			if err != nil {
				return err
			}
			if !e.Event.Time.After(since) {
				break
			}
			from--
		}
		if n-from > audit.MaxRangeRecords {
			p.History = &proposal.History{Missing: fmt.Sprintf("the coordinator's log holds more than %d entries in the last %v", audit.MaxRangeRecords, period)}
			return nil
		}
		r, err := l.ProveRange(from, n)
		if err != nil {
			p.History = &proposal.History{Missing: err.Error()}
			return nil
		}
		// Consistency from every size of the log stations were sent or
		// reported witnessing, before the range: whichever a station saw
		// last, one proof starts there.
		proofs := map[int64]tlog.TreeProof{}
		sizes, err := witnessedSizes(tx, from)
		if err != nil {
			return err
		}
		for _, m := range sizes {
			if len(proofs) == proposal.MaxHistoryProofs {
				break
			}
			if proofs[m], err = l.ConsistencyProof(m, from); err != nil {
				return err
			}
		}
		p.History = proposal.NewHistory(r, proofs)
		return nil
	})
	if err == nil && p.History != nil && p.History.Missing != "" && !force {
		return fmt.Errorf("%w: its spend history cannot be proven (%s), and stations refuse a proposal for a vault with velocity rules without it", ErrDenied, p.History.Missing)
	}
	return err
}

// witnessedSizes are the sizes of this log's checkpoints sent to stations
// ("sent:<station>:<size>") or cosigned by them ("size:<size>:<who>"),
// below before, newest first.
func witnessedSizes(r store.Reader, before int64) ([]int64, error) {
	set := map[int64]bool{}
	for _, prefix := range []string{"sent:", "size:"} {
		ws, err := r.Witnesses(prefix)
		if err != nil {
			return nil, err
		}
		for k := range ws {
			f := strings.Split(k, ":")
			s := f[len(f)-1]
			if prefix == "size:" && len(f) >= 2 {
				s = f[1]
			}
			if m, err := strconv.ParseInt(s, 10, 64); err == nil && m >= 1 && m < before {
				set[m] = true
			}
		}
	}
	out := make([]int64, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] > out[j] })
	return out, nil
}

// historySent records, for each signer of the proposal's vault, that the
// checkpoint of its history goes to them ("sent:<participant>:<size>", as
// an export records the checkpoint in its manifest): the next export to
// each proves the log then extends it, and the station's import checks
// that proof (station.CheckHistoryArrival).
func historySent(tx Tx, pol *policy.Policy, p *proposal.Proposal) error {
	if p.History == nil || len(p.History.Checkpoint) == 0 {
		return nil
	}
	v, ok := pol.Vault(p.Vault)
	if !ok {
		return nil
	}
	signers, err := pol.Signers(v)
	if err != nil {
		return err
	}
	n := p.History.From + int64(len(p.History.Records))
	for _, s := range signers {
		if err := tx.PutWitness(fmt.Sprintf("sent:%s:%012d", s.Participant.ID, n), []byte{1}); err != nil {
			return err
		}
	}
	return nil
}
