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
	"github.com/airlock-vault/airlock/workspace"
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
// below before: each station's newest first, then each one's second
// newest, and so on, so the bounded list of proofs covers what every
// station most likely saw last.
func witnessedSizes(r store.Reader, before int64) ([]int64, error) {
	per := map[string][]int64{}
	for _, prefix := range []string{"sent:", "size:"} {
		ws, err := r.Witnesses(prefix)
		if err != nil {
			return nil, err
		}
		for k := range ws {
			f := strings.SplitN(strings.TrimPrefix(k, prefix), ":", 2)
			if len(f) != 2 {
				continue
			}
			who, size := f[0], f[1]
			if prefix == "size:" {
				who, size = f[1], f[0]
			}
			if m, err := strconv.ParseInt(size, 10, 64); err == nil && m >= 1 && m < before {
				per[who] = append(per[who], m)
			}
		}
	}
	for _, ms := range per {
		sort.Slice(ms, func(i, j int) bool { return ms[i] > ms[j] })
	}
	seen := map[int64]bool{}
	var out []int64
	for rank := 0; ; rank++ {
		more := false
		for _, who := range workspace.SortedKeys(per) {
			if ms := per[who]; rank < len(ms) {
				more = true
				if !seen[ms[rank]] {
					seen[ms[rank]] = true
					out = append(out, ms[rank])
				}
			}
		}
		if !more {
			return out, nil
		}
	}
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
