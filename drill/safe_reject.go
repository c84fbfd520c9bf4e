package drill

// On-chain rejections on a Safe quorum: a Safe executes strictly in nonce
// order, so a payment whose proposal expired or was rejected leaves its
// nonce unused and every later transaction waiting behind it. The
// coordinator fills the hole as a treasury team does: it releases the
// ended proposal (the stations that approved it apply the signed release,
// freeing their claim on the nonce) and proposes the on-chain rejection
// of that nonce (a call to the Safe itself that moves nothing:
// safe.RejectionJSON). It goes through the normal flow — delivered,
// reviewed ("cancels nonce N: moves nothing"), signed, collected,
// finalized — and executes in nonce order; what waited behind it then
// executes (docs/safe.md, "On-chain rejections").

import (
	"fmt"
	"slices"

	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/coordinator"
)

// FlowRejection is the flow of a Safe's on-chain rejection proposal.
const FlowRejection = "rejection"

// maxRejectionTries bounds the rejections proposed for one nonce: one
// that ends unused itself is proposed again, up to this many in all.
const maxRejectionTries = 3

func init() {
	for _, k := range []string{"safe-rejection-proposed", "safe-rejection-executed", "safe-rejection-refused", "safe-rejection-abandoned", "safe-rejection-skipped"} {
		notable[k] = true
	}
}

// safeUnused: proposal p ended (expired or rejected) without a
// transaction. When it is a Safe payment (or a rejection) and its nonce
// is still unused — not executed, not held by a finalized transaction,
// not on another proposal still open — the coordinator proposes the
// on-chain rejection of that nonce.
func (s *sim) safeUnused(p *Prop) {
	ss := s.safe
	if ss == nil || p.Attack || p.Flow == FlowRotation || p.Lost {
		return
	}
	if st := p.State; st != "expired" && st != "rejected" {
		return
	}
	if up := s.m.coordinatorUp(s.now()); up.After(s.now()) {
		s.at(up, func() { s.safeUnused(p) })
		return
	}
	nonce := p.Coin - 1
	if !s.nonceUnused(p.Coin, p) {
		return
	}
	if ss.rejectionTries[nonce] >= maxRejectionTries {
		s.log("safe-rejection-abandoned", "", p, "nonce %d: %d on-chain rejections ended unused; later Safe transactions wait", nonce, ss.rejectionTries[nonce])
		return
	}
	if ss.sc.Quorum.Safe.SkipRejection {
		s.log("safe-rejection-skipped", "", p, "nonce %d is left unused (quorum.safe.skip_rejection: a broken procedure)", nonce)
		return
	}
	if !s.releaseClaims(p) {
		return
	}
	intent := fmt.Sprintf("on-chain rejection of #%d", p.N)
	pe, _, err := s.q.Coord.Propose(s.ctx, coordinator.ProposeParams{Vault: "ops", SafeTx: safe.RejectionJSON(ss.safe, nonce), Intent: intent}, s.q.CoordKeys.Identity)
	if err != nil {
		s.log("safe-rejection-refused", "", p, "the coordinator refused the on-chain rejection of nonce %d: %v", nonce, err)
		return
	}
	ss.rejectionTries[nonce]++
	ss.rejectionsProposed++
	q := s.add(pe, FlowRejection, p.Coin, false)
	s.log("safe-rejection-proposed", "", q, "%s, nonce %d (%s): it moves nothing and frees the transactions waiting behind it", intent, nonce, p.State)
	s.deliver(q, "")
}

// nonceUnused says whether Safe nonce coin-1 is still unused: not
// executed, held by no finalized transaction waiting, and on no proposal
// but ended ones (except, besides, is the one that just ended).
func (s *sim) nonceUnused(coin uint64, except *Prop) bool {
	ss := s.safe
	n := coin - 1
	if n < ss.nonce {
		return false
	}
	if _, ok := ss.ready[n]; ok {
		return false
	}
	for _, q := range s.props {
		if q == except || q.Coin != coin || q.Attack || q.Lost {
			continue
		}
		switch q.State {
		case "open", "approved", "finalized":
			return false
		}
	}
	return true
}

// releaseClaims has the coordinator release ended proposal p and the
// stations that approved it apply the release: their claim on its nonce
// is freed, so they may sign the rejection (their double-sign guard
// refuses a second transaction on a nonce they claimed). Executing the
// rejection makes their signatures on p useless on chain.
func (s *sim) releaseClaims(p *Prop) bool {
	rel, err := s.q.Coord.Release(s.ctx, p.hex(), s.q.CoordKeys.Identity)
	if err != nil {
		s.fail(fmt.Errorf("drill: releasing %s: %w", p.name(), err))
		return false
	}
	raw, err := rel.Encode()
	if err != nil {
		s.fail(err)
		return false
	}
	var who []string
	for w, ok := range p.Approved {
		if ok {
			who = append(who, w)
		}
	}
	slices.Sort(who)
	for _, w := range who {
		if s.m.lostAt(w, s.now()) || s.compromised(w) || s.revokedPerson(w) {
			continue
		}
		if _, err := s.q.Stations[w].ApplyRelease(s.ctx, raw, nil); err != nil {
			s.fail(fmt.Errorf("drill: %s applying the release of %s: %w", w, p.name(), err))
			return false
		}
	}
	return true
}

// holes are the Safe nonces below a finalized transaction still waiting
// that nothing fills at the end: no transaction executed them and no
// proposal on them is still open (one still open was not given the time
// to finish). Each names what waits behind it.
func (s *sim) holes() []string {
	ss := s.safe
	var top uint64
	for n := range ss.ready {
		top = max(top, n+1)
	}
	var out []string
	for n := ss.nonce; n < top; n++ {
		if _, ok := ss.ready[n]; ok {
			continue
		}
		open, tries := false, 0
		for _, q := range s.props {
			if q.Coin-1 != n || q.Attack || q.Lost {
				continue
			}
			if q.State == "open" || q.State == "approved" {
				open = true
			}
			if q.Flow == FlowRejection {
				tries++
			}
		}
		if open {
			continue
		}
		waiting := 0
		for m := range ss.ready {
			if m > n {
				waiting++
			}
		}
		out = append(out, fmt.Sprintf("Safe nonce %d is unused and nothing open fills it (%d on-chain rejections proposed): %d finalized transactions wait behind it", n, tries, waiting))
	}
	return out
}

// SafeStats is the report's Safe section: what executed on chain, what
// still waits, and the on-chain rejections.
type SafeStats struct {
	// Executed counts the finalized transactions executed on chain
	// (rejections included); Waiting and Reverted name those still
	// waiting for an earlier nonce and those whose execution reverted.
	Executed int      `json:"executed"`
	Waiting  []string `json:"waiting"`
	Reverted []string `json:"reverted"`
	// RejectionsProposed and Rejections count the on-chain rejections
	// proposed and executed, each filling a nonce a payment's proposal
	// left unused.
	RejectionsProposed int `json:"rejectionsProposed"`
	Rejections         int `json:"rejections"`
	// Holes are the nonces left unused at the end with transactions
	// waiting behind them and nothing open to fill them.
	Holes []string `json:"holes"`
}

// safeStats is the report's Safe section, from the checker's reading.
func (s *sim) safeStats() *SafeStats {
	c := s.hist.Safe
	if s.safe == nil || c == nil {
		return nil
	}
	return &SafeStats{Executed: c.Executed, Waiting: append([]string{}, c.Waiting...), Reverted: append([]string{}, c.Reverted...),
		RejectionsProposed: c.RejectionsProposed, Rejections: c.Rejections, Holes: append([]string{}, c.Holes...)}
}
