package proposal

import (
	"errors"
	"fmt"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/policy"
	"golang.org/x/mod/sumdb/tlog"
)

// History bounds, besides audit's on a range's records.
const (
	// MaxHistoryProofs bounds the consistency proofs a history carries.
	MaxHistoryProofs = 32
	// MaxCheckpoint bounds the signed checkpoint it carries.
	MaxCheckpoint = 1 << 16
)

// History is the coordinator's spend history attached to a proposal made
// for a vault with velocity rules: its audit log's entries [From, n),
// where n is the size of a checkpoint it signed when it made the proposal,
// with what proves that they are all of its log after entry From-1 (the
// frontier of the tree of From entries and entry From-1 with its
// inclusion proof, older than the longest velocity period), and
// consistency proofs from the sizes of its log stations reported seeing
// to From. A station recomputes the tree and counts the proposals in it,
// so it can refuse one that breaks a limit with spends it did not sign.
//
// Missing, when set, says why the coordinator could not prove its
// history (the period holds more than a history may carry): stations
// refuse the proposal when the vault has velocity rules.
type History struct {
	From        int64         `cbor:"1,keyasint"`
	Frontier    [][]byte      `cbor:"2,keyasint,omitempty"`
	Records     [][]byte      `cbor:"3,keyasint,omitempty"`
	Before      []byte        `cbor:"4,keyasint,omitempty"`
	BeforeProof [][]byte      `cbor:"5,keyasint,omitempty"`
	Checkpoint  []byte        `cbor:"6,keyasint,omitempty"`
	Consistency []Consistency `cbor:"7,keyasint,omitempty"`
	Missing     string        `cbor:"8,keyasint,omitempty"`
}

// Consistency proves the tree of From entries is a prefix of the tree of
// the history's From entries.
type Consistency struct {
	From   int64    `cbor:"1,keyasint"`
	Hashes [][]byte `cbor:"2,keyasint"`
}

// ErrNoHistory is a proposal for a vault with velocity rules that does
// not prove the coordinator's history.
var ErrNoHistory = errors.New("proposal: the coordinator's spend history is not proven")

// NewHistory is the CBOR form of a range of the coordinator's log.
func NewHistory(r *audit.Range, proofs map[int64]tlog.TreeProof) *History {
	h := &History{From: r.From, Records: r.Records, Before: r.Before, Checkpoint: r.Checkpoint}
	for _, f := range r.Frontier {
		h.Frontier = append(h.Frontier, append([]byte{}, f[:]...))
	}
	for _, p := range r.BeforeProof {
		h.BeforeProof = append(h.BeforeProof, append([]byte{}, p[:]...))
	}
	for from, p := range proofs {
		c := Consistency{From: from}
		for _, x := range p {
			c.Hashes = append(c.Hashes, append([]byte{}, x[:]...))
		}
		h.Consistency = append(h.Consistency, c)
	}
	sortConsistency(h.Consistency)
	return h
}

func sortConsistency(cs []Consistency) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].From > cs[j-1].From; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// Range reads the history's range strictly: hashes of 32 bytes, at most
// 64 of them per proof, records and proofs within bounds.
func (h *History) Range() (*audit.Range, map[int64]tlog.TreeProof, error) {
	if h.Missing != "" {
		return nil, nil, fmt.Errorf("%w: the coordinator says: %s", ErrNoHistory, h.Missing)
	}
	if len(h.Checkpoint) == 0 || len(h.Checkpoint) > MaxCheckpoint {
		return nil, nil, fmt.Errorf("%w: a checkpoint of %d bytes", ErrNoHistory, len(h.Checkpoint))
	}
	if len(h.Records) > audit.MaxRangeRecords {
		return nil, nil, fmt.Errorf("%w: %d entries exceed %d", ErrNoHistory, len(h.Records), audit.MaxRangeRecords)
	}
	if len(h.Consistency) > MaxHistoryProofs {
		return nil, nil, fmt.Errorf("%w: %d consistency proofs exceed %d", ErrNoHistory, len(h.Consistency), MaxHistoryProofs)
	}
	r := &audit.Range{From: h.From, Records: h.Records, Before: h.Before, Checkpoint: h.Checkpoint}
	var err error
	if r.Frontier, err = hashes(h.Frontier); err != nil {
		return nil, nil, err
	}
	var bp []tlog.Hash
	if bp, err = hashes(h.BeforeProof); err != nil {
		return nil, nil, err
	}
	r.BeforeProof = bp
	proofs := map[int64]tlog.TreeProof{}
	for _, c := range h.Consistency {
		if _, dup := proofs[c.From]; dup || c.From < 1 || c.From >= h.From {
			return nil, nil, fmt.Errorf("%w: a consistency proof from %d", ErrNoHistory, c.From)
		}
		p, err := hashes(c.Hashes)
		if err != nil {
			return nil, nil, err
		}
		proofs[c.From] = p
	}
	return r, proofs, nil
}

func hashes(bs [][]byte) ([]tlog.Hash, error) {
	if len(bs) > 64 {
		return nil, fmt.Errorf("%w: %d hashes in a proof", ErrNoHistory, len(bs))
	}
	out := make([]tlog.Hash, 0, len(bs))
	for _, b := range bs {
		if len(b) != tlog.HashSize {
			return nil, fmt.Errorf("%w: a hash of %d bytes", ErrNoHistory, len(b))
		}
		out = append(out, tlog.Hash(b))
	}
	return out, nil
}

// VelocityPeriod is the longest period of the velocity rules that apply
// to vault v (the policy's and the vault's own), or zero when none does:
// how far back a proposal's history must reach.
func VelocityPeriod(pol *policy.Policy, v *policy.Vault) time.Duration {
	var longest int64
	for _, rs := range [][]policy.TxRule{pol.TxRules, v.TxRules} {
		for _, r := range rs {
			if r.Kind == policy.RuleVelocity && r.Period > longest {
				longest = r.Period
			}
		}
	}
	return time.Duration(longest) * time.Second
}

// Spends reads, from a verified range of a coordinator's log, what each
// proposal for vault spent (the "spent" of its proposal.created entry),
// by proposal id, leaving out the proposals the range shows ended without
// effect (rejected, withdrawn, expired, released). A proposal.created
// entry whose spending does not read back is tampering.
func Spends(vr *audit.VerifiedRange, vault string) (map[string][]policy.Entry, error) {
	out := map[string][]policy.Entry{}
	ended := map[string]bool{}
	for _, e := range vr.Entries {
		ev := e.Event
		switch ev.Kind {
		case "proposal." + string(StateRejected), "proposal." + string(StateWithdrawn), "proposal." + string(StateExpired), "proposal.released":
			ended[ev.Subject] = true
		case "proposal.created", "proposal.readopted":
			// A proposal re-adopted after a restore of the coordinator's
			// database (coordinator.Readopt) spends as when it was made.
			spent, ok := ev.Detail["spent"]
			if !ok || ev.Detail["vault"] != vault {
				continue
			}
			es, err := policy.ParseSpending(ev.Time, vault, spent)
			if err != nil {
				return nil, fmt.Errorf("%w: the coordinator's entry %d: %v", audit.ErrTampered, e.Index, err)
			}
			for k := range es {
				es[k].Template = ev.Detail["template"] // a template's rate counts its payments
			}
			out[ev.Subject] = append(out[ev.Subject], es...)
		}
	}
	for id := range ended {
		delete(out, id)
	}
	return out, nil
}
