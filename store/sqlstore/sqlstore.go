// Package sqlstore keeps a workspace's state and audit log in one SQL
// database: SQLite by default (modernc.org/sqlite, pure Go), with WAL,
// synchronous=FULL and a bounded busy timeout, so a committed transaction
// survives a power cut and a second writer waits a little, then gets
// store.ErrLocked instead of hanging.
//
// One schema, versioned migrations (github.com/pressly/goose/v3) embedded
// in the binary; statements use $N placeholders, which SQLite and
// PostgreSQL both read.
//
// A state change and its audit entry are one transaction (package store):
// the log's records, its stored hashes (golang.org/x/mod/sumdb/tlog) and
// its checkpoints are tables beside the state.
package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/airlock-vault/airlock/internal/failpoint"
	"github.com/airlock-vault/airlock/store"
)

//go:embed migrations
var migrations embed.FS

// quickCheckLimit is the largest store checked whole at every open.
const quickCheckLimit = 64 << 20

// BusyTimeout bounds how long a writer waits for another one.
const BusyTimeout = 5 * time.Second

// Options are the choices for Open.
type Options struct {
	// Create makes the database when it does not exist. Without it, a
	// missing or empty file is refused: an empty store must never stand in
	// for one that was deleted.
	Create bool
	// BusyTimeout overrides the package's BusyTimeout (tests).
	BusyTimeout time.Duration
	// GroupCommit runs concurrent Updates in shared database transactions
	// (one fsync for many), each in its own savepoint: a failing one rolls
	// back alone, and every caller returns only once its changes are
	// durable. For a service with many writers; a CLI gains nothing.
	GroupCommit bool
}

// DB is an open store.
type DB struct {
	db      *sql.DB
	path    string // the SQLite file, or the PostgreSQL server for messages
	dialect string // "sqlite" or "postgres"
	group   *committer

	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	leases []*Lease
}

// maxStmts bounds the prepared statements kept.
const maxStmts = 512

// cached returns q prepared on the database, if it was.
func (s *DB) cached(q string) *sql.Stmt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stmts[q]
}

// warm prepares on the database the statements a finished transaction
// had to prepare for itself (a transaction holds the one connection, so
// it cannot prepare on the database while it runs). s.mu guards the map
// only: no database call is made while it is held.
func (s *DB) warm(ctx context.Context, qs []string) {
	for _, q := range qs {
		s.mu.Lock()
		_, ok := s.stmts[q]
		full := len(s.stmts) >= maxStmts
		s.mu.Unlock()
		if ok || full {
			continue
		}
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		s.mu.Lock()
		if s.stmts == nil {
			s.stmts = map[string]*sql.Stmt{}
		}
		_, dup := s.stmts[q]
		if !dup {
			s.stmts[q] = st
		}
		s.mu.Unlock()
		// Never close a statement under s.mu: closing takes the lock of
		// every connection it was prepared on, and a connection's lock is
		// held while it waits for PostgreSQL's advisory lock, whose holder
		// may be waiting for s.mu (a deadlock the conformance suite met).
		if dup {
			st.Close()
		}
	}
}

var _ store.Store = (*DB)(nil)

// Open opens the SQLite store at path.
func Open(ctx context.Context, path string, o Options) (*DB, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && !o.Create:
		return nil, fmt.Errorf("%w: %s is missing", store.ErrNotFound, path)
	case err == nil && fi.Size() == 0 && !o.Create:
		return nil, fmt.Errorf("%w: %s is empty", store.ErrCorrupt, path)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("sqlstore: %v", err)
	}
	existed := err == nil && fi.Size() > 0
	busy := o.BusyTimeout
	if busy == 0 {
		busy = BusyTimeout
	}
	// Reads through a memory map (no system call per page) and a 32 MiB
	// page cache: proofs read a few random pages of a large log.
	dsn := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=mmap_size(1073741824)&_pragma=cache_size(-32768)&_txlock=immediate", path, busy.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %v", err)
	}
	// One connection: SQLite has one writer anyway, and every read then
	// sees the last commit.
	db.SetMaxOpenConns(1)
	s := &DB{db: db, path: path, dialect: "sqlite"}
	if err := s.check(ctx, existed); err != nil {
		db.Close()
		return nil, err
	}
	if o.GroupCommit {
		s.group = newCommitter(s)
	}
	return s, nil
}

// check verifies the file is an intact airlock store and migrates it to
// the current schema.
func (s *DB) check(ctx context.Context, existed bool) error {
	// A small store (every workspace) is checked whole; a large one (a
	// service's) by its size against its header, and page by page as it
	// is read (SQLite reports a corrupt page when it meets it).
	var pages, pageSize int64
	if err := s.db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return s.mapErr(err)
	}
	if err := s.db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return s.mapErr(err)
	}
	if existed {
		if err := checkFileSize(s.path); err != nil {
			return err
		}
	}
	if pages*pageSize <= quickCheckLimit {
		var res string
		if err := s.db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&res); err != nil {
			return s.mapErr(err)
		}
		if res != "ok" {
			return fmt.Errorf("%w: %s: %s", store.ErrCorrupt, s.path, res)
		}
	}
	if existed {
		var n int
		err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version'").Scan(&n)
		if err != nil {
			return s.mapErr(err)
		}
		if n == 0 {
			return fmt.Errorf("%w: %s holds no airlock schema", store.ErrCorrupt, s.path)
		}
	}
	return s.migrate(ctx)
}

// checkFileSize refuses a database file shorter than its own header says.
// The header read is the file's (bytes 28–31, the page count as of the
// last checkpoint), not PRAGMA page_count: after a kill the write-ahead
// log may hold committed pages the file does not have yet, and that is no
// corruption. The count is trusted only when the header says it is
// current (its change counter equals its version-valid-for number).
func checkFileSize(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sqlstore: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("sqlstore: %v", err)
	}
	var h [100]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return fmt.Errorf("%w: %s: %d bytes, shorter than a database header: the file was cut short", store.ErrCorrupt, path, fi.Size())
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	current := bytes.Equal(h[24:28], h[92:96])
	if current && pages > 0 && fi.Size() < pages*pageSize {
		return fmt.Errorf("%w: %s: %d bytes, its header says %d pages of %d: the file was cut short", store.ErrCorrupt, path, fi.Size(), pages, pageSize)
	}
	return nil
}

// migrate brings the schema to the newest version.
func (s *DB) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+s.dialect)
	if err != nil {
		return err
	}
	dialect := goose.DialectSQLite3
	if s.dialect == "postgres" {
		dialect = goose.DialectPostgres
	}
	var opts []goose.ProviderOption
	if s.dialect == "postgres" {
		// Replicas starting together migrate one at a time.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, s.db, sub, opts...)
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %v", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlstore: migrate %s: %w", s.path, s.mapErr(err))
	}
	return nil
}

// Close closes the database (after the committer's last batch).
func (s *DB) Close() error {
	if s.group != nil {
		s.group.stop()
	}
	s.mu.Lock()
	stmts, leases := s.stmts, s.leases
	s.stmts, s.leases = nil, nil
	s.mu.Unlock()
	for _, l := range leases {
		l.Release()
	}
	for _, st := range stmts {
		st.Close()
	}
	return s.db.Close()
}

// Path is the database file.
func (s *DB) Path() string { return s.path }

// View implements store.Store.
func (s *DB) View(ctx context.Context, fn func(store.Reader) error) error {
	// Read only: on SQLite a deferred BEGIN (the connection's
	// _txlock=immediate is for writers), which reads a snapshot of the
	// WAL without taking the write lock; on PostgreSQL BEGIN READ ONLY.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return s.mapErr(err)
	}
	t := newTx(ctx, s, tx, false)
	err = fn(t)
	tx.Rollback()
	s.warm(ctx, t.misses)
	return s.mapErr(err)
}

// Update implements store.Store. On PostgreSQL every writer first takes
// one transaction-scoped advisory lock, so replicas append to the one log
// in turn and never interleave two entries' hashes.
func (s *DB) Update(ctx context.Context, fn func(store.Tx) error) error {
	if s.group != nil {
		return s.group.do(ctx, fn)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.mapErr(err)
	}
	defer tx.Rollback()
	if s.dialect == "postgres" {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryKey); err != nil {
			return s.mapErr(err)
		}
	}
	t := newTx(ctx, s, tx, true)
	if err := fn(t); err != nil {
		tx.Rollback()
		s.warm(ctx, t.misses)
		return s.mapErr(err)
	}
	failpoint.Hit("store.before-commit")
	err = tx.Commit()
	s.warm(ctx, t.misses)
	return s.mapErr(err)
}

// advisoryKey names airlock's writer lock among a server's advisory locks.
const advisoryKey = 0x6169726c6f636b // "airlock"

// mapErr turns the drivers' result codes into the store's errors.
func (s *DB) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if s.dialect == "postgres" {
		return mapPG(s.path, err)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Errorf("%w: %s: another process holds it (waited %v)", store.ErrLocked, s.path, BusyTimeout)
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("%w: %s: %v", store.ErrCorrupt, s.path, err)
	case sqlite3.SQLITE_FULL:
		return fmt.Errorf("%w: %s: nothing was written", store.ErrFull, s.path)
	case sqlite3.SQLITE_IOERR:
		return fmt.Errorf("sqlstore: %s: read or write error, nothing was changed: %v", s.path, err)
	}
	return fmt.Errorf("sqlstore: %s: %v", s.path, strings.TrimPrefix(err.Error(), "sqlite: "))
}
