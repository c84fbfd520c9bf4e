package policy

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
	"time"
)

// History is what vaults already spent, for velocity rules. Evaluate asks
// it once per velocity rule that applies; an error makes Evaluate fail,
// so a history that cannot be read never lets a transaction through.
//
// What counts as spent is the caller's to record: a coordinator should
// count what it has finalized or broadcast and also what is approved and
// pending, or two proposals made together could each pass a limit they
// break together; a station counts what it has signed.
type History interface {
	// Spent is the sum of the amounts of asset (a canonical asset id:
	// "BTC", "ETH", "erc20:0x<checksummed>") that left vault at times t
	// with since < t <= until.
	Spent(vault, asset string, since, until time.Time) (*big.Int, error)
}

// Entry is one amount that left a vault.
type Entry struct {
	Time   time.Time
	Vault  string
	Asset  string // "BTC", "ETH" or "erc20:0x<address>"
	Amount *big.Int
	// Template is the template the payment was made under ("" when none).
	Template string
}

// Ledger is a History held in memory, built once from entries. It answers
// in O(log n): each (vault, asset) series is sorted by time and keeps
// prefix sums, so a window's total is the difference of two prefix sums
// found by binary search. It never scans the entries.
//
// A Ledger is immutable and safe for concurrent use.
type Ledger struct {
	series map[seriesKey]*series
	// templates are the entries made under a template, per template.
	templates map[templateKey]*series
}

var _ History = (*Ledger)(nil)

type seriesKey struct{ vault, asset string }

// series is one (vault, asset)'s entries: times in Unix nanoseconds,
// ascending, and prefix sums packed as fixed-width little-endian words,
// sums[k*width:(k+1)*width] holding the sum of the first k amounts.
// Packing keeps a million entries in a few flat arrays rather than a
// million heap integers.
type series struct {
	times []int64
	sums  []big.Word
	width int
}

// Time bounds of a ledger entry: those of Unix nanoseconds in an int64.
var (
	minLedgerTime = time.Unix(0, math.MinInt64)
	maxLedgerTime = time.Unix(0, math.MaxInt64)
)

// NewLedger builds a ledger of entries (in any order). An entry with a
// nil or negative amount, an unknown asset or a time outside the years
// 1678..2262 is refused.
func NewLedger(entries []Entry) (*Ledger, error) {
	type item struct {
		t int64
		a *big.Int
	}
	groups := map[seriesKey][]item{}
	tgroups := map[templateKey][]item{}
	for i, e := range entries {
		if e.Amount == nil || e.Amount.Sign() < 0 {
			return nil, fmt.Errorf("policy: ledger entry %d: amount %v, want zero or more", i, e.Amount)
		}
		asset, err := canonicalAsset(e.Asset)
		if err != nil {
			return nil, fmt.Errorf("policy: ledger entry %d: %v", i, err)
		}
		if e.Time.Before(minLedgerTime) || e.Time.After(maxLedgerTime) {
			return nil, fmt.Errorf("policy: ledger entry %d: time %v out of range", i, e.Time)
		}
		k := seriesKey{e.Vault, asset}
		groups[k] = append(groups[k], item{e.Time.UnixNano(), e.Amount})
		if e.Template != "" {
			tk := templateKey{e.Vault, e.Template, asset}
			tgroups[tk] = append(tgroups[tk], item{e.Time.UnixNano(), e.Amount})
		}
	}
	build := func(items []item) *series {
		slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(a.t, b.t) })
		total := new(big.Int)
		for _, it := range items {
			total.Add(total, it.a)
		}
		s := &series{times: make([]int64, len(items)), width: max(1, len(total.Bits()))}
		s.sums = make([]big.Word, (len(items)+1)*s.width)
		run := new(big.Int)
		for i, it := range items {
			s.times[i] = it.t
			run.Add(run, it.a)
			copy(s.sums[(i+1)*s.width:], run.Bits())
		}
		return s
	}
	l := &Ledger{series: make(map[seriesKey]*series, len(groups)), templates: make(map[templateKey]*series, len(tgroups))}
	for k, items := range groups {
		l.series[k] = build(items)
	}
	for k, items := range tgroups {
		l.templates[k] = build(items)
	}
	return l, nil
}

// prefix returns the sum of the first k amounts. The result shares the
// ledger's words and must only be read.
func (s *series) prefix(k int) *big.Int {
	lo, hi := k*s.width, (k+1)*s.width
	return new(big.Int).SetBits(s.sums[lo:hi:hi])
}

// Spent implements History.
func (l *Ledger) Spent(vault, asset string, since, until time.Time) (*big.Int, error) {
	asset, err := canonicalAsset(asset)
	if err != nil {
		return nil, fmt.Errorf("policy: ledger: %v", err)
	}
	if until.Before(since) {
		return nil, errors.New("policy: ledger: a window that ends before it starts")
	}
	s, ok := l.series[seriesKey{vault, asset}]
	if !ok {
		return new(big.Int), nil
	}
	from, to := clampNanos(since), clampNanos(until)
	// The entries counted are those after since, up to until included.
	i, j := s.after(from), s.after(to)
	if j <= i {
		return new(big.Int), nil
	}
	return new(big.Int).Sub(s.prefix(j), s.prefix(i)), nil
}

// after is the index of the first entry later than t (binary search).
func (s *series) after(t int64) int {
	return sort.Search(len(s.times), func(k int) bool { return s.times[k] > t })
}

// clampNanos is t in Unix nanoseconds, clamped to what an int64 holds.
func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(minLedgerTime):
		return math.MinInt64
	case t.After(maxLedgerTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}
