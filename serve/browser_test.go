package serve_test

import (
	"testing"
	"time"

	"github.com/airlock-vault/airlock/internal/browser"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/serve"
)

// TestDashboardInChromium: Debian's Chromium, driven by playwright-core
// (test/browser/dashboard.js), reads a proposal's intent, its flags and
// "0 of 2" approvals; the test hands in alice's approval through the
// signed API and the page, reloaded, says "1 of 2" with her rationale;
// the audit log's Verify button reports success. The page's script runs
// under the CSP, no request leaves the service's origin, no script or
// console error. Screenshots are kept in $AIRLOCK_ARTIFACTS (default a
// folder under the system's temporary folder), never in the repository.
func TestDashboardInChromium(t *testing.T) {
	f := newDashboardFixture(t, quorum.Options{Rules: dashboardRules}, serve.Dashboard{})
	p := f.propose("pay the auditor, invoice 2026-118")
	const rationale = "matches invoice 2026-118, amount checked by phone"
	s := browser.Start(t, "dashboard.js", map[string]string{
		"url": f.url, "id": p.ID, "intent": p.Intent, "flag": "policy-velocity", "rationale": rationale,
		"out": browser.Artifacts(t, "dashboard"),
	})
	s.Expect("STEP front page", time.Minute)
	s.Expect("STEP proposal shows", 30*time.Second)
	s.Expect("HANDIN", 10*time.Second)
	f.handIn("alice", p.ID, true, rationale)
	s.Send("GO")
	s.Expect("STEP after the hand-in", 30*time.Second)
	s.Expect("STEP audit verify reports success", 30*time.Second)
	s.Expect("DONE", 30*time.Second)
	s.Wait(30 * time.Second)
}
