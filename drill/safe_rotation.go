package drill

// A rotation on a Safe quorum: after the version that revokes a lost or
// compromised station is adopted, the Safe's owners must change on chain
// too. The coordinator proposes the owner rotation toward the new
// version's owners (coordinator.SafeRotation: swapOwner and the rest,
// batched through MultiSendCallOnly), the remaining owners review and
// sign it as any proposal, and it executes on the simulated chain in
// nonce order. Policy first, chain second (docs/safe.md, "Rotation").

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/internal/quorum"
)

// FlowRotation is the flow of a Safe's owner rotation proposal.
const FlowRotation = "rotation"

func init() {
	for _, k := range []string{"withdrawn", "safe-rotation-proposed", "safe-rotation-executed", "safe-rotation-refused", "safe-rotation-skipped", "safe-reverted"} {
		notable[k] = true
	}
}

// safeRotate proposes the Safe's owner rotation toward the version in
// effect (for rotation ri of the run's; -1 for a policy change), and
// hands it to the stations that are owners on chain now (a replacement
// is not one yet: its signature would not count on chain). Its nonce is
// the first one no finalized transaction holds: payments finalized
// before it execute first, those proposed after it wait for it. Nothing
// when the version changes neither the owners nor the threshold.
func (s *sim) safeRotate(ri int) {
	ss := s.safe
	if ss.sc.Quorum.Safe.SkipRotation {
		s.log("safe-rotation-skipped", "", nil, "the Safe's owners are left as they are on chain (quorum.safe.skip_rotation: a broken procedure)")
		return
	}
	if up := s.m.coordinatorUp(s.now()); up.After(s.now()) {
		s.at(up, func() { s.safeRotate(ri) })
		return
	}
	pol, _, err := s.q.Coord.WS.Policy(quorum.Reg)
	if err != nil {
		s.fail(err)
		return
	}
	next, nextTh, err := s.safeOwners(pol.Version)
	if err != nil {
		s.fail(err)
		return
	}
	if slices.Equal(ss.planned, rotated(ss.planned, next)) && len(ss.planned) == len(next) && nextTh == ss.plannedTh {
		return // the rules changed, not the owners
	}
	// The rotation's nonce: the lowest freed nonce of a withdrawn stale
	// payment above every finalized transaction still waiting, else the
	// next one. What is finalized executes before it, with the owners who
	// signed it; a stale payment proposed again below it is signed by
	// those owners only, one above it also by the replacement, whose
	// signature counts on chain once the rotation executed.
	stale := s.withdrawStale(pol.Version)
	var waiting uint64 // the coin of the highest finalized one waiting
	for n := range ss.ready {
		waiting = max(waiting, n+1)
	}
	coin := uint64(0) // the Safe nonce coin-1, as a payment's
	for _, q := range stale {
		if q.Coin > waiting {
			coin = q.Coin
			break
		}
	}
	if coin == 0 {
		s.coin++
		coin = s.coin
	}
	payload, err := coordinator.SafeRotation(pol, "ops", ss.planned, ss.plannedTh, coin-1)
	if err != nil {
		s.fail(fmt.Errorf("drill: the Safe's owner rotation: %w", err))
		return
	}
	pe, _, err := s.q.Coord.Propose(s.ctx, coordinator.ProposeParams{Vault: "ops", Payload: payload, Intent: "owner rotation to the policy in effect"}, s.q.CoordKeys.Identity)
	if err != nil {
		s.log("safe-rotation-refused", "", nil, "the coordinator refused the owner rotation: %v", err)
		return
	}
	p := s.add(pe, FlowRotation, coin, false)
	if ri >= 0 {
		s.ext.rotations[ri].prop = p
	}
	out, in := ownerDiff(ss.planned, next)
	s.log("safe-rotation-proposed", "", p, "the Safe's owner rotation toward version %d, nonce %d: %s out, %s in, threshold %d", pol.Version, coin-1, s.ownerNames(out), s.ownerNames(in), nextTh)
	owners := map[string]bool{} // the owners on chain when it executes
	for _, o := range ss.planned {
		owners[ss.names[o]] = true
	}
	ss.planned, ss.plannedTh = rotated(ss.planned, next), nextTh
	s.deliverOwners(p, owners)
	// The stale payments again, under the new version, on the other freed
	// nonces, then on new ones.
	var slots []uint64
	for _, q := range stale {
		if q.Coin != coin {
			slots = append(slots, q.Coin)
		}
	}
	for _, q := range stale {
		c := s.coin + 1
		if len(slots) > 0 {
			c, slots = slots[0], slots[1:]
		} else {
			s.coin = c
		}
		only := owners
		if c > coin {
			only = nil
		}
		s.safeProposeAgain(q, c, only)
	}
}

// deliverOwners is deliver to the stations in owners only (all, for
// nil), none revoked.
func (s *sim) deliverOwners(p *Prop, owners map[string]bool) {
	for _, who := range s.people {
		if (owners != nil && !owners[who]) || s.revokedPerson(who) {
			continue
		}
		lat := s.m.actors[who].latency(s.r)
		at := s.m.ready(who, s.now().Add(lat), s.awayOn)
		if at.IsZero() {
			continue
		}
		s.at(at, func() { s.decide(who, p) })
	}
}

// safeProposeAgain proposes stale payment q again under the version in
// effect, on coin (Safe nonce coin-1), handed to the stations in owners
// (all, for nil): proposeCoin with the delivery a Safe's nonce order
// needs.
func (s *sim) safeProposeAgain(q *Prop, coin uint64, owners map[string]bool) {
	f := s.sc.Workload[q.flow]
	params := coordinator.ProposeParams{Vault: "ops", Lifetime: f.Lifetime.D(), Urgent: f.Kind == Urgent, Intent: f.Kind + " payment", Template: f.Template,
		SafeTx: s.safe.payment(coin, f.To, f.sats)}
	if f.Template != "" {
		params.Intent = f.Kind + " payment under template " + f.Template
	}
	pe, _, err := s.q.Coord.Propose(s.ctx, params, s.q.CoordKeys.Identity)
	if errors.Is(err, coordinator.ErrDenied) || errors.Is(err, coordinator.ErrBlocked) {
		s.log("denied", "", nil, "%s payment of %s ETH, again: %v", f.Kind, f.Amount, err)
		return
	}
	if err != nil {
		s.fail(err)
		return
	}
	p := s.add(pe, f.Kind, coin, false)
	p.flow = q.flow
	s.log("proposed-again", "", p, "%s payment of %s ETH, nonce %d, again: %s was stale after the rotation", f.Kind, f.Amount, coin-1, q.name())
	s.deliverOwners(p, owners)
}

// safeOwners are vault ops's Safe owners and threshold in policy version
// n, in policy order; the names of their addresses are recorded for the
// record and the checker.
func (s *sim) safeOwners(n uint64) ([]common.Address, int, error) {
	pol, err := s.policyVersion(n)
	if err != nil {
		return nil, 0, err
	}
	v, ok := pol.Vault("ops")
	if !ok {
		return nil, 0, fmt.Errorf("drill: policy version %d has no vault ops", n)
	}
	var out []common.Address
	for _, ref := range v.Signers {
		who := ref[:len(ref)-len("/keystore")]
		sg, ok := pol.SignerFor(v, who)
		if !ok {
			return nil, 0, fmt.Errorf("drill: vault ops's signer %s is in no policy entry", ref)
		}
		o, err := safe.ParseOwnerKey(sg.Device.KeyFor("ethereum"))
		if err != nil {
			return nil, 0, err
		}
		s.safe.names[o.Address] = who
		out = append(out, o.Address)
	}
	return out, v.Threshold, nil
}

func (s *sim) ownerNames(as []common.Address) string {
	if len(as) == 0 {
		return "none"
	}
	var names []string
	for _, a := range as {
		names = append(names, s.safe.names[a])
	}
	return fmt.Sprint(names)
}

// ownerDiff: the owners in cur and not in next, and those in next and
// not in cur.
func ownerDiff(cur, next []common.Address) (out, in []common.Address) {
	for _, o := range cur {
		if !slices.Contains(next, o) {
			out = append(out, o)
		}
	}
	for _, o := range next {
		if !slices.Contains(cur, o) {
			in = append(in, o)
		}
	}
	return out, in
}

// rotated is the Safe's owner list, in its own order, after
// safe.RotationCalls from cur to next: each swapped owner in the place of
// the one it replaces, added ones first, removed ones gone.
func rotated(cur, next []common.Address) []common.Address {
	out, in := ownerDiff(cur, next)
	list := slices.Clone(cur)
	n := min(len(out), len(in))
	for i := 0; i < n; i++ {
		list[slices.Index(list, out[i])] = in[i]
	}
	for _, o := range in[n:] {
		list = append([]common.Address{o}, list...)
	}
	for _, o := range out[n:] {
		list = slices.DeleteFunc(list, func(x common.Address) bool { return x == o })
	}
	return list
}

// name records the participant whose station config holds the owner key
// ethereum (a replacement's, before a version lists it).
func (ss *safeSide) name(who, ethereum string) {
	if o, err := safe.ParseOwnerKey(ethereum); err == nil {
		ss.names[o.Address] = who
	}
}

// withdrawStale: a payment still open under an older version is stale
// now (its vault's owners changed) and would leave its nonce unused,
// holding every later Safe transaction back (a Safe executes in nonce
// order). The coordinator withdraws it and the stations apply the signed
// release, freeing their claim on its nonce; it is returned, in nonce
// order, to be proposed again under version n.
func (s *sim) withdrawStale(n uint64) []*Prop {
	var out []*Prop
	for _, p := range slices.Clone(s.props) {
		if p.Attack || p.Lost || p.flow < 0 || p.Version >= n {
			continue
		}
		if st := s.state(p); st != "open" && st != "approved" {
			continue
		}
		why := fmt.Sprintf("stale under policy version %d (the Safe's owners change): withdrawn, to be proposed again under it", n)
		rel, err := s.q.Coord.Withdraw(s.ctx, p.hex(), why, s.q.CoordKeys.Identity)
		if err != nil {
			s.fail(fmt.Errorf("drill: withdrawing stale %s: %w", p.name(), err))
			return out
		}
		p.State = "withdrawn"
		s.log("withdrawn", "", p, "%s", why)
		raw, err := rel.Encode()
		if err != nil {
			s.fail(err)
			return out
		}
		for _, who := range s.people {
			if s.m.lostAt(who, s.now()) || s.compromised(who) || s.revokedPerson(who) {
				continue
			}
			if _, err := s.q.Stations[who].ApplyRelease(s.ctx, raw, nil); err != nil {
				s.fail(fmt.Errorf("drill: %s applying the release of %s: %w", who, p.name(), err))
				return out
			}
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *Prop) int { return int(a.Coin) - int(b.Coin) })
	return out
}
