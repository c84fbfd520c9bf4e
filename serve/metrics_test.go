package serve_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/serve"
	"github.com/airlock-vault/airlock/transport/transfer"
)

// TestMetricsFromTheLog: what the audit log says happened to proposals is
// counted at the scrape, with the times the log's entries give: the time
// to the threshold, each station's signing latency (from the proposal's
// export to its station when there is one, else from its creation), a
// rejection that opens a dispute and the approval that resolves it, the
// time to the broadcast; the
// policy's verdicts are counted by the requests served. Entries from
// before the service started are not counted.
func TestMetricsFromTheLog(t *testing.T) {
	ctx := context.Background()
	f, _ := hookFixture(t, quorum.Options{}, nil)
	sp := f.spends(2)

	// Entries before this service started are not its to count.
	old := f.proposeSpend(sp[0], "")
	f.decide(old.ID, "alice", true)
	f.decide(old.ID, "bob", true)
	f, _ = hookFixtureOn(t, f, nil)
	if text := scrape(t, f); strings.Contains(text, "airlock_proposal_time_to_threshold_seconds_count") ||
		strings.Contains(text, "airlock_station_signing_latency_seconds_count") {
		t.Fatalf("a new service counts what happened before it started:\n%s", text)
	}

	// alice gets p1 on media 2 minutes after its creation.
	p1 := f.proposeSpend(sp[1], "1h")
	f.q.Advance(2 * time.Minute)
	pe, err := f.q.Coord.WS.Proposal(p1.ID)
	if err != nil {
		t.Fatal(err)
	}
	usb := filepath.Join(t.TempDir(), "usb")
	os.MkdirAll(usb, 0o700)
	real, _ := transfer.RealDir(usb)
	if err := f.q.Coord.WS.AllowMedia(real); err != nil {
		t.Fatal(err)
	}
	gap := &transfer.Gap{WS: f.q.Coord.WS, Reg: quorum.Reg}
	if _, err := gap.Export(ctx, pe, usb, "alice", "", f.q.CoordKeys.Identity); err != nil {
		t.Fatal(err)
	}
	f.q.Advance(8 * time.Minute)
	f.decide(p1.ID, "alice", true) // 8 minutes after the export
	f.q.Advance(5 * time.Minute)
	f.decide(p1.ID, "carol", false) // 15 minutes after the creation: a dispute
	f.q.Advance(20 * time.Minute)
	f.decide(p1.ID, "bob", true) // 35 minutes: the threshold met despite it
	var fin serve.Finalized
	if err := f.clients["bob"].JSON(ctx, "POST", "/v1/proposals/"+p1.ID+"/finalize", nil, &fin); err != nil {
		t.Fatal(err)
	}
	f.q.Advance(25 * time.Minute) // an hour after the creation
	if err := f.q.Coord.MarkBroadcast(ctx, pe.ID(), fin.TxID, "node-1"); err != nil {
		t.Fatal(err)
	}
	text := scrape(t, f)
	for _, line := range []string{
		`airlock_proposal_time_to_threshold_seconds_sum{vault="ops"} 2100`,
		`airlock_proposal_time_to_threshold_seconds_count{vault="ops"} 1`,
		`airlock_station_signing_latency_seconds_sum{participant="alice"} 480`,
		`airlock_station_signing_latency_seconds_sum{participant="carol"} 900`,
		`airlock_station_signing_latency_seconds_sum{participant="bob"} 2100`,
		`airlock_rejections_total{vault="ops"} 1`,
		`airlock_disputes_opened_total{vault="ops"} 1`,
		`airlock_disputes_resolved_total{outcome="approved",vault="ops"} 1`,
		`airlock_dispute_resolution_seconds_sum{vault="ops"} 1200`,
		`airlock_proposal_time_to_broadcast_seconds_sum{vault="ops"} 3600`,
		`airlock_policy_verdicts_total{stage="propose",verdict="allow"} 1`,
		`airlock_policy_verdicts_total{stage="finalize",verdict="allow"} 1`,
		`airlock_log_metrics_leader 1`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("no %s in the metrics", line)
		}
	}
	if strings.Contains(text, "airlock_expiries_total") {
		t.Error("an expiry counted, none happened")
	}
	if t.Failed() {
		t.Log(text)
	}
}

// TestMetricsCountExpiryAndDeny: an expiry is counted from the log; a
// proposal the policy's rules deny is a deny verdict (and a refusal).
func TestMetricsCountExpiryAndDeny(t *testing.T) {
	ctx := context.Background()
	f, _ := hookFixture(t, quorum.Options{Rules: "transaction_rules:\n  - {name: known-destinations, kind: allowlist}\n"}, nil)
	var p serve.Proposal
	err := f.clients["coord"].JSON(ctx, "POST", "/v1/proposals", serve.ProposeRequest{Vault: "ops", PSBT: f.psbt()}, &p)
	if err == nil || !strings.Contains(err.Error(), "rules do not allow") {
		t.Fatalf("a spend to an address not in the book: %v", err)
	}
	text := scrape(t, f)
	for _, line := range []string{
		`airlock_policy_verdicts_total{stage="propose",verdict="deny"} 1`,
		`airlock_refused_total{operation="POST /v1/proposals",problem="denied"} 1`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("no %s in\n%s", line, text)
		}
	}

	f, _ = hookFixture(t, quorum.Options{}, nil)
	p = f.proposeSpend(f.psbt(), "1h")
	f.q.Advance(90 * time.Minute)
	text = scrape(t, f) // nothing expired it yet: a scrape changes nothing
	if strings.Contains(text, "airlock_expiries_total") {
		t.Fatal("a scrape expired a proposal")
	}
	var got serve.Proposal
	if err := f.clients["carol"].JSON(ctx, "GET", "/v1/proposals/"+p.ID, nil, &got); err != nil || got.State != "expired" {
		t.Fatalf("%+v %v", got, err)
	}
	if text := scrape(t, f); !strings.Contains(text, `airlock_expiries_total{vault="ops"} 1`+"\n") {
		t.Errorf("the expiry is not counted:\n%s", text)
	}
}
