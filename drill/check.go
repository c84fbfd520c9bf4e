package drill

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/workspace"
)

// History is what the checker judges: the workspaces' audit logs and
// their verification, the coordinator's finalized proposals with their
// threshold proofs, and the simulator's record of what it tried. The
// simulator fills it from the workspaces after a run; a test can write
// one by hand.
type History struct {
	Reg *chain.Registry
	// Versions is the verified policy chain the proofs cite.
	Versions []proposal.Version
	// Proposals by hex id.
	Proposals map[string]*ProposalRecord
	// Finals are the coordinator's finalized proposals, in the order of
	// its log.
	Finals []FinalRecord
	// Logs are every workspace's audit log and its verification.
	Logs []WorkspaceLog
	// Decisions are the decisions the simulator had stations make.
	Decisions []DecisionRecord
	// Attempts are what the simulator tried that a rule must refuse or
	// allow: signatures, collections and finalizations, late or replayed.
	Attempts []Attempt
	// LostFinals are finalized proposals a restore made the coordinator
	// forget, with the proofs kept outside its store (they are judged with
	// Finals).
	LostFinals []FinalRecord
	// Refinals name proposals finalized again after a restore into
	// another transaction than the first time.
	Refinals []string
	// Restores are the coordinator's restores from a backup.
	Restores []RestoreCheck
	// Revocations are the participants a rotation revoked, and when.
	Revocations []Revocation
	// Safe is vault ops's Safe as read on chain at the end (safe.go);
	// nil for a Bitcoin vault.
	Safe *SafeCheck
	// Media are the removable media under carry: media
	// (carry_media.go); nil when artifacts crossed in memory.
	Media *MediaCheck
}

// RestoreCheck is one restore of the coordinator's database.
type RestoreCheck struct {
	At time.Time
	// Detected: the rolled-back store was refused until accepted.
	Detected bool
}

// Revocation is a participant revoked by a policy version.
type Revocation struct {
	Participant string
	At          time.Time
}

// ProposalRecord is what the checker knows of a proposal.
type ProposalRecord struct {
	Name     string // "#3 (routine)": how reports name it
	Envelope []byte
	Expires  time.Time
	Attack   bool // made by an attacker
}

// FinalRecord is a finalized proposal.
type FinalRecord struct {
	Proposal string // hex id
	Proof    []byte // the threshold proof envelope
	At       time.Time
	// Approvals are every decision the coordinator held on the proposal
	// (envelopes): the proof lists only the threshold's signatures, and
	// an amount tier may have required more approvals than that.
	Approvals [][]byte
	// Lost: the coordinator forgot it in a restore (the proof was kept).
	Lost bool
}

// WorkspaceLog is one workspace's audit log.
type WorkspaceLog struct {
	Name      string // "coord", "alice"
	Role      string
	Entries   []audit.Event
	VerifyErr string // empty when ws.Verify passed
}

// DecisionRecord is one decision a station made in the run.
type DecisionRecord struct {
	Station   string
	Proposal  string // hex id
	Approval  string // hex id of the decision envelope
	Collected bool   // the coordinator took it in
	// Lost: the coordinator had collected it and lost it in a restore;
	// Recovered says what became of it ("" while nothing did).
	Lost      bool
	Recovered string
}

// Attempt is something tried that the quorum's rules judge.
type Attempt struct {
	What     string // sign, collect, finalize
	By       string
	Proposal string
	Late     bool // at or after the proposal's expiry
	Replay   bool // an old artifact handed in again
	Revoked  bool // signed with a key revoked before
	Conflict bool // refused by the station's double-sign guard
	// Recovery: a spend through the time-locked recovery path; Mature,
	// whether the lock allowed it then.
	Recovery bool
	Mature   bool
	Accepted bool
}

// Invariant is one property checked over the history.
type Invariant struct {
	Name       string   `json:"name"`
	Title      string   `json:"title"`
	Held       bool     `json:"held"`
	Checked    int      `json:"checked"`
	Violations []string `json:"violations"`
}

// Invariants, in report order.
const (
	InvPolicy      = "within-policy"
	InvDoubleSpend = "no-double-spend"
	InvAudited     = "decisions-audited"
	InvLogs        = "logs-verify"
	InvExpired     = "expired-refused"
	InvAttacks     = "attacks-stopped"
	InvReplay      = "replays-refused"
	InvNoLost      = "no-decision-lost"
	InvRevoked     = "revoked-refused"
	InvTimelock    = "recovery-timelock"
)

var titles = map[string]string{
	InvPolicy:      "no transaction outside policy was finalized",
	InvDoubleSpend: "no double-spend was signed or finalized",
	InvAudited:     "every decision is in the audit logs",
	InvLogs:        "every workspace's log verifies",
	InvExpired:     "every expired proposal was refused everywhere",
	InvAttacks:     "no attacker's transaction was finalized",
	InvReplay:      "every replayed artifact was refused",
	InvNoLost:      "no decision was lost: each collected one is in the coordinator's log or was recovered",
	InvRevoked:     "every signature by a revoked key was refused",
	InvTimelock:    "the recovery path was usable exactly when its time lock allowed",
}

// Check judges a history against every invariant.
func Check(ctx context.Context, h *History) []Invariant {
	out := []Invariant{}
	add := func(name string, checked int, vs []string) {
		if vs == nil {
			vs = []string{}
		}
		out = append(out, Invariant{Name: name, Title: titles[name], Held: len(vs) == 0, Checked: checked, Violations: vs})
	}
	name := func(id string) string {
		if p, ok := h.Proposals[id]; ok && p.Name != "" {
			return p.Name
		}
		if len(id) > 12 {
			id = id[:12]
		}
		return "proposal " + id
	}
	finalSpends := map[string]string{}
	// Within policy: each finalized proposal's proof verifies against the
	// policy chain, and the rules, decided again on the checker's own
	// decoding with the proof's approvals and the earlier finals as
	// history, allow it and are met.
	var vs []string
	var ledger []policy.Entry
	for _, f := range h.Finals {
		why, spends, entries := h.checkFinal(ctx, f, ledger)
		if why != "" {
			vs = append(vs, fmt.Sprintf("%s: %s", name(f.Proposal), why))
		}
		ledger = append(ledger, entries...)
		for _, sp := range spends {
			if other, ok := finalSpends[sp]; ok && other != f.Proposal {
				finalSpends["dup:"+f.Proposal] = fmt.Sprintf("%s and %s both spend %s", name(other), name(f.Proposal), short(sp))
			}
			finalSpends[sp] = f.Proposal
		}
	}
	add(InvPolicy, len(h.Finals), vs)
	// No double-spend: no station approved two proposals sharing an
	// input (its own log's approvals and their claims), no two finalized
	// transactions share one.
	vs, n := nil, 0
	for _, l := range h.Logs {
		if l.Role != workspace.Station {
			continue
		}
		claimed := map[string]string{}
		for _, ev := range l.Entries {
			if ev.Kind == "claims.released" {
				// The coordinator's signed release of an ended
				// proposal (withdrawn, rejected, expired) frees them.
				for _, sp := range strings.Fields(ev.Detail["released"]) {
					delete(claimed, sp)
				}
				continue
			}
			if ev.Kind != "approval.created" {
				continue
			}
			n++
			pid := ev.Detail["proposal"]
			for _, sp := range strings.Fields(ev.Detail["claims"]) {
				if other, ok := claimed[sp]; ok && other != pid && ev.Detail["override"] == "" {
					vs = append(vs, fmt.Sprintf("%s approved %s and %s, which both spend %s", l.Name, name(other), name(pid), short(sp)))
				}
				claimed[sp] = pid
			}
		}
	}
	for _, k := range sortedKeys(finalSpends) {
		if strings.HasPrefix(k, "dup:") {
			vs = append(vs, "finalized twice: "+finalSpends[k])
		}
	}
	add(InvDoubleSpend, n+len(h.Finals), vs)
	// Every decision in the audit logs: the station's own entry for each
	// decision it made, the coordinator's for each it collected.
	logged := map[string]map[string]bool{}
	var coord string
	for _, l := range h.Logs {
		m := map[string]bool{}
		for _, ev := range l.Entries {
			switch ev.Kind {
			case "approval.created", "rejection.created", "approval.collected":
				m[ev.Kind+" "+ev.Subject] = true
			}
		}
		logged[l.Name] = m
		if l.Role == workspace.Coordinator {
			coord = l.Name
		}
	}
	vs = nil
	for _, d := range h.Decisions {
		if !logged[d.Station]["approval.created "+d.Approval] && !logged[d.Station]["rejection.created "+d.Approval] {
			vs = append(vs, fmt.Sprintf("%s's decision on %s is not in its audit log", d.Station, name(d.Proposal)))
		}
		if d.Collected && !logged[coord]["approval.collected "+d.Approval] {
			vs = append(vs, fmt.Sprintf("the coordinator collected %s's decision on %s but its log does not say so", d.Station, name(d.Proposal)))
		}
	}
	add(InvAudited, len(h.Decisions), vs)
	// Every log verifies.
	vs = nil
	for _, l := range h.Logs {
		if l.VerifyErr != "" {
			vs = append(vs, fmt.Sprintf("%s: %s", l.Name, l.VerifyErr))
		}
	}
	add(InvLogs, len(h.Logs), vs)
	// Every expired proposal refused: no late signature, collection or
	// finalization was accepted, and the coordinator's log shows no
	// decision collected nor finalization at or after an expiry.
	vs, n = nil, 0
	for _, a := range h.Attempts {
		if !a.Late {
			continue
		}
		n++
		if a.Accepted {
			vs = append(vs, fmt.Sprintf("%s: a %s after its expiry was accepted%s", name(a.Proposal), a.What, by(a.By)))
		}
	}
	for _, l := range h.Logs {
		if l.Role != workspace.Coordinator {
			continue
		}
		for _, ev := range l.Entries {
			pid := ev.Subject
			switch ev.Kind {
			case "approval.collected":
				pid = ev.Detail["proposal"]
			case "proposal.finalized":
			default:
				continue
			}
			if p, ok := h.Proposals[pid]; ok && !ev.Time.Before(p.Expires) {
				vs = append(vs, fmt.Sprintf("%s: the coordinator's log has %s at %s, at or after its expiry %s", name(pid), ev.Kind, ev.Time.UTC().Format(time.RFC3339), p.Expires.UTC().Format(time.RFC3339)))
			}
		}
	}
	add(InvExpired, n, vs)
	// No attacker's transaction finalized.
	vs, n = nil, 0
	for _, id := range sortedKeys(h.Proposals) {
		if h.Proposals[id].Attack {
			n++
		}
	}
	for _, f := range h.Finals {
		if p, ok := h.Proposals[f.Proposal]; ok && p.Attack {
			vs = append(vs, fmt.Sprintf("%s was finalized", name(f.Proposal)))
		}
	}
	add(InvAttacks, n, vs)
	// Every replay refused.
	vs, n = nil, 0
	for _, a := range h.Attempts {
		if !a.Replay {
			continue
		}
		n++
		if a.Accepted {
			vs = append(vs, fmt.Sprintf("%s: a replayed %s was accepted%s", name(a.Proposal), a.What, by(a.By)))
		}
	}
	add(InvReplay, n, vs)
	// No decision lost: every decision the coordinator had collected and
	// lost in a restore was handed in again or accounted for; every
	// restore was detected; a proposal finalized again after a restore
	// gave the same transaction.
	vs, n = nil, 0
	for _, r := range h.Restores {
		n++
		if !r.Detected {
			vs = append(vs, fmt.Sprintf("the coordinator opened the store restored at %s without refusing it as rolled back", r.At.UTC().Format(time.RFC3339)))
		}
	}
	for _, d := range h.Decisions {
		if !d.Lost {
			continue
		}
		n++
		if d.Recovered == "" && !d.Collected {
			vs = append(vs, fmt.Sprintf("%s's decision on %s was lost in a restore and neither handed in again nor accounted for", d.Station, name(d.Proposal)))
		}
	}
	vs = append(vs, h.Refinals...)
	add(InvNoLost, n, vs)
	// Every signature by a revoked key refused, and no decision by a
	// revoked participant collected after the revocation.
	vs, n = nil, 0
	for _, a := range h.Attempts {
		if !a.Revoked {
			continue
		}
		n++
		if a.Accepted {
			vs = append(vs, fmt.Sprintf("%s: an approval with %s's revoked key was accepted", name(a.Proposal), a.By))
		}
	}
	for _, l := range h.Logs {
		if l.Role != workspace.Coordinator {
			continue
		}
		for _, ev := range l.Entries {
			if ev.Kind != "approval.collected" {
				continue
			}
			for _, r := range h.Revocations {
				if ev.Detail["participant"] == r.Participant && !ev.Time.Before(r.At) {
					vs = append(vs, fmt.Sprintf("%s: the coordinator collected %s's decision at %s, after the revocation", name(ev.Detail["proposal"]), r.Participant, ev.Time.UTC().Format(time.RFC3339)))
				}
			}
		}
	}
	add(InvRevoked, n, vs)
	// The recovery path usable exactly when its time lock allowed: every
	// try before the lock matured was refused, every try after went
	// through to a threshold proof on the recovery path.
	vs, n = nil, 0
	for _, a := range h.Attempts {
		if !a.Recovery {
			continue
		}
		n++
		switch {
		case a.Accepted && !a.Mature:
			vs = append(vs, fmt.Sprintf("%s's recovery spend went through before its time lock allowed it", a.By))
		case !a.Accepted && a.Mature:
			vs = append(vs, fmt.Sprintf("%s's recovery spend did not go through, though its time lock allowed it", a.By))
		}
	}
	add(InvTimelock, n, vs)
	if h.Safe != nil { // safe.go
		add(InvSafe, h.Safe.checked(), h.Safe.violations())
	}
	if h.Media != nil { // carry_media.go
		h.Media.checkMedia(add)
	}
	return out
}

func by(who string) string {
	if who == "" {
		return ""
	}
	return " (" + who + ")"
}

func short(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

// checkFinal judges one finalized proposal; it returns why it is outside
// policy ("" when within), what it spends, and its ledger entries.
func (h *History) checkFinal(ctx context.Context, f FinalRecord, ledger []policy.Entry) (string, []string, []policy.Entry) {
	rec, ok := h.Proposals[f.Proposal]
	if !ok || rec.Envelope == nil {
		return "the proposal is not in the history", nil, nil
	}
	pe, err := envelope.Decode(rec.Envelope)
	if err != nil {
		return err.Error(), nil, nil
	}
	proofEnv, err := envelope.Decode(f.Proof)
	if err != nil {
		return "its proof: " + err.Error(), nil, nil
	}
	rep, err := proposal.VerifyProof(proofEnv, h.Versions, pe, h.Reg)
	if err != nil {
		return err.Error(), nil, nil
	}
	p, err := proposal.Decode(pe)
	if err != nil {
		return err.Error(), nil, nil
	}
	// The rules that decide: the version in effect when it was finalized
	// (a newer version decides an older proposal only when it left the
	// proposal's vault as it was: proposal.CheckStale).
	pol := h.inEffect(f.At)
	if cited := h.cited(p.Policy); cited != nil && cited.Version < pol.Version {
		if err := proposal.CheckStale(p, cited, pol); err != nil {
			return "finalized against a superseded version: " + err.Error(), nil, nil
		}
	} else if cited != nil {
		pol = cited
	}
	rv, err := proposal.Review(ctx, h.Reg, p, pol)
	if err != nil {
		return err.Error(), nil, nil
	}
	spent, err := policy.Spending(rv.Effects)
	if err != nil {
		return err.Error(), nil, nil
	}
	entries, err := policy.ParseSpending(p.CreatedTime(), p.Vault, spent)
	if err != nil {
		return err.Error(), rv.Spends, nil
	}
	if rep.Proof.Path == "recovery" {
		return "", rv.Spends, entries
	}
	in := policy.Input{Vault: p.Vault, Effects: rv.Effects, Template: p.Template}
	counted := map[string]bool{}
	for _, a := range rep.Proof.Approvals {
		in.Approvals = append(in.Approvals, policy.Approval{Participant: a.Participant, Device: a.Device})
		counted[a.Participant] = true
	}
	for _, a := range rep.Proof.Endorsements {
		in.Approvals = append(in.Approvals, policy.Approval{Participant: a.Participant})
		counted[a.Participant] = true
	}
	// The other approvals the coordinator held, each verified again on
	// its own (signature, proposal, policy, time, chain signatures).
	var polID [32]byte
	copy(polID[:], p.Policy)
	at := time.Unix(rep.Proof.Time, 0)
	for _, raw := range f.Approvals {
		ae, err := envelope.Decode(raw)
		if err != nil {
			return "a stored approval: " + err.Error(), rv.Spends, entries
		}
		// One the proof already counted (verified with the proof) adds
		// nothing: its participant counts once.
		if ap, err := proposal.DecodeApproval(ae); err == nil && counted[ap.Participant] {
			continue
		}
		ch, err := proposal.CheckApproval(ae, p, pe.ID(), rep.Policy, polID, h.Reg, at)
		if err != nil {
			return "a stored approval does not verify: " + err.Error(), rv.Spends, entries
		}
		if ch.Approval.Decision != proposal.Approve || counted[ch.Participant.ID] {
			continue
		}
		counted[ch.Participant.ID] = true
		a := policy.Approval{Participant: ch.Participant.ID}
		if !ch.Endorsement && ch.Device != nil {
			a.Device = ch.Device.ID
		}
		in.Approvals = append(in.Approvals, a)
	}
	led, err := policy.NewLedger(ledger)
	if err != nil {
		return err.Error(), rv.Spends, entries
	}
	v, err := policy.Evaluate(pol, in, led, f.At)
	switch {
	case err != nil:
		return "the rules cannot decide: " + err.Error(), rv.Spends, entries
	case !v.Allowed:
		return fmt.Sprintf("the policy denies it: %s (%s)", v.Reason, v.Rule), rv.Spends, entries
	case !v.Met:
		return fmt.Sprintf("%s requires %s; missing %s", v.Rule, v.Required, v.Missing), rv.Spends, entries
	}
	return "", rv.Spends, entries
}

// inEffect is the policy version in effect at t: the newest made by then
// whose not-before time has come.
func (h *History) inEffect(t time.Time) *policy.Policy {
	pol := h.Versions[0].Policy
	for _, v := range h.Versions {
		if v.Policy.Created <= t.Unix() && v.Policy.InEffect(t) && v.Policy.Version > pol.Version {
			pol = v.Policy
		}
	}
	return pol
}

// cited is the version with id polID.
func (h *History) cited(polID []byte) *policy.Policy {
	for _, v := range h.Versions {
		if string(v.ID[:]) == string(polID) {
			return v.Policy
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// finish closes the run: every due expiry, then the history is read from
// the workspaces.
func (s *sim) finish() error {
	c := s.q.Coord
	if err := c.ExpireDue(s.ctx); err != nil {
		return err
	}
	if s.flushHeads != nil {
		s.flushHeads()
	}
	s.checkpoints()
	for _, p := range s.props {
		p.State = s.state(p)
		if s.err != nil {
			return s.err
		}
	}
	h := &s.hist
	h.Reg = c.Reg
	chainOut, err := c.WS.PolicyChain(c.Reg)
	if err != nil {
		return err
	}
	for i, pol := range chainOut.Versions {
		h.Versions = append(h.Versions, proposal.Version{Policy: pol, ID: chainOut.IDs[i]})
	}
	for _, p := range s.props {
		h.Proposals[p.hex()].Envelope = p.Raw
	}
	read := func(name string, ws *workspace.Workspace) error {
		var entries []audit.Entry
		if err := ws.AuditLog(s.ctx, func(l *audit.Log) (err error) {
			entries, err = l.Entries()
			return err
		}); err != nil {
			return err
		}
		wl := WorkspaceLog{Name: name, Role: ws.Config.Role}
		for _, e := range entries {
			wl.Entries = append(wl.Entries, e.Event)
		}
		v, err := ws.Verify(s.ctx)
		if err != nil {
			return err
		}
		if v.Err != nil {
			wl.VerifyErr = v.Err.Error()
		}
		h.Logs = append(h.Logs, wl)
		if ws.Config.Role == workspace.Coordinator {
			for _, ev := range wl.Entries {
				if ev.Kind != "proposal.finalized" {
					continue
				}
				id, err := hex.DecodeString(ev.Subject)
				if err != nil || len(id) != 32 {
					return fmt.Errorf("drill: the coordinator's log names a malformed proposal %q", ev.Subject)
				}
				proof, err := ws.Final([32]byte(id))
				if err != nil {
					return err
				}
				raw, err := proof.Encode()
				if err != nil {
					return err
				}
				fr := FinalRecord{Proposal: ev.Subject, Proof: raw, At: ev.Time}
				aps, err := ws.Approvals([32]byte(id))
				if err != nil {
					return err
				}
				for _, who := range sortedKeys(aps) {
					b, err := aps[who].Encode()
					if err != nil {
						return err
					}
					fr.Approvals = append(fr.Approvals, b)
				}
				h.Finals = append(h.Finals, fr)
			}
		}
		return nil
	}
	if err := read("coord", c.WS); err != nil {
		return err
	}
	for _, who := range s.logged() {
		if err := read(who, s.q.Stations[who].WS); err != nil {
			return err
		}
	}
	// Finals the coordinator forgot in a restore, with their kept proofs,
	// judged with the others in time order.
	if len(h.LostFinals) > 0 {
		h.Finals = append(h.Finals, h.LostFinals...)
		sort.SliceStable(h.Finals, func(i, j int) bool { return h.Finals[i].At.Before(h.Finals[j].At) })
	}
	for _, r := range s.ext.rotations {
		if r.Version > 0 {
			h.Revocations = append(h.Revocations, Revocation{Participant: r.Person, At: r.rotated})
		}
	}
	if s.media != nil {
		if err := s.mediaFinish(); err != nil { // carry_media.go
			return err
		}
	}
	if s.safe != nil {
		return s.safeFinish() // safe.go: the Safe as it stands on chain
	}
	return nil
}
