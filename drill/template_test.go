package drill_test

import (
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/drill"
)

const templateScenario = `name: payroll under a template, carol's key lost
seed: 5
duration: 2d
quorum:
  rules: |
    address_book:
      - {label: cold, chain: bitcoin, address: bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080}
      - {label: payroll, chain: bitcoin, address: bcrt1qzy3rxyfzxvgjyvc3yge3zg3nzy3rxyfz6mnckl}
    transaction_rules:
      - {name: known, kind: allowlist}
      - {name: large, kind: approve, asset: BTC, above: "0.2", require: {group: signers, count: 3}}
    templates:
      - {name: payroll, vault: ops, asset: BTC, to: [payroll], max: "0.25", rate: {count: 5, period: 30d}, require: {group: signers, count: 2}}
actors:
  - {person: alice, latency: {p50: 10m, p95: 1h}}
  - {person: bob, latency: {p50: 10m, p95: 1h}}
  - {person: carol, latency: {p50: 10m, p95: 1h}}
workload:
  - {kind: routine, every: 4h, amount: "0.25", to: bcrt1qzy3rxyfzxvgjyvc3yge3zg3nzy3rxyfz6mnckl, template: payroll}
  - {kind: large, every: 1d, amount: "0.25", to: bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080}
faults:
  - {kind: key-lost, at: 1m, person: carol}
`

// TestTemplateRateIsEnforcedAndLargeRuleStillHolds: with carol's key
// lost, payroll under its template goes out with alice's and bob's
// approvals, up to the template's rate (5 in 30 days) and not one more;
// a large payment outside the template still needs three people and
// never reaches its quorum.
func TestTemplateRateIsEnforcedAndLargeRuleStillHolds(t *testing.T) {
	sc, err := drill.ParseScenario([]byte(templateScenario))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := drill.Run(ctx, sc, drill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Text(&b)
	if !rep.Passed {
		t.Fatalf("the drill failed:\n%s", b.String())
	}
	// 12 payroll payments over two days; 5 within the template's rate.
	if rep.Proposals.Denied != 12-5 {
		t.Fatalf("%d payroll payments denied at proposal, want 7 (past the template's rate):\n%s", rep.Proposals.Denied, b.String())
	}
	if rep.Proposals.Finalized != 5 {
		t.Fatalf("%d finalized, want the 5 payroll payments the template allows (the large ones need carol):\n%s", rep.Proposals.Finalized, b.String())
	}
}

// TestUnknownTemplateIsRefusedBeforeTheRun: a flow naming a template the
// policy lacks would rehearse a typo (every payment denied).
func TestUnknownTemplateIsRefusedBeforeTheRun(t *testing.T) {
	sc, err := drill.ParseScenario([]byte(strings.Replace(templateScenario, "template: payroll}", "template: payrol}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = drill.Run(ctx, sc, drill.Options{})
	if err == nil || !strings.Contains(err.Error(), `workload[0].template: "payrol"`) {
		t.Fatalf("an unknown template: %v", err)
	}
}
