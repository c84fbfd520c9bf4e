package rpc_test

// Tests of the client's own HTTP handling (credentials, bounds, timeouts,
// redirects) against small local HTTP servers on 127.0.0.1. The node's
// behaviour is tested against a real btcd in node_test.go.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/chain/bitcoin/rpc"
)

func TestNewURLs(t *testing.T) {
	tests := []struct {
		url     string
		opts    []rpc.Option
		wantErr string
		wantURL string
	}{
		{url: "http://u:p@127.0.0.1:18443", wantURL: "http://127.0.0.1:18443"},
		{url: "http://u:p@localhost:18443/wallet/w1", wantURL: "http://localhost:18443/wallet/w1"},
		{url: "http://[::1]:18443", wantURL: "http://[::1]:18443"},
		{url: "https://u:p@node.example:8334", wantURL: "https://node.example:8334"},
		{url: "http://u:secret@node.example:8332", wantErr: "refusing plain http to non-loopback host node.example"},
		{url: "http://u:p@node.example:8332", opts: []rpc.Option{rpc.WithPlainHTTP()}, wantURL: "http://node.example:8332"},
		{url: "ftp://127.0.0.1", wantErr: "scheme must be http or https"},
		{url: "127.0.0.1:8332", wantErr: "rpc: "},
		{url: "http://", wantErr: "no host"},
		{url: "http://u:secret@127.0.0.1:1/?a=b", wantErr: "query"},
		{url: "http://u:secret@127.0.0.1:1/%zz", wantErr: "malformed url"},
		{url: "http://127.0.0.1:1", opts: []rpc.Option{rpc.WithCAPEM([]byte("x"))}, wantErr: "needs an https"},
		{url: "https://127.0.0.1:1", opts: []rpc.Option{rpc.WithCAPEM([]byte("not pem"))}, wantErr: "no PEM certificate"},
		{url: "https://127.0.0.1:1", opts: []rpc.Option{rpc.WithCAFile("/nonexistent/rpc.cert")}, wantErr: "ca file"},
		{url: "http://127.0.0.1:1", opts: []rpc.Option{rpc.WithTimeout(0)}, wantErr: "timeout must be positive"},
		{url: "http://127.0.0.1:1", opts: []rpc.Option{rpc.WithMaxResponseBytes(0)}, wantErr: "must be positive"},
	}
	for _, tt := range tests {
		c, err := rpc.New(tt.url, tt.opts...)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New(%q) = %v, want error containing %q", tt.url, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("New(%q): error leaks the password: %v", tt.url, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q): %v", tt.url, err)
			continue
		}
		if c.URL() != tt.wantURL {
			t.Errorf("New(%q).URL() = %q, want %q", tt.url, c.URL(), tt.wantURL)
		}
	}
}

// server answers every call with handler, after checking the request is
// JSON-RPC 1.0 with the given basic auth.
func server(t *testing.T, user, pass string, handler func(w http.ResponseWriter, method string, id json.RawMessage)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			http.Error(w, "401 Unauthorized.", http.StatusUnauthorized)
			return
		}
		var req struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Method  string          `json:"method"`
			Params  []any           `json:"params"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil || req.JSONRPC != "1.0" || req.Params == nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		handler(w, req.Method, req.ID)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func withCreds(srvURL, user, pass string) string {
	return strings.Replace(srvURL, "http://", "http://"+user+":"+pass+"@", 1)
}

func TestCredentials(t *testing.T) {
	srv := server(t, "alice", "s3cret", func(w http.ResponseWriter, _ string, id json.RawMessage) {
		w.Write([]byte(`{"result":42,"error":null,"id":` + string(id) + `}`))
	})
	ctx := context.Background()

	c, err := rpc.New(withCreds(srv.URL, "alice", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.GetBlockCount(ctx); err != nil || n != 42 {
		t.Fatalf("GetBlockCount = %d, %v", n, err)
	}

	// WithBasicAuth overrides the URL's credentials.
	c, err = rpc.New(withCreds(srv.URL, "alice", "wrong"), rpc.WithBasicAuth("alice", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBlockCount(ctx); err != nil {
		t.Fatal(err)
	}

	c, err = rpc.New(withCreds(srv.URL, "alice", "wrongpass"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBlockCount(ctx)
	var herr *rpc.HTTPError
	if !errors.As(err, &herr) || herr.StatusCode != 401 {
		t.Fatalf("wrong password: got %v, want HTTP 401", err)
	}
	if strings.Contains(err.Error(), "wrongpass") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestTransportErrorHidesPassword(t *testing.T) {
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := rpc.New("http://bob:hunter2@" + addr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBlockCount(context.Background())
	if err == nil {
		t.Fatal("call to a closed port succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "bob") {
		t.Fatalf("error leaks credentials: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "rpc: getblockcount: ") {
		t.Fatalf("error %q lacks the rpc prefix", err)
	}
}

func TestResponseBound(t *testing.T) {
	big := strings.Repeat("ab", 2000)
	srv := server(t, "u", "p", func(w http.ResponseWriter, _ string, id json.RawMessage) {
		w.Write([]byte(`{"result":"` + big + `","error":null,"id":` + string(id) + `}`))
	})
	c, err := rpc.New(withCreds(srv.URL, "u", "p"), rpc.WithMaxResponseBytes(1024))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRawTransaction(context.Background(), strings.Repeat("0", 64))
	if err == nil || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Fatalf("got %v, want a size error", err)
	}
	c, err = rpc.New(withCreds(srv.URL, "u", "p"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.GetRawTransaction(context.Background(), strings.Repeat("0", 64))
	if err != nil || len(raw) != 2000 {
		t.Fatalf("under the default bound: %d bytes, %v", len(raw), err)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := server(t, "u", "p", func(w http.ResponseWriter, _ string, _ json.RawMessage) {
		<-release
	})
	defer close(release)

	c, err := rpc.New(withCreds(srv.URL, "u", "p"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.GetBlockCount(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}

	c, err = rpc.New(withCreds(srv.URL, "u", "p"), rpc.WithTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = c.GetBlockCount(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WithTimeout: got %v, want a deadline error", err)
	}
}

func TestNoRedirect(t *testing.T) {
	var hit atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Store(true) }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c, err := rpc.New(withCreds(srv.URL, "u", "p"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBlockCount(context.Background())
	var herr *rpc.HTTPError
	if !errors.As(err, &herr) || herr.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("got %v, want HTTP 307", err)
	}
	if hit.Load() {
		t.Fatal("the redirect was followed")
	}
}

func TestResultValidation(t *testing.T) {
	srv := server(t, "u", "p", func(w http.ResponseWriter, method string, id json.RawMessage) {
		var result string
		switch method {
		case "sendrawtransaction", "getbestblockhash":
			result = `"not-a-hash"`
		case "getrawtransaction":
			result = `"zz"`
		case "generate":
			result = `["` + strings.Repeat("0", 64) + `"]`
		default:
			result = `null`
		}
		w.Write([]byte(`{"result":` + result + `,"error":null,"id":` + string(id) + `}`))
	})
	c, err := rpc.New(withCreds(srv.URL, "u", "p"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.SendRawTransaction(ctx, []byte{1}); err == nil || !strings.Contains(err.Error(), "malformed hash") {
		t.Errorf("sendrawtransaction: %v", err)
	}
	if _, err := c.SendRawTransaction(ctx, nil); err == nil {
		t.Error("empty transaction accepted")
	}
	if _, err := c.GetBestBlockHash(ctx); err == nil {
		t.Error("malformed best block hash accepted")
	}
	if _, err := c.GetRawTransaction(ctx, "00"); err == nil || !strings.Contains(err.Error(), "not hex") {
		t.Errorf("getrawtransaction: %v", err)
	}
	if _, err := c.Generate(ctx, 2); err == nil || !strings.Contains(err.Error(), "asked for 2 blocks, got 1") {
		t.Errorf("generate: %v", err)
	}
	if _, err := c.Generate(ctx, 0); err == nil {
		t.Error("generate 0 accepted")
	}
	if err := c.Call(ctx, "", nil, nil); err == nil {
		t.Error("empty method accepted")
	}
}

func TestCAFileTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.pem")
	if err := os.WriteFile(p, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := rpc.New("https://127.0.0.1:1", rpc.WithCAFile(p)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("got %v", err)
	}
}
