package transfer

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/transport/media"
	"github.com/airlock-vault/airlock/workspace"
)

// Finding is one line of a reconciliation of a station's signed transfer
// record (carried in its latest decision) with the coordinator's own.
type Finding struct {
	// Kind is DIFFERS (one transfer, two digests), MISSING (sent, never
	// received), FOREIGN (received, never sent), UNKNOWN (in the
	// station's record only) or pending (after the station's record).
	Kind        string
	Participant string
	Direction   string // the coordinator's side: "out" or "in"
	Sequence    uint64
	Artifact    string // the artifact's kind
	Ours        []byte // the coordinator's digest
	Theirs      []byte // the station's digest
}

// Alarm reports whether a finding is a discrepancy (not just pending).
func (f Finding) Alarm() bool { return f.Kind != "pending" }

func (f Finding) String() string {
	k := media.ShortKind(f.Artifact)
	switch f.Kind {
	case "DIFFERS":
		return fmt.Sprintf("DIFFERS  %s transfer %d (%s): coordinator %x, %s %x", f.Participant, f.Sequence, k, short(f.Ours), f.Participant, short(f.Theirs))
	case "MISSING":
		return fmt.Sprintf("MISSING  %s never received transfer %d (%s) the coordinator sent", f.Participant, f.Sequence, k)
	case "FOREIGN":
		return fmt.Sprintf("FOREIGN  the coordinator received transfer %d (%s) that %s never sent", f.Sequence, k, f.Participant)
	case "UNKNOWN":
		what := map[string]string{"out": "received from the coordinator a transfer it never sent", "in": "sent a transfer the coordinator never received"}[f.Direction]
		return fmt.Sprintf("UNKNOWN  %s %s: #%d", f.Participant, what, f.Sequence)
	}
	return fmt.Sprintf("pending  transfer %d (%s) after %s's latest record", f.Sequence, k, f.Participant)
}

func short(b []byte) []byte {
	if len(b) > 8 {
		return b[:8]
	}
	return b
}

// Reconcile compares each station's transfer record, signed inside its
// latest decision, with the coordinator's own record from its log. It
// returns how many stations it compared and what it found.
func Reconcile(ws *workspace.Workspace) (int, []Finding, error) {
	mine, err := Transfers(ws)
	if err != nil {
		return 0, nil, err
	}
	// The latest decision of each participant carries its record.
	latest := map[string]*proposal.Approval{}
	props, err := ws.Proposals()
	if err != nil {
		return 0, nil, err
	}
	for _, pe := range props {
		aps, err := ws.Approvals(pe.ID())
		if err != nil {
			return 0, nil, err
		}
		for who, ae := range aps {
			a, err := proposal.DecodeApproval(ae)
			if err != nil {
				return 0, nil, err
			}
			if prev, ok := latest[who]; !ok || a.Time > prev.Time || (a.Time == prev.Time && len(a.Transfers) > len(prev.Transfers)) {
				latest[who] = a
			}
		}
	}
	var out []Finding
	key := func(dir string, seq uint64) string { return dir + ":" + strconv.FormatUint(seq, 10) }
	for _, who := range workspace.SortedKeys(latest) {
		station := "station/" + who
		have := map[string][]byte{}
		maxIn, maxOut := uint64(0), uint64(0)
		for _, t := range latest[who].Transfers {
			if t.Peer != ws.Config.Origin() {
				continue
			}
			have[key(t.Direction, t.Sequence)] = t.Digest
			if t.Direction == "in" {
				maxIn = max(maxIn, t.Sequence)
			} else {
				maxOut = max(maxOut, t.Sequence)
			}
		}
		seen := map[string]bool{}
		for _, t := range mine {
			if t.Peer != station {
				continue
			}
			// The coordinator's "out" is the station's "in", and the reverse.
			k := key(map[string]string{"out": "in", "in": "out"}[t.Direction], t.Sequence)
			seen[k] = true
			f := Finding{Participant: who, Direction: t.Direction, Sequence: t.Sequence, Artifact: t.Kind, Ours: t.Digest}
			d, ok := have[k]
			switch {
			case ok && string(d) != string(t.Digest):
				f.Kind, f.Theirs = "DIFFERS", d
			case ok:
				continue
			case t.Direction == "out" && t.Sequence <= maxIn:
				f.Kind = "MISSING"
			case t.Direction == "in" && t.Sequence <= maxOut:
				f.Kind = "FOREIGN"
			default:
				f.Kind = "pending"
			}
			out = append(out, f)
		}
		var unknown []string
		for k := range have {
			if !seen[k] {
				unknown = append(unknown, k)
			}
		}
		sort.Strings(unknown)
		for _, k := range unknown {
			dir, seq, _ := strings.Cut(k, ":")
			n, _ := strconv.ParseUint(seq, 10, 64)
			// The station's "in" is the coordinator's "out".
			out = append(out, Finding{Kind: "UNKNOWN", Participant: who, Direction: map[string]string{"in": "out", "out": "in"}[dir], Sequence: n, Theirs: have[k]})
		}
	}
	return len(latest), out, nil
}
