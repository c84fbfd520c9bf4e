package workspace

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/store/sqlstore"
)

// LegacyDir is where a migrated first-release workspace's files are kept.
const LegacyDir = "legacy-v1"

// migrate turns a first-release workspace (airlock.json format 1, a bbolt
// state.db, an audit/ folder) into a format 2 one. The old log is verified
// first and copied entry by entry, so the new log has the same tree and
// the same checkpoints; the old state is copied in one transaction tied to
// a "workspace.migrated" entry; the old files move to DIR/legacy-v1. An
// interrupted migration starts again from the old files.
func (w *Workspace) migrate() error {
	ctx := context.Background()
	legacy := w.path(LegacyDir)
	boltPath, auditPath := w.path("state.db"), w.path("audit")
	if isBolt(boltPath) {
		// Not moved yet.
	} else if isBolt(filepath.Join(legacy, "state.bolt")) {
		boltPath, auditPath = filepath.Join(legacy, "state.bolt"), filepath.Join(legacy, "audit")
	} else {
		return fmt.Errorf("%w: %s is a first-release workspace, but its bbolt state.db is missing", ErrStoreMissing, w.Dir)
	}
	pub, err := decodeIdentity(w.Config.Identity)
	if err != nil {
		return err
	}
	// The old log must verify before anything is copied.
	var recs [][]byte
	var cps [][]byte
	if _, err := os.Stat(auditPath); err == nil {
		d, err := audit.OpenDir(auditPath)
		if err != nil {
			return fmt.Errorf("workspace: migrating %s: %w; nothing migrated", w.Dir, err)
		}
		l, _ := audit.New(d, w.Config.LogOrigin(), nil)
		_, verr := l.Verify(pub)
		if verr != nil && !errors.Is(verr, audit.ErrNoCheckpoint) {
			d.Close()
			return fmt.Errorf("workspace: migrating %s: the first-release audit log does not verify: %w; nothing migrated", w.Dir, verr)
		}
		n, _ := d.Size()
		for i := int64(0); i < n; i++ {
			r, err := d.Record(i)
			if err != nil {
				d.Close()
				return err
			}
			recs = append(recs, r)
		}
		cps, err = d.Checkpoints()
		d.Close()
		if err != nil {
			return err
		}
	}
	old, err := bolt.Open(boltPath, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		return fmt.Errorf("workspace: migrating %s: open the first-release state: %v; nothing migrated", w.Dir, err)
	}
	defer old.Close()
	tmp := w.path("state.db.migrating")
	os.Remove(tmp)
	os.Remove(tmp + "-wal")
	os.Remove(tmp + "-shm")
	db, err := sqlstore.Open(ctx, tmp, sqlstore.Options{Create: true})
	if err != nil {
		return err
	}
	err = db.Update(ctx, func(tx store.Tx) error {
		l, _ := audit.New(tx.AuditWriter(), w.Config.LogOrigin(), nil)
		for i, r := range recs {
			ev, err := audit.Decode(r)
			if err != nil {
				return fmt.Errorf("workspace: migrating entry %d: %v", i, err)
			}
			if _, err := l.Append(ev); err != nil {
				return err
			}
		}
		for _, cp := range cps {
			c, err := audit.OpenCheckpoint(cp, w.Config.LogOrigin(), pub)
			if err != nil {
				return fmt.Errorf("workspace: migrating a checkpoint: %w", err)
			}
			if err := tx.AuditWriter().AddCheckpoint(c.Size, cp); err != nil {
				return err
			}
		}
		h, err := headOf(tx, -1)
		if err != nil {
			return err
		}
		claims, err := boltClaims(old)
		if err != nil {
			return err
		}
		ev := w.Event("workspace.migrated", "", map[string]string{"from": "bbolt state.db and audit/ (format 1)", "entries": strconv.Itoa(len(recs)),
			"root": base64.StdEncoding.EncodeToString(h.Root[:]), "kept_in": LegacyDir})
		if claims != "" {
			ev.Detail["claims"] = claims
		}
		if n := len(recs); n > 0 {
			if last, err := audit.Decode(recs[n-1]); err == nil && ev.Time.Before(last.Time) {
				ev.Time = last.Time
			}
		}
		idx, err := tx.Log(ev)
		if err != nil {
			return err
		}
		if err := tx.SetMeta("migrated_at", strconv.FormatInt(idx, 10)); err != nil {
			return err
		}
		return old.View(func(b *bolt.Tx) error { return copyBolt(b, tx, w.Config) })
	})
	db.Close()
	if err != nil {
		return fmt.Errorf("workspace: migrating %s: %w; nothing migrated", w.Dir, err)
	}
	// Keep the old files, then put the new store in place.
	if err := os.MkdirAll(legacy, 0o700); err != nil {
		return err
	}
	if boltPath == w.path("state.db") {
		if err := os.Rename(boltPath, filepath.Join(legacy, "state.bolt")); err != nil {
			return err
		}
		if _, err := os.Stat(auditPath); err == nil {
			if err := os.Rename(auditPath, filepath.Join(legacy, "audit")); err != nil {
				return err
			}
		}
	}
	if err := os.Rename(tmp, w.path("state.db")); err != nil {
		return err
	}
	os.Remove(tmp + "-wal")
	os.Remove(tmp + "-shm")
	db2, err := sqlstore.Open(ctx, w.path("state.db"), sqlstore.Options{})
	if err != nil {
		return err
	}
	w.Store = db2
	err = w.writeHead(ctx)
	w.Store = nil
	db2.Close()
	if err != nil {
		return err
	}
	w.Config.Format = Format
	return w.saveConfig()
}

// isBolt reports whether path is a bbolt file (its meta page's magic).
func isBolt(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [32]byte
	if _, err := f.ReadAt(b[:], 16); err != nil {
		return false
	}
	return binary.LittleEndian.Uint32(b[0:4]) == 0xED0CDAED
}

func decodeIdentity(s string) (ed25519.PublicKey, error) {
	raw, ok := strings.CutPrefix(s, "ed25519:")
	b, err := base64.StdEncoding.DecodeString(raw)
	if !ok || err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("workspace: identity %q is not an ed25519 key", s)
	}
	return ed25519.PublicKey(b), nil
}

// copyBolt copies every bucket of a first-release state.db.
func copyBolt(b *bolt.Tx, tx store.Tx, cfg Config) error {
	each := func(name string, fn func(k, v []byte) error) error {
		bk := b.Bucket([]byte(name))
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error { return fn(bytes.Clone(k), bytes.Clone(v)) })
	}
	finals := map[[32]byte]bool{}
	err := each("final", func(k, v []byte) error {
		id, err := key32(k)
		if err != nil {
			return err
		}
		finals[id] = true
		return tx.PutFinal(id, v)
	})
	if err != nil {
		return err
	}
	steps := []struct {
		name string
		fn   func(k, v []byte) error
	}{
		{"policy", func(k, v []byte) error {
			e, err := envelope.Decode(v)
			if err != nil {
				return err
			}
			return tx.PutPolicy(binary.BigEndian.Uint64(k), e.ID(), v)
		}},
		{"proposals", func(k, v []byte) error {
			id, err := key32(k)
			if err != nil {
				return err
			}
			state := "open"
			if cfg.Role == Station {
				state = "held"
			} else if finals[id] {
				state = "finalized"
			}
			return tx.PutProposal(store.Proposal{ID: id, Envelope: v, State: state})
		}},
		{"approvals", func(k, v []byte) error {
			if len(k) <= 32 {
				return errors.New("malformed approval key")
			}
			id, _ := key32(k[:32])
			return tx.PutDecision(store.Decision{Proposal: id, Participant: string(k[32:]), Envelope: v})
		}},
		{"decisions", func(k, v []byte) error {
			id, err := key32(k)
			if err != nil {
				return err
			}
			return tx.PutDecision(store.Decision{Proposal: id, Participant: cfg.Name, Envelope: v})
		}},
		{"spends", func(k, v []byte) error {
			id, err := key32(v)
			if err != nil {
				return err
			}
			return tx.PutClaim(string(k), id)
		}},
		{"channels", func(k, v []byte) error {
			if len(v) != 8 {
				return errors.New("malformed channel")
			}
			return tx.SetSequence(string(k), binary.BigEndian.Uint64(v))
		}},
		{"witness", func(k, v []byte) error { return tx.PutWitness(string(k), v) }},
		{"health", func(k, v []byte) error { return tx.PutHealth(string(k), v) }},
	}
	for _, s := range steps {
		if err := each(s.name, s.fn); err != nil {
			return fmt.Errorf("bucket %s: %w", s.name, err)
		}
	}
	return nil
}

func key32(k []byte) ([32]byte, error) {
	var id [32]byte
	if len(k) != 32 {
		return id, fmt.Errorf("malformed key of %d bytes", len(k))
	}
	copy(id[:], k)
	return id, nil
}

// boltClaims lists a first-release station's claims as "resource=proposal"
// words, for the migration's entry: the log then derives every claim.
func boltClaims(db *bolt.DB) (string, error) {
	var out []string
	err := db.View(func(b *bolt.Tx) error {
		bk := b.Bucket([]byte("spends"))
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(k, v []byte) error {
			if len(v) != 32 || strings.ContainsAny(string(k), " =") {
				return fmt.Errorf("malformed claim %q", k)
			}
			out = append(out, string(k)+"="+hex.EncodeToString(v))
			return nil
		})
	})
	return strings.Join(out, " "), err
}
