package drill

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/vault"
)

// Event is one line of the simulator's record: what happened, when, to
// whom and to which proposal (numbered in the run, from 1; 0 for none).
type Event struct {
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"`
	Who      string    `json:"who,omitempty"`
	Proposal int       `json:"proposal,omitempty"`
	Note     string    `json:"note,omitempty"`
}

// Prop is one proposal of the run, as the simulator followed it.
type Prop struct {
	N       int
	Flow    string // routine, urgent, large, or "attack:" + the attack
	Attack  bool
	Coin    uint64
	Raw     []byte
	ID      [32]byte
	Created time.Time
	Expires time.Time
	// QuorumAt and FinalAt are zero until the proposal reaches them.
	QuorumAt, FinalAt time.Time
	State             string
	// Decided: when each station decided (approve or reject).
	Decided  map[string]time.Time
	Approved map[string]bool
	// Rejected: why each station that refused it did (ids scrubbed).
	Rejected map[string]string
	// By is the compromised station an attack was signed with.
	By string
	// Version is the policy version the proposal cites.
	Version uint64
	// Lost: the coordinator lost it in a restore from a backup.
	Lost bool
	// Tx is the final transaction, once finalized.
	Tx []byte
	// flow is the workload flow the payment belongs to (-1: none, an
	// attack or a recovery); again, that it was proposed again after a
	// restore lost its first proposal.
	flow  int
	again bool
}

// item is a scheduled action.
type item struct {
	at  time.Time
	seq int
	do  func()
}

type queue []*item

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*item)) }
func (q *queue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

// sim is one run.
type sim struct {
	// dir is the run's folder; database the coordinator's PostgreSQL
	// database, if any (Options.Database).
	dir, database string

	// flushHeads writes the workspaces' heads (quorum.WriteHeadsBehind).
	flushHeads func()
	ctx        context.Context
	sc         *Scenario
	q          *quorum.Quorum
	m          *model
	r          *rand.Rand
	queue      queue
	seq        int
	err        error

	props  []*Prop
	byID   map[[32]byte]*Prop
	record []Event
	hist   History
	coin   uint64
	away   map[string]map[int]bool
	// lost are armed media-lost faults: the next approval carried back
	// (by person, when set) is lost.
	lost []Fault
	// collected are decisions the coordinator took in, oldest first, for
	// media-replayed.
	collected []carried
	vault     *vault.Vault

	seed   uint64
	people []string
	ext    extra
	chain  *simChain
	// safe is vault ops's Safe on the simulated Ethereum chain, when the
	// scenario has quorum.safe (safe.go); nil for a Bitcoin vault.
	safe *safeSide
	// media are the removable media under carry: media
	// (carry_media.go); nil when artifacts cross in memory.
	media *mediaSide
}

type carried struct {
	who  string
	p    *Prop
	raw  []byte
	late bool
	// medium and seq: the folder and transfer it came on (carry: media).
	medium string
	seq    uint64
}

// Options of a run.
type Options struct {
	// Seed, when set, replaces the scenario's.
	Seed *uint64
	// Dir is where the run's temporary drill workspaces are made (default
	// /dev/shm where it exists, a memory file system where every fsync is
	// free, else the system's temporary folder); they are removed
	// afterwards.
	Dir string
	// Database, when set, keeps the coordinator's store in this
	// PostgreSQL database (a postgres:// URL; pgx's search_path may pick
	// a schema), which must be empty: the coordinator the service runs.
	// A database-restored fault then backs it up with pg_dump and
	// restores it with pg_restore (pgbackup.go).
	Database string
}

// workDir is where a run's workspaces go by default.
func workDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if f, err := os.CreateTemp("/dev/shm", ".airlock-drill-probe-"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return "/dev/shm"
		}
	}
	return ""
}

// Run simulates the scenario on a fresh quorum of drill workspaces,
// checks the invariants over the recorded history and computes the
// metrics. An error means the drill could not run; a violated invariant
// is in the Report (Report.Passed false).
func Run(ctx context.Context, sc *Scenario, o Options) (*Report, error) {
	seed := sc.Seed
	if o.Seed != nil {
		seed = *o.Seed
	}
	if o.Dir == "" {
		o.Dir = workDir()
	}
	dir, err := os.MkdirTemp(o.Dir, "airlock-drill-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	vaults := ""
	signers := make([]string, len(sc.Quorum.People))
	for i, who := range sc.Quorum.People {
		signers[i] = who + "/keystore"
	}
	vaults = fmt.Sprintf("vaults:\n  - name: ops\n    chain: bitcoin\n    threshold: %d\n    signers: [%s]\n", sc.Quorum.Threshold, strings.Join(signers, ", "))
	rules := sc.Quorum.Rules
	if rules != "" && !strings.HasSuffix(rules, "\n") {
		rules += "\n"
	}
	people := sc.Quorum.People
	if r := sc.Quorum.Recovery; r != nil {
		people = append(append([]string(nil), people...), r.Person)
		vaults += fmt.Sprintf("    recovery: {signer: %s/keystore, after_blocks: %d}\n", r.Person, r.AfterBlocks)
	}
	qo := quorum.Options{People: people, Rules: rules, Vaults: vaults, Start: sc.Start, MaxLifetime: sc.Quorum.MaxLifetime.D(), Database: o.Database}
	side, err := newSafeSide(sc, &qo) // safe.go; nil without quorum.safe
	if err != nil {
		return nil, err
	}
	if side != nil {
		defer side.close()
	}
	q, err := quorum.Build(dir, qo)
	if q != nil {
		defer q.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("drill: building the quorum: %w", err)
	}
	// The heads behind the commits, as the service writes them; written
	// before the checker reads the logs (finish).
	flushHeads := q.WriteHeadsBehind()
	defer flushHeads()
	v, err := vault.Resolve(q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		return nil, err
	}
	if err := templatesKnown(sc, q); err != nil {
		return nil, err
	}
	s := &sim{
		ctx: ctx, sc: sc, q: q, m: newModel(sc), r: rand.New(rand.NewPCG(seed, 0x6169726c6f636b)),
		byID: map[[32]byte]*Prop{}, away: map[string]map[int]bool{}, vault: v, flushHeads: flushHeads,
		seed: seed, people: append([]string(nil), sc.Quorum.People...), safe: side,
		dir: dir, database: o.Database,
	}
	s.chain = newSimChain(sc.Start, q.Now)
	if err := s.startMedia(); err != nil { // carry_media.go
		return nil, err
	}
	s.ext.envs = append(s.ext.envs, q.Policy)
	s.hist.Proposals = map[string]*ProposalRecord{}
	s.plan()
	s.planExtra()
	for s.queue.Len() > 0 && s.err == nil {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		it := heap.Pop(&s.queue).(*item)
		if it.at.After(s.m.end) {
			break
		}
		if d := it.at.Sub(q.Now()); d > 0 {
			q.Advance(d)
		}
		it.do()
	}
	if s.err != nil {
		return nil, s.err
	}
	if d := s.m.end.Sub(q.Now()); d > 0 {
		q.Advance(d)
	}
	if err := s.finish(); err != nil {
		return nil, err
	}
	rep := s.report(seed)
	return rep, nil
}

// at schedules do at t (to the second).
func (s *sim) at(t time.Time, do func()) {
	s.seq++
	heap.Push(&s.queue, &item{at: t.UTC().Truncate(time.Second), seq: s.seq, do: do})
}

func (s *sim) now() time.Time { return s.q.Now() }

func (s *sim) log(kind, who string, p *Prop, format string, args ...any) {
	n := 0
	if p != nil {
		n = p.N
	}
	s.record = append(s.record, Event{At: s.now(), Kind: kind, Who: who, Proposal: n, Note: s.scrub(fmt.Sprintf(format, args...))})
}

func (s *sim) fail(err error) {
	if s.err == nil {
		s.err = fmt.Errorf("drill: at %s: %w", s.now().Format(time.RFC3339), err)
	}
}

// awayOn draws, once per person and local day, whether they are away.
func (s *sim) awayOn(who string, t time.Time) bool {
	p := s.m.actors[who].AwayPerDay
	if p == 0 {
		return false
	}
	d := s.m.dayIndex(who, t)
	if s.away[who] == nil {
		s.away[who] = map[int]bool{}
	}
	v, ok := s.away[who][d]
	if !ok {
		v = s.r.Float64() < p
		s.away[who][d] = v
	}
	return v
}

// plan schedules the workload's payments and the faults.
func (s *sim) plan() {
	for fi, f := range s.sc.Workload {
		every := f.Every.D()
		for k := 0; ; k++ {
			t := s.m.start.Add(time.Duration(k) * every).Add(time.Duration(s.r.Int64N(int64(every/4/time.Second)+1)) * time.Second)
			if !t.Before(s.m.end) {
				break
			}
			s.at(t, func() { s.propose(fi) })
		}
	}
	// Each workspace signs a checkpoint of its log every day, as
	// "airlock audit checkpoint" on a schedule does.
	for t := s.m.start; t.Before(s.m.end); t = t.Add(24 * time.Hour) {
		s.at(t, s.checkpoints)
	}
	for _, f := range s.sc.Faults {
		at := s.m.start.Add(f.At.D())
		s.at(at, func() { s.fault(f) })
		if f.For > 0 {
			s.at(at.Add(f.For.D()), func() { s.log("fault-end", f.Person, nil, "%s ends", f.Kind) })
		}
	}
}

// checkpoints has every workspace whose key is not lost sign a
// checkpoint of its log.
func (s *sim) checkpoints() {
	if _, err := s.q.Coord.WS.Checkpoint(s.ctx, s.q.CoordKeys.Identity); err != nil {
		s.fail(err)
	}
	for _, who := range s.logged() {
		if s.m.lostAt(who, s.now()) {
			continue
		}
		m := s.q.Stations[who]
		if _, err := m.WS.Checkpoint(s.ctx, m.Keys.Identity); err != nil {
			s.fail(err)
		}
	}
}

// propose makes a payment of flow fi, when the coordinator is up.
func (s *sim) propose(fi int) {
	if up := s.m.coordinatorUp(s.now()); up.After(s.now()) {
		s.log("deferred", "", nil, "%s payment waits for the coordinator (up at %s)", s.sc.Workload[fi].Kind, up.Format(time.RFC3339))
		s.at(up, func() { s.propose(fi) })
		return
	}
	s.coin++
	s.proposeCoin(fi, s.coin, "")
}

// proposeCoin proposes a payment of flow fi on rehearsal coin coin; again
// names the proposal a restore lost, when it is proposed again.
func (s *sim) proposeCoin(fi int, coin uint64, again string) *Prop {
	f := s.sc.Workload[fi]
	params := coordinator.ProposeParams{Vault: "ops", Lifetime: f.Lifetime.D(), Urgent: f.Kind == Urgent, Intent: f.Kind + " payment", Template: f.Template}
	if f.Template != "" {
		params.Intent = f.Kind + " payment under template " + f.Template
	}
	if s.safe != nil { // a Safe transaction, its nonce coin-1 (safe.go)
		params.SafeTx = s.safe.payment(coin, f.To, f.sats)
	} else {
		syn, err := s.vault.Synthetic(vault.SyntheticRequest{Seed: coin, To: f.To, Amount: f.sats, Fee: 1000})
		if err != nil {
			s.fail(err)
			return nil
		}
		params.Payload = syn.PSBT
	}
	pe, _, err := s.q.Coord.Propose(s.ctx, params, s.q.CoordKeys.Identity)
	if errors.Is(err, coordinator.ErrDenied) || errors.Is(err, coordinator.ErrBlocked) {
		s.log("denied", "", nil, "%s payment of %s BTC: %v", f.Kind, f.Amount, err)
		return nil
	}
	if err != nil {
		s.fail(err)
		return nil
	}
	p := s.add(pe, f.Kind, coin, false)
	p.flow = fi
	if again != "" {
		s.log("proposed-again", "", p, "%s payment of %s BTC, again: %s", f.Kind, f.Amount, again)
	} else {
		s.log("proposed", "", p, "%s payment of %s BTC", f.Kind, f.Amount)
	}
	s.deliver(p, "")
	return p
}

// add registers a new proposal.
func (s *sim) add(pe *envelope.Envelope, flow string, coin uint64, attack bool) *Prop {
	raw, err := pe.Encode()
	if err != nil {
		s.fail(err)
	}
	pp, err := proposal.Decode(pe)
	if err != nil {
		s.fail(err)
		pp = &proposal.Proposal{}
	}
	p := &Prop{N: len(s.props) + 1, Flow: flow, Attack: attack, Coin: coin, Raw: raw, ID: pe.ID(), Created: s.now(),
		Expires: pp.ExpiresTime(), State: "open", Decided: map[string]time.Time{}, Approved: map[string]bool{}, Rejected: map[string]string{},
		Version: s.versionOf(pp.Policy), flow: -1}
	s.props = append(s.props, p)
	s.byID[p.ID] = p
	s.hist.Proposals[hex.EncodeToString(p.ID[:])] = &ProposalRecord{Name: p.name(), Expires: p.Expires, Attack: attack}
	s.at(p.Expires, func() { s.expire(p) })
	return p
}

func (p *Prop) name() string { return fmt.Sprintf("#%d (%s)", p.N, p.Flow) }

// deliver hands the proposal to every station but skip: each person
// decides after their latency, when they are next available.
func (s *sim) deliver(p *Prop, skip string) {
	for _, who := range s.people {
		if who == skip || s.revokedPerson(who) {
			continue
		}
		lat := s.m.actors[who].latency(s.r)
		at := s.m.ready(who, s.now().Add(lat), s.awayOn)
		if at.IsZero() {
			continue
		}
		if s.media != nil {
			s.sendProposal(who, p) // carry_media.go
		}
		s.at(at, func() { s.decide(who, p) })
	}
}

// decide: the person reviews the proposal at their station and signs it,
// or, when the station refuses, signs a rejection with the reason.
func (s *sim) decide(who string, p *Prop) {
	if s.m.lostAt(who, s.now()) || p.State == "finalized" || p.State == "rejected" {
		return
	}
	m := s.q.Stations[who]
	late := !s.now().Before(p.Expires)
	var raw []byte
	var ok bool
	if s.media != nil {
		raw, ok = s.fetch(who, p) // carry_media.go
	} else {
		raw, ok = s.overQR(who, p, "the proposal to "+who+"'s station", p.Raw, func() { s.decide(who, p) })
	}
	if !ok {
		return
	}
	ae, _, err := m.Sign(s.ctx, raw, station.Decision{Approve: true}, m.Keys.Identity, m.Keys.Chain)
	var ref *station.Refusal
	switch {
	case err == nil:
		p.Decided[who], p.Approved[who] = s.now(), true
		s.hist.Attempts = append(s.hist.Attempts, Attempt{What: "sign", By: who, Proposal: p.hex(), Late: late, Accepted: true})
		s.log("approved", who, p, "after %s", human(s.now().Sub(p.Created)))
		s.carry(who, p, ae, late)
	case errors.As(err, &ref) && late:
		s.hist.Attempts = append(s.hist.Attempts, Attempt{What: "sign", By: who, Proposal: p.hex(), Late: true})
		s.log("late-sign-refused", who, p, "%s", ref.Reasons[0])
	case errors.As(err, &ref):
		reason := "refused by the station: " + strings.Join(ref.Reasons, "; ")
		if len(reason) > proposal.MaxReason {
			reason = reason[:proposal.MaxReason]
		}
		re, _, err := m.Sign(s.ctx, raw, station.Decision{Reason: reason}, m.Keys.Identity, m.Keys.Chain)
		if err != nil {
			s.log("no-decision", who, p, "%v", err)
			return
		}
		p.Decided[who], p.Rejected[who] = s.now(), s.scrub(ref.Reasons[0])
		s.guard(who, p, ref)
		kind := "rejected"
		if p.Attack {
			kind = "attack-rejected"
		}
		s.log(kind, who, p, "%s", ref.Reasons[0])
		s.carry(who, p, re, late)
	default:
		s.fail(fmt.Errorf("%s signing %s: %w", who, p.name(), err))
	}
}

func (p *Prop) hex() string { return hex.EncodeToString(p.ID[:]) }

// carry takes a station's decision back to the coordinator (in memory:
// the seam where media are lost or replayed).
func (s *sim) carry(who string, p *Prop, ae *envelope.Envelope, late bool) {
	raw, err := ae.Encode()
	if err != nil {
		s.fail(err)
		return
	}
	id := ae.IDHex()
	s.hist.Decisions = append(s.hist.Decisions, DecisionRecord{Station: who, Proposal: p.hex(), Approval: id})
	idx := len(s.hist.Decisions) - 1
	if s.media != nil {
		s.carryMedium(who, p, ae, idx) // carry_media.go
		return
	}
	s.at(s.now(), func() { s.arrive(who, p, raw, idx) })
}

// arrive: the decision reaches the coordinator, which collects it (and
// finalizes once the threshold is met).
func (s *sim) arrive(who string, p *Prop, raw []byte, idx int) {
	if up := s.m.coordinatorUp(s.now()); up.After(s.now()) {
		s.at(up, func() { s.arrive(who, p, raw, idx) })
		return
	}
	for i, f := range s.lost {
		if f.Person == "" || f.Person == who {
			s.lost = append(s.lost[:i], s.lost[i+1:]...)
			at := s.m.ready(who, s.now().Add(f.Reexport.D()), s.awayOn)
			s.log("media-lost", who, p, "the decision carried back is lost; exported again at %s", at.Format(time.RFC3339))
			if !at.IsZero() {
				s.at(at, func() { s.reexport(who, p, idx) })
			}
			return
		}
	}
	sent := raw
	got, ok := s.overQR(who, p, who+"'s decision to the coordinator", sent, func() { s.arrive(who, p, sent, idx) })
	if !ok {
		return
	}
	s.collect(who, p, got, idx, false)
}

// reexport: the station writes its kept decision again (what "airlock
// export" does) and it is carried back.
func (s *sim) reexport(who string, p *Prop, idx int) {
	if s.m.lostAt(who, s.now()) {
		s.log("no-reexport", who, p, "the station's key is lost")
		return
	}
	e, err := s.q.Stations[who].WS.Decision(p.ID)
	if err != nil {
		s.fail(fmt.Errorf("%s exporting its decision on %s again: %w", who, p.name(), err))
		return
	}
	if s.media != nil {
		s.reexportMedium(who, p, idx, e) // carry_media.go
		return
	}
	raw, err := e.Encode()
	if err != nil {
		s.fail(err)
		return
	}
	s.log("reexported", who, p, "")
	s.arrive(who, p, raw, idx)
}

// collect has the coordinator take a decision in.
func (s *sim) collect(who string, p *Prop, raw []byte, idx int, replay bool) {
	_, err := s.q.Coord.Collect(s.ctx, raw, nil)
	s.collectedAs(carried{who: who, p: p, raw: raw}, idx, replay, err)
}

// collectedAs records what became of a decision the coordinator took in
// (err is its refusal), and finalizes once the threshold is met.
func (s *sim) collectedAs(c carried, idx int, replay bool, err error) {
	who, p := c.who, c.p
	late := !s.now().Before(p.Expires)
	at := Attempt{What: "collect", By: who, Proposal: p.hex(), Late: late, Replay: replay, Accepted: err == nil}
	s.hist.Attempts = append(s.hist.Attempts, at)
	switch {
	case replay && err != nil:
		s.log("replay-refused", who, p, "%v", err)
		return
	case replay:
		s.log("replay-accepted", who, p, "a replayed decision was taken as new")
		return
	case err != nil && late:
		s.log("late-collect-refused", who, p, "%v", err)
		return
	case err != nil:
		s.log("collect-refused", who, p, "%v", err)
		return
	}
	if idx >= 0 {
		s.hist.Decisions[idx].Collected = true
	}
	s.collected = append(s.collected, c)
	s.log("collected", who, p, "")
	st := s.state(p)
	if st == "approved" && p.QuorumAt.IsZero() {
		p.QuorumAt = s.now()
		s.log("quorum", "", p, "after %s", human(s.now().Sub(p.Created)))
	}
	if st == "rejected" && p.State != "rejected" {
		s.log("out-of-reach", "", p, "the threshold can no longer be met")
		if s.safe != nil {
			s.at(s.now(), func() { s.safeUnused(p) }) // safe_reject.go: its nonce is filled
		}
	}
	p.State = st
	if st == "approved" || p.Attack {
		s.finalize(p)
	}
}

// state reads a proposal's state at the coordinator.
func (s *sim) state(p *Prop) string {
	if p.Lost && p.Tx != nil {
		return "finalized" // before the restore; its proof kept
	}
	if p.Lost {
		return "lost"
	}
	var st string
	err := s.q.Coord.WS.View(s.ctx, func(r store.Reader) error {
		sp, err := r.Proposal(p.ID)
		st = sp.State
		return err
	})
	if err != nil {
		s.fail(err)
	}
	return st
}

// finalize assembles a proposal; for an attacker's proposal it is the
// attacker's try, which must fail.
func (s *sim) finalize(p *Prop) {
	late := !s.now().Before(p.Expires)
	fin, err := s.q.Coord.Finalize(s.ctx, p.hex(), s.q.CoordKeys.Identity)
	s.hist.Attempts = append(s.hist.Attempts, Attempt{What: "finalize", Proposal: p.hex(), Late: late, Accepted: err == nil})
	switch {
	case err == nil && p.Tx != nil:
		// Finalized before a restore made the coordinator forget it.
		p.State = "finalized"
		if !bytes.Equal(p.Tx, fin.Final.Raw) {
			s.hist.Refinals = append(s.hist.Refinals, p.name()+": finalized again after the restore into another transaction")
			s.log("refinalized-differently", "", p, "the transaction differs from the first finalization's")
		} else {
			s.log("refinalized", "", p, "finalized again after the restore: the same transaction")
		}
	case err == nil:
		p.State, p.FinalAt, p.Tx = "finalized", s.now(), fin.Final.Raw
		if s.safe != nil {
			s.safeExecute(p) // safe.go: executed on the simulated chain
		}
		if p.Attack {
			s.log("attack-finalized", "", p, "the attacker's transaction was finalized")
		} else {
			s.log("finalized", "", p, "after %s", human(s.now().Sub(p.Created)))
		}
	case p.Attack:
		s.log("attack-refused", "", p, "%v", err)
	case late:
		s.log("late-finalize-refused", "", p, "%v", err)
	default:
		s.log("finalize-failed", "", p, "%v", err)
	}
}

// expire: at its expiry the coordinator ends the proposal, and a try to
// finalize it must fail.
func (s *sim) expire(p *Prop) {
	if up := s.m.coordinatorUp(s.now()); up.After(s.now()) {
		s.at(up, func() { s.expire(p) })
		return
	}
	// Settled already: nothing to expire (ExpireDue is a write, and the
	// most frequent one otherwise).
	switch st := s.state(p); st {
	case "finalized", "rejected", "expired", "withdrawn", "lost":
		p.State = st
		return
	}
	if err := s.q.Coord.ExpireDue(s.ctx); err != nil {
		s.fail(err)
		return
	}
	st := s.state(p)
	if st != "expired" {
		p.State = st
		return
	}
	p.State = "expired"
	s.log("expired", "", p, "%d of %d decisions in", len(p.Decided), len(s.people))
	s.finalize(p)
	if s.safe != nil {
		s.safeUnused(p) // safe_reject.go: its nonce is filled
	}
}

// fault injects a fault at its time.
func (s *sim) fault(f Fault) {
	switch f.Kind {
	case KeyLost:
		// Its log as it stood, checkpointed: the station signs nothing
		// after this.
		m := s.q.Stations[f.Person]
		if _, err := m.WS.Checkpoint(s.ctx, m.Keys.Identity); err != nil {
			s.fail(err)
		}
		s.log("key-lost", f.Person, nil, "%s's station is gone for good", f.Person)
	case Absent:
		s.log("absent", f.Person, nil, "%s is away for %s", f.Person, human(f.For.D()))
	case CoordinatorDown:
		s.log("coordinator-down", "", nil, "for %s", human(f.For.D()))
	case MediaLost:
		s.lost = append(s.lost, f)
		s.log("media-lost-armed", f.Person, nil, "the next decision carried back is lost")
	case MediaReplayed:
		if s.media != nil {
			s.replayMedia(f) // carry_media.go
			return
		}
		s.replay(f)
	case MediaTampered:
		s.media.tamper = append(s.media.tamper, f)
		what := "decision carried back"
		if f.Toward == "station" {
			what = "proposal carried to a station"
		}
		s.log("media-tampered-armed", f.Person, nil, "the next medium with a %s is tampered with", what)
	case Compromised:
		s.compromise(f)
	default:
		s.faultExtra(f)
	}
}

// replay hands in again the oldest decision the coordinator collected
// (by f.Person when set), and that proposal again to its station: both
// must be refused.
func (s *sim) replay(f Fault) {
	if up := s.m.coordinatorUp(s.now()); up.After(s.now()) {
		s.at(up, func() { s.replay(f) })
		return
	}
	for _, c := range s.collected {
		if f.Person != "" && c.who != f.Person {
			continue
		}
		s.log("media-replayed", c.who, c.p, "an old decision handed in again")
		s.collect(c.who, c.p, c.raw, -1, true)
		if s.m.lostAt(c.who, s.now()) {
			return
		}
		m := s.q.Stations[c.who]
		_, _, err := m.Sign(s.ctx, c.p.Raw, station.Decision{Approve: true}, m.Keys.Identity, m.Keys.Chain)
		s.hist.Attempts = append(s.hist.Attempts, Attempt{What: "sign", By: c.who, Proposal: c.p.hex(), Late: !s.now().Before(c.p.Expires), Replay: true, Accepted: err == nil})
		if err == nil {
			s.log("replay-accepted", c.who, c.p, "the station signed a replayed proposal again")
		} else {
			s.log("replay-refused", c.who, c.p, "%v", err)
		}
		return
	}
	s.log("media-replayed", f.Person, nil, "no decision collected yet: nothing to replay")
}

// compromise: the attacker holds f.Person's station key and a way to make
// the coordinator propose (--force). Each attack is proposed, signed with
// the stolen key without any review, handed to the coordinator, and sent
// to the other stations, whose reviews must stop it.
func (s *sim) compromise(f Fault) {
	if up := s.m.coordinatorUp(s.now()); up.After(s.now()) {
		s.at(up, func() { s.compromise(f) })
		return
	}
	s.log("compromised", f.Person, nil, "an attacker signs with %s's station key", f.Person)
	var known string
	var small int64 = 100_000
	for _, fl := range s.sc.Workload {
		if fl.Kind == Routine {
			known, small = fl.To, fl.sats
			break
		}
	}
	for _, attack := range f.Attacks {
		if s.safe != nil {
			s.safeAttack(f, attack, known, small) // safe.go
			continue
		}
		to, amount := f.To, small
		coin := s.coin + 1
		switch attack {
		case AttackOverLimit:
			to, amount = known, f.sats
		case AttackDoubleSpend:
			var target *Prop
			for _, p := range s.props {
				if !p.Attack {
					target = p
				}
			}
			if target == nil {
				s.log("attack-skipped", f.Person, nil, "double-spend: no proposal to double-spend yet")
				continue
			}
			coin = target.Coin
		}
		if coin > s.coin {
			s.coin = coin
		}
		syn, err := s.vault.Synthetic(vault.SyntheticRequest{Seed: coin, To: to, Amount: amount, Fee: 1000})
		if err != nil {
			s.fail(err)
			return
		}
		if !s.attack(f, attack, coordinator.ProposeParams{Payload: syn.PSBT}, coin, s.forge) {
			return
		}
	}
}

// attack: the attacker holding f.Person's station key makes the
// coordinator propose (forced) what params carry, signs it with the
// stolen key through forge, without any review, hands it in and sends it
// to the other stations. False when the run failed.
func (s *sim) attack(f Fault, attack string, params coordinator.ProposeParams, coin uint64, forge func(who string, p *Prop) (*envelope.Envelope, error)) bool {
	params.Vault, params.Force, params.Intent = "ops", true, "attack"
	pe, _, err := s.q.Coord.Propose(s.ctx, params, s.q.CoordKeys.Identity)
	if err != nil {
		s.log("attack-refused", f.Person, nil, "%s: the coordinator refused even forced: %v", attack, err)
		return true
	}
	p := s.add(pe, "attack:"+attack, coin, true)
	p.By = f.Person
	s.log("attack-proposed", f.Person, p, "%s, forced", attack)
	ae, err := forge(f.Person, p)
	if err != nil {
		s.fail(err)
		return false
	}
	p.Decided[f.Person], p.Approved[f.Person] = s.now(), true
	s.log("attack-signed", f.Person, p, "signed with the stolen key, no review")
	raw, err := ae.Encode()
	if err != nil {
		s.fail(err)
		return false
	}
	s.collect(f.Person, p, raw, -1, false)
	s.deliver(p, f.Person)
	return true
}

// forge signs a proposal with a station's keys as the station would, but
// without its review: what an attacker holding the device does.
func (s *sim) forge(who string, p *Prop) (*envelope.Envelope, error) {
	m := s.q.Stations[who]
	pol, polID, err := m.WS.Policy(quorum.Reg)
	if err != nil {
		return nil, err
	}
	e, err := envelope.Decode(p.Raw)
	if err != nil {
		return nil, err
	}
	pp, err := proposal.Decode(e)
	if err != nil {
		return nil, err
	}
	cv, err := proposal.ChainVault(pp, pol)
	if err != nil {
		return nil, err
	}
	v, _ := pol.Vault(pp.Vault)
	signer, ok := pol.SignerFor(v, who)
	if !ok {
		return nil, fmt.Errorf("drill: %s signs nothing for vault %s", who, pp.Vault)
	}
	a, err := quorum.Reg.Lookup(pp.Chain)
	if err != nil {
		return nil, err
	}
	sigs, err := a.Sign(cv, pp.Payload, signer.Device.KeyFor(pp.Chain), m.Keys.Chain)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte("forged: no review"))
	ap := &proposal.Approval{Format: 1, Proposal: p.ID[:], Participant: who, Device: signer.Device.ID, Policy: polID[:],
		PolicyVersion: pol.Version, Time: s.now().Unix(), Review: digest[:], Decision: proposal.Approve, Signatures: sigs}
	return proposal.SealApproval(ap, m.Keys.Identity)
}

var hexRun = regexp.MustCompile(`[0-9a-f]{8,64}`)

// scrub replaces ids in a message (fresh in every run) with the
// proposal's number, or an ellipsis: the record is the same for a seed.
func (s *sim) scrub(msg string) string {
	if s.safe != nil {
		msg = s.safe.scrub(msg) // safe.go: the run's Ethereum addresses
	}
	return hexRun.ReplaceAllStringFunc(msg, func(h string) string {
		for _, p := range s.props {
			if strings.HasPrefix(p.hex(), h) {
				return fmt.Sprintf("#%d", p.N)
			}
		}
		return "…"
	})
}

// human writes a duration as days, hours and minutes.
func human(d time.Duration) string {
	d = d.Truncate(time.Minute)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%02dh%02dm", days, h, m)
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	}
	return fmt.Sprintf("%dm", m)
}
