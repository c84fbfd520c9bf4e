package policy

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain"
)

// MaxSpendingAssets bounds the assets one recorded spending names.
const MaxSpendingAssets = 64

// Spending is what a transaction sends out, per asset, in the form an
// audit entry records it ("BTC=150000 erc20:0xA0b8…=2500000"): canonical
// asset names, smallest units, sorted. A station records it with each
// approval and counts its velocity from those entries (ParseSpending).
func Spending(fx *chain.Effects) (string, error) {
	if fx == nil {
		return "", fmt.Errorf("%w: no effects", ErrInput)
	}
	totals := map[string]*big.Int{}
	for i, t := range fx.Transfers {
		if t.Amount == nil || t.Amount.Sign() < 0 {
			return "", fmt.Errorf("%w: transfer %d: amount %v", ErrInput, i, t.Amount)
		}
		id, err := canonicalAsset(t.Asset)
		if err != nil {
			return "", fmt.Errorf("%w: transfer %d: %v", ErrInput, i, err)
		}
		if totals[id] == nil {
			totals[id] = new(big.Int)
		}
		totals[id].Add(totals[id], t.Amount)
	}
	var parts []string
	for id, n := range totals {
		parts = append(parts, id+"="+n.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, " "), nil
}

// ParseSpending reads a recorded spending back as history entries of a
// vault at time t. It is as strict as Spending is canonical: an entry
// that does not read back is refused, never skipped (a station's velocity
// must not forget a payment).
func ParseSpending(t time.Time, vault, s string) ([]Entry, error) {
	fields := strings.Fields(s)
	if len(fields) > MaxSpendingAssets {
		return nil, fmt.Errorf("%w: a spending of %d assets", ErrInput, len(fields))
	}
	var out []Entry
	for _, f := range fields {
		asset, amount, ok := strings.Cut(f, "=")
		id, err := canonicalAsset(asset)
		n, okN := new(big.Int).SetString(amount, 10)
		if !ok || err != nil || !okN || n.Sign() < 0 || id != asset || n.String() != amount {
			return nil, fmt.Errorf("%w: spending %q is not canonical", ErrInput, f)
		}
		out = append(out, Entry{Time: t, Vault: vault, Asset: id, Amount: n})
	}
	return out, nil
}
