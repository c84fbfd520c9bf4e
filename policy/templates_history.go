package policy

import (
	"fmt"
	"math/big"
	"time"
)

var _ TemplateHistory = (*Ledger)(nil)

// templateKey names the series of one template's payments in one asset.
type templateKey struct{ vault, template, asset string }

// TemplateSpent implements TemplateHistory: entries recorded with the
// template's name count, one payment per entry (a template's payment moves
// one asset, so one entry).
func (l *Ledger) TemplateSpent(vault, template, asset string, since, until time.Time) (int, *big.Int, error) {
	asset, err := canonicalAsset(asset)
	if err != nil {
		return 0, nil, fmt.Errorf("policy: ledger: %v", err)
	}
	if until.Before(since) {
		return 0, nil, fmt.Errorf("policy: ledger: a window that ends before it starts")
	}
	s, ok := l.templates[templateKey{vault, template, asset}]
	if !ok {
		return 0, new(big.Int), nil
	}
	i, j := s.after(clampNanos(since)), s.after(clampNanos(until))
	if j <= i {
		return 0, new(big.Int), nil
	}
	return j - i, new(big.Int).Sub(s.prefix(j), s.prefix(i)), nil
}
