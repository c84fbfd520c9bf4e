package workspace

import (
	"context"
	"fmt"
	"sync"
)

// headWriter persists DIR/head behind the commits (WriteHeadsBehind).
type headWriter struct {
	mu      sync.Mutex
	next    *Head // the newest head not yet written, nil when none waits
	stopped bool  // flushed: wake is closed
	wake    chan struct{}
	done    chan struct{}
}

// WriteHeadsBehind makes the workspace write DIR/head from a goroutine
// of its own after each change, instead of before the change returns:
// for a service committing many small changes, whose commits would
// otherwise each wait for the head file's two fsyncs. The head written
// is always the newest one committed (heads read after commits, in
// commit order; one waiting replaces an older one), so it never goes
// back, and it never runs ahead of the log: it is read from the log
// after the commit. What it costs: after a crash, DIR/head may lag the
// log by the changes of the last moments, exactly as it does after a
// crash between a commit and the head write without it, which the next
// open accepts (a log longer than its head is checked, not refused).
// A rollback of state.db past the head written is still refused.
//
// flush writes the newest head, if one waits, and stops the goroutine;
// after it, changes write DIR/head themselves again. Call it once.
func (w *Workspace) WriteHeadsBehind() (flush func()) {
	hw := &headWriter{wake: make(chan struct{}, 1), done: make(chan struct{})}
	if !w.heads.CompareAndSwap(nil, hw) {
		return func() {}
	}
	go func() {
		defer close(hw.done)
		for range hw.wake {
			w.writeWaitingHead(hw)
		}
		w.writeWaitingHead(hw)
	}()
	return func() {
		w.heads.CompareAndSwap(hw, nil)
		hw.mu.Lock()
		if !hw.stopped {
			hw.stopped = true
			close(hw.wake)
		}
		hw.mu.Unlock()
		<-hw.done
	}
}

// put hands h to the writer; it returns false once the writer stopped.
func (hw *headWriter) put(h Head) bool {
	hw.mu.Lock()
	defer hw.mu.Unlock()
	if hw.stopped {
		return false
	}
	if hw.next == nil || h.Size >= hw.next.Size {
		hw.next = &h
	}
	select {
	case hw.wake <- struct{}{}:
	default: // a wake is pending: the writer will take the newest
	}
	return true
}

func (w *Workspace) writeWaitingHead(hw *headWriter) {
	hw.mu.Lock()
	h := hw.next
	hw.next = nil
	hw.mu.Unlock()
	if h == nil {
		return
	}
	if err := WriteFileAtomic(w.path("head"), []byte(h.String()), 0o600); err != nil {
		w.warn(fmt.Errorf("the change is committed, but %s/head was not updated (%v); the next change re-anchors it from the verified log", w.Dir, err))
	}
}

// writeHead records the log's head after a commit: in DIR/head now, or
// by the head writer when WriteHeadsBehind runs.
func (w *Workspace) writeHead(ctx context.Context) error {
	h, err := w.CurrentHead(ctx)
	if err != nil {
		return err
	}
	if hw := w.heads.Load(); hw != nil {
		if hw.put(h) {
			return nil
		}
		<-hw.done // flushed meanwhile: after its last write, not before
	}
	return WriteFileAtomic(w.path("head"), []byte(h.String()), 0o600)
}
