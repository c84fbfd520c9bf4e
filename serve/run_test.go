package serve_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/serve"
)

// TestShutdownLetsRequestsFinish: on shutdown (SIGINT/SIGTERM cancel the
// context in "airlock serve") a request in flight completes, new
// connections are refused, and ListenAndServe returns cleanly.
func TestShutdownLetsRequestsFinish(t *testing.T) {
	inflight, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inflight)
		<-release
		io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	addrc, errc := make(chan net.Addr, 1), make(chan error, 1)
	go func() {
		errc <- serve.ListenAndServe(ctx, h, serve.Listen{Addr: "127.0.0.1:0", Log: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
			Started: func(a net.Addr) { addrc <- a }})
	}()
	addr := (<-addrc).String()
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-inflight
	cancel()
	time.Sleep(100 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted after shutdown began")
	}
	close(release)
	if b := <-got; b != "done" {
		t.Fatalf("the request in flight got %q", b)
	}
	if err := <-errc; err != nil {
		t.Fatalf("ListenAndServe: %v", err)
	}
}
