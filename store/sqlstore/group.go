package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/airlock-vault/airlock/internal/failpoint"
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
	fns := make([]func(store.Tx) error, len(batch))
	for i, p := range batch {
		fns[i] = p.fn
	}
	for i, err := range c.s.updateEach(context.Background(), fns) {
		batch[i].done <- err
	}
}

// UpdateEach runs fns in one database transaction, each inside its own
// savepoint, and commits once (one fsync for all): a function that
// fails has its changes and entries rolled back alone, and its error is
// its answer; once the commit succeeds, every other function's changes
// are durable (answer nil). A failure of the transaction itself is every
// function's answer, and nothing is kept. The caller serializes its
// batches as it does its Updates; with GroupCommit, the batch queues like
// any Update.
func (s *DB) UpdateEach(ctx context.Context, fns []func(store.Tx) error) []error {
	if s.group == nil {
		return s.updateEach(ctx, fns)
	}
	errs := make([]error, len(fns))
	dones := make([]chan error, len(fns))
	for i, fn := range fns {
		// Queued together, answered once the batch they land in commits.
		dones[i] = make(chan error, 1)
		go func() { dones[i] <- s.group.do(ctx, fn) }()
	}
	for i := range dones {
		errs[i] = <-dones[i]
	}
	return errs
}

func (s *DB) updateEach(ctx context.Context, fns []func(store.Tx) error) []error {
	errs := make([]error, len(fns))
	fail := func(err error) []error {
		for i := range errs {
			errs[i] = s.mapErr(err)
		}
		return errs
	}
	if len(fns) == 0 {
		return errs
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	if s.dialect == "postgres" {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryKey); err != nil {
			tx.Rollback()
			return fail(err)
		}
	}
	tail := &logTail{}
	var misses []string
	defer func() { s.warm(ctx, misses) }()
	for i, fn := range fns {
		if errs[i], err = runSavepoint(ctx, s, tx, tail, fn, &misses); err != nil {
			// The savepoint itself failed: the transaction cannot go on.
			tx.Rollback()
			return fail(err)
		}
	}
	failpoint.Hit("store.before-commit")
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	for i := range errs {
		errs[i] = s.mapErr(errs[i])
	}
	return errs
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
