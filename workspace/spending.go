package workspace

import (
	"fmt"
	"sort"
	"sync"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/store"
)

// Spending reads the "spent" of every entry of one kind (what a proposal
// or an approval sends out, policy.Spending) as velocity history, for the
// entries keep accepts. Entries made before spending was recorded carry
// none and are skipped; one that does not read back is tampering. An
// entry's "template" names the template it was made under.
func Spending(r store.Reader, kind string, keep func(i int64, ev audit.Event) (bool, error)) ([]policy.Entry, error) {
	return spending(r, kind, keep, nil)
}

// SpendingOf is Spending, the entries it decoded kept in the workspace:
// a log entry never changes once committed, and the history is read at
// every proposal and every signature, so decoding it whole each time
// grows with the log. Only entries read outside a write transaction are
// kept (inside one, an entry may yet be rolled back and its index
// reused).
func (w *Workspace) SpendingOf(r store.Reader, kind string, keep func(i int64, ev audit.Event) (bool, error)) ([]policy.Entry, error) {
	return spending(r, kind, keep, &w.spent)
}

// spentCache keeps decoded log entries by kind and index (SpendingOf).
type spentCache struct {
	mu sync.Mutex
	m  map[string]map[int64]audit.Event
}

func (c *spentCache) get(kind string, i int64) (audit.Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ev, ok := c.m[kind][i]
	return ev, ok
}

func (c *spentCache) put(kind string, i int64, ev audit.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]map[int64]audit.Event{}
	}
	if c.m[kind] == nil {
		c.m[kind] = map[int64]audit.Event{}
	}
	c.m[kind][i] = ev
}

func spending(r store.Reader, kind string, keep func(i int64, ev audit.Event) (bool, error), cache *spentCache) ([]policy.Entry, error) {
	// Entries are kept only when read outside a write transaction (the
	// reader says so); inside one, what is kept is still read, since it
	// was committed.
	readOnly := cache
	if ro, ok := r.(interface{ Writable() bool }); !ok || ro.Writable() {
		cache = nil
	}
	idx, err := r.EntriesOfKind(kind)
	if err != nil {
		return nil, err
	}
	var out []policy.Entry
	for _, i := range idx {
		ev, cached := audit.Event{}, false
		if readOnly != nil {
			ev, cached = readOnly.get(kind, i)
		}
		if !cached {
			rec, err := r.Audit().Record(i)
			if err != nil {
				return nil, err
			}
			if ev, err = audit.Decode(rec); err != nil {
				return nil, fmt.Errorf("%w: entry %d: %v", audit.ErrTampered, i, err)
			}
			if cache != nil {
				cache.put(kind, i, ev)
			}
		}
		spent, ok := ev.Detail["spent"]
		if !ok {
			continue
		}
		if keep != nil {
			if ok, err := keep(i, ev); err != nil || !ok {
				if err != nil {
					return nil, err
				}
				continue
			}
		}
		es, err := policy.ParseSpending(ev.Time, ev.Detail["vault"], spent)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", audit.ErrTampered, i, err)
		}
		for k := range es {
			es[k].Template = ev.Detail["template"]
		}
		out = append(out, es...)
	}
	return out, nil
}

// EventsOf returns the log's entries of the given kinds, in log order,
// each decoded once per workspace and kept (as SpendingOf keeps them;
// only entries read outside a write transaction are kept). Raw is not
// set. A record that does not decode is tampering.
func (w *Workspace) EventsOf(r store.Reader, kinds ...string) ([]audit.Entry, error) {
	cache := &w.spent
	if ro, ok := r.(interface{ Writable() bool }); !ok || ro.Writable() {
		cache = nil
	}
	var out []audit.Entry
	for _, kind := range kinds {
		idx, err := r.EntriesOfKind(kind)
		if err != nil {
			return nil, err
		}
		for _, i := range idx {
			ev, cached := w.spent.get(kind, i)
			if !cached {
				rec, err := r.Audit().Record(i)
				if err != nil {
					return nil, err
				}
				if ev, err = audit.Decode(rec); err != nil {
					return nil, fmt.Errorf("%w: entry %d: %v", audit.ErrTampered, i, err)
				}
				if ev.Kind != kind {
					return nil, fmt.Errorf("%w: entry %d is a %s, indexed as a %s", audit.ErrTampered, i, ev.Kind, kind)
				}
				if cache != nil {
					cache.put(kind, i, ev)
				}
			}
			out = append(out, audit.Entry{Index: i, Event: ev})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Index < out[b].Index })
	return out, nil
}
