package policy_test

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/policy"
)

func ledger(t testing.TB, entries ...policy.Entry) *policy.Ledger {
	t.Helper()
	l, err := policy.NewLedger(entries)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func spent(t testing.TB, vault, asset string, at time.Time, amount string, decimals int) policy.Entry {
	return policy.Entry{Time: at, Vault: vault, Asset: asset, Amount: units(t, amount, decimals)}
}

func TestVelocityRule(t *testing.T) {
	p := rulesPolicy(t, "", `
- {name: daily, kind: velocity, asset: BTC, max: "10", period: 24h}
- {name: weekly, kind: velocity, asset: BTC, max: "30", period: 7d}
`, `
- {name: usdc-daily, kind: velocity, asset: USDC, max: "50000", period: 24h}
`)
	two := ledger(t,
		spent(t, "ops", "BTC", noon.Add(-20*time.Hour), "4", 8),
		spent(t, "ops", "BTC", noon.Add(-2*time.Hour), "4", 8),
	)
	cases := []struct {
		name    string
		vault   string
		fx      *chain.Effects
		h       policy.History
		allowed bool
		wants   []string
	}{
		{"the third payment of the day exceeds the velocity limit", "ops", effects(btc(t, exchangeAddr, "4")), two,
			false, []string{`vault rule 0 "daily"`, "with the 4 BTC it moves, 12 BTC would leave the vault in 24h (8 BTC already), over the 10 BTC limit"}},
		{"a payment that fills the limit exactly is allowed, and says so", "ops", effects(btc(t, exchangeAddr, "2")), two,
			true, []string{`rule "daily": with this transaction 10 BTC of the 10 BTC allowed in 24h will have left`}},
		{"a payment made exactly a period ago no longer counts", "ops", effects(btc(t, exchangeAddr, "10")),
			ledger(t, spent(t, "ops", "BTC", noon.Add(-24*time.Hour), "10", 8)), true, nil},
		{"a payment made a second inside the period still counts", "ops", effects(btc(t, exchangeAddr, "0.00000001")),
			ledger(t, spent(t, "ops", "BTC", noon.Add(-24*time.Hour+time.Second), "10", 8)), false, []string{"over the 10 BTC limit"}},
		{"a payment made this very instant counts", "ops", effects(btc(t, exchangeAddr, "0.00000001")),
			ledger(t, spent(t, "ops", "BTC", noon, "10", 8)), false, []string{"over the 10 BTC limit"}},
		{"small payments over a week add up to the weekly limit", "ops", effects(btc(t, exchangeAddr, "1")),
			ledger(t, spent(t, "ops", "BTC", noon.Add(-6*24*time.Hour), "9", 8), spent(t, "ops", "BTC", noon.Add(-4*24*time.Hour), "9", 8),
				spent(t, "ops", "BTC", noon.Add(-2*24*time.Hour), "9", 8), spent(t, "ops", "BTC", noon.Add(-30*time.Hour), "2.5", 8)),
			false, []string{`vault rule 1 "weekly"`, "30.5 BTC would leave the vault in 7d"}},
		{"another vault's spending does not count", "ops", effects(btc(t, exchangeAddr, "4")),
			ledger(t, spent(t, "reserve", "BTC", noon.Add(-time.Hour), "100", 8)), true, nil},
		{"a token's limit counts the token, in its decimals", "safe", effects(usdc(t, payrollAddr, "0.000001")),
			ledger(t, spent(t, "safe", "erc20:"+strings.ToLower(usdcToken), noon.Add(-time.Hour), "50000", 6)),
			false, []string{"50000.000001 USDC would leave"}},
		{"ETH spent does not count against a token's limit", "safe", effects(usdc(t, payrollAddr, "1")),
			ledger(t, spent(t, "safe", "ETH", noon.Add(-time.Hour), "1000000", 18)), true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vd := evaluate(t, p, policy.Input{Vault: c.vault, Effects: c.fx}, c.h, noon)
			want(t, vd, c.allowed, c.wants...)
		})
	}
}

type brokenHistory struct{}

func (brokenHistory) Spent(string, string, time.Time, time.Time) (*big.Int, error) {
	return nil, errors.New("disk on fire")
}

func TestVelocityFailsClosed(t *testing.T) {
	p := rulesPolicy(t, "", `
- {name: daily, kind: velocity, asset: BTC, max: "10", period: 24h}
`, "")
	in := policy.Input{Vault: "ops", Effects: effects(btc(t, exchangeAddr, "1"))}
	t.Run("a history that cannot be read decides nothing", func(t *testing.T) {
		if vd, err := policy.Evaluate(p, in, brokenHistory{}, noon); err == nil || !strings.Contains(err.Error(), "disk on fire") {
			t.Fatalf("got %v, %v; want the history's error", vd, err)
		}
	})
	t.Run("a velocity rule without a history decides nothing", func(t *testing.T) {
		if _, err := policy.Evaluate(p, in, nil, noon); err == nil || !strings.Contains(err.Error(), "no history") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a transaction that moves no BTC needs no history", func(t *testing.T) {
		if _, err := policy.Evaluate(p, policy.Input{Vault: "ops", Effects: &chain.Effects{}}, nil, noon); err != nil {
			t.Fatal(err)
		}
	})
}

func TestVelocityRefusedWithTheirLine(t *testing.T) {
	cases := map[string]struct{ ops, want string }{
		"a period of a second":               {`- {name: v, kind: velocity, asset: BTC, max: "1", period: 1s}`, `transaction_rules[0].period: "1s": want a duration from 1m0s`},
		"a period of two years":              {`- {name: v, kind: velocity, asset: BTC, max: "1", period: 731d}`, `transaction_rules[0].period: "731d"`},
		"a velocity rule without its period": {`- {name: v, kind: velocity, asset: BTC, max: "1"}`, `transaction_rules[0].period: 0s outside`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseRules(t, "", c.ops, "")
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "policy: line ") {
				t.Fatalf("got %v, want %q with its line", err, c.want)
			}
		})
	}
}

// TestLedgerEqualsAScan checks the ledger's prefix sums and binary
// searches against adding up every entry, over random entries with many
// equal times and amounts past 2^64.
func TestLedgerEqualsAScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := noon.Add(-1000 * time.Hour)
	var entries []policy.Entry
	for range 3000 {
		amount := new(big.Int).SetUint64(rng.Uint64())
		if rng.IntN(4) == 0 {
			amount.Lsh(amount, 70)
		}
		entries = append(entries, policy.Entry{
			Time:   base.Add(time.Duration(rng.IntN(2000)) * 30 * time.Minute),
			Vault:  []string{"ops", "reserve"}[rng.IntN(2)],
			Asset:  []string{"BTC", "ETH", "erc20:" + strings.ToLower(usdcToken)}[rng.IntN(3)],
			Amount: amount,
		})
	}
	l := ledger(t, entries...)
	for range 2000 {
		since := base.Add(time.Duration(rng.IntN(2200)-100) * 30 * time.Minute)
		until := since.Add(time.Duration(rng.IntN(800)) * 30 * time.Minute)
		vault := []string{"ops", "reserve", "safe"}[rng.IntN(3)]
		asset := []string{"BTC", "ETH", "erc20:" + usdcToken}[rng.IntN(3)]
		scan := new(big.Int)
		for _, e := range entries {
			if e.Vault == vault && strings.EqualFold(e.Asset, asset) && e.Time.After(since) && !e.Time.After(until) {
				scan.Add(scan, e.Amount)
			}
		}
		got, err := l.Spent(vault, asset, since, until)
		if err != nil {
			t.Fatal(err)
		}
		if got.Cmp(scan) != 0 {
			t.Fatalf("Spent(%s, %s, %v, %v) = %v, a scan gives %v", vault, asset, since, until, got, scan)
		}
	}
}

func TestLedgerRefuses(t *testing.T) {
	cases := map[string]policy.Entry{
		"a negative amount":   {Time: noon, Vault: "ops", Asset: "BTC", Amount: big.NewInt(-1)},
		"a missing amount":    {Time: noon, Vault: "ops", Asset: "BTC"},
		"an unknown asset":    {Time: noon, Vault: "ops", Asset: "DOGE", Amount: big.NewInt(1)},
		"a bad token":         {Time: noon, Vault: "ops", Asset: "erc20:0x1234", Amount: big.NewInt(1)},
		"a time out of range": {Time: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), Vault: "ops", Asset: "BTC", Amount: big.NewInt(1)},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := policy.NewLedger([]policy.Entry{e}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
