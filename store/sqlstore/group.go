package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/airlock-vault/airlock/store"
)

// maxBatch bounds the transitions one group commit carries.
const maxBatch = 512

// committer is group commit: callers queue their transaction functions;
// one goroutine runs every queued function in one database transaction,
// each inside its own savepoint (a failure rolls back that function's
// changes and entries only), commits once, and answers each caller. An
// answer nil means the caller's changes are durable.
type committer struct {
	s    *DB
	in   chan *pending
	quit chan struct{}
	wg   sync.WaitGroup
}

type pending struct {
	fn   func(store.Tx) error
	done chan error
}

func newCommitter(s *DB) *committer {
	c := &committer{s: s, in: make(chan *pending, maxBatch), quit: make(chan struct{})}
	c.wg.Add(1)
	go c.loop()
	return c
}

func (c *committer) do(ctx context.Context, fn func(store.Tx) error) error {
	p := &pending{fn: fn, done: make(chan error, 1)}
	select {
	case c.in <- p:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.quit:
		return fmt.Errorf("sqlstore: %s is closed", c.s.path)
	}
	// Once queued, the answer is awaited even if ctx ends: the caller must
	// learn whether its change committed.
	return <-p.done
}

func (c *committer) stop() {
	close(c.quit)
	c.wg.Wait()
}

func (c *committer) loop() {
	defer c.wg.Done()
	for {
		var first *pending
		select {
		case first = <-c.in:
		case <-c.quit:
			return
		}
		batch := []*pending{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case p := <-c.in:
				batch = append(batch, p)
			default:
				break drain
			}
		}
		c.commit(batch)
	}
}

// commit runs one batch in one transaction.
func (c *committer) commit(batch []*pending) {
	ctx := context.Background()
	fail := func(err error) {
		for _, p := range batch {
			p.done <- c.s.mapErr(err)
		}
	}
	tx, err := c.s.db.BeginTx(ctx, nil)
	if err != nil {
		fail(err)
		return
	}
	if c.s.dialect == "postgres" {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryKey); err != nil {
			tx.Rollback()
			fail(err)
			return
		}
	}
	errs := make([]error, len(batch))
	tail := &logTail{}
	var misses []string
	defer func() { c.s.warm(ctx, misses) }()
	for i, p := range batch {
		if errs[i], err = runSavepoint(ctx, c.s, tx, tail, p.fn, &misses); err != nil {
			// The savepoint itself failed: the transaction cannot go on.
			tx.Rollback()
			fail(err)
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(err)
		return
	}
	for i, p := range batch {
		p.done <- c.s.mapErr(errs[i])
	}
}

// runSavepoint runs fn inside a savepoint: fnErr is fn's own failure
// (rolled back to the savepoint), err a failure of the savepoint itself.
func runSavepoint(ctx context.Context, s *DB, tx *sql.Tx, tail *logTail, fn func(store.Tx) error, misses *[]string) (fnErr, err error) {
	t := newTx(ctx, s, tx, true)
	t.tail = tail
	if err := t.exec("SAVEPOINT airlock_step"); err != nil {
		return nil, err
	}
	defer func() { *misses = append(*misses, t.misses...) }()
	if fnErr = fn(t); fnErr != nil {
		// What the batch knew of the log's end may include this step's.
		tail.reset()
		if err := t.exec("ROLLBACK TO SAVEPOINT airlock_step"); err != nil {
			return fnErr, err
		}
	}
	if err := t.exec("RELEASE SAVEPOINT airlock_step"); err != nil {
		return fnErr, err
	}
	return fnErr, nil
}
