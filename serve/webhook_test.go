package serve_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/serve"
	"github.com/airlock-vault/airlock/station"
)

// receiver is a webhook endpoint on 127.0.0.1 that checks every POST
// with the coordinator's public key, as a receiver must.
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	pub ed25519.PublicKey
	now func() time.Time

	mu       sync.Mutex
	failNext int                  // answer 500 to the next n verified POSTs
	got      []serve.WebhookEvent // accepted (2xx), in arrival order
	tries    map[string]int       // POSTs per event id
	last     *captured            // the last verified POST
	refused  []error              // POSTs that did not verify
}

// captured is a POST as the receiver got it.
type captured struct {
	method, url string
	header      http.Header
	body        []byte
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t, tries: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

// trust has the receiver verify with f's coordinator key, at f's time.
func (rc *receiver) trust(f *fixture) {
	pub, err := keys.IdentityPublic(f.q.CoordKeys.Identity)
	if err != nil {
		rc.t.Fatal(err)
	}
	rc.mu.Lock()
	rc.pub, rc.now = pub, f.q.Now
	rc.mu.Unlock()
}

// hooked is a fixture whose service tells rc, and its server.
func hooked(t *testing.T, o quorum.Options, rc *receiver, cfg func(*serve.Config)) (*fixture, *serve.Server) {
	t.Helper()
	f, srv := hookFixture(t, o, func(c *serve.Config) {
		c.Webhooks = []string{rc.srv.URL + "/hooks/airlock?token=s3cret"}
		if cfg != nil {
			cfg(c)
		}
	})
	rc.trust(f)
	return f, srv
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := serve.VerifyWebhook(r, body, rc.pub, rc.now()); err != nil {
		rc.refused = append(rc.refused, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev serve.WebhookEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || r.Header.Get("Idempotency-Key") != ev.ID {
		rc.refused = append(rc.refused, fmt.Errorf("body %s: %v", body, err))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.tries[ev.ID]++
	rc.last = &captured{method: r.Method, url: "http://" + r.Host + r.URL.RequestURI(), header: r.Header.Clone(), body: body}
	if rc.failNext > 0 {
		rc.failNext--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	rc.got = append(rc.got, ev)
	w.WriteHeader(http.StatusNoContent)
}

// wait returns the accepted events once there are n (failing after 20s).
func (rc *receiver) wait(n int) []serve.WebhookEvent {
	rc.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rc.mu.Lock()
		got := append([]serve.WebhookEvent(nil), rc.got...)
		refused := append([]error(nil), rc.refused...)
		rc.mu.Unlock()
		if len(refused) > 0 {
			rc.t.Fatalf("POSTs that do not verify: %v", refused)
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			rc.t.Fatalf("%d webhook events after 20s, want %d: %+v", len(got), n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hookFixture is a fixture whose service is configured by cfg.
func hookFixture(t *testing.T, o quorum.Options, cfg func(*serve.Config)) (*fixture, *serve.Server) {
	t.Helper()
	return hookFixtureOn(t, &fixture{t: t, q: quorum.New(t, o)}, cfg)
}

// hookFixtureOn is a new service over old's coordinator: a restart.
func hookFixtureOn(t *testing.T, old *fixture, cfg func(*serve.Config)) (*fixture, *serve.Server) {
	t.Helper()
	q := old.q
	f := &fixture{t: t, q: q, clients: map[string]*serve.Client{}, seed: old.seed}
	srv := f.serve(cfg)
	ts := httptest.NewServer(validating(t, srv))
	t.Cleanup(ts.Close)
	f.url = ts.URL
	f.clients["coord"] = &serve.Client{Base: ts.URL, Key: q.CoordKeys.Identity, Now: q.Now}
	for who, m := range q.Stations {
		f.clients[who] = &serve.Client{Base: ts.URL, Key: m.Keys.Identity, Now: q.Now}
	}
	return f, srv
}

// serve makes a service over the fixture's coordinator.
func (f *fixture) serve(cfg func(*serve.Config)) *serve.Server {
	f.t.Helper()
	c := serve.Config{Coord: f.q.Coord, Identity: f.q.CoordKeys.Identity, Log: slog.New(slog.NewTextHandler(testWriter{f.t}, nil)),
		Hooks: serve.WebhookOptions{Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, PollEvery: 5 * time.Millisecond}}
	if cfg != nil {
		cfg(&c)
	}
	srv, err := serve.New(c)
	if err != nil {
		f.t.Fatal(err)
	}
	return srv
}

// deliver runs srv's webhooks until the returned stop is called (or the
// test ends).
func deliver(t *testing.T, srv *serve.Server) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Deliver(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// decide hands in who's decision on proposal id.
func (f *fixture) decide(id, who string, approve bool) {
	f.t.Helper()
	ctx := context.Background()
	_, env, err := f.clients[who].Do(ctx, "GET", "/v1/proposals/"+id+"/envelope", nil, "")
	if err != nil {
		f.t.Fatal(err)
	}
	m := f.q.Stations[who]
	d := station.Decision{Approve: approve}
	if !approve {
		d.Reason = "the amount is not what the invoice says"
	}
	ae, res, err := m.Sign(ctx, env, d, m.Keys.Identity, m.Keys.Chain)
	if err != nil {
		f.t.Fatalf("%s signs: %v (%v)", who, err, res)
	}
	b, _ := ae.Encode()
	if resp, body, err := f.clients[who].Do(ctx, "POST", "/v1/proposals/"+id+"/decisions", b, "application/octet-stream"); err != nil || resp.StatusCode != http.StatusCreated {
		f.t.Fatalf("%s hands in: %v %v %s", who, resp.Status, err, body)
	}
}

// spends makes n unsigned spends before the service's own goroutines
// run: making one reads the coordinator's workspace, which only the
// service may use while it runs.
func (f *fixture) spends(n int) []string {
	var out []string
	for range n {
		out = append(out, f.psbt())
	}
	return out
}

// proposeSpend proposes a spend made by spends, with a lifetime ("":
// the policy's).
func (f *fixture) proposeSpend(psbt, lifetime string) serve.Proposal {
	f.t.Helper()
	var p serve.Proposal
	if err := f.clients["coord"].JSON(context.Background(), "POST", "/v1/proposals",
		serve.ProposeRequest{Vault: "ops", PSBT: psbt, Intent: "payroll", Lifetime: lifetime}, &p); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// lifecycle runs the round the webhook and metrics tests watch: p1
// approved by alice and bob, finalized; p2 rejected by carol, then
// expired. It returns the two proposals' ids. spends are two spends;
// settle, when set, is called with the number of events so far before
// the clock moves (a receiver checks a signature by the same clock).
func (f *fixture) lifecycle(spends []string, settle func(events int)) (string, string) {
	f.t.Helper()
	ctx := context.Background()
	if settle == nil {
		settle = func(int) {}
	}
	p1 := f.proposeSpend(spends[0], "")
	settle(1)
	f.q.Advance(10 * time.Minute)
	f.decide(p1.ID, "alice", true)
	settle(2)
	f.q.Advance(20 * time.Minute)
	f.decide(p1.ID, "bob", true)
	var fin serve.Finalized
	if err := f.clients["bob"].JSON(ctx, "POST", "/v1/proposals/"+p1.ID+"/finalize", nil, &fin); err != nil {
		f.t.Fatal(err)
	}
	p2 := f.proposeSpend(spends[1], "1h")
	settle(6)
	f.q.Advance(5 * time.Minute)
	f.decide(p2.ID, "carol", false)
	settle(7)
	f.q.Advance(2 * time.Hour)
	var page serve.Page
	if err := f.clients["carol"].JSON(ctx, "GET", "/v1/proposals?state=expired", nil, &page); err != nil || len(page.Proposals) != 1 {
		f.t.Fatalf("expired: %+v %v", page, err)
	}
	return p1.ID, p2.ID
}

// TestWebhooksTellEachEventOnceInOrder: a receiver gets every event of a
// round once, in the log's order, each POST verified with the
// coordinator's public key, threshold.met from the entry that approved.
func TestWebhooksTellEachEventOnceInOrder(t *testing.T) {
	eachStore(t, webhooksTellEachEventOnceInOrder)
}

func webhooksTellEachEventOnceInOrder(t *testing.T, o quorum.Options) {
	rc := newReceiver(t)
	f, srv := hooked(t, o, rc, nil)
	sp := f.spends(2)
	deliver(t, srv)
	p1, p2 := f.lifecycle(sp, func(n int) { rc.wait(n) })
	want := []struct{ typ, proposal, kind string }{
		{"proposal.created", p1, "proposal.created"},
		{"decision.received", p1, "approval.collected"},
		{"decision.received", p1, "approval.collected"},
		{"threshold.met", p1, "proposal.approved"},
		{"proposal.finalized", p1, "proposal.finalized"},
		{"proposal.created", p2, "proposal.created"},
		{"decision.received", p2, "approval.collected"},
		{"proposal.expired", p2, "proposal.expired"},
	}
	got := rc.wait(len(want))
	time.Sleep(50 * time.Millisecond) // ten polls more: nothing else comes
	got = rc.wait(len(want))
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	origin := f.q.Coord.WS.Config.LogOrigin()
	for i, w := range want {
		g := got[i]
		if g.Type != w.typ || g.Proposal != w.proposal || g.Kind != w.kind || g.Vault != "ops" || g.Log != origin ||
			g.ID != fmt.Sprintf("%s#%d", origin, g.Index) || (i > 0 && g.Index <= got[i-1].Index) {
			t.Errorf("event %d: %+v, want %+v", i, g, w)
		}
		if n := rc.tries[g.ID]; n != 1 {
			t.Errorf("event %s POSTed %d times", g.ID, n)
		}
	}
	if got[2].Detail["participant"] != "bob" || got[6].Detail["decision"] != "reject" || got[3].Detail["to"] != "approved" {
		t.Errorf("details: %+v %+v %+v", got[2].Detail, got[6].Detail, got[3].Detail)
	}
	delivered := `airlock_webhook_deliveries_total{endpoint="` + rc.srv.URL + `/hooks/airlock",result="delivered"} 8`
	text := scrapeFor(t, f, delivered)
	for _, line := range []string{delivered} {
		if !strings.Contains(text, line) {
			t.Errorf("no %s in the metrics", line)
		}
	}
	if strings.Contains(text, "s3cret") {
		t.Error("the endpoint's query (a receiver's token) is in the metrics")
	}
}

// scrapeFor reads the service's /metrics until it holds every line of
// want, for at most five seconds: a deliverer counts an attempt after the
// receiver has answered it, so the receiver may see an event a moment
// before the counter moves. It returns the last text read.
func scrapeFor(t *testing.T, f *fixture, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		text := scrape(t, f)
		all := true
		for _, w := range want {
			all = all && strings.Contains(text, w)
		}
		if all || time.Now().After(deadline) {
			return text
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// scrape reads the service's /metrics.
func scrape(t *testing.T, f *fixture) string {
	t.Helper()
	resp, err := http.Get(f.url + "/metrics")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/metrics: %v %v", resp, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestWebhookRetriedAfterTwoFailures: a receiver that fails twice gets
// the event on the third attempt, once accepted, the same id each time.
func TestWebhookRetriedAfterTwoFailures(t *testing.T) {
	rc := newReceiver(t)
	rc.failNext = 2
	f, srv := hooked(t, quorum.Options{}, rc, nil)
	sp := f.spends(1)
	deliver(t, srv)
	p := f.proposeSpend(sp[0], "")
	got := rc.wait(1)
	if len(got) != 1 || got[0].Proposal != p.ID || got[0].Type != "proposal.created" {
		t.Fatalf("got %+v", got)
	}
	rc.mu.Lock()
	tries := rc.tries[got[0].ID]
	rc.mu.Unlock()
	if tries != 3 {
		t.Fatalf("%d POSTs of %s, want 3 (two refused, one accepted)", tries, got[0].ID)
	}
	ep := rc.srv.URL + "/hooks/airlock"
	want := []string{
		`airlock_webhook_deliveries_total{endpoint="` + ep + `",result="retry"} 2`,
		`airlock_webhook_deliveries_total{endpoint="` + ep + `",result="delivered"} 1`,
	}
	text := scrapeFor(t, f, want...)
	for _, line := range want {
		if !strings.Contains(text, line) {
			t.Errorf("no %s in\n%s", line, text)
		}
	}
}

// TestWebhookGivenUpAfterMaxAttempts: a receiver that keeps failing gets
// MaxAttempts tries of an event, then the next event; the one given up
// is counted as failed.
func TestWebhookGivenUpAfterMaxAttempts(t *testing.T) {
	rc := newReceiver(t)
	rc.failNext = 3
	f, srv := hooked(t, quorum.Options{}, rc, func(c *serve.Config) { c.Hooks.MaxAttempts = 3 })
	sp := f.spends(2)
	deliver(t, srv)
	p1 := f.proposeSpend(sp[0], "")
	p2 := f.proposeSpend(sp[1], "")
	got := rc.wait(1)
	if got[0].Proposal != p2.ID {
		t.Fatalf("the first event accepted is %+v, want p2's creation (p1's given up)", got[0])
	}
	rc.mu.Lock()
	tries := maps.Clone(rc.tries)
	rc.mu.Unlock()
	if len(tries) != 2 || tries[got[0].ID] != 1 {
		t.Fatalf("POSTs by event: %v", tries)
	}
	for id, n := range tries {
		if id != got[0].ID && n != 3 {
			t.Fatalf("p1's creation (%s) tried %d times, want 3", id, n)
		}
	}
	_ = p1
	if text := scrapeFor(t, f, `result="failed"} 1`); !strings.Contains(text, `result="failed"} 1`) {
		t.Errorf("the event given up is not counted:\n%s", text)
	}
}

// TestWebhookResumesFromItsCursor: a deliverer stopped and started again
// (a new process on the same workspace) sends what happened meanwhile,
// nothing lost and nothing sent twice.
func TestWebhookResumesFromItsCursor(t *testing.T) {
	rc := newReceiver(t)
	f, srv := hooked(t, quorum.Options{}, rc, nil)
	sp := f.spends(2)
	stop := deliver(t, srv)
	p1 := f.proposeSpend(sp[0], "")
	rc.wait(1)
	stop()
	f.decide(p1.ID, "alice", true)
	p2 := f.proposeSpend(sp[1], "")
	time.Sleep(20 * time.Millisecond)
	if got := rc.wait(1); len(got) != 1 {
		t.Fatalf("a stopped deliverer sent %+v", got)
	}
	again := f.serve(func(c *serve.Config) { c.Webhooks = []string{rc.srv.URL + "/hooks/airlock?token=s3cret"} })
	deliver(t, again)
	got := rc.wait(3)
	time.Sleep(50 * time.Millisecond)
	got = rc.wait(3)
	if len(got) != 3 || got[1].Type != "decision.received" || got[1].Proposal != p1.ID || got[2].Proposal != p2.ID {
		t.Fatalf("after the restart: %+v", got)
	}
	for id, n := range rc.tries {
		if n != 1 {
			t.Errorf("%s sent %d times", id, n)
		}
	}
}

// TestWebhookOnlyTheLeaderDelivers: a replica that is not the leader
// sends nothing and counts no metric from the log; once it leads, it
// sends what it held back.
func TestWebhookOnlyTheLeaderDelivers(t *testing.T) {
	rc := newReceiver(t)
	var lead atomic.Bool
	f, srv := hooked(t, quorum.Options{}, rc, func(c *serve.Config) {
		c.Leader = func(context.Context) bool { return lead.Load() }
	})
	sp := f.spends(1)
	deliver(t, srv)
	p := f.proposeSpend(sp[0], "")
	f.decide(p.ID, "alice", true)
	f.decide(p.ID, "bob", true)
	time.Sleep(50 * time.Millisecond)
	if got := rc.wait(0); len(got) != 0 {
		t.Fatalf("a replica that is not the leader sent %+v", got)
	}
	text := scrape(t, f)
	if !strings.Contains(text, "airlock_log_metrics_leader 0") || strings.Contains(text, "airlock_proposal_time_to_threshold_seconds_count") {
		t.Errorf("a replica that is not the leader counts from the log:\n%s", text)
	}
	lead.Store(true)
	if got := rc.wait(4); got[0].Proposal != p.ID || got[3].Type != "threshold.met" {
		t.Fatalf("the leader sent %+v", got)
	}
}

// TestForgedWebhookFails: the receiver's check refuses a POST whose
// body was changed (with or without a new Content-Digest), one signed by
// another key, one replayed to another URL, and one whose signature
// expired.
func TestForgedWebhookFails(t *testing.T) {
	rc := newReceiver(t)
	f, srv := hooked(t, quorum.Options{}, rc, nil)
	sp := f.spends(1)
	deliver(t, srv)
	f.proposeSpend(sp[0], "")
	rc.wait(1)
	rc.mu.Lock()
	c := rc.last
	rc.mu.Unlock()
	req := func(url string, body []byte, h http.Header) *http.Request {
		r := httptest.NewRequest(c.method, url, strings.NewReader(string(body)))
		for k, v := range h {
			r.Header[k] = v
		}
		return r
	}
	now := f.q.Now()
	if err := serve.VerifyWebhook(req(c.url, c.body, c.header), c.body, rc.pub, now); err != nil {
		t.Fatalf("the POST as sent does not verify: %v", err)
	}
	changed := []byte(strings.Replace(string(c.body), `"type":"proposal.created"`, `"type":"threshold.met"`, 1))
	if string(changed) == string(c.body) {
		t.Fatalf("nothing to change in %s", c.body)
	}
	redigested := c.header.Clone()
	redigested.Set("Content-Digest", serve.ContentDigest(changed))
	other := httptest.NewRequest("POST", c.url, strings.NewReader(string(changed)))
	if err := serve.Sign(other, changed, f.q.Stations["alice"].Keys.Identity, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		r    *http.Request
		body []byte
		now  time.Time
	}{
		"a changed body":                         {req(c.url, changed, c.header), changed, now},
		"a changed body with its Content-Digest": {req(c.url, changed, redigested), changed, now},
		"a POST signed by a station's key":       {other, changed, now},
		"the POST replayed to another URL":       {req(strings.Replace(c.url, "/hooks/", "/other/", 1), c.body, c.header), c.body, now},
		"the POST checked after its window":      {req(c.url, c.body, c.header), c.body, now.Add(serve.DefaultWindow + serve.DefaultSkew + time.Second)},
		"the POST without its signature":         {req(c.url, c.body, http.Header{"Content-Digest": c.header["Content-Digest"]}), c.body, now},
	} {
		if err := serve.VerifyWebhook(tc.r, tc.body, rc.pub, tc.now); err == nil {
			t.Errorf("%s verifies", name)
		}
	}
}

// TestWebhookURLsRefused: an endpoint must be an http(s) URL with a
// host and no credentials; the service does not start otherwise.
func TestWebhookURLsRefused(t *testing.T) {
	q := quorum.New(t, quorum.Options{})
	for _, u := range []string{"ftp://example.com/x", "file:///etc/passwd", "gopher://h/", "http://user:pw@example.com/",
		"//example.com/x", "example.com/hook", "http:///x", "https://example.com/a#frag", "javascript:alert(1)"} {
		_, err := serve.New(serve.Config{Coord: q.Coord, Identity: q.CoordKeys.Identity, Webhooks: []string{u}})
		if err == nil || !strings.HasPrefix(err.Error(), "serve: ") {
			t.Errorf("%s: %v", u, err)
		}
	}
	if _, err := serve.New(serve.Config{Coord: q.Coord, Identity: q.CoordKeys.Identity,
		Webhooks: []string{"https://hooks.example.com/a?t=1", "http://127.0.0.1:9/b"}}); err != nil {
		t.Fatal(err)
	}
}
