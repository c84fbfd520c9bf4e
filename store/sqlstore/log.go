package sqlstore

// The audit log inside a transaction: appending an entry (and refusing a
// back-dated one), the log's end as the transaction knows it, and the
// audit.Store the log is read and checkpointed through.

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/store"
	"golang.org/x/mod/sumdb/tlog"
)

// logTail caches, for one database transaction (a group commit's batch
// included), the log's size, its last entry's time and the stored hashes
// written or read: appending the next entry then reads nothing. A
// rollback to a savepoint drops it.
type logTail struct {
	known    bool
	size     int64
	lastTime int64
	hashes   map[int64]tlog.Hash
}

const maxTailHashes = 4096

func (c *logTail) reset() { *c = logTail{} }

func (c *logTail) keep(idx int64, h tlog.Hash) {
	if c.hashes == nil || len(c.hashes) >= maxTailHashes {
		c.hashes = map[int64]tlog.Hash{}
	}
	c.hashes[idx] = h
}

func (t *tx) EntriesOfKind(kind string) ([]int64, error) {
	rows, err := t.query("SELECT idx FROM audit_entries WHERE kind = $1 ORDER BY idx", kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var i int64
		if err := rows.Scan(&i); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// Log implements store.Tx: the event's record and stored hashes are
// appended in this transaction. An event dated before the log's last entry
// is refused unless the store is a drill's (meta "clock" = "drill").
func (t *tx) Log(ev audit.Event) (int64, error) {
	if !t.writable {
		return 0, errors.New("sqlstore: log in a read-only transaction")
	}
	var last sql.NullInt64
	if t.tail.known {
		t.size = t.tail.size
		last = sql.NullInt64{Int64: t.tail.lastTime, Valid: t.tail.size > 0}
	} else {
		var lastIdx int64
		switch err := t.queryRow("SELECT idx, time FROM audit_entries ORDER BY idx DESC LIMIT 1").Scan(&lastIdx, &last); {
		case errors.Is(err, sql.ErrNoRows):
			t.size = 0
		case err != nil:
			return 0, err
		default:
			t.size = lastIdx + 1
		}
	}
	if last.Valid && ev.Time.Unix() < last.Int64 {
		clock, err := t.Meta("clock")
		if err != nil {
			return 0, err
		}
		if clock != "drill" {
			return 0, fmt.Errorf("%w: the clock reads %s, before the log's last entry at %s; fix the clock (only a drill workspace may go back in time)",
				store.ErrBackdated, ev.Time.UTC().Format("2006-01-02T15:04:05Z"), unixUTC(last.Int64))
		}
	}
	l, err := audit.New(&logTx{t}, "", nil)
	if err != nil {
		return 0, err
	}
	t.pending = ev
	i, err := l.Append(ev)
	t.pending = audit.Event{}
	if err != nil {
		t.tail.reset()
		return 0, err
	}
	t.tail.known, t.tail.size, t.tail.lastTime = true, i+1, ev.Time.Unix()
	t.entry = i
	return i, nil
}

func (t *tx) AuditWriter() audit.Store { return &logTx{t} }
func (t *tx) Audit() audit.Store       { return &logTx{t} }

// logTx is the audit.Store of a transaction.
type logTx struct{ t *tx }

func (l *logTx) Size() (int64, error) {
	if l.t.size >= 0 {
		return l.t.size, nil
	}
	var n sql.NullInt64
	if err := l.t.queryRow("SELECT MAX(idx) FROM audit_entries").Scan(&n); err != nil {
		return 0, err
	}
	l.t.size = 0
	if n.Valid {
		l.t.size = n.Int64 + 1
	}
	return l.t.size, nil
}

func (l *logTx) Record(i int64) ([]byte, error) {
	b, err := l.t.blob("SELECT record FROM audit_entries WHERE idx = $1", i)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: audit entry %d is missing", audit.ErrTampered, i)
	}
	return b, err
}

func (l *logTx) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	var at []int
	for k, x := range indexes {
		if h, ok := l.t.tail.hashes[x]; ok {
			out[k] = h
			continue
		}
		missing = append(missing, x)
		at = append(at, k)
	}
	if len(missing) == 0 {
		return out, nil
	}
	got, err := l.readHashes(missing)
	if err != nil {
		return nil, err
	}
	for k, h := range got {
		out[at[k]] = h
		l.t.tail.keep(missing[k], h)
	}
	return out, nil
}

func (l *logTx) readHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	var q strings.Builder
	q.WriteString("SELECT idx, hash FROM audit_hashes WHERE idx IN (")
	args := make([]any, len(indexes))
	for i, x := range indexes {
		if i > 0 {
			q.WriteByte(',')
		}
		fmt.Fprintf(&q, "$%d", i+1)
		args[i] = x
	}
	q.WriteByte(')')
	rows, err := l.t.query(q.String(), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	got := map[int64][]byte{}
	for rows.Next() {
		var i int64
		var h []byte
		if err := rows.Scan(&i, &h); err != nil {
			return nil, err
		}
		got[i] = h
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, x := range indexes {
		h, ok := got[x]
		if !ok || len(h) != tlog.HashSize {
			return nil, fmt.Errorf("%w: stored hash %d is missing", audit.ErrTampered, x)
		}
		copy(out[i][:], h)
	}
	return out, nil
}

func (l *logTx) Append(i int64, rec []byte, hashes []tlog.Hash) error {
	n, err := l.Size()
	if err != nil {
		return err
	}
	if i != n {
		return fmt.Errorf("sqlstore: append at %d to a log of %d", i, n)
	}
	ev := l.t.pending
	if ev.Kind == "" {
		if ev, err = audit.Decode(rec); err != nil {
			return err
		}
	}
	if err := l.t.exec("INSERT INTO audit_entries (idx, kind, subject, time, record) VALUES ($1, $2, $3, $4, $5)", i, ev.Kind, ev.Subject, ev.Time.Unix(), rec); err != nil {
		return err
	}
	// The entry's stored hashes in one statement.
	base := tlog.StoredHashIndex(0, i)
	var q strings.Builder
	q.WriteString("INSERT INTO audit_hashes (idx, hash) VALUES ")
	args := make([]any, 0, 2*len(hashes))
	for k, h := range hashes {
		if k > 0 {
			q.WriteByte(',')
		}
		fmt.Fprintf(&q, "($%d, $%d)", 2*k+1, 2*k+2)
		args = append(args, base+int64(k), h[:])
	}
	if err := l.t.exec(q.String(), args...); err != nil {
		return err
	}
	for k, h := range hashes {
		l.t.tail.keep(base+int64(k), h)
	}
	if l.t.tail.known {
		l.t.tail.size, l.t.tail.lastTime = i+1, ev.Time.Unix()
	}
	l.t.size = n + 1
	return nil
}

func (l *logTx) AddCheckpoint(size int64, note []byte) error {
	return l.t.exec("INSERT INTO audit_checkpoints (size, note) VALUES ($1, $2)", size, note)
}

func (l *logTx) LatestCheckpoint() ([]byte, error) {
	b, err := l.t.blob("SELECT note FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
	if errors.Is(err, store.ErrNotFound) {
		return nil, audit.ErrNoCheckpoint
	}
	return b, err
}

// Checkpoints implements store.Reader.
func (t *tx) Checkpoints() ([][]byte, error) {
	rows, err := t.query("SELECT note FROM audit_checkpoints ORDER BY seq")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

func unixUTC(s int64) string { return time.Unix(s, 0).UTC().Format("2006-01-02T15:04:05Z") }

// ScanHashes implements audit.HashScanner: the first n stored hashes in
// index order, in one sequential scan.
func (l *logTx) ScanHashes(n int64, fn func(idx int64, h tlog.Hash) error) error {
	rows, err := l.t.query("SELECT idx, hash FROM audit_hashes WHERE idx < $1 ORDER BY idx", n)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var i int64
		var h []byte
		if err := rows.Scan(&i, &h); err != nil {
			return err
		}
		if len(h) != tlog.HashSize {
			return fmt.Errorf("%w: stored hash %d has %d bytes", audit.ErrTampered, i, len(h))
		}
		if err := fn(i, tlog.Hash(h)); err != nil {
			return err
		}
	}
	return rows.Err()
}
