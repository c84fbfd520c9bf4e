package workspace

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/store"
)

// headHeader starts DIR/head.
const headHeader = "airlock head v1"

// Head is the log's size and root after the last change.
type Head struct {
	Size int64
	Root tlog.Hash
}

func (h Head) String() string {
	return fmt.Sprintf("%s\n%d\n%s\n", headHeader, h.Size, base64.StdEncoding.EncodeToString(h.Root[:]))
}

func parseHead(b []byte) (Head, error) {
	lines := strings.Split(string(b), "\n")
	if len(lines) != 4 || lines[0] != headHeader || lines[3] != "" {
		return Head{}, errors.New("malformed")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return Head{}, errors.New("malformed size")
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return Head{}, errors.New("malformed root")
	}
	return Head{Size: n, Root: tlog.Hash(root)}, nil
}

// CurrentHead reads the log's size and root from the store.
func (w *Workspace) CurrentHead(ctx context.Context) (Head, error) {
	var h Head
	err := w.View(ctx, func(r store.Reader) error {
		var err error
		h, err = headOf(r, -1)
		return err
	})
	return h, err
}

// headOf is the head of the first size entries (all when size < 0).
func headOf(r store.Reader, size int64) (Head, error) {
	n, err := r.Audit().Size()
	if err != nil {
		return Head{}, err
	}
	if size < 0 {
		size = n
	}
	if size > n {
		return Head{}, fmt.Errorf("the log holds %d entries, fewer than %d", n, size)
	}
	root, err := tlog.TreeHash(size, r.Audit())
	if err != nil {
		return Head{}, err
	}
	return Head{Size: size, Root: root}, nil
}

// check runs at every open: the log extends the head recorded after the
// last change, and state and log agree.
func (w *Workspace) check() error {
	ctx := context.Background()
	b, err := os.ReadFile(w.path("head"))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s/head is missing, so nothing shows whether state.db was rolled back; if state.db was restored from a backup on purpose, accept it with 'airlock store accept --acknowledge REASON' (logged and signed)", ErrRolledBack, w.Dir)
	}
	if err != nil {
		return fmt.Errorf("workspace: %v", err)
	}
	head, err := parseHead(b)
	if err != nil {
		return fmt.Errorf("%w: %s/head is %v", ErrRolledBack, w.Dir, err)
	}
	return w.View(ctx, func(r store.Reader) error {
		have, err := headOf(r, -1)
		if err != nil {
			return err
		}
		if have.Size < head.Size {
			return fmt.Errorf("%w: its audit log holds %d entries, but this workspace had %d after its last change: state.db was rolled back or replaced (restore the newest backup, or accept this one with 'airlock store accept --acknowledge REASON')", ErrRolledBack, have.Size, head.Size)
		}
		at, err := headOf(r, head.Size)
		if err != nil {
			return err
		}
		if at.Root != head.Root {
			return fmt.Errorf("%w: its first %d entries no longer hash to the root recorded after the last change: the log was rewritten", ErrRolledBack, head.Size)
		}
		return CrossCheck(r)
	})
}

// rowKinds maps each kind of state row to the audit entry kinds that may
// create it; entryKinds maps the entry kinds that must leave a row.
var (
	rowKinds = map[string][]string{
		"policies":  {"policy.imported", "policy.adopted", "transfer.imported"},
		"proposals": {"proposal.created", "proposal.readopted", "transfer.imported", "approval.created", "rejection.created"},
		"decisions": {"approval.collected", "approval.created", "rejection.created", "transfer.imported"},
		"claims":    {"approval.created"},
		"finals":    {"proposal.finalized"},
	}
	entryKinds = map[string]string{
		"proposal.created":   "proposals",
		"proposal.readopted": "proposals",
		"approval.collected": "decisions",
		"approval.created":   "decisions",
		"rejection.created":  "decisions",
		"proposal.finalized": "finals",
	}
)

// CrossCheck checks that state and log agree: every row of a proposal,
// decision, claim or finalization was written with an entry that exists
// and may make it, and every entry that records one has its row. A row
// deleted or added behind the log's back is refused with ErrDisagree.
func CrossCheck(r store.Reader) error {
	size, err := r.Audit().Size()
	if err != nil {
		return err
	}
	migrated := int64(-1)
	if m, err := r.Meta("migrated_at"); err != nil {
		return err
	} else if m != "" {
		if migrated, err = strconv.ParseInt(m, 10, 64); err != nil {
			return fmt.Errorf("%w: bad migrated_at %q", store.ErrCorrupt, m)
		}
	}
	rows, err := r.StateEntries()
	if err != nil {
		return err
	}
	for table, kinds := range rowKinds {
		for _, e := range rows[table] {
			if e == migrated {
				continue
			}
			if e < 0 || e >= size {
				return fmt.Errorf("%w: a %s row cites audit entry %d, and the log holds %d: the log was cut back or the row forged", store.ErrDisagree, strings.TrimSuffix(table, "s"), e, size)
			}
			rec, err := r.Audit().Record(e)
			if err != nil {
				return err
			}
			ev, err := audit.Decode(rec)
			if err != nil {
				return fmt.Errorf("%w: audit entry %d: %v", audit.ErrTampered, e, err)
			}
			if !slices.Contains(kinds, ev.Kind) {
				return fmt.Errorf("%w: a %s row cites audit entry %d, a %s: the row was forged", store.ErrDisagree, strings.TrimSuffix(table, "s"), e, ev.Kind)
			}
		}
	}
	if err := checkClaims(r); err != nil {
		return err
	}
	for kind, table := range entryKinds {
		idx, err := r.EntriesOfKind(kind)
		if err != nil {
			return err
		}
		for _, i := range idx {
			if i <= migrated {
				continue
			}
			if _, ok := slices.BinarySearch(rows[table], i); !ok {
				return fmt.Errorf("%w: audit entry %d (%s) has no %s row: the row was deleted behind the log's back; restore state.db from a backup", store.ErrDisagree, i, kind, strings.TrimSuffix(table, "s"))
			}
		}
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// VerifyState is the full check audit verify runs beside the log's own:
// CrossCheck, then every row against the entry it cites (the decision's,
// proposal's and proof's ids; a claim's resource among the claims its
// approval made).
func (w *Workspace) VerifyState(ctx context.Context) error {
	return w.View(ctx, func(r store.Reader) error {
		if err := CrossCheck(r); err != nil {
			return err
		}
		entry := func(i int64) (audit.Event, error) {
			rec, err := r.Audit().Record(i)
			if err != nil {
				return audit.Event{}, err
			}
			return audit.Decode(rec)
		}
		ps, err := r.Proposals()
		if err != nil {
			return err
		}
		for _, p := range ps {
			ds, err := r.Decisions(p.ID)
			if err != nil {
				return err
			}
			for who, d := range ds {
				if d.Entry < 0 || d.Entry == migratedAt(r) {
					continue
				}
				ev, err := entry(d.Entry)
				if err != nil {
					return err
				}
				env, err := envelope.Decode(d.Envelope)
				if err != nil {
					return fmt.Errorf("%w: stored decision by %q: %v", store.ErrDisagree, who, err)
				}
				if ev.Subject != env.IDHex() {
					return fmt.Errorf("%w: the decision by %q on proposal %x is not the one audit entry %d records (%s)", store.ErrDisagree, who, p.ID[:8], d.Entry, ev.Subject)
				}
			}
		}
		claims, err := r.Claims()
		if err != nil {
			return err
		}
		for _, c := range claims {
			if c.Entry == migratedAt(r) {
				continue
			}
			ev, err := entry(c.Entry)
			if err != nil {
				return err
			}
			if ev.Detail["proposal"] != hex.EncodeToString(c.Proposal[:]) || !slices.Contains(strings.Fields(ev.Detail["claims"]), c.Resource) {
				return fmt.Errorf("%w: the claim on %s is not one audit entry %d made", store.ErrDisagree, c.Resource, c.Entry)
			}
		}
		return nil
	})
}

func migratedAt(r store.Reader) int64 {
	m, _ := r.Meta("migrated_at")
	n, err := strconv.ParseInt(m, 10, 64)
	if err != nil {
		return -2
	}
	return n
}

// DeriveClaims rebuilds a station's double-sign claims from its log alone:
// the claims a migration carried over, then every approval's claims in
// order (a later approval of the same resource, an override, replaces the
// claim) and every applied release's.
func DeriveClaims(r store.Reader) (map[string][32]byte, error) {
	out := map[string][32]byte{}
	size, err := r.Audit().Size()
	if err != nil {
		return nil, err
	}
	for i := int64(0); i < size; i++ {
		rec, err := r.Audit().Record(i)
		if err != nil {
			return nil, err
		}
		ev, err := audit.Decode(rec)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", audit.ErrTampered, i, err)
		}
		switch ev.Kind {
		case "workspace.migrated", "approval.created":
			if ev.Kind == "workspace.migrated" {
				for _, c := range strings.Fields(ev.Detail["claims"]) {
					res, pid, ok := strings.Cut(c, "=")
					id, err := hex.DecodeString(pid)
					if !ok || err != nil || len(id) != 32 {
						return nil, fmt.Errorf("%w: entry %d: malformed claim %q", audit.ErrTampered, i, c)
					}
					out[res] = [32]byte(id)
				}
				continue
			}
			id, err := hex.DecodeString(ev.Detail["proposal"])
			if err != nil || len(id) != 32 {
				return nil, fmt.Errorf("%w: entry %d: malformed proposal id", audit.ErrTampered, i)
			}
			for _, res := range strings.Fields(ev.Detail["claims"]) {
				out[res] = [32]byte(id)
			}
		case "claims.released":
			for _, res := range strings.Fields(ev.Detail["released"]) {
				delete(out, res)
			}
		}
	}
	return out, nil
}

// checkClaims compares a station's claims with those its log derives: a
// claim deleted behind the log's back would let the station sign a second,
// conflicting spend of a coin it approved.
func checkClaims(r store.Reader) error {
	stored, err := r.Claims()
	if err != nil {
		return err
	}
	derived, err := DeriveClaims(r)
	if err != nil {
		return err
	}
	for _, c := range stored {
		if p, ok := derived[c.Resource]; !ok || p != c.Proposal {
			return fmt.Errorf("%w: the claim on %s is not one the log made", store.ErrDisagree, c.Resource)
		}
		delete(derived, c.Resource)
	}
	for res := range derived {
		return fmt.Errorf("%w: the log records a claim on %s that the state lost: a station's record of what it approved was edited; restore state.db from a backup", store.ErrDisagree, res)
	}
	return nil
}
