package policy_test

import (
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/policy"
)

// benchRules writes 100 rules for ops: 20 caps, 20 velocity limits of
// distinct periods (each a history lookup), an allowlist, 19 windows in 4
// zones, 20 block rules and 20 tiers, largest first.
func benchRules() string {
	var b strings.Builder
	zones := []string{"UTC", "Europe/Zurich", "America/New_York", "Asia/Tokyo"}
	for i := range 20 {
		fmt.Fprintf(&b, "- {name: cap-%d, kind: limit, asset: BTC, max: \"%d\"}\n", i, 1000+i)
		fmt.Fprintf(&b, "- {name: velocity-%d, kind: velocity, asset: BTC, max: \"%d\", period: %dh}\n", i, 10_000_000+i, i+1)
		fmt.Fprintf(&b, "- {name: block-%d, kind: block, actions: [owner-change]}\n", i)
		fmt.Fprintf(&b, "- {name: tier-%d, kind: approve, asset: BTC, above: \"%d\", require: {all: [{group: treasury, count: 2}, {any: [{group: compliance, count: 1}, {group: board, count: 2}]}]}}\n", i, 2000-100*i)
		if i < 19 {
			fmt.Fprintf(&b, "- {name: window-%d, kind: window, zone: %s, days: [mon, tue, wed, thu, fri, sat, sun], hours: \"00:00-24:00\"}\n", i, zones[i%4])
		}
	}
	b.WriteString("- {name: known, kind: allowlist}\n")
	return b.String()
}

// benchHistory is n payments out of ops, all within the last 20 hours.
func benchHistory(b *testing.B, n int) *policy.Ledger {
	entries := make([]policy.Entry, n)
	step := 20 * time.Hour / time.Duration(n)
	for i := range entries {
		entries[i] = policy.Entry{Time: noon.Add(-time.Duration(i) * step), Vault: "ops", Asset: "BTC", Amount: big.NewInt(int64(1000 + i%7919))}
	}
	l, err := policy.NewLedger(entries)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func benchEvaluate(b *testing.B, entries int) {
	p := rulesPolicy(b, "", benchRules(), "")
	if n := len(p.Vaults[0].TxRules); n != 100 {
		b.Fatalf("%d rules", n)
	}
	h := benchHistory(b, entries)
	in := policy.Input{Vault: "ops", Proposer: "carol",
		Effects:   effects(btc(b, exchangeAddr, "700"), btc(b, coldAddr, "0.5"), btc(b, exchangeAddr, "1")),
		Approvals: approvals("alice/hw bob/hw carol/hw dave/hw")}
	vd, err := policy.Evaluate(p, in, h, noon)
	if err != nil || !vd.Allowed || !vd.Met || vd.Rule.Name != "tier-13" {
		b.Fatalf("%v\n%s", err, vd)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := policy.Evaluate(p, in, h, noon); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluate: 100 rules, a million payments in the period.
func BenchmarkEvaluate(b *testing.B) { benchEvaluate(b, 1_000_000) }

// BenchmarkEvaluateHistory shows the cost does not grow with the history.
func BenchmarkEvaluateHistory(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) { benchEvaluate(b, n) })
	}
}

func BenchmarkLedgerSpent(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			h := benchHistory(b, n)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.Spent("ops", "BTC", noon.Add(-7*time.Hour), noon); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
