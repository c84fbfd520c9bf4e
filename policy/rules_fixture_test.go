package policy_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/policy"
)

// The rule tests share one quorum: alice, bob and carol sign the Bitcoin
// vaults ops (2 of 3) and reserve (3 of 3) and the Safe "safe" (2 of 3);
// alice has a spare device that signs for none; dave is the compliance
// officer and signs for none.
var rulesReg = chain.NewRegistry(bitcoin.Adapter{}, safe.Adapter{})

// Destinations on regtest.
const (
	coldAddr     = "bcrt1qqyqszqgpqyqszqgpqyqszqgpqyqszqgpvxat9t" // booked for ops only
	exchangeAddr = "bcrt1qqgpqyqszqgpqyqszqgpqyqszqgpqyqszazmwwa" // booked for every Bitcoin vault
	unknownAddr  = "bcrt1qqvpsxqcrqvpsxqcrqvpsxqcrqvpsxqcruj60yu" // not booked
	otherAddr    = "bcrt1qqszqgpqyqszqgpqyqszqgpqyqszqgpqyuza2rq" // not booked
	mainnetAddr  = "bc1qpyysjzgfpyysjzgfpyysjzgfpyysjzgftp2y25"
	payrollAddr  = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb" // EIP-55 vector, booked for chain id 1
	usdcToken    = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
)

// noon is Wednesday 4 March 2026, 12:00 UTC.
var noon = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// rulesSource is the fixture's YAML with top (top-level YAML) and the
// transaction rules of ops and safe (YAML lists at column 0).
func rulesSource(t testing.TB, top, ops, safeRules string) string {
	t.Helper()
	coord, ms := quorum(t)
	ms = append(ms, newMember(t, "dave", 4))
	spare := newMember(t, "spare", 5)
	eth := map[string]string{"alice": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "bob": "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", "carol": "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"}
	var b strings.Builder
	fmt.Fprintf(&b, "name: treasury\nnetwork: regtest\nmax_proposal_lifetime: 72h\ncoordinators:\n  - id: coord\n    identity: %s\nparticipants:\n", policy.EncodeIdentity(coord.Public().(ed25519.PublicKey)))
	for _, m := range ms {
		fmt.Fprintf(&b, "  - id: %s\n    name: %s\n    identity: %s\n    devices:\n      - id: hw\n        kind: external\n        key: \"%s\"\n", m.id, m.id, policy.EncodeIdentity(m.key.Public().(ed25519.PublicKey)), m.xpb)
		if e := eth[m.id]; e != "" {
			fmt.Fprintf(&b, "        ethereum: \"%s\"\n", e)
		}
		if m.id == "alice" {
			fmt.Fprintf(&b, "      - id: spare\n        kind: software\n        key: \"%s\"\n", spare.xpb)
		}
	}
	fmt.Fprintf(&b, `groups:
  - {name: treasury, members: [alice, bob, carol]}
  - {name: compliance, members: [dave]}
  - {name: board, members: [alice, dave]}
address_book:
  - {label: cold, chain: bitcoin, address: %s, vaults: [ops]}
  - {label: exchange, chain: bitcoin, address: %s}
  - {label: payroll, chain: ethereum, chain_id: 1, address: "%s"}
assets:
  - {symbol: USDC, chain: ethereum, token: "%s", decimals: 6}
`, coldAddr, exchangeAddr, payrollAddr, usdcToken)
	b.WriteString(top)
	fmt.Fprintf(&b, `vaults:
  - name: ops
    chain: bitcoin
    threshold: 2
    signers: [alice/hw, bob/hw, carol/hw]
%s  - name: reserve
    chain: bitcoin
    threshold: 3
    signers: [alice/hw, bob/hw, carol/hw]
  - name: safe
    chain: ethereum
    threshold: 2
    signers: [alice/hw, bob/hw, carol/hw]
    safe: {address: "0x52908400098527886E0F7030069857D2E4169EE7", chain_id: 1, version: "1.4.1"}
%s`, ruleList(ops), ruleList(safeRules))
	return b.String()
}

func ruleList(rules string) string {
	if rules == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString("    transaction_rules:\n")
	for _, l := range strings.Split(strings.TrimRight(rules, "\n"), "\n") {
		b.WriteString("      " + l + "\n")
	}
	return b.String()
}

// parseRules parses and validates the fixture.
func parseRules(t testing.TB, top, ops, safeRules string) (*policy.Policy, error) {
	t.Helper()
	f, err := policy.ParseFile([]byte(rulesSource(t, top, ops, safeRules)))
	if err != nil {
		return nil, err
	}
	return f.Genesis(rulesReg)
}

// rulesPolicy is the fixture, which must be valid.
func rulesPolicy(t testing.TB, top, ops, safeRules string) *policy.Policy {
	t.Helper()
	p, err := parseRules(t, top, ops, safeRules)
	if err != nil {
		t.Fatalf("fixture refused: %v\n%s", err, rulesSource(t, top, ops, safeRules))
	}
	return p
}

// units parses an amount in whole units.
func units(t testing.TB, s string, decimals int) *big.Int {
	t.Helper()
	n, err := policy.ParseAmount(s, decimals)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func btc(t testing.TB, to, amount string) chain.Transfer {
	return chain.Transfer{Asset: "BTC", To: to, Amount: units(t, amount, 8)}
}

func eth(t testing.TB, to, amount string) chain.Transfer {
	return chain.Transfer{Asset: "ETH", To: to, Amount: units(t, amount, 18)}
}

func usdc(t testing.TB, to, amount string) chain.Transfer {
	return chain.Transfer{Asset: "erc20:" + usdcToken, To: to, Amount: units(t, amount, 6)}
}

func effects(ts ...chain.Transfer) *chain.Effects { return &chain.Effects{Transfers: ts} }

// approvals reads "alice/hw bob/hw".
func approvals(s string) []policy.Approval {
	var out []policy.Approval
	for _, f := range strings.Fields(s) {
		p, d, _ := strings.Cut(f, "/")
		out = append(out, policy.Approval{Participant: p, Device: d})
	}
	return out
}

func emptyHistory(t testing.TB) policy.History {
	l, err := policy.NewLedger(nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// evaluate runs Evaluate, which must decide.
func evaluate(t testing.TB, p *policy.Policy, in policy.Input, h policy.History, now time.Time) *policy.Verdict {
	t.Helper()
	if h == nil {
		h = emptyHistory(t)
	}
	vd, err := policy.Evaluate(p, in, h, now)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return vd
}

// want checks a verdict: allowed or not, and that the text a station
// prints contains each of wants.
func want(t testing.TB, vd *policy.Verdict, allowed bool, wants ...string) {
	t.Helper()
	s := vd.String()
	if vd.Allowed != allowed {
		t.Fatalf("allowed %v, want %v:\n%s", vd.Allowed, allowed, s)
	}
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Fatalf("verdict lacks %q:\n%s", w, s)
		}
	}
}

func TestRulesFixtureIsValid(t *testing.T) {
	p := rulesPolicy(t, "", "", "")
	vd := evaluate(t, p, policy.Input{Vault: "ops", Effects: effects(btc(t, unknownAddr, "1"))}, nil, noon)
	want(t, vd, true, "the policy's default", "2 of signers {alice, bob, carol}")
}

func itoa(n int) string { return fmt.Sprint(n) }

func asFieldError(err error, fe **policy.FieldError) bool { return errors.As(err, fe) }
