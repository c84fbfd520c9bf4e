package workspace

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/airlock-vault/airlock/store"
)

// headGap is the least time between two writes of DIR/head by the head
// writer: under load, the changes of each gap share one write.
const headGap = 50 * time.Millisecond

// headWriter persists DIR/head behind the commits (WriteHeadsBehind).
type headWriter struct {
	mu      sync.Mutex
	stopped bool // flushed: wake is closed
	wake    chan struct{}
	done    chan struct{}
}

// WriteHeadsBehind makes the workspace write DIR/head from a goroutine
// of its own after changes, instead of before each change returns: for a
// service committing many small changes, whose commits would otherwise
// each wait for the head file's two fsyncs (and share the disk's journal
// with them). The writer reads the head from the store itself, after the
// commits it was told of, so the head it writes is one the log holds:
// never ahead of the log, and, the log only growing, never behind a head
// written before. It writes at most once per headGap; the changes made
// meanwhile share the write.
//
// What it costs: after a crash, DIR/head may lag the log by the changes
// of the last moments, exactly as it does after a crash between a
// commit and the head write without it, which the next open accepts (a
// log longer than its head is checked, not refused). A rollback of
// state.db behind the head written is refused as always.
//
// flush writes the head once more, if a change came since the last
// write, and stops the goroutine; after it, changes write DIR/head
// themselves again. Call it once, before Close.
func (w *Workspace) WriteHeadsBehind() (flush func()) {
	hw := &headWriter{wake: make(chan struct{}, 1), done: make(chan struct{})}
	if !w.heads.CompareAndSwap(nil, hw) {
		return func() {}
	}
	go func() {
		defer close(hw.done)
		for range hw.wake {
			w.writeHeadNow()
			time.Sleep(headGap)
		}
	}()
	return func() {
		w.heads.CompareAndSwap(hw, nil)
		hw.stop()
	}
}

// stop takes the pending wake, if any (the last write), and ends the
// goroutine.
func (hw *headWriter) stop() {
	hw.mu.Lock()
	if !hw.stopped {
		hw.stopped = true
		close(hw.wake)
	}
	hw.mu.Unlock()
	<-hw.done
}

// changed tells the writer of a commit; false once it stopped.
func (hw *headWriter) changed() bool {
	hw.mu.Lock()
	defer hw.mu.Unlock()
	if hw.stopped {
		return false
	}
	select {
	case hw.wake <- struct{}{}:
	default: // a wake is pending: its write reads the newest head
	}
	return true
}

// writeHeadNow reads the log's head and writes it to DIR/head. It reads
// through the store, not w.View: the writer runs beside the changes, and
// w.View refuses to start while one of them holds the workspace's
// transaction.
func (w *Workspace) writeHeadNow() {
	var h Head
	err := w.Store.View(context.Background(), func(r store.Reader) error {
		var err error
		h, err = headOf(r, -1)
		return err
	})
	if err == nil {
		err = WriteFileAtomic(w.path("head"), []byte(h.String()), 0o600)
	}
	if err != nil {
		w.warn(fmt.Errorf("changes are committed, but %s/head was not updated (%v); the next change re-anchors it from the verified log", w.Dir, err))
	}
}

// writeHead records the log's head after a commit: in DIR/head now, or
// by the head writer when WriteHeadsBehind runs.
func (w *Workspace) writeHead(ctx context.Context) error {
	if hw := w.heads.Load(); hw != nil {
		if hw.changed() {
			return nil
		}
		<-hw.done // flushed meanwhile: after its last write, not before
	}
	h, err := w.CurrentHead(ctx)
	if err != nil {
		return err
	}
	return WriteFileAtomic(w.path("head"), []byte(h.String()), 0o600)
}
