package serve_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/serve"
)

// TestBadRequestsRefused: each request an attacker or a broken client
// sends is refused with its status and problem type, and nothing is
// stored: the audit log's size is unchanged.
func TestBadRequestsRefused(t *testing.T) { eachStore(t, badRequestsRefused) }

func badRequestsRefused(t *testing.T, o quorum.Options) {
	ctx := context.Background()
	f := newFixture(t, o)
	open := f.propose("open")
	_, envBytes, _ := f.clients["alice"].Do(ctx, "GET", "/v1/proposals/"+open.ID+"/envelope", nil, "")
	coord, alice := f.clients["coord"], f.clients["alice"]
	body := func(v any) []byte { b, _ := json.Marshal(v); return b }
	good := func() []byte { return body(serve.ProposeRequest{Vault: "ops", PSBT: f.psbt(), Intent: "x"}) }
	_, stranger, _ := ed25519.GenerateKey(nil)

	// A replayed request: the first is honoured, the same bytes again are
	// not.
	replay, err := coord.Request(ctx, "POST", "/v1/proposals", good(), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	replayBody := bytesOf(t, replay)
	if resp, b, err := coord.Send(cloneWith(replay, replayBody)); err != nil || resp.StatusCode != 201 {
		t.Fatalf("the first send: %v %v %s", resp.Status, err, b)
	}

	cases := []struct {
		name   string
		req    func() *http.Request
		status int
		kind   string
	}{
		{"unsigned", func() *http.Request {
			r, _ := http.NewRequest("POST", f.url+"/v1/proposals", bytes.NewReader(good()))
			return r
		}, 401, "unsigned"},
		{"signed by a key the policy does not list", func() *http.Request {
			c := &serve.Client{Base: f.url, Key: stranger, Now: f.q.Now}
			r, _ := c.Request(ctx, "POST", "/v1/proposals", good(), "application/json")
			return r
		}, 401, "unknown-key"},
		{"body changed after signing", func() *http.Request {
			r, _ := coord.Request(ctx, "POST", "/v1/proposals", good(), "application/json")
			return cloneWith(r, good())
		}, 401, "bad-signature"},
		{"digest and body changed after signing", func() *http.Request {
			r, _ := coord.Request(ctx, "POST", "/v1/proposals", good(), "application/json")
			b := good()
			r = cloneWith(r, b)
			r.Header.Set("Content-Digest", serve.ContentDigest(b))
			return r
		}, 401, "bad-signature"},
		{"signature of another path", func() *http.Request {
			r, _ := coord.Request(ctx, "POST", "/v1/proposals/"+open.ID+"/withdraw", body(serve.WithdrawRequest{Reason: "x"}), "application/json")
			r2, _ := http.NewRequest("POST", f.url+"/v1/proposals/"+open.ID+"/finalize", bytes.NewReader(body(serve.WithdrawRequest{Reason: "x"})))
			r2.Header = r.Header.Clone()
			return r2
		}, 401, "bad-signature"},
		{"signature bytes flipped", func() *http.Request {
			r, _ := coord.Request(ctx, "POST", "/v1/proposals", good(), "application/json")
			s := r.Header.Get("Signature")
			r.Header.Set("Signature", s[:6]+flip(s[6])+s[7:])
			return r
		}, 401, "bad-signature"},
		{"malformed Signature-Input", func() *http.Request {
			r, _ := coord.Request(ctx, "POST", "/v1/proposals", good(), "application/json")
			r.Header.Set("Signature-Input", `sig1=("@method");created=1`)
			return r
		}, 401, "bad-signature"},
		{"replayed", func() *http.Request { return cloneWith(replay, replayBody) }, 401, "replayed"},
		{"expired signature", func() *http.Request {
			c := &serve.Client{Base: f.url, Key: f.q.CoordKeys.Identity, Now: func() time.Time { return f.q.Now().Add(-10 * time.Minute) }}
			r, _ := c.Request(ctx, "POST", "/v1/proposals", good(), "application/json")
			return r
		}, 401, "signature-expired"},
		{"signature dated in the future", func() *http.Request {
			c := &serve.Client{Base: f.url, Key: f.q.CoordKeys.Identity, Now: func() time.Time { return f.q.Now().Add(10 * time.Minute) }}
			r, _ := c.Request(ctx, "POST", "/v1/proposals", good(), "application/json")
			return r
		}, 401, "signature-expired"},
		{"a window longer than the server allows", func() *http.Request {
			c := &serve.Client{Base: f.url, Key: f.q.CoordKeys.Identity, Now: f.q.Now, Window: time.Hour}
			r, _ := c.Request(ctx, "POST", "/v1/proposals", good(), "application/json")
			return r
		}, 401, "signature-expired"},
		{"an approver proposes", func() *http.Request {
			r, _ := alice.Request(ctx, "POST", "/v1/proposals", good(), "application/json")
			return r
		}, 403, "forbidden"},
		{"an approver withdraws", func() *http.Request {
			r, _ := alice.Request(ctx, "POST", "/v1/proposals/"+open.ID+"/withdraw", body(serve.WithdrawRequest{Reason: "mine"}), "application/json")
			return r
		}, 403, "forbidden"},
		{"oversized body", func() *http.Request {
			r, _ := alice.Request(ctx, "POST", "/v1/proposals/"+open.ID+"/decisions", make([]byte, serve.MaxBody+1), "application/octet-stream")
			return r
		}, 413, "too-large"},
		{"malformed JSON", func() *http.Request {
			r, _ := coord.Request(ctx, "POST", "/v1/proposals", []byte(`{"vault": "ops", "psbt": `), "application/json")
			return r
		}, 400, "malformed"},
		{"unknown JSON field", func() *http.Request {
			b := bytes.Replace(good(), []byte(`{`), []byte(`{"force":true,`), 1)
			r, _ := coord.Request(ctx, "POST", "/v1/proposals", b, "application/json")
			return r
		}, 400, "malformed"},
		{"two JSON values", func() *http.Request {
			r, _ := coord.Request(ctx, "POST", "/v1/proposals", append(good(), good()...), "application/json")
			return r
		}, 400, "malformed"},
		{"no payload", func() *http.Request {
			r, _ := coord.Request(ctx, "POST", "/v1/proposals", []byte(`{"vault":"ops"}`), "application/json")
			return r
		}, 400, "malformed"},
		{"a hand-in that is no artifact", func() *http.Request {
			r, _ := alice.Request(ctx, "POST", "/v1/proposals/"+open.ID+"/decisions", []byte("not an approval"), "application/octet-stream")
			return r
		}, 422, "invalid"},
		{"the proposal itself handed in as a decision", func() *http.Request {
			r, _ := alice.Request(ctx, "POST", "/v1/proposals/"+open.ID+"/decisions", envBytes, "application/octet-stream")
			return r
		}, 422, "invalid"},
		{"an unknown proposal", func() *http.Request {
			r, _ := alice.Request(ctx, "GET", "/v1/proposals/00000000deadbeef", nil, "")
			return r
		}, 404, "not-found"},
		{"an unknown query parameter", func() *http.Request {
			r, _ := alice.Request(ctx, "GET", "/v1/proposals?owner=alice", nil, "")
			return r
		}, 400, "malformed"},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			before := f.logSize()
			resp, b, err := coord.Send(c.req())
			if err != nil {
				t.Fatal(err)
			}
			var p serve.Problem
			if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(b, &p) != nil || p.Type != serve.ProblemBase+c.kind || p.Status != c.status {
				t.Fatalf("answered %s %s\n%s\nwant %d %s", resp.Status, resp.Header.Get("Content-Type"), b, c.status, c.kind)
			}
			if after := f.logSize(); after != before {
				t.Fatalf("the audit log grew from %d to %d entries on a refused request", before, after)
			}
		})
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func bytesOf(t *testing.T, r *http.Request) []byte {
	t.Helper()
	var b bytes.Buffer
	if r.Body != nil {
		b.ReadFrom(r.Body)
	}
	return b.Bytes()
}

// cloneWith is r with body b (headers as signed).
func cloneWith(r *http.Request, b []byte) *http.Request {
	r2, _ := http.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), bytes.NewReader(b))
	r2.Header = r.Header.Clone()
	return r2
}
