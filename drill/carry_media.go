package drill

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/transport/transfer"
	"github.com/airlock-vault/airlock/workspace"
)

// Under carry: media every crossing of the air gap the drill's workload
// makes goes through the real transport (transport/transfer, what
// "airlock export" and "airlock import" run): the coordinator exports
// each proposal, with its signed manifest, to a fresh removable-media
// folder for each station; the station imports it from there before it
// reviews and signs; the station exports its decision to another folder
// and the coordinator imports it, which collects it. The folders are
// real, under the run's temporary folder; the reports name none of them.
//
// What is not carried on media: the attacker's forged decision (handed
// straight in, as the attacker holds the station), the policy versions a
// policy-change or a rotation adopts, and the recovery path's spends.

// MediaStats are the media of a run under carry: media.
type MediaStats struct {
	// Carried counts the media that set out across the gap (proposals to
	// stations, decisions back; lost ones too), Imported the transfers
	// taken from them.
	Carried  int `json:"carried"`
	Imported int `json:"imported"`
	// Refused counts transfers the receiving Gap refused (replays,
	// tampering, and decisions the coordinator would not collect); Gaps
	// the imports that reported sequence numbers that never arrived.
	Refused int `json:"refused"`
	Gaps    int `json:"gaps"`
	// Lost, Replayed and Tampered count the media faults' media.
	Lost     int `json:"lost"`
	Replayed int `json:"replayed"`
	Tampered int `json:"tampered"`
	// Reexported counts the artifacts exported again after a medium was
	// lost or refused as tampered: decisions by their stations, proposals
	// by the coordinator.
	Reexported int `json:"reexported"`
	// RestoredLogs counts the transfers with which a receiver took, on
	// purpose after a database-restored fault, a log that no longer
	// extended the one it kept (import --accept-restored).
	RestoredLogs int `json:"restoredLogs"`
}

// MediaCheck is what the checker judges of the media (carry: media).
type MediaCheck struct {
	// Handins are the media handed in again or tampered with.
	Handins []MediaHandin
	// Transfers are the transfers each workspace's log records as
	// imported, as "receiver peer sequence", one per entry.
	Transfers []string
	// Compared are the coordinator's transfer records compared with the
	// stations' signed ones (transfer.Reconcile); Findings its alarms,
	// each with Explained set when the run lost the medium or a Gap
	// refused it (the refusal in the receiver's log).
	Compared int
	Findings []CustodyFinding
	// Signed counts the decisions collected on proposals taken from
	// media; Unnamed those whose signed custody record does not name the
	// transfer that brought the proposal.
	Signed  int
	Unnamed []string
}

// MediaHandin is one replayed or tampered medium.
type MediaHandin struct {
	Kind     string // media-replayed, media-tampered
	Receiver string // "coord", "alice"
	Peer     string // the sender's origin
	Sequence uint64
	Proposal string // its name in the run
	// Refused: the receiving Gap refused it; Reason is the Gap's error.
	Refused bool
	Reason  string
}

// CustodyFinding is one alarm of the reconciliation of the transfer
// records.
type CustodyFinding struct {
	Text      string
	Explained bool
}

// mediaSide is the run's removable media.
type mediaSide struct {
	root string
	n    int
	// pending: each station's proposal media, in export order, not yet
	// imported; imported: the proposals each station took from media;
	// sent: each station's proposal medium (for media-replayed).
	pending  map[string][]waiting
	imported map[string]map[[32]byte][]byte
	sent     map[string]map[[32]byte]string
	ready    map[string]bool
	// took: the proposals each station took from media (their digest).
	took   map[string]map[[32]byte][32]byte
	tamper []Fault
	// gone: media lost or tampered, as "station peer sequence".
	gone  map[string]bool
	stats MediaStats
	check MediaCheck
	// reused are the coordinator's sequence numbers a restore took back:
	// per "out station/x" or "in station/x", the range (from, to] its
	// restored database numbers again (out) or forgot it received (in).
	reused []seqRange
	// restored, once the coordinator's database was restored, is why
	// the receivers take the logs that no longer extend what they kept
	// (import --accept-restored): the stations the coordinator's new
	// log, the coordinator the stations' logs its restore forgot.
	restored string
}

// seqRange is a range of a channel's sequence numbers, (from, to].
type seqRange struct {
	channel  string
	from, to uint64
}

// channels reads the coordinator's channel sequence numbers.
func (s *sim) channels() (map[string]uint64, error) {
	out := map[string]uint64{}
	err := s.q.Coord.WS.View(s.ctx, func(r store.Reader) error {
		for _, who := range s.people {
			for _, dir := range []string{"out", "in"} {
				ch := dir + ":station/" + who
				n, err := r.Sequence(ch)
				if err != nil {
					return err
				}
				out[ch] = n
			}
		}
		return nil
	})
	return out, err
}

// restoredChannels records the ranges a restore of the coordinator took
// back, from its channels before and after.
func (md *mediaSide) restoredChannels(before, after map[string]uint64) {
	for _, ch := range sortedKeys(before) {
		if after[ch] < before[ch] {
			md.reused = append(md.reused, seqRange{ch, after[ch], before[ch]})
		}
	}
}

// reusedSeq says whether the coordinator's channel dir ("out" or "in")
// with station who had sequence number n taken back by a restore.
func (md *mediaSide) reusedSeq(dir, who string, n uint64) bool {
	for _, r := range md.reused {
		if r.channel == dir+":station/"+who && n > r.from && n <= r.to {
			return true
		}
	}
	return false
}

// gap is the Gap a workspace imports media with.
func (md *mediaSide) gap(ws *workspace.Workspace) *transfer.Gap {
	return &transfer.Gap{WS: ws, Reg: quorum.Reg, AcceptRestored: md.restored}
}

// tookRestored counts and logs a transfer that came with a restored log.
func (s *sim) tookRestored(who string, it transfer.Item) {
	if it.Restored {
		s.media.stats.RestoredLogs++
		s.log("restored-log-accepted", who, s.propOf(it.Manifest.Artifact), "%s's log taken on purpose after the restore (import --accept-restored)", it.Manifest.Origin)
	}
}

// waiting is a medium with a proposal waiting for its person.
type waiting struct {
	dir string
	seq uint64
	p   *Prop
}

// startMedia prepares the media folder of a run under carry: media.
func (s *sim) startMedia() error {
	if s.sc.Carry != CarryMedia {
		return nil
	}
	root := filepath.Join(s.q.Dir, "media")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	real, err := transfer.RealDir(root)
	if err != nil {
		return err
	}
	s.media = &mediaSide{root: real, pending: map[string][]waiting{}, imported: map[string]map[[32]byte][]byte{},
		sent: map[string]map[[32]byte]string{}, ready: map[string]bool{}, gone: map[string]bool{}, took: map[string]map[[32]byte][32]byte{}}
	return s.mediaReady("coord", s.q.Coord.WS)
}

// mediaReady allows the media folder to a workspace (as "airlock media
// allow" does) and has a station sign its transfer record into each
// decision (as "airlock sign" does).
func (s *sim) mediaReady(who string, ws *workspace.Workspace) error {
	md := s.media
	if md.ready[who] {
		return nil
	}
	if err := ws.AllowMedia(md.root); err != nil {
		return err
	}
	if m, ok := s.q.Stations[who]; ok {
		m.Custody = (&transfer.Gap{WS: m.WS, Reg: quorum.Reg}).Custody
	}
	md.ready[who] = true
	return nil
}

// medium is a fresh removable medium.
func (s *sim) medium() (string, error) {
	s.media.n++
	d := filepath.Join(s.media.root, fmt.Sprintf("%06d", s.media.n))
	return d, os.Mkdir(d, 0o700)
}

// sendProposal: the coordinator exports the proposal for who's station
// to a medium, which waits for the person.
func (s *sim) sendProposal(who string, p *Prop) {
	md := s.media
	if md.sent[who] == nil {
		md.sent[who] = map[[32]byte]string{}
	}
	if _, ok := md.sent[who][p.ID]; ok {
		return
	}
	e, err := envelope.Decode(p.Raw)
	if err != nil {
		s.fail(err)
		return
	}
	d, err := s.medium()
	if err != nil {
		s.fail(err)
		return
	}
	gap := &transfer.Gap{WS: s.q.Coord.WS, Reg: quorum.Reg}
	x, err := gap.Export(s.ctx, e, d, who, "", s.q.CoordKeys.Identity)
	if err == nil {
		err = x.WriteErr
	}
	if err != nil {
		s.fail(fmt.Errorf("exporting %s to %s: %w", p.name(), who, err))
		return
	}
	md.sent[who][p.ID] = d
	md.pending[who] = append(md.pending[who], waiting{d, x.Sequence, p})
}

// fetch: the person carries the media waiting for them to their station,
// which imports them in order; it returns the proposal as imported.
func (s *sim) fetch(who string, p *Prop) ([]byte, bool) {
	md := s.media
	if _, done := p.Decided[who]; done {
		return nil, false // decided on an earlier medium (one exported again)
	}
	m := s.q.Stations[who]
	if err := s.mediaReady(who, m.WS); err != nil {
		s.fail(err)
		return nil, false
	}
	if md.imported[who] == nil {
		md.imported[who] = map[[32]byte][]byte{}
	}
	media := md.pending[who]
	md.pending[who] = nil
	for _, w := range media {
		d := w.dir
		md.stats.Carried++
		if s.tamperedOnTheWay(who, w) {
			continue
		}
		rep, err := md.gap(m.WS).Import(s.ctx, d)
		if err != nil {
			md.stats.Refused++
			s.log("medium-refused", who, nil, "%s's station refused a medium: %v", who, err)
			continue
		}
		for _, it := range rep.Items {
			s.tookRestored(who, it)
			if it.Gap != "" {
				md.stats.Gaps++
			}
			if it.Err != nil {
				md.stats.Refused++
				s.log("medium-refused", who, s.propOf(it.Manifest.Artifact), "%v", it.Err)
				continue
			}
			md.stats.Imported++
			raw, err := it.Artifact.Encode()
			if err != nil {
				s.fail(err)
				return nil, false
			}
			md.imported[who][it.Artifact.ID()] = raw
		}
	}
	raw, ok := md.imported[who][p.ID]
	if !ok {
		s.log("not-on-media", who, p, "no medium with the proposal has reached %s's station", who)
		return nil, false
	}
	if md.took[who] == nil {
		md.took[who] = map[[32]byte][32]byte{}
	}
	md.took[who][p.ID] = sha256.Sum256(raw)
	return raw, true
}

// propOf is the run's proposal with this id, or nil.
func (s *sim) propOf(id []byte) *Prop {
	if len(id) != 32 {
		return nil
	}
	return s.byID[[32]byte(id)]
}

// carryMedium: the station exports its decision to a medium, carried
// back to the coordinator.
func (s *sim) carryMedium(who string, p *Prop, ae *envelope.Envelope, idx int) {
	d, err := s.medium()
	if err != nil {
		s.fail(err)
		return
	}
	m := s.q.Stations[who]
	x, err := (&transfer.Gap{WS: m.WS, Reg: quorum.Reg}).Export(s.ctx, ae, d, "coord", "", m.Keys.Identity)
	if err == nil {
		err = x.WriteErr
	}
	if err != nil {
		s.fail(fmt.Errorf("%s exporting its decision on %s: %w", who, p.name(), err))
		return
	}
	raw, err := ae.Encode()
	if err != nil {
		s.fail(err)
		return
	}
	c := carried{who: who, p: p, raw: raw, medium: d, seq: x.Sequence}
	s.at(s.now(), func() { s.arriveMedium(c, idx) })
}

// arriveMedium: the medium reaches the coordinator, which imports it
// (collecting the decision) unless it is lost or tampered with on the way.
func (s *sim) arriveMedium(c carried, idx int) {
	if up := s.m.coordinatorUp(s.now()); up.After(s.now()) {
		s.at(up, func() { s.arriveMedium(c, idx) })
		return
	}
	md := s.media
	who, p := c.who, c.p
	md.stats.Carried++
	origin := "station/" + who
	for i, f := range s.lost {
		if f.Person == "" || f.Person == who {
			s.lost = append(s.lost[:i], s.lost[i+1:]...)
			if err := os.RemoveAll(c.medium); err != nil {
				s.fail(err)
				return
			}
			md.stats.Lost++
			md.gone[fmt.Sprintf("%s %s %d", "coord", origin, c.seq)] = true
			at := s.m.ready(who, s.now().Add(f.Reexport.D()), s.awayOn)
			s.log("media-lost", who, p, "the medium with the decision (transfer %d) is lost; exported again at %s", c.seq, at.Format(time.RFC3339))
			if !at.IsZero() {
				s.at(at, func() { s.reexport(who, p, idx) })
			}
			return
		}
	}
	for i, f := range md.tamper {
		if f.Toward == "station" || (f.Person != "" && f.Person != who) {
			continue
		}
		md.tamper = append(md.tamper[:i], md.tamper[i+1:]...)
		s.tamperWith(c, f, idx)
		return
	}
	rep, err := md.gap(s.q.Coord.WS).Import(s.ctx, c.medium)
	if err != nil {
		md.stats.Refused++
		s.log("medium-refused", who, p, "the coordinator refused the medium: %v", err)
		return
	}
	for _, it := range rep.Items {
		s.tookRestored("", it)
		if it.Gap != "" {
			md.stats.Gaps++
			s.log("media-gap", who, p, "transfers %s from %s never arrived", it.Gap, origin)
		}
		if it.Err != nil {
			md.stats.Refused++
		} else {
			md.stats.Imported++
		}
		s.collectedAs(c, idx, false, it.Err)
	}
}

// tamperWith changes one byte of the medium's artifact or manifest before
// the coordinator imports it: its Gap must refuse it, and the station
// exports its kept decision again.
func (s *sim) tamperWith(c carried, f Fault, idx int) {
	md := s.media
	if !s.flipByte(c.medium, f.Part) {
		return
	}
	s.log("media-tampered", c.who, c.p, "one byte of the %s on the medium with the decision (transfer %d) changed", f.Part, c.seq)
	h := MediaHandin{Kind: MediaTampered, Receiver: "coord", Peer: "station/" + c.who, Sequence: c.seq, Proposal: c.p.name()}
	h.Refused, h.Reason = s.importRefused(s.q.Coord.WS, c.medium)
	md.check.Handins = append(md.check.Handins, h)
	md.gone["coord station/"+c.who+" "+fmt.Sprint(c.seq)] = true
	if !h.Refused {
		s.log("tamper-accepted", c.who, c.p, "the coordinator imported a tampered medium")
		return
	}
	s.log("tamper-refused", c.who, c.p, "%s", h.Reason)
	at := s.m.ready(c.who, s.now().Add(f.Reexport.D()), s.awayOn)
	if !at.IsZero() {
		s.at(at, func() { s.reexport(c.who, c.p, idx) })
	}
}

// flipByte changes the middle byte of the medium's artifact or manifest.
func (s *sim) flipByte(dir, part string) bool {
	s.media.stats.Tampered++
	ext := ".airlock"
	if part == "manifest" {
		ext = ".manifest"
	}
	names, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	if err != nil || len(names) != 1 {
		s.fail(fmt.Errorf("media-tampered: the medium holds %d %s files (%v)", len(names), ext, err))
		return false
	}
	b, err := os.ReadFile(names[0])
	if err != nil {
		s.fail(err)
		return false
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(names[0], b, 0o644); err != nil {
		s.fail(err)
		return false
	}
	return true
}

// tamperedOnTheWay: when a media-tampered fault toward the stations is
// armed for who, the medium with a proposal is tampered with before the
// station imports it. Its Gap must refuse it; the person tells the
// coordinator, which exports the proposal again (once it is up, after
// the fault's reexport), and the person decides on the new medium (once:
// fetch skips a proposal the station decided on already).
func (s *sim) tamperedOnTheWay(who string, w waiting) bool {
	md := s.media
	var f Fault
	armed := false
	for i, g := range md.tamper {
		if g.Toward == "station" && (g.Person == "" || g.Person == who) {
			f, armed = g, true
			md.tamper = append(md.tamper[:i], md.tamper[i+1:]...)
			break
		}
	}
	if !armed {
		return false
	}
	if !s.flipByte(w.dir, f.Part) {
		return true
	}
	p := w.p
	coord := s.q.Coord.WS.Config.Origin()
	s.log("media-tampered", who, p, "one byte of the %s on the medium with the proposal to %s (transfer %d) changed", f.Part, who, w.seq)
	h := MediaHandin{Kind: MediaTampered, Receiver: who, Peer: coord, Sequence: w.seq, Proposal: p.name()}
	h.Refused, h.Reason = s.importRefused(s.q.Stations[who].WS, w.dir)
	md.check.Handins = append(md.check.Handins, h)
	md.gone[fmt.Sprintf("%s %s %d", who, coord, w.seq)] = true
	if !h.Refused {
		s.log("tamper-accepted", who, p, "%s's station imported a tampered medium", who)
		return true
	}
	s.log("tamper-refused", who, p, "%s", h.Reason)
	at := s.now().Add(f.Reexport.D())
	if up := s.m.coordinatorUp(at); up.After(at) {
		at = up
	}
	s.at(at, func() {
		if up := s.m.coordinatorUp(s.now()); up.After(s.now()) {
			return // down again: the proposal waits for the next hand-out
		}
		delete(md.sent[who], p.ID)
		s.sendProposal(who, p)
		md.stats.Reexported++
		s.log("reexported", "", p, "the coordinator exports the proposal to %s again", who)
		if next := s.m.ready(who, s.now(), s.awayOn); !next.IsZero() {
			s.at(next, func() { s.decide(who, p) })
		}
	})
	return true
}

// importRefused has ws's Gap import a medium handed in again or tampered
// with: refused is true when nothing on it was taken, reason the Gap's
// error.
func (s *sim) importRefused(ws *workspace.Workspace, dir string) (bool, string) {
	rep, err := s.media.gap(ws).Import(s.ctx, dir)
	if err != nil {
		s.media.stats.Refused++
		return true, s.scrub(err.Error())
	}
	var why []string
	for _, it := range rep.Items {
		if it.Err == nil {
			return false, ""
		}
		s.media.stats.Refused++
		why = append(why, s.scrub(it.Err.Error()))
	}
	if len(why) == 0 {
		return false, "nothing on the medium was addressed to it"
	}
	return true, strings.Join(why, "; ")
}

// reexportMedium: the station exports its kept decision again, to a new
// medium (what "airlock export ID --media DIR --to coord" does).
func (s *sim) reexportMedium(who string, p *Prop, idx int, e *envelope.Envelope) {
	s.media.stats.Reexported++
	s.log("reexported", who, p, "")
	s.carryMedium(who, p, e, idx)
}

// replayMedia hands in again the oldest medium with a decision the
// coordinator collected (by f.Person when set), and that proposal's
// medium again to its station: both Gaps must refuse them as replays.
func (s *sim) replayMedia(f Fault) {
	if up := s.m.coordinatorUp(s.now()); up.After(s.now()) {
		s.at(up, func() { s.replayMedia(f) })
		return
	}
	md := s.media
	for _, c := range s.collected {
		if c.medium == "" || (f.Person != "" && c.who != f.Person) {
			continue
		}
		md.stats.Replayed++
		s.log("media-replayed", c.who, c.p, "an old medium with a decision handed in again")
		h := MediaHandin{Kind: MediaReplayed, Receiver: "coord", Peer: "station/" + c.who, Sequence: c.seq, Proposal: c.p.name()}
		h.Refused, h.Reason = s.importRefused(s.q.Coord.WS, c.medium)
		s.replayed(c.who, c.p, "collect", h)
		if s.m.lostAt(c.who, s.now()) {
			return
		}
		d, ok := md.sent[c.who][c.p.ID]
		if !ok {
			return
		}
		md.stats.Replayed++
		h = MediaHandin{Kind: MediaReplayed, Receiver: c.who, Peer: s.q.Coord.WS.Config.Origin(), Proposal: c.p.name()}
		h.Refused, h.Reason = s.importRefused(s.q.Stations[c.who].WS, d)
		s.replayed(c.who, c.p, "import", h)
		return
	}
	s.log("media-replayed", f.Person, nil, "no medium with a collected decision yet: nothing to replay")
}

func (s *sim) replayed(who string, p *Prop, what string, h MediaHandin) {
	s.media.check.Handins = append(s.media.check.Handins, h)
	s.hist.Attempts = append(s.hist.Attempts, Attempt{What: what, By: who, Proposal: p.hex(), Late: !s.now().Before(p.Expires), Replay: true, Accepted: !h.Refused})
	if h.Refused {
		s.log("replay-refused", who, p, "%s", h.Reason)
	} else {
		s.log("replay-accepted", who, p, "a replayed medium was imported")
	}
}

// mediaFinish reads what the checker judges of the media: every transfer
// each workspace's log records as imported or refused, and the
// reconciliation of the stations' signed transfer records with the
// coordinator's.
func (s *sim) mediaFinish() error {
	md := s.media
	refused := map[string]bool{}
	for _, l := range s.hist.Logs {
		// A restored log taken on purpose numbers its transfers again:
		// each such acceptance starts a new series for its peer.
		series := map[string]int{}
		for _, ev := range l.Entries {
			key := l.Name + " " + ev.Detail["peer"] + " " + ev.Detail["sequence"]
			switch ev.Kind {
			case "transfer.imported":
				if ev.Detail["restored_log"] != "" {
					series[ev.Detail["peer"]]++
				}
				if n := series[ev.Detail["peer"]]; n > 0 {
					key += fmt.Sprintf(" (restored log %d)", n)
				}
				md.check.Transfers = append(md.check.Transfers, key)
			case "transfer.refused":
				refused[key] = true
			}
		}
	}
	c := s.q.Coord.WS
	mine, err := transfer.Transfers(c)
	if err != nil {
		return err
	}
	md.check.Compared = len(mine)
	_, fs, err := transfer.Reconcile(c)
	if err != nil {
		return err
	}
	for _, f := range fs {
		if !f.Alarm() {
			continue
		}
		// The receiver of the transfer the finding names.
		key := fmt.Sprintf("coord station/%s %d", f.Participant, f.Sequence)
		if f.Direction == "out" {
			key = fmt.Sprintf("%s %s %d", f.Participant, c.Config.Origin(), f.Sequence)
		}
		explained := (f.Kind == "UNKNOWN" || f.Kind == "MISSING") && (md.gone[key] || refused[key])
		// Transfers whose numbers a restore of the coordinator took back:
		// numbered again (out) or forgotten (in), as the run recorded.
		if md.reusedSeq(f.Direction, f.Participant, f.Sequence) {
			explained = true
		}
		md.check.Findings = append(md.check.Findings, CustodyFinding{Text: s.scrub(f.String()), Explained: explained})
	}
	// Each decision collected on a proposal the station took from media
	// names, in its signed custody record, the transfer that brought it.
	for _, who := range sortedKeys(md.took) {
		for _, p := range s.props {
			digest, ok := md.took[who][p.ID]
			if !ok {
				continue
			}
			aps, err := c.Approvals(p.ID)
			if err != nil {
				return err
			}
			ae, ok := aps[who]
			if !ok {
				continue
			}
			a, err := proposal.DecodeApproval(ae)
			if err != nil {
				return err
			}
			md.check.Signed++
			named := false
			for _, t := range a.Transfers {
				if t.Direction == "in" && t.Peer == c.Config.Origin() && t.Kind == envelope.TypeProposal && bytes.Equal(t.Digest, digest[:]) {
					named = true
				}
			}
			if !named {
				md.check.Unnamed = append(md.check.Unnamed, fmt.Sprintf("%s's decision on %s does not name the transfer that brought the proposal in its custody record", who, p.name()))
			}
		}
	}
	s.hist.Media = &md.check
	return nil
}

// Invariants of carry: media.
const (
	InvMedia   = "media-refused"
	InvCustody = "custody-reconciles"
)

func init() {
	titles[InvMedia] = "every replayed or tampered medium was refused, and no transfer was imported twice"
	titles[InvCustody] = "the stations' signed transfer records match the coordinator's, but for media lost or refused, and each decision names the medium its proposal came on"
}

// checkMedia judges the media (Check, under carry: media).
func (m *MediaCheck) checkMedia(add func(string, int, []string)) {
	var vs []string
	for _, h := range m.Handins {
		if !h.Refused {
			vs = append(vs, fmt.Sprintf("%s: a %s medium (transfer %d from %s) was imported by %s", h.Proposal, strings.TrimPrefix(h.Kind, "media-"), h.Sequence, h.Peer, h.Receiver))
		}
	}
	seen := map[string]int{}
	for _, t := range m.Transfers {
		seen[t]++
		if seen[t] == 2 {
			vs = append(vs, "imported twice: "+t)
		}
	}
	add(InvMedia, len(m.Handins)+len(m.Transfers), vs)
	vs = append([]string(nil), m.Unnamed...)
	for _, f := range m.Findings {
		if !f.Explained {
			vs = append(vs, f.Text)
		}
	}
	add(InvCustody, m.Compared+m.Signed, vs)
}
