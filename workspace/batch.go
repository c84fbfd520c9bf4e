package workspace

import (
	"context"
	"fmt"

	"github.com/airlock-vault/airlock/internal/failpoint"
	"github.com/airlock-vault/airlock/store"
)

// batchStore is a store that commits several transaction functions at
// once, each in its own savepoint (sqlstore.DB).
type batchStore interface {
	UpdateEach(ctx context.Context, fns []func(store.Tx) error) []error
}

// UpdateEach runs fns as Update runs one, but in one store transaction
// with one commit (and one DIR/head) for all: each function's changes
// and entries are kept or rolled back alone, and errs[i] is fns[i]'s
// answer (nil: committed and durable). A store that cannot batch runs
// them one Update each.
func (w *Workspace) UpdateEach(ctx context.Context, fns []func(store.Tx) error) []error {
	errs := make([]error, len(fns))
	if !w.inTx.CompareAndSwap(false, true) {
		for i := range errs {
			errs[i] = ErrNested
		}
		return errs
	}
	bs, ok := w.Store.(batchStore)
	if ok {
		errs = bs.UpdateEach(ctx, fns)
	} else {
		for i, fn := range fns {
			errs[i] = w.Store.Update(ctx, fn)
		}
	}
	w.inTx.Store(false)
	committed := false
	for _, err := range errs {
		committed = committed || err == nil
	}
	if !committed {
		return errs
	}
	failpoint.Hit("workspace.after-commit")
	if err := w.writeHead(ctx); err != nil {
		w.warn(fmt.Errorf("the change is committed, but %s/head was not updated (%v); the next change re-anchors it from the verified log", w.Dir, err))
	}
	return errs
}
