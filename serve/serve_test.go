package serve_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to make a schema per test

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/pgtest"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/serve"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/vault"
)

// eachStore runs a test with the coordinator's store in SQLite (its
// workspace folder), then in a real PostgreSQL server when
// AIRLOCK_TEST_POSTGRES names one (a fresh schema per test); without it
// the test fails, as the store's conformance suite does: it never skips.
func eachStore(t *testing.T, fn func(*testing.T, quorum.Options)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, quorum.Options{}) })
	t.Run("postgres", func(t *testing.T) { fn(t, quorum.Options{Database: postgresSchema(t)}) })
}

// postgresSchema is a fresh schema on the PostgreSQL server
// AIRLOCK_TEST_POSTGRES names, dropped after the test: its DSN.
func postgresSchema(t *testing.T) string { return pgtest.Schema(t, "servetest") }

// fixture is a quorum whose coordinator runs as the service on
// 127.0.0.1, with a signing client per identity.
type fixture struct {
	t       *testing.T
	q       *quorum.Quorum
	url     string
	clients map[string]*serve.Client // "coord", "alice", ...
	seed    uint64
}

func newFixture(t *testing.T, o quorum.Options) *fixture {
	t.Helper()
	q := quorum.New(t, o)
	if _, err := os.Stat(q.Coord.WS.Dir + "/state.db"); o.Database != "" && err == nil {
		t.Fatal("the coordinator's store is to be in PostgreSQL, yet its folder holds a state.db")
	}
	srv, err := serve.New(serve.Config{Coord: q.Coord, Identity: q.CoordKeys.Identity,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(validating(t, srv))
	t.Cleanup(ts.Close)
	f := &fixture{t: t, q: q, url: ts.URL, clients: map[string]*serve.Client{}}
	f.clients["coord"] = &serve.Client{Base: ts.URL, Key: q.CoordKeys.Identity, Now: q.Now}
	for who, m := range q.Stations {
		f.clients[who] = &serve.Client{Base: ts.URL, Key: m.Keys.Identity, Now: q.Now}
	}
	return f
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(b)))
	return len(b), nil
}

// validating checks every response the service gives against its OpenAPI
// document: a route the document lacks, a status it does not list, or a
// body that does not match its schema fails the test.
func validating(t *testing.T, h http.Handler) http.Handler {
	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(serve.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		check(t, router, r, rec)
	})
}

func check(t *testing.T, router routers.Router, r *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	rr := r.Clone(context.Background())
	rr.URL = &u
	rr.Body = http.NoBody
	route, params, err := router.FindRoute(rr)
	if err != nil {
		if rec.Code == http.StatusNotFound {
			return // an undocumented path is refused, as it should be
		}
		t.Errorf("%s %s: not in the OpenAPI document: %v", r.Method, r.URL.Path, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: rr, PathParams: params, Route: route,
			Options: &openapi3filter.Options{ExcludeRequestBody: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  rec.Code,
		Header:  rec.Header(),
		Body:    io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s answered %d, not as the OpenAPI document says: %v\n%s", r.Method, r.URL.Path, rec.Code, err, rec.Body.Bytes())
	}
}

// psbt makes a fresh unsigned spend from vault ops.
func (f *fixture) psbt() string {
	f.t.Helper()
	v, err := vault.Resolve(f.q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		f.t.Fatal(err)
	}
	f.seed++
	syn, err := v.Synthetic(vault.SyntheticRequest{Seed: f.seed, Amount: 1000000, Fee: 1000})
	if err != nil {
		f.t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(syn.PSBT)
}

func (f *fixture) propose(intent string) serve.Proposal {
	f.t.Helper()
	var p serve.Proposal
	if err := f.clients["coord"].JSON(context.Background(), "POST", "/v1/proposals",
		serve.ProposeRequest{Vault: "ops", PSBT: f.psbt(), Intent: intent}, &p); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// logSize is the coordinator's audit log size, through the API.
func (f *fixture) logSize() int64 {
	f.t.Helper()
	var e serve.Entries
	if err := f.clients["carol"].JSON(context.Background(), "GET", "/v1/audit/entries?limit=1", nil, &e); err != nil {
		f.t.Fatal(err)
	}
	return e.Size
}

// approve has station who sign the proposal offline (the station
// library) and returns the approval's bytes.
func (f *fixture) approve(who string, env []byte) []byte {
	f.t.Helper()
	m := f.q.Stations[who]
	ae, res, err := m.Sign(context.Background(), env, station.Decision{Approve: true}, m.Keys.Identity, m.Keys.Chain)
	if err != nil {
		f.t.Fatalf("%s signs: %v (%v)", who, err, res)
	}
	b, err := ae.Encode()
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// TestRoundThroughTheAPI: propose, download the envelope for the gap,
// stations sign offline, hand-ins (the same one twice records it once),
// approved, finalize (twice: the same proof), and the audit log proves
// the finalization's entry.
func TestRoundThroughTheAPI(t *testing.T) { eachStore(t, roundThroughTheAPI) }

func roundThroughTheAPI(t *testing.T, o quorum.Options) {
	ctx := context.Background()
	f := newFixture(t, o)
	coord := f.clients["coord"]
	p := f.propose("rent")
	if p.State != "open" || p.Intent != "rent" || p.TxID == "" || len(p.WaitingFor) != 3 {
		t.Fatalf("proposal %+v", p)
	}

	resp, env, err := f.clients["alice"].Do(ctx, "GET", "/v1/proposals/"+p.ID+"/envelope", nil, "")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("envelope: %v %v", resp.Status, err)
	}
	if et := resp.Header.Get("ETag"); et != `"`+p.ID+`"` || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("ETag %q, Content-Type %q", et, resp.Header.Get("Content-Type"))
	}
	req, _ := f.clients["alice"].Request(ctx, "GET", "/v1/proposals/"+p.ID+"/envelope", nil, "")
	req.Header.Set("If-None-Match", `"`+p.ID+`"`)
	if resp, _, err := f.clients["alice"].Send(req); err != nil || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %v %v", resp.Status, err)
	}

	a := f.approve("alice", env)
	resp, first, err := f.clients["alice"].Do(ctx, "POST", "/v1/proposals/"+p.ID+"/decisions", a, "application/octet-stream")
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("hand-in: %v %v %s", resp.Status, err, first)
	}
	size := f.logSize()
	resp, again, err := f.clients["alice"].Do(ctx, "POST", "/v1/proposals/"+p.ID+"/decisions", a, "application/octet-stream")
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(first, again) {
		t.Fatalf("the same hand-in again: %v %v\n%s\nfirst:\n%s", resp.Status, err, again, first)
	}
	if f.logSize() != size {
		t.Fatal("the same approval handed in twice made a second record")
	}

	var page serve.Page
	if err := coord.JSON(ctx, "GET", "/v1/proposals?waiting_for=bob&state=open", nil, &page); err != nil || len(page.Proposals) != 1 {
		t.Fatalf("waiting for bob: %+v %v", page, err)
	}
	if err := coord.JSON(ctx, "GET", "/v1/proposals?waiting_for=alice", nil, &page); err != nil || len(page.Proposals) != 0 {
		t.Fatalf("waiting for alice: %+v %v", page, err)
	}

	// bob hands in through the coordinator's client (admin may too).
	resp, b, err := coord.Do(ctx, "POST", "/v1/proposals/"+p.ID[:16]+"/decisions", f.approve("bob", env), "application/octet-stream")
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("bob's hand-in: %v %v %s", resp.Status, err, b)
	}
	var got serve.Proposal
	if err := f.clients["carol"].JSON(ctx, "GET", "/v1/proposals/"+p.ID, nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.State != "approved" || len(got.Decisions) != 2 || got.Verdict == nil || !got.Verdict.Allowed || got.Review == nil || len(got.Review.Lines) == 0 {
		t.Fatalf("after two approvals: %+v", got)
	}

	var fin serve.Finalized
	if err := f.clients["bob"].JSON(ctx, "POST", "/v1/proposals/"+p.ID+"/finalize", nil, &fin); err != nil {
		t.Fatal(err)
	}
	if fin.TxID != p.TxID || fin.Again || fin.Transaction == "" {
		t.Fatalf("finalized %+v, proposal txid %s", fin, p.TxID)
	}
	var fin2 serve.Finalized
	if err := coord.JSON(ctx, "POST", "/v1/proposals/"+p.ID+"/finalize", nil, &fin2); err != nil || !fin2.Again || fin2.ProofID != fin.ProofID {
		t.Fatalf("finalize again: %+v %v", fin2, err)
	}

	var entries serve.Entries
	if err := coord.JSON(ctx, "GET", "/v1/audit/entries?from=0&limit=1000", nil, &entries); err != nil {
		t.Fatal(err)
	}
	last := entries.Entries[len(entries.Entries)-1]
	if entries.Next != nil || last.Subject != p.ID || last.Detail["state"] == "" && last.Kind == "" {
		t.Fatalf("last entry %+v", last)
	}
	resp, proof, err := f.clients["carol"].Do(ctx, "GET", "/v1/audit/proofs/"+itoa(last.Index), nil, "")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("proof: %v %v %s", resp.Status, err, proof)
	}
	pub, _ := keys.IdentityPublic(f.q.CoordKeys.Identity)
	e, err := audit.VerifyProof(proof, pub)
	if err != nil || e.Index != last.Index || e.Event.Kind != last.Kind {
		t.Fatalf("the proof does not verify: %v (%+v)", err, e)
	}
	resp, cp, err := f.clients["carol"].Do(ctx, "GET", "/v1/audit/checkpoint", nil, "")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("checkpoint: %v %v", resp.Status, err)
	}
	if ck, err := audit.OpenCheckpoint(cp, f.q.Coord.WS.Config.LogOrigin(), pub); err != nil || ck.Size != entries.Size {
		t.Fatalf("checkpoint %v %+v, log size %d", err, ck, entries.Size)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestWithdrawAndPages: a proposer withdraws with a reason; the list
// pages by token and filters by state; a withdrawn proposal cannot be
// finalized (409 not-allowed).
func TestWithdrawAndPages(t *testing.T) { eachStore(t, withdrawAndPages) }

func withdrawAndPages(t *testing.T, o quorum.Options) {
	ctx := context.Background()
	f := newFixture(t, o)
	coord := f.clients["coord"]
	var ids []string
	for _, intent := range []string{"a", "b", "c"} {
		ids = append(ids, f.propose(intent).ID)
	}
	var w serve.Withdrawn
	if err := coord.JSON(ctx, "POST", "/v1/proposals/"+ids[1]+"/withdraw", serve.WithdrawRequest{Reason: "wrong amount"}, &w); err != nil || w.State != "withdrawn" {
		t.Fatalf("withdraw: %+v %v", w, err)
	}
	err := coord.JSON(ctx, "POST", "/v1/proposals/"+ids[1]+"/finalize", nil, nil)
	var p *serve.Problem
	if !errors.As(err, &p) || p.Type != serve.ProblemBase+"not-allowed" || p.Status != 409 {
		t.Fatalf("finalizing a withdrawn proposal: %v", err)
	}
	seen := map[string]bool{}
	tok := ""
	for pages := 0; ; pages++ {
		var page serve.Page
		path := "/v1/proposals?page_size=2"
		if tok != "" {
			path += "&page_token=" + tok
		}
		if err := coord.JSON(ctx, "GET", path, nil, &page); err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Proposals {
			if seen[p.ID] {
				t.Fatalf("proposal %s on two pages", p.ID)
			}
			seen[p.ID] = true
		}
		if tok = page.NextPageToken; tok == "" {
			if pages != 1 {
				t.Fatalf("%d pages of 2 for 3 proposals", pages+1)
			}
			break
		}
	}
	if len(seen) != 3 {
		t.Fatalf("pages gave %d proposals, want 3", len(seen))
	}
	var page serve.Page
	if err := coord.JSON(ctx, "GET", "/v1/proposals?state=withdrawn", nil, &page); err != nil || len(page.Proposals) != 1 || page.Proposals[0].ID != ids[1] {
		t.Fatalf("state=withdrawn: %+v %v", page, err)
	}
}

// TestOpenEndpoints: health, readiness and the document answer unsigned.
func TestOpenEndpoints(t *testing.T) {
	f := newFixture(t, quorum.Options{})
	for _, path := range []string{"/healthz", "/readyz", "/v1/openapi.yaml"} {
		resp, err := http.Get(f.url + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", path, resp.Status, err)
		}
		resp.Body.Close()
	}
	_ = ed25519.PublicKey(nil)
}

// TestRejectionsAndChangedMinds: a rejection is handed in and shown with
// its reason; the proposal becomes rejected once the threshold is out of
// reach; a participant who decided cannot hand in a different decision
// (409 duplicate, nothing recorded), and an approval for another
// proposal is refused on this one's path.
func TestRejectionsAndChangedMinds(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, quorum.Options{})
	p := f.propose("first")
	other := f.propose("second")
	_, env, _ := f.clients["alice"].Do(ctx, "GET", "/v1/proposals/"+p.ID+"/envelope", nil, "")
	_, otherEnv, _ := f.clients["alice"].Do(ctx, "GET", "/v1/proposals/"+other.ID+"/envelope", nil, "")

	reject := func(who string, raw []byte, reason string) []byte {
		m := f.q.Stations[who]
		ae, res, err := m.Sign(ctx, raw, station.Decision{Reason: reason}, m.Keys.Identity, m.Keys.Chain)
		if err != nil {
			t.Fatalf("%s rejects: %v (%v)", who, err, res)
		}
		b, _ := ae.Encode()
		return b
	}
	handIn := func(who, id string, b []byte) (int, []byte) {
		resp, body, err := f.clients[who].Do(ctx, "POST", "/v1/proposals/"+id+"/decisions", b, "application/octet-stream")
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	if code, b := handIn("alice", p.ID, reject("alice", env, "invoice already paid")); code != 201 {
		t.Fatalf("alice's rejection: %d %s", code, b)
	}
	var got serve.Proposal
	if err := f.clients["bob"].JSON(ctx, "GET", "/v1/proposals/"+p.ID, nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.Rejections["alice"] != "invoice already paid" || got.State != "open" || len(got.WaitingFor) != 2 {
		t.Fatalf("after alice's rejection: %+v", got)
	}

	size := f.logSize()
	if code, b := handIn("bob", p.ID, f.approve("bob", otherEnv)); code != 422 || !bytes.Contains(b, []byte("problem:invalid")) {
		t.Fatalf("an approval of another proposal on this one's path: %d %s", code, b)
	}
	if f.logSize() != size {
		t.Fatal("a refused hand-in was recorded")
	}

	if code, b := handIn("bob", p.ID, reject("bob", env, "agree with alice")); code != 201 {
		t.Fatalf("bob's rejection: %d %s", code, b)
	}
	if err := f.clients["bob"].JSON(ctx, "GET", "/v1/proposals/"+p.ID, nil, &got); err != nil || got.State != "rejected" {
		t.Fatalf("two rejections of three with a threshold of two: %+v %v", got.State, err)
	}

	// carol approves the second proposal; then a second, different
	// decision of hers (her approval with another note, signed again with
	// her identity key: her station would not sign twice) is refused.
	first := f.approve("carol", otherEnv)
	if code, b := handIn("carol", other.ID, first); code != 201 {
		t.Fatalf("carol's approval: %d %s", code, b)
	}
	size = f.logSize()
	e, err := envelope.Decode(first)
	if err != nil {
		t.Fatal(err)
	}
	ap, err := proposal.DecodeApproval(e)
	if err != nil {
		t.Fatal(err)
	}
	ap.Reason = "a different note"
	again, err := proposal.SealApproval(ap, f.q.Stations["carol"].Keys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := again.Encode()
	if code, body := handIn("carol", other.ID, b); code != 409 || !bytes.Contains(body, []byte("problem:duplicate")) {
		t.Fatalf("a second, different decision: %d %s", code, body)
	}
	if f.logSize() != size {
		t.Fatal("a second decision was recorded")
	}
}

// TestSafeProposalsFromServiceJSON: a Safe transaction in the Safe
// Transaction Service's JSON is proposed through the API; a
// Bybit-shaped delegatecall is refused (422 blocked) and not stored.
func TestSafeProposalsFromServiceJSON(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, quorum.Options{Vaults: `vaults:
  - name: treasury
    chain: ethereum
    threshold: 2
    signers: [alice/keystore, bob/keystore, carol/keystore]
    safe:
      address: "0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4"
      chain_id: 31337
      version: 1.3.0
`})
	transfer := `{"to":"0x000000000000000000000000000000000000dEaD","value":"100000000000000000","data":null,"operation":0,"safeTxGas":"0","baseGas":"0","gasPrice":"0","gasToken":"0x0000000000000000000000000000000000000000","refundReceiver":"0x0000000000000000000000000000000000000000","nonce":4}`
	bybit := `{"to":"0x96221423681A6d52E184D440a8eFCEbB105C7242","value":"0","data":"0xa9059cbb000000000000000000000000bdd077f651ebe7f7b3ce16fe5f2b025be29695160000000000000000000000000000000000000000000000000000000000000000","operation":1,"safeTxGas":"45746","baseGas":"0","gasPrice":"0","gasToken":"0x0000000000000000000000000000000000000000","refundReceiver":"0x0000000000000000000000000000000000000000","nonce":71}`
	var p serve.Proposal
	if err := f.clients["coord"].JSON(ctx, "POST", "/v1/proposals", serve.ProposeRequest{Vault: "treasury", SafeTx: json.RawMessage(transfer), Intent: "pay the auditor"}, &p); err != nil {
		t.Fatal(err)
	}
	if p.Chain != "ethereum" || !strings.HasPrefix(p.TxID, "0x") {
		t.Fatalf("proposal %+v", p)
	}
	size := f.logSize()
	err := f.clients["coord"].JSON(ctx, "POST", "/v1/proposals", serve.ProposeRequest{Vault: "treasury", SafeTx: json.RawMessage(bybit)}, nil)
	var pr *serve.Problem
	if !errors.As(err, &pr) || pr.Type != serve.ProblemBase+"blocked" || pr.Status != 422 {
		t.Fatalf("a delegatecall to an untrusted contract: %v", err)
	}
	if f.logSize() != size {
		t.Fatal("a blocked proposal was recorded")
	}
}

// TestMetricsCountTheRound: /metrics (open, like the health checks)
// counts the proposal made, the decisions handed in, a refused duplicate,
// the time to the threshold, the requests by route, and the scheduled
// self-verification's record.
func TestMetricsCountTheRound(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, quorum.Options{})
	p := f.propose("rent")
	_, env, err := f.clients["alice"].Do(ctx, "GET", "/v1/proposals/"+p.ID+"/envelope", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice", "bob"} {
		if resp, b, err := f.clients[who].Do(ctx, "POST", "/v1/proposals/"+p.ID+"/decisions", f.approve(who, env), "application/octet-stream"); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s: %v %v %s", who, resp.Status, err, b)
		}
	}
	f.q.Advance(time.Second)
	if _, err := f.q.Coord.WS.Checkpoint(ctx, f.q.CoordKeys.Identity); err != nil {
		t.Fatal(err)
	}
	if v, err := f.q.Coord.WS.SelfCheck(ctx); err != nil || v.Err != nil {
		t.Fatalf("self-verification: %v %+v", err, v)
	}
	resp, err := http.Get(f.url + "/metrics")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/metrics: %v %v", resp.Status, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	for _, want := range []string{
		`airlock_proposals_created_total{urgent="false",vault="ops"} 1`,
		`airlock_decisions_total{decision="approve"} 2`,
		`airlock_proposal_time_to_threshold_seconds_count{vault="ops"} 1`,
		`airlock_http_requests_total{code="201",route="POST /v1/proposals/{id}/decisions"} 2`,
		`airlock_audit_verify_failures 0`,
		`airlock_proposals_halted 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in\n%s", want, text)
		}
	}
	if strings.Contains(text, "airlock_audit_last_verified_timestamp_seconds 0\n") {
		t.Error("the self-verification that passed is not in the metrics")
	}
}
