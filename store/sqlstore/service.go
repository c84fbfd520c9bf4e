package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"time"
)

// Shared reports whether the store is a database several processes share
// (PostgreSQL: a coordinator's replicas), as opposed to a workspace's own
// SQLite file, which one process holds at a time.
func (s *DB) Shared() bool { return s.dialect == "postgres" }

// RememberNonce records a signed request's nonce until it expires and
// reports false when the nonce is already there, unexpired: a request
// replayed to any replica sharing the database. Expired nonces are
// deleted now and then. The row is not state (no audit entry) and is
// committed without waiting for the server's disk flush on PostgreSQL
// (synchronous_commit off): a server crash may forget the last few
// nonces, whose requests can then be replayed within their signature's
// window at most; the state changes themselves are flushed as always.
func (s *DB) RememberNonce(ctx context.Context, nonce string, until, now time.Time) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, s.mapErr(err)
	}
	defer tx.Rollback()
	if s.dialect == "postgres" {
		if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit TO OFF"); err != nil {
			return false, s.mapErr(err)
		}
	}
	// An expired row of the same nonce is replaced; an unexpired one
	// stays and the insert changes nothing.
	res, err := tx.ExecContext(ctx, `INSERT INTO request_nonces (nonce, until) VALUES ($1, $2)
		ON CONFLICT (nonce) DO UPDATE SET until = excluded.until WHERE request_nonces.until <= $3`,
		nonce, until.UnixNano(), now.UnixNano())
	if err != nil {
		return false, s.mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.mapErr(err)
	}
	if n == 1 && nonceSweep(nonce) {
		if _, err := tx.ExecContext(ctx, "DELETE FROM request_nonces WHERE until <= $1", now.UnixNano()); err != nil {
			return false, s.mapErr(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, s.mapErr(err)
	}
	return n == 1, nil
}

// nonceSweep picks about one insert in 256 to delete expired nonces.
func nonceSweep(nonce string) bool {
	var h byte
	for i := 0; i < len(nonce); i++ {
		h = h*31 + nonce[i]
	}
	return h == 0
}

// Lease is a named lease among the processes sharing a PostgreSQL store:
// a session-level advisory lock held on one connection, so it is released
// the moment its holder's process dies (the server closes the session),
// never left behind by a SIGKILL. On SQLite, which one process holds at a
// time (the workspace's lock), every lease is always held.
type Lease struct {
	s    *DB
	key  int64
	mu   sync.Mutex
	conn *sql.Conn
}

// Lease returns the lease named by key (a number fixed per purpose).
// Closing the store releases it.
func (s *DB) Lease(key int64) *Lease {
	l := &Lease{s: s, key: key}
	s.mu.Lock()
	s.leases = append(s.leases, l)
	s.mu.Unlock()
	return l
}

// Hold reports whether this process holds the lease, taking it when it is
// free. A lost connection drops it (false, with the error); the next call
// tries again.
func (l *Lease) Hold(ctx context.Context) (bool, error) {
	if l.s.dialect != "postgres" {
		return true, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		// Still ours while the session lives.
		if err := l.conn.PingContext(ctx); err == nil {
			return true, nil
		}
		l.conn.Raw(func(any) error { return errBadConn })
		l.conn.Close()
		l.conn = nil
	}
	c, err := l.s.db.Conn(ctx)
	if err != nil {
		return false, l.s.mapErr(err)
	}
	var got bool
	if err := c.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", l.key).Scan(&got); err != nil {
		c.Close()
		return false, l.s.mapErr(err)
	}
	if !got {
		c.Close()
		return false, nil
	}
	l.conn = c
	return true, nil
}

// Release gives the lease up.
func (l *Lease) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	_, err := l.conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", l.key)
	// The connection goes back to the pool only unlocked; otherwise it is
	// discarded, which ends the session and its locks.
	if err != nil {
		l.conn.Raw(func(any) error { return errBadConn })
	}
	cerr := l.conn.Close()
	l.conn = nil
	if err != nil {
		return fmt.Errorf("sqlstore: release lease %d: %w", l.key, l.s.mapErr(err))
	}
	return cerr
}

// errBadConn makes database/sql discard a connection rather than pool it.
var errBadConn = driver.ErrBadConn
