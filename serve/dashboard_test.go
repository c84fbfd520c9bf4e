package serve_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/serve"
	"github.com/airlock-vault/airlock/station"
)

// newDashboardFixture is newFixture without the OpenAPI check (the
// dashboard's pages are not the API), with the dashboard configured as d.
func newDashboardFixture(t *testing.T, o quorum.Options, d serve.Dashboard) *fixture {
	t.Helper()
	q := quorum.New(t, o)
	srv, err := serve.New(serve.Config{Coord: q.Coord, Identity: q.CoordKeys.Identity, Dashboard: d,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	f := &fixture{t: t, q: q, url: ts.URL, clients: map[string]*serve.Client{}}
	f.clients["coord"] = &serve.Client{Base: ts.URL, Key: q.CoordKeys.Identity, Now: q.Now}
	for who, m := range q.Stations {
		f.clients[who] = &serve.Client{Base: ts.URL, Key: m.Keys.Identity, Now: q.Now}
	}
	return f
}

// page GETs a dashboard path unsigned, as a browser does.
func (f *fixture) page(path string) (*http.Response, string) {
	f.t.Helper()
	resp, err := http.Get(f.url + path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, string(b)
}

// envelope downloads a proposal's envelope for the stations.
func (f *fixture) envelope(id string) []byte {
	f.t.Helper()
	resp, env, err := f.clients["alice"].Do(context.Background(), "GET", "/v1/proposals/"+id+"/envelope", nil, "")
	if err != nil || resp.StatusCode != 200 {
		f.t.Fatalf("envelope: %v %v", resp, err)
	}
	return env
}

// handIn has who decide on the proposal at their station (approve with a
// rationale, or reject with a reason) and hands the decision in through
// the signed API.
func (f *fixture) handIn(who, id string, approve bool, reason string) {
	f.t.Helper()
	m := f.q.Stations[who]
	ae, res, err := m.Sign(context.Background(), f.envelope(id), station.Decision{Approve: approve, Reason: reason}, m.Keys.Identity, m.Keys.Chain)
	if err != nil {
		f.t.Fatalf("%s signs: %v (%v)", who, err, res)
	}
	b, _ := ae.Encode()
	resp, body, err := f.clients[who].Do(context.Background(), "POST", "/v1/proposals/"+id+"/decisions", b, "application/octet-stream")
	if err != nil || resp.StatusCode != http.StatusCreated {
		f.t.Fatalf("%s's hand-in: %v %v %s", who, resp, err, body)
	}
}

const dashboardRules = `address_book:
  - {label: cold-store, chain: bitcoin, address: bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080, vaults: [ops]}
transaction_rules:
  - {name: daily-outflow, kind: velocity, asset: BTC, max: "0.0125", period: 24h}
  - {name: per-tx-cap, kind: limit, asset: BTC, max: "1"}
`

// TestDashboardShowsWhatTheAPIKnows: the pages show a proposal's intent,
// the coordinator's decoding, the verdict, approvals against the
// threshold with each rationale, who is still waited for; the vault's
// signers, address book and the velocity used by open proposals; the
// audit log and its verification — the same view the signed API gives.
func TestDashboardShowsWhatTheAPIKnows(t *testing.T) {
	f := newDashboardFixture(t, quorum.Options{Rules: dashboardRules}, serve.Dashboard{})
	p := f.propose("pay the <b>auditor</b> & co")

	resp, home := f.page("/")
	if resp.StatusCode != 200 || !strings.Contains(home, p.ID) || !strings.Contains(home, "pay the &lt;b&gt;auditor&lt;/b&gt; &amp; co") {
		t.Fatalf("front page %d:\n%s", resp.StatusCode, home)
	}
	if !strings.Contains(home, `<td class="tally">0 of 2</td>`) || !strings.Contains(home, "alice, bob, carol") {
		t.Fatalf("the front page does not say who is waited for:\n%s", home)
	}

	_, page := f.page("/proposals/" + p.ID)
	for _, want := range []string{`<strong id="tally">0 of 2</strong>`, "alice, bob, carol", "No decision handed in yet", `id="verdict-text">allowed`,
		"2026-12-05 09:00:00 UTC", `data-left="86400">1d 0h 0m 0s<`, "policy-velocity"} {
		if !strings.Contains(page, want) {
			t.Errorf("the proposal page lacks %q", want)
		}
	}
	f.handIn("alice", p.ID, true, "matches invoice 2026-118")
	f.handIn("carol", p.ID, false, "the auditor was paid last week")
	_, page = f.page("/proposals/" + p.ID[:16])
	for _, want := range []string{`<strong id="tally">1 of 2</strong>`, `<span id="waiting-for">bob</span>`, "matches invoice 2026-118", "the auditor was paid last week"} {
		if !strings.Contains(page, want) {
			t.Errorf("after alice's approval and carol's rejection, the proposal page lacks %q:\n%s", want, page)
		}
	}
	if _, home = f.page("/?state=open&vault=ops"); !strings.Contains(home, p.ID) {
		t.Error("the state and vault filters lose the open proposal")
	}
	if _, home = f.page("/?state=finalized"); strings.Contains(home, p.ID) {
		t.Error("an open proposal is listed under state=finalized")
	}

	_, vault := f.page("/vaults/ops")
	for _, want := range []string{`<dd id="threshold">2 of 3</dd>`, "cold-store", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
		"daily-outflow", "0.01 (80%)", "0.0025", "per-tx-cap", "no node configured"} {
		if !strings.Contains(vault, want) {
			t.Errorf("the vault page lacks %q", want)
		}
	}

	_, audit := f.page("/audit")
	if !strings.Contains(audit, "proposal.created") || !strings.Contains(audit, `id="verify"`) {
		t.Fatalf("audit page:\n%s", audit)
	}
	// The proposal's spend history came with a checkpoint; the entries
	// since are verified too, and the dashboard signs no checkpoint.
	var v serve.AuditVerification
	getJSON(t, f.url+"/audit/verify", &v)
	if !v.Verified || !v.StateAgrees || v.Entries != f.logSize() || v.CheckpointSize == 0 || v.AfterCheckpoint != v.Entries-v.CheckpointSize || v.Reused {
		t.Fatalf("verification: %+v", v)
	}
	var again serve.AuditVerification
	getJSON(t, f.url+"/audit/verify", &again)
	if !again.Reused || again.Root != v.Root {
		t.Fatalf("a second verification at once is not the first one shown again: %+v", again)
	}

	// Past its expiry, at the coordinator's clock: expired, no countdown.
	f.q.Advance(25 * time.Hour)
	if _, page = f.page("/proposals/" + p.ID); !strings.Contains(page, `id="state">expired<`) || strings.Contains(page, "data-left") {
		t.Errorf("a proposal past its expiry:\n%s", page)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s: %s %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

var externalURL = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|url\(`)

// TestDashboardIsReadOnlyAndLocked stops a browser from being the way in:
// nothing the dashboard answers changes the workspace (any method but
// GET is refused, and the log does not grow); every page and file is
// sent with a CSP that allows only the service's own origin and no
// inline script, is never framed (clickjacking), and names no external
// URL; a request naming a foreign host (DNS rebinding from a web page) is
// refused; the off-switch leaves no page.
func TestDashboardIsReadOnlyAndLocked(t *testing.T) {
	f := newDashboardFixture(t, quorum.Options{}, serve.Dashboard{Hosts: []string{"treasury.internal"}})
	p := f.propose("rent")
	paths := []string{"/", "/proposals/" + p.ID, "/audit", "/audit/verify", "/vaults/ops", "/static/dashboard.css", "/static/dashboard.js"}
	size := f.logSize()
	for _, path := range paths {
		resp, body := f.page(path)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		h := resp.Header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, h)
		}
		if m := externalURL.FindString(body); m != "" {
			t.Errorf("%s names an external resource: %q", path, m)
		}
		if strings.Contains(body, "<script>") || regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(body) || strings.Contains(body, "style=") {
			t.Errorf("%s has inline script or style", path)
		}
		for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			req, _ := http.NewRequest(method, f.url+path, strings.NewReader(`{"reason":"x"}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Errorf("%s %s answered %d", method, path, resp.StatusCode)
			}
		}
	}
	if f.logSize() != size {
		t.Fatal("reading the dashboard wrote to the audit log")
	}
	var got serve.Proposal
	if err := f.clients["bob"].JSON(context.Background(), "GET", "/v1/proposals/"+p.ID, nil, &got); err != nil || got.State != "open" || len(got.Decisions) != 0 {
		t.Fatalf("the proposal changed: %+v %v", got, err)
	}

	for host, want := range map[string]int{"evil.example": 421, "treasury.internal": 200, "localhost": 200, "[::1]": 200} {
		req, _ := http.NewRequest("GET", f.url+"/", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
	// The signed API does not care for the Host rule: its requests are
	// signed over their URL.
	if _, err := http.Get(f.url + "/proposals/zz"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := f.page("/proposals/zz"); resp.StatusCode != 400 {
		t.Errorf("a malformed id: %d", resp.StatusCode)
	}
	if resp, _ := f.page("/proposals/" + strings.Repeat("0", 64)); resp.StatusCode != 404 {
		t.Errorf("an unknown proposal: %d", resp.StatusCode)
	}
	if resp, _ := f.page("/vaults/nope"); resp.StatusCode != 404 {
		t.Errorf("an unknown vault: %d", resp.StatusCode)
	}
	if resp, _ := f.page("/?state=nope"); resp.StatusCode != 400 {
		t.Errorf("an unknown state: %d", resp.StatusCode)
	}

	off := newDashboardFixture(t, quorum.Options{}, serve.Dashboard{Off: true})
	for _, path := range paths {
		if resp, _ := off.page(path); resp.StatusCode != 404 {
			t.Errorf("dashboard off: %s answered %d", path, resp.StatusCode)
		}
	}
}
