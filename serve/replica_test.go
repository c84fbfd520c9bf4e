package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/serve"
	"github.com/airlock-vault/airlock/workspace"
)

// replica opens a second workspace of the fixture's coordinator on the
// same PostgreSQL database (its own folder: airlock.json, keystore and
// head copied, as an operator deploys a replica) and serves it.
func (f *fixture) replica(t *testing.T, o quorum.Options) (*serve.Server, *httptest.Server, *coordinator.Coordinator) {
	t.Helper()
	src, dst := f.q.Coord.WS.Dir, filepath.Join(t.TempDir(), "replica")
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"airlock.json", "keystore.age", "head"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ws, err := workspace.Open(dst, workspace.Options{Database: o.Database, Now: f.q.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &coordinator.Coordinator{WS: ws, Reg: quorum.Reg}
	srv, err := serve.New(serve.Config{Coord: c, Identity: f.q.CoordKeys.Identity,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(validating(t, srv))
	t.Cleanup(ts.Close)
	return srv, ts, c
}

// postgresOnly runs a test on a real PostgreSQL server only: replicas
// share a database, which SQLite (one process per workspace) cannot.
func postgresOnly(t *testing.T, fn func(*testing.T, quorum.Options)) {
	fn(t, quorum.Options{Database: postgresSchema(t)})
}

// TestReplayToAnotherReplicaRefused: a signed request captured on its way
// to one replica and sent again to another (both behind one address) is
// refused there: the replicas share their nonces through the database.
func TestReplayToAnotherReplicaRefused(t *testing.T) { postgresOnly(t, replayToAnotherReplica) }

func replayToAnotherReplica(t *testing.T, o quorum.Options) {
	ctx := context.Background()
	f := newFixture(t, o)
	_, b, _ := f.replica(t, o)
	coord := f.clients["coord"]
	req, err := coord.Request(ctx, "POST", "/v1/proposals", mustJSON(t, serve.ProposeRequest{Vault: "ops", PSBT: f.psbt(), Intent: "rent"}), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	body := bytesOf(t, req)
	if resp, out, err := coord.Send(cloneWith(req, body)); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("the first send: %v %v %s", resp.Status, err, out)
	}
	size := f.logSize()
	// The same bytes to the other replica, under the address they were
	// signed for (as a load balancer forwards them).
	again := cloneWith(req, body)
	again.URL.Host = b.Listener.Addr().String()
	again.Host = req.URL.Host
	resp, err := http.DefaultClient.Do(again)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !bytes.Contains(out, []byte("urn:airlock:problem:replayed")) {
		t.Fatalf("the request replayed to another replica: %s\n%s", resp.Status, out)
	}
	if f.logSize() != size {
		t.Fatal("the replayed request changed something")
	}
}

// TestOneReplicaExpiresAtATime: the background expiry runs on the replica
// holding the lease only; when that replica stops, another takes the
// lease over, and an expired proposal is marked expired once.
func TestOneReplicaExpiresAtATime(t *testing.T) { postgresOnly(t, oneReplicaExpires) }

func oneReplicaExpires(t *testing.T, o quorum.Options) {
	ctx := context.Background()
	f := newFixture(t, o)
	a, _, _ := f.replica(t, o)
	b, _, cb := f.replica(t, o)
	p := f.propose("rent")
	if !a.Leader(ctx, serve.LeaseExpiry) {
		t.Fatal("the first replica to ask did not get the free lease")
	}
	if b.Leader(ctx, serve.LeaseExpiry) || b.ExpireNow(ctx) {
		t.Fatal("a second replica holds the lease the first holds")
	}
	f.q.Advance(25 * time.Hour)
	// a stops: Background returns and gives its leases up.
	actx, stop := context.WithCancel(ctx)
	stop()
	a.Background(actx)
	if !b.ExpireNow(ctx) {
		t.Fatal("the lease was not taken over once its holder stopped")
	}
	rows, err := cb.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.ID == p.ID && r.State != proposal.StateExpired {
			t.Fatalf("the proposal is %s after the lease holder's expiry round", r.State)
		}
	}
	b.ExpireNow(ctx) // again: nothing more to expire
	// The round signed a checkpoint covering the whole log.
	var cpSize int64
	if err := cb.WS.AuditLog(ctx, func(l *audit.Log) error {
		cp, err := l.LatestCheckpoint()
		if err != nil {
			return err
		}
		pub, _ := keys.IdentityPublic(f.q.CoordKeys.Identity)
		ck, err := audit.OpenCheckpoint(cp, cb.WS.Config.LogOrigin(), pub)
		if err != nil {
			return err
		}
		if cpSize = ck.Size; cpSize != l.Size() {
			return fmt.Errorf("the background round's checkpoint covers %d of %d entries", ck.Size, l.Size())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n := 0
	var e serve.Entries
	if err := f.clients["carol"].JSON(ctx, "GET", "/v1/audit/entries?limit=1000", nil, &e); err != nil {
		t.Fatal(err)
	}
	for _, en := range e.Entries {
		if en.Subject == p.ID && en.Detail["expired"] != "" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d expiry entries for the proposal, want 1", n)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRequestFromBeforeARestartRefused: a service alone (SQLite) keeps
// nonces in memory, so a request signed before it started (one its
// previous run may have honoured) is refused: sign it again.
func TestRequestFromBeforeARestartRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, quorum.Options{})
	before := &serve.Client{Base: f.url, Key: f.q.CoordKeys.Identity, Now: func() time.Time { return f.q.Now().Add(-30 * time.Second) }}
	resp, out, err := before.Do(ctx, "POST", "/v1/proposals", mustJSON(t, serve.ProposeRequest{Vault: "ops", PSBT: f.psbt()}), "application/json")
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !bytes.Contains(out, []byte("before this service started")) {
		t.Fatalf("a request signed before the service started: %v %v\n%s", resp.Status, err, out)
	}
}
