package workspace

import (
	"fmt"

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
	idx, err := r.EntriesOfKind(kind)
	if err != nil {
		return nil, err
	}
	var out []policy.Entry
	for _, i := range idx {
		rec, err := r.Audit().Record(i)
		if err != nil {
			return nil, err
		}
		ev, err := audit.Decode(rec)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", audit.ErrTampered, i, err)
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
