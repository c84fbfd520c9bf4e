package drill

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Report is a drill's result: the verdict on each invariant, the metrics
// and the notable events. Its JSON is docs/schemas/drill-run.schema.json.
type Report struct {
	Scenario         string       `json:"scenario"`
	Seed             uint64       `json:"seed"`
	Start            string       `json:"start"`
	End              string       `json:"end"`
	SimulatedSeconds int64        `json:"simulatedSeconds"`
	Passed           bool         `json:"passed"`
	Invariants       []Invariant  `json:"invariants"`
	Proposals        Counts       `json:"proposals"`
	Metrics          Metrics      `json:"metrics"`
	Reachability     Reachability `json:"reachability"`
	Faults           []FaultSpan  `json:"faults"`
	Attacks          []Attack     `json:"attacks"`
	Notable          []Event      `json:"notable"`
	Events           int          `json:"events"`
	// The second slice's faults: QR carries, restores of the
	// coordinator's database, policy versions adopted, rotations after a
	// loss (with the time to restore a quorum).
	QR        *QRStats        `json:"qr,omitempty"`
	Restores  []Restore       `json:"restores,omitempty"`
	Versions  []VersionChange `json:"policyVersions,omitempty"`
	Rotations []Rotation      `json:"rotations,omitempty"`
	// Recoveries are the tries of the time-locked recovery path.
	Recoveries []RecoveryAttempt `json:"recoveries,omitempty"`
	// Media are the removable media of a run under carry: media
	// (carry_media.go).
	Media *MediaStats `json:"media,omitempty"`
	// Safe is vault ops's Safe on chain, on a Safe quorum (safe.go).
	Safe *SafeStats `json:"safe,omitempty"`
	// History is what the checker judged (not in the JSON).
	History *History `json:"-"`

	props  []*Prop
	people []string
	start  time.Time
	end    time.Time
}

// Counts are the run's proposals by outcome (the attacker's apart).
type Counts struct {
	Proposed  int `json:"proposed"`
	Finalized int `json:"finalized"`
	Expired   int `json:"expired"`
	Rejected  int `json:"rejected"`
	Open      int `json:"open"` // still open or approved at the end
	Denied    int `json:"deniedAtProposal"`
	Attacks   int `json:"attacks"`
	// Lost: made after a backup the coordinator was restored from.
	Lost int `json:"lostInRestore,omitempty"`
}

// Metrics are the run's figures; durations in seconds.
type Metrics struct {
	TimeToQuorum   Dist          `json:"timeToQuorum"`
	TimeToFinalize Dist          `json:"timeToFinalize"`
	Signing        []StationDist `json:"signing"`
	// Rates over the settled proposals (finalized, expired or rejected)
	// and, for rejections, over the stations' decisions.
	FailureRate   float64 `json:"failureRate"`
	ExpiryRate    float64 `json:"expiryRate"`
	RejectionRate float64 `json:"rejectionRate"`
}

// Dist is a distribution of durations.
type Dist struct {
	Count int   `json:"count"`
	P50   int64 `json:"p50"`
	P95   int64 `json:"p95"`
	Max   int64 `json:"max"`
}

// StationDist is one station's signing latency.
type StationDist struct {
	Station string `json:"station"`
	Dist
}

// Attack is what became of one attacker's proposal.
type Attack struct {
	Proposal int    `json:"proposal"`
	Attack   string `json:"attack"`
	Station  string `json:"station"` // the compromised one
	State    string `json:"state"`
	Stopped  bool   `json:"stopped"`
	// RejectedBy are the stations that refused it, with their reasons.
	RejectedBy []Rejection `json:"rejectedBy"`
}

// Rejection is one station's refusal.
type Rejection struct {
	Station string `json:"station"`
	Reason  string `json:"reason"`
}

// FaultSpan is an injected fault and when it held.
type FaultSpan struct {
	Kind   string `json:"kind"`
	Person string `json:"person,omitempty"`
	At     string `json:"at"`
	Until  string `json:"until,omitempty"`

	from, until time.Time
}

// dist computes nearest-rank percentiles.
func dist(ds []time.Duration) Dist {
	if len(ds) == 0 {
		return Dist{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := func(p float64) int64 {
		i := int(p*float64(len(s))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		return int64(s[i] / time.Second)
	}
	return Dist{Count: len(s), P50: rank(0.50), P95: rank(0.95), Max: int64(s[len(s)-1] / time.Second)}
}

// notable are the record's kinds a report lists.
var notable = map[string]bool{
	"key-lost": true, "compromised": true, "absent": true, "coordinator-down": true, "fault-end": true,
	"media-lost-armed": true, "media-lost": true, "reexported": true, "media-replayed": true,
	"replay-refused": true, "replay-accepted": true, "attack-proposed": true, "attack-signed": true,
	"attack-refused": true, "attack-rejected": true, "attack-finalized": true, "attack-skipped": true, "late-collect-refused": true,
	"late-finalize-refused": true, "finalize-failed": true, "no-reexport": true, "no-decision": true,
	"qr-dropped": true, "qr-retry": true, "backup": true, "restore-refused": true, "restore-undetected": true, "restored": true,
	"proposal-lost": true, "restored-log-accepted": true, "readopted": true, "readopt-refused": true, "guard-held": true, "final-lost": true, "handed-in-again": true, "proposed-again": true, "refinalized": true,
	"refinalized-differently": true, "policy-adopted": true, "policy-change-refused": true, "superseded": true,
	"recovery-refused": true, "recovery-proposed": true, "recovery-finalized": true,
	"rotated": true, "rotation-failed": true, "revoked-refused": true, "revoked-accepted": true, "revoked-try-skipped": true,
	// carry: media (carry_media.go)
	"media-tampered-armed": true, "media-tampered": true, "tamper-refused": true, "tamper-accepted": true,
	"medium-refused": true, "media-gap": true, "not-on-media": true,
}

func (s *sim) report(seed uint64) *Report {
	sc := s.sc
	rep := &Report{
		Scenario: sc.Name, Seed: seed, Start: s.m.start.Format(time.RFC3339), End: s.m.end.Format(time.RFC3339),
		SimulatedSeconds: int64(s.m.end.Sub(s.m.start) / time.Second), Faults: []FaultSpan{}, Notable: []Event{},
		Events: len(s.record), props: s.props, people: s.people, start: s.m.start, end: s.m.end,
	}
	rep.History = &s.hist
	rep.Invariants = Check(s.ctx, &s.hist)
	rep.Passed = true
	for _, inv := range rep.Invariants {
		rep.Passed = rep.Passed && inv.Held
	}
	var ttq, ttf []time.Duration
	lat := map[string][]time.Duration{}
	decisions, rejections := 0, 0
	rep.Attacks = []Attack{}
	for _, p := range s.props {
		if p.Attack {
			rep.Proposals.Attacks++
			a := Attack{Proposal: p.N, Attack: strings.TrimPrefix(p.Flow, "attack:"), Station: p.By, State: p.State,
				Stopped: p.State != "finalized" && p.State != "broadcast", RejectedBy: []Rejection{}}
			for _, who := range s.people {
				if why, ok := p.Rejected[who]; ok {
					a.RejectedBy = append(a.RejectedBy, Rejection{who, why})
				}
			}
			rep.Attacks = append(rep.Attacks, a)
			continue
		}
		rep.Proposals.Proposed++
		switch p.State {
		case "finalized", "broadcast":
			rep.Proposals.Finalized++
		case "expired":
			rep.Proposals.Expired++
		case "rejected", "withdrawn":
			rep.Proposals.Rejected++
		case "lost":
			rep.Proposals.Lost++
		default:
			rep.Proposals.Open++
		}
		if !p.QuorumAt.IsZero() {
			ttq = append(ttq, p.QuorumAt.Sub(p.Created))
		}
		if !p.FinalAt.IsZero() {
			ttf = append(ttf, p.FinalAt.Sub(p.Created))
		}
		for who, at := range p.Decided {
			decisions++
			if !p.Approved[who] {
				rejections++
			}
			lat[who] = append(lat[who], at.Sub(p.Created))
		}
	}
	for _, e := range s.record {
		if e.Kind == "denied" {
			rep.Proposals.Denied++
		}
		if notable[e.Kind] {
			rep.Notable = append(rep.Notable, e)
		}
	}
	rep.Metrics.TimeToQuorum, rep.Metrics.TimeToFinalize = dist(ttq), dist(ttf)
	rep.Metrics.Signing = []StationDist{}
	for _, who := range s.people {
		rep.Metrics.Signing = append(rep.Metrics.Signing, StationDist{Station: who, Dist: dist(lat[who])})
	}
	if settled := rep.Proposals.Finalized + rep.Proposals.Expired + rep.Proposals.Rejected; settled > 0 {
		rep.Metrics.FailureRate = round4(float64(rep.Proposals.Expired+rep.Proposals.Rejected) / float64(settled))
		rep.Metrics.ExpiryRate = round4(float64(rep.Proposals.Expired) / float64(settled))
	}
	if decisions > 0 {
		rep.Metrics.RejectionRate = round4(float64(rejections) / float64(decisions))
	}
	rep.Reachability = s.m.reachability(seed, sc.Reach.Runs, sc.Reach.Deadline.D())
	for _, f := range sc.Faults {
		at := s.m.start.Add(f.At.D())
		fs := FaultSpan{Kind: f.Kind, Person: f.Person, At: at.Format(time.RFC3339), from: at}
		if f.For > 0 {
			fs.until = at.Add(f.For.D())
			fs.Until = fs.until.Format(time.RFC3339)
		}
		if f.Kind == KeyLost {
			fs.until = s.m.end
		}
		rep.Faults = append(rep.Faults, fs)
	}
	if s.media != nil {
		st := s.media.stats
		rep.Media = &st
	}
	if s.ext.qr.Carries > 0 {
		q := s.ext.qr
		rep.QR = &q
	}
	rep.Restores, rep.Versions, rep.Recoveries = s.ext.restores, s.ext.versions, s.ext.recoveries
	rep.Safe = s.safeStats() // safe_reject.go
	for _, r := range s.ext.rotations {
		// Time to restore a quorum: from the loss to the first proposal
		// made under the rotated version (or a later one) finalized.
		var first time.Time
		for _, p := range s.props {
			if r.Version > 0 && !p.Attack && p.Version >= r.Version && !p.FinalAt.IsZero() && (first.IsZero() || p.FinalAt.Before(first)) {
				first = p.FinalAt
			}
		}
		if s.safe != nil { // safe_rotation.go: on a Safe, once the owners changed on chain
			first = time.Time{}
			if at, ok := s.safe.executedAt[r.prop]; ok && r.prop != nil {
				first = at
				r.OnChainAt = at.Format(time.RFC3339)
			}
		}
		if !first.IsZero() {
			r.RestoredAt = first.Format(time.RFC3339)
			r.TimeToRestore = int64(first.Sub(r.lost) / time.Second)
		}
		rep.Rotations = append(rep.Rotations, r)
	}
	return rep
}

// Failed lists the violated invariants' names.
func (r *Report) Failed() []string {
	var out []string
	for _, inv := range r.Invariants {
		if !inv.Held {
			out = append(out, inv.Name)
		}
	}
	return out
}

// Text writes the report for a person.
func (r *Report) Text(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "drill %q, seed %d: %s to %s\n", r.Scenario, r.Seed, r.Start, r.End)
	c := r.Proposals
	fmt.Fprintf(&b, "proposals: %d proposed, %d finalized, %d expired, %d rejected, %d still open; %d denied at proposal; %d attacks\n",
		c.Proposed, c.Finalized, c.Expired, c.Rejected, c.Open, c.Denied, c.Attacks)
	if c.Lost > 0 {
		fmt.Fprintf(&b, "proposals lost in a restore of the coordinator: %d\n", c.Lost)
	}
	m := r.Metrics
	fmt.Fprintf(&b, "time to quorum:   p50 %s, p95 %s (%d)\n", secs(m.TimeToQuorum.P50), secs(m.TimeToQuorum.P95), m.TimeToQuorum.Count)
	fmt.Fprintf(&b, "time to finalize: p50 %s, p95 %s (%d)\n", secs(m.TimeToFinalize.P50), secs(m.TimeToFinalize.P95), m.TimeToFinalize.Count)
	for _, s := range m.Signing {
		fmt.Fprintf(&b, "signing, %-10s p50 %s, p95 %s (%d decisions)\n", s.Station+":", secs(s.P50), secs(s.P95), s.Count)
	}
	fmt.Fprintf(&b, "failure rate %.2f%%, expiry rate %.2f%%, rejection rate %.2f%%\n", 100*m.FailureRate, 100*m.ExpiryRate, 100*m.RejectionRate)
	fmt.Fprintf(&b, "quorum reachable within %s: %.2f%% (%d of %d Monte Carlo runs)\n", secs(r.Reachability.Deadline), 100*r.Reachability.Probability, r.Reachability.Reached, r.Reachability.Runs)
	for _, a := range r.Attacks {
		verdict := "STOPPED"
		if !a.Stopped {
			verdict = "NOT STOPPED"
		}
		fmt.Fprintf(&b, "attack #%d (%s with %s's key): %s, %s", a.Proposal, a.Attack, a.Station, verdict, a.State)
		for _, rj := range a.RejectedBy {
			fmt.Fprintf(&b, "; %s refused: %s", rj.Station, rj.Reason)
		}
		b.WriteString("\n")
	}
	if q := r.QR; q != nil {
		fmt.Fprintf(&b, "QR carries: %d artifacts, %d frames shown for %d needed, %d missed, %d showings retried\n", q.Carries, q.FramesShown, q.FramesNeeded, q.FramesDropped, q.Retries)
	}
	if md := r.Media; md != nil {
		fmt.Fprintf(&b, "media: %d carried, %d transfers imported, %d refused, %d gaps reported; %d lost, %d replayed, %d tampered, %d exported again\n",
			md.Carried, md.Imported, md.Refused, md.Gaps, md.Lost, md.Replayed, md.Tampered, md.Reexported)
		if md.RestoredLogs > 0 {
			fmt.Fprintf(&b, "media: %d restored logs taken on purpose after the coordinator's restore (import --accept-restored)\n", md.RestoredLogs)
		}
	}
	if sf := r.Safe; sf != nil {
		fmt.Fprintf(&b, "Safe on chain: %d executed, %d waiting, %d reverted; on-chain rejections: %d proposed, %d executed\n",
			sf.Executed, len(sf.Waiting), len(sf.Reverted), sf.RejectionsProposed, sf.Rejections)
	}
	for _, rs := range r.Restores {
		fmt.Fprintf(&b, "restore at %s from the backup of %s: detected %v; %d proposals lost (%d finalized, %d re-adopted from a station's copy, %d proposed again, refused %d times by a double-sign guard), %d decisions lost, %d handed in again\n",
			rs.At, rs.BackupAt, rs.Detected, rs.ProposalsLost, rs.FinalsLost, rs.Readopted, rs.ProposedAgain, rs.GuardHeld, rs.DecisionsLost, rs.Recollected)
	}
	for _, v := range r.Versions {
		fmt.Fprintf(&b, "policy version %d at %s (%s), in effect %s: %d open proposals superseded, %d stale\n", v.Version, v.At, v.Why, v.InEffect, v.Superseded, v.Stale)
	}
	for _, rt := range r.Rotations {
		restored := "not within the run"
		if rt.RestoredAt != "" {
			restored = secs(rt.TimeToRestore)
		}
		fmt.Fprintf(&b, "rotation after %s of %s: version %d at %s, %s in their place; time to restore quorum %s\n", rt.Fault, rt.Person, rt.Version, rt.RotatedAt, rt.Replacement, restored)
	}
	for _, ra := range r.Recoveries {
		fmt.Fprintf(&b, "recovery path at %s: coin %d blocks deep, lock %d (mature %v): coordinator %s; station %s; finalized %v\n", ra.At, ra.Depth, ra.Lock, ra.Mature, ra.Coordinator, ra.Station, ra.Finalized)
	}
	b.WriteString("invariants:\n")
	for _, inv := range r.Invariants {
		mark := "held"
		if !inv.Held {
			mark = "VIOLATED"
		}
		fmt.Fprintf(&b, "  %-8s %s (%d checked)\n", mark, inv.Title, inv.Checked)
		for _, v := range inv.Violations {
			fmt.Fprintf(&b, "           %s\n", v)
		}
	}
	if r.Passed {
		b.WriteString("the drill passed: every invariant held\n")
	} else {
		fmt.Fprintf(&b, "the drill FAILED: %s; reproduce with --seed %d\n", strings.Join(r.Failed(), ", "), r.Seed)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// secs writes seconds as a short duration.
func secs(s int64) string { return human(time.Duration(s) * time.Second) }
