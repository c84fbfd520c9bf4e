package serve_test

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/serve"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/vault"
)

// Bounds of the load benchmark; AIRLOCK_BENCH_HANDINS and
// AIRLOCK_BENCH_CLIENTS override the first two.
const (
	defaultHandIns = 2000
	defaultClients = 16
	loadDeadline   = 5 * time.Minute
)

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive count", name, v)
	}
	return n
}

// loadHandIn is one distinct approval, ready to be handed in.
type loadHandIn struct {
	who string
	pid [32]byte
	raw []byte
	id  [32]byte // the approval envelope's id
}

// load is a quorum with many open proposals, each approved offline by
// every station, none handed in yet.
type load struct {
	q         *quorum.Quorum
	proposals map[[32]byte]*proposal.Proposal
	handIns   []loadHandIn
}

// prepareLoad makes n approvals: n/3 proposals (rounded up), each
// approved by the three stations, in random order so that concurrent
// clients meet on the same proposals.
func prepareLoad(b *testing.B, o quorum.Options, n int) *load {
	b.Helper()
	ctx := context.Background()
	q := quorum.New(b, o)
	v, err := vault.Resolve(q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		b.Fatal(err)
	}
	l := &load{q: q, proposals: map[[32]byte]*proposal.Proposal{}}
	for seed := uint64(1); len(l.handIns) < n; seed++ {
		syn, err := v.Synthetic(vault.SyntheticRequest{Seed: seed, Amount: 1_000_000, Fee: 1_000})
		if err != nil {
			b.Fatal(err)
		}
		pe, _, err := q.Coord.Propose(ctx, coordinator.ProposeParams{Vault: "ops", Payload: syn.PSBT, Intent: fmt.Sprintf("load %d", seed)}, q.CoordKeys.Identity)
		if err != nil {
			b.Fatal(err)
		}
		p, err := proposal.Decode(pe)
		if err != nil {
			b.Fatal(err)
		}
		l.proposals[pe.ID()] = p
		raw, err := pe.Encode()
		if err != nil {
			b.Fatal(err)
		}
		for _, who := range q.People {
			if len(l.handIns) == n {
				break
			}
			m := q.Stations[who]
			ae, res, err := m.Sign(ctx, raw, station.Decision{Approve: true}, m.Keys.Identity, m.Keys.Chain)
			if err != nil {
				b.Fatalf("%s signs: %v (%+v)", who, err, res)
			}
			ab, err := ae.Encode()
			if err != nil {
				b.Fatal(err)
			}
			l.handIns = append(l.handIns, loadHandIn{who: who, pid: pe.ID(), raw: ab, id: ae.ID()})
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(l.handIns), func(i, j int) { l.handIns[i], l.handIns[j] = l.handIns[j], l.handIns[i] })
	return l
}

// rawVerify does what a hand-in must verify, directly: each approval's
// identity signature and every chain signature in it (with the rest of
// proposal.CheckApproval's checks), no HTTP, no store, on every core. It
// returns verifications per second.
func rawVerify(b *testing.B, l *load) float64 {
	b.Helper()
	pol, polID, err := l.q.Coord.WS.Policy(quorum.Reg)
	if err != nil {
		b.Fatal(err)
	}
	now := l.q.Now()
	workers := runtime.GOMAXPROCS(0)
	errs := make(chan error, workers)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(l.handIns); i += workers {
				h := l.handIns[i]
				e, err := envelope.Decode(h.raw)
				if err != nil {
					errs <- err
					return
				}
				if _, err := proposal.CheckApproval(e, l.proposals[h.pid], h.pid, pol, polID, quorum.Reg, now); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		b.Fatalf("raw verification refused a good approval: %v", err)
	}
	return float64(len(l.handIns)) / took.Seconds()
}

// BenchmarkHandIns measures signed hand-ins through the service: clients
// on 127.0.0.1, over real TCP, each hand-in one distinct approval signed
// by its station and sent in a request signed by the approver's identity
// key. Beside the service's hand-ins per second and latency it reports
// raw-verify/s, the same approvals' verification alone on every core
// measured in the same run (the limit to compare with), and the ratio.
// After the run, every approval must be recorded exactly once, as a
// decision and as an audit entry, and handing some in again must answer
// 200 with the same result and record nothing.
//
// Bounded: AIRLOCK_BENCH_HANDINS approvals (default 2000) per iteration,
// AIRLOCK_BENCH_CLIENTS concurrent clients (default 16); run it with
// -benchtime 1x (each iteration builds its own quorum). The postgres
// sub-benchmark needs AIRLOCK_TEST_POSTGRES and fails without it.
func BenchmarkHandIns(b *testing.B) {
	n := envInt(b, "AIRLOCK_BENCH_HANDINS", defaultHandIns)
	clients := envInt(b, "AIRLOCK_BENCH_CLIENTS", defaultClients)
	b.Run("raw-verify", func(b *testing.B) {
		var rate float64
		for range b.N {
			b.StopTimer()
			l := prepareLoad(b, quorum.Options{}, n)
			b.StartTimer()
			rate += rawVerify(b, l)
		}
		b.ReportMetric(rate/float64(b.N), "verify/s")
		b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "cores")
	})
	b.Run("sqlite", func(b *testing.B) {
		for range b.N {
			runLoad(b, quorum.Options{}, n, clients)
		}
	})
	b.Run("postgres", func(b *testing.B) {
		dsn := os.Getenv("AIRLOCK_TEST_POSTGRES")
		if dsn == "" {
			b.Fatal("AIRLOCK_TEST_POSTGRES is not set: the load benchmark must run on a real PostgreSQL server too; ./scripts/test installs and starts one (or eval \"$(./scripts/postgres.sh start)\")")
		}
		for range b.N {
			runLoad(b, quorum.Options{Database: freshSchema(b, dsn)}, n, clients)
		}
	})
}

// freshSchema makes an empty schema in the PostgreSQL server dsn names,
// dropped at the end, and returns the dsn that uses it.
func freshSchema(b *testing.B, dsn string) string {
	b.Helper()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	var r [6]byte
	crand.Read(r[:])
	schema := "serveload_" + hex.EncodeToString(r[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if a, err := sql.Open("pgx", dsn); err == nil {
			a.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

// runLoad is one iteration: a fresh quorum, n approvals, clients
// concurrent clients; the timer runs only while they hand in.
func runLoad(b *testing.B, o quorum.Options, n, clients int) {
	b.Helper()
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), loadDeadline)
	defer cancel()
	l := prepareLoad(b, o, n)
	raw := rawVerify(b, l)
	defer l.q.Coord.WS.WriteHeadsBehind()() // as airlock serve runs
	srv, err := serve.New(serve.Config{Coord: l.q.Coord, Identity: l.q.CoordKeys.Identity,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}}
	defer hc.CloseIdleConnections()
	reqs := make([]*http.Request, len(l.handIns))
	for i, h := range l.handIns {
		c := &serve.Client{Base: ts.URL, Key: l.q.Stations[h.who].Keys.Identity, Now: l.q.Now, HTTP: hc}
		if reqs[i], err = c.Request(ctx, "POST", fmt.Sprintf("/v1/proposals/%x/decisions", h.pid), h.raw, "application/octet-stream"); err != nil {
			b.Fatal(err)
		}
	}
	sizeBefore := logSize(b, l)

	lat := make([]time.Duration, len(l.handIns))
	bodies := make([][]byte, len(l.handIns))
	fails := make(chan string, len(l.handIns))
	next := make(chan int, len(l.handIns))
	for i := range l.handIns {
		next <- i
	}
	close(next)
	send := &serve.Client{HTTP: hc}
	var wg sync.WaitGroup
	stop := profileLoad(b)
	b.StartTimer()
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for i := range next {
				t0 := time.Now()
				resp, body, err := send.Send(reqs[i])
				lat[i] = time.Since(t0)
				switch {
				case err != nil:
					fails <- fmt.Sprintf("hand-in %d: %v", i, err)
				case resp.StatusCode != http.StatusCreated:
					fails <- fmt.Sprintf("hand-in %d (%s on %x): %s %s", i, l.handIns[i].who, l.handIns[i].pid[:6], resp.Status, body)
				default:
					bodies[i] = body
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	b.StopTimer()
	stop()
	close(fails)
	for f := range fails {
		b.Error(f)
	}
	if b.Failed() {
		b.FailNow()
	}
	if ctx.Err() != nil {
		b.Fatalf("the load did not finish within %v", loadDeadline)
	}

	rate := float64(n) / took.Seconds()
	slices.Sort(lat)
	b.ReportMetric(rate, "handins/s")
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)*99+99)/100-1]), "p99-ms")
	b.ReportMetric(raw, "raw-verify/s")
	b.ReportMetric(rate/raw, "x-raw")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "cores")

	checkRecorded(b, l, sizeBefore)
	checkIdempotent(b, l, ts.URL, hc, bodies)
}

// profileLoad writes a CPU profile of the hand-ins alone (not of the
// preparation) to $AIRLOCK_BENCH_CPUPROFILE when it is set; the returned
// function stops it.
func profileLoad(b *testing.B) func() {
	path := os.Getenv("AIRLOCK_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatalf("AIRLOCK_BENCH_CPUPROFILE: %v (not with go test -cpuprofile)", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func logSize(b *testing.B, l *load) int64 {
	b.Helper()
	var n int64
	if err := l.q.Coord.WS.AuditLog(context.Background(), func(lg *audit.Log) error { n = lg.Size(); return nil }); err != nil {
		b.Fatal(err)
	}
	return n
}

// checkRecorded: every approval is stored exactly once as a decision and
// has exactly one audit entry of kind approval.collected; nothing else
// was recorded for a decision.
func checkRecorded(b *testing.B, l *load, sizeBefore int64) {
	b.Helper()
	want := map[[32]byte]bool{}
	for _, h := range l.handIns {
		want[h.id] = true
	}
	decisions := 0
	err := l.q.Coord.WS.View(context.Background(), func(r store.Reader) error {
		for pid := range l.proposals {
			ds, err := r.Decisions(pid)
			if err != nil {
				return err
			}
			for who, d := range ds {
				e, err := envelope.Decode(d.Envelope)
				if err != nil {
					return err
				}
				if !want[e.ID()] {
					return fmt.Errorf("proposal %x holds a decision by %s that was not handed in", pid[:6], who)
				}
				decisions++
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	entries := map[string]int{}
	err = l.q.Coord.WS.AuditLog(context.Background(), func(lg *audit.Log) error {
		for i := sizeBefore; i < lg.Size(); i++ {
			e, err := lg.Entry(i)
			if err != nil {
				return err
			}
			if e.Event.Kind == "approval.collected" {
				entries[e.Event.Subject]++
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if decisions != len(l.handIns) || len(entries) != len(l.handIns) {
		b.Fatalf("%d approvals handed in: %d decisions stored, %d distinct approval.collected entries", len(l.handIns), decisions, len(entries))
	}
	for _, h := range l.handIns {
		if n := entries[fmt.Sprintf("%x", h.id)]; n != 1 {
			b.Fatalf("approval %x by %s has %d audit entries, want 1", h.id[:6], h.who, n)
		}
	}
}

// checkIdempotent hands some approvals in again: 200, the first answer's
// decisions, and no record.
func checkIdempotent(b *testing.B, l *load, base string, hc *http.Client, first [][]byte) {
	b.Helper()
	size := logSize(b, l)
	for i := 0; i < len(l.handIns); i += max(1, len(l.handIns)/20) {
		h := l.handIns[i]
		c := &serve.Client{Base: base, Key: l.q.Stations[h.who].Keys.Identity, Now: l.q.Now, HTTP: hc}
		resp, body, err := c.Do(context.Background(), "POST", fmt.Sprintf("/v1/proposals/%x/decisions", h.pid), h.raw, "application/octet-stream")
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("the same approval again: %v %v %s", resp.Status, err, body)
		}
		if !bytes.Equal(body, first[i]) {
			b.Fatalf("the same approval again answered\n%s\nnot as the first time\n%s", body, first[i])
		}
	}
	if logSize(b, l) != size {
		b.Fatal("an approval handed in again made a record")
	}
}
