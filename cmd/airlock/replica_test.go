package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/internal/pgtest"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/serve"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/vault"
	"github.com/airlock-vault/airlock/workspace"
)

// TestReplicasNeverDoubleFinalize runs three "airlock serve" processes on
// one PostgreSQL database, as a load balancer would see them, and sends
// them concurrent hand-ins (each approval twice, to different replicas)
// and finalize races (every proposal finalized at all three at once).
// One replica is killed with SIGKILL mid-run; clients go on to the
// others, as through a load balancer. Afterwards: exactly one
// finalization per proposal and every answer naming the same proof, every
// accepted approval stored once, no duplicate audit entry, and the log
// and state verify ("audit verify" through AIRLOCK_DATABASE).
func TestReplicasNeverDoubleFinalize(t *testing.T) {
	const proposals = 16
	ctx := context.Background()
	dsn := pgtest.Schema(t, "replicatest")
	airlock, err := exec.LookPath("airlock")
	if err != nil {
		t.Fatalf("the airlock command is not on PATH (testscript.Main puts this test binary there): %v", err)
	}

	// A quorum whose coordinator keeps its store in the database; the
	// proposals made and approved in process (the stations are offline).
	q := quorum.New(t, quorum.Options{Database: dsn})
	type prop struct {
		id        string
		approvals map[string][]byte
	}
	var props []prop
	v, err := vault.Resolve(q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	for i := range proposals {
		syn, err := v.Synthetic(vault.SyntheticRequest{Seed: uint64(1000 + i), Amount: 1_000_000, Fee: 1000})
		if err != nil {
			t.Fatal(err)
		}
		pe, _, err := q.Coord.Propose(ctx, coordinator.ProposeParams{Vault: "ops", Payload: syn.PSBT, Intent: fmt.Sprint("payment ", i)}, q.CoordKeys.Identity)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := pe.Encode()
		p := prop{id: pe.IDHex(), approvals: map[string][]byte{}}
		for _, who := range q.People {
			m := q.Stations[who]
			ae, res, err := m.Sign(ctx, raw, station.Decision{Approve: true}, m.Keys.Identity, m.Keys.Chain)
			if err != nil {
				t.Fatalf("%s signs: %v (%v)", who, err, res)
			}
			p.approvals[who], _ = ae.Encode()
		}
		props = append(props, p)
	}
	before := entryCounts(t, q.Coord.WS)

	// Three replicas: each its own folder (airlock.json, keystore,
	// head), one database, one clock (the quorum's drill clock).
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte(quorum.Passphrase), 0o600)
	now := q.Now().Add(time.Hour)
	var replicas []*replica
	for i := range 3 {
		dir := filepath.Join(t.TempDir(), fmt.Sprint("replica", i))
		copyWorkspace(t, q.Coord.WS.Dir, dir)
		r := startReplica(t, airlock, dir, pass, dsn, now)
		replicas = append(replicas, r)
	}
	for _, r := range replicas {
		r.waitReady(t)
	}

	// Clients: a client sends to its replica, and on a connection error
	// signs the request again and tries the next (a load balancer).
	clients := map[string]*serve.Client{"coord": {Key: q.CoordKeys.Identity}}
	for who, m := range q.Stations {
		clients[who] = &serve.Client{Key: m.Keys.Identity}
	}
	var sent, failovers, sentAtKill atomic.Int64
	send := func(who string, start int, method, path string, body []byte, ctype string) (int, []byte, error) {
		var last error
		for k := range 2 * len(replicas) {
			r := replicas[(start+k)%len(replicas)]
			c := *clients[who]
			c.Base, c.Now = r.url, func() time.Time { return now }
			cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			resp, b, err := c.Do(cctx, method, path, body, ctype)
			cancel()
			sent.Add(1)
			if err != nil {
				failovers.Add(1)
				last = err
				continue
			}
			if resp.StatusCode == http.StatusServiceUnavailable {
				last = fmt.Errorf("%s: %s", resp.Status, b)
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return resp.StatusCode, b, nil
		}
		return 0, nil, fmt.Errorf("no replica answered %s %s: %v", method, path, last)
	}

	var (
		mu       sync.Mutex
		accepted = map[string]map[string]string{} // proposal -> participant -> approval id
		proofs   = map[string]map[string]bool{}   // proposal -> proof ids answered
		failures []string
	)
	fail := func(format string, a ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, a...))
		mu.Unlock()
	}
	killed := make(chan struct{})
	go func() {
		// Kill replica 1 once the run is well under way.
		for sent.Load() < int64(proposals*9/3) {
			time.Sleep(5 * time.Millisecond)
		}
		replicas[1].kill(t)
		sentAtKill.Store(sent.Load())
		close(killed)
	}()
	var wg sync.WaitGroup
	for i, p := range props {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var hw sync.WaitGroup
			for j, who := range q.People {
				for twice := range 2 {
					hw.Add(1)
					go func() {
						defer hw.Done()
						code, b, err := send(who, i+j+twice, "POST", "/v1/proposals/"+p.id+"/decisions", p.approvals[who], "application/octet-stream")
						if err != nil || (code != http.StatusCreated && code != http.StatusOK) {
							fail("%s's hand-in on %s: %d %v %s", who, p.id[:8], code, err, b)
							return
						}
						var h serve.HandIn
						if err := json.Unmarshal(b, &h); err != nil || len(h.Decisions) != 1 {
							fail("hand-in answer %s: %v", b, err)
							return
						}
						mu.Lock()
						if accepted[p.id] == nil {
							accepted[p.id] = map[string]string{}
						}
						if prev, ok := accepted[p.id][who]; ok && prev != h.Decisions[0].Approval {
							failures = append(failures, fmt.Sprintf("two answers name different approvals of %s on %s", who, p.id[:8]))
						}
						accepted[p.id][who] = h.Decisions[0].Approval
						mu.Unlock()
					}()
				}
			}
			hw.Wait()
			var fw sync.WaitGroup
			for k := range len(replicas) {
				fw.Add(1)
				go func() {
					defer fw.Done()
					code, b, err := send("coord", k, "POST", "/v1/proposals/"+p.id+"/finalize", nil, "")
					if err != nil || code != http.StatusOK {
						fail("finalize %s at replica %d: %d %v %s", p.id[:8], k, code, err, b)
						return
					}
					var f serve.Finalized
					if err := json.Unmarshal(b, &f); err != nil {
						fail("finalize answer %s: %v", b, err)
						return
					}
					mu.Lock()
					if proofs[p.id] == nil {
						proofs[p.id] = map[string]bool{}
					}
					proofs[p.id][f.ProofID] = true
					mu.Unlock()
				}()
			}
			fw.Wait()
		}()
	}
	wg.Wait()
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatal("replica 1 was never killed: the run ended too early")
	}
	for _, f := range failures {
		t.Error(f)
	}
	if sentAtKill.Load() >= sent.Load() {
		t.Errorf("replica 1 was killed after the last request (%d of %d sent): not mid-run", sentAtKill.Load(), sent.Load())
	}
	// An auditor asks a survivor for the latest checkpoint: it signs one
	// covering the whole log.
	if code, b, err := send("carol", 0, "GET", "/v1/audit/checkpoint", nil, ""); err != nil || code != http.StatusOK {
		t.Errorf("checkpoint: %d %v %s", code, err, b)
	}
	for _, r := range []*replica{replicas[0], replicas[2]} {
		r.stop(t)
	}
	if t.Failed() {
		return
	}

	// The store, read afresh: one finalization per proposal, each
	// accepted approval stored, one entry per stored decision.
	after := entryCounts(t, q.Coord.WS)
	if n := after["proposal.finalized"] - before["proposal.finalized"]; n != proposals {
		t.Errorf("%d finalization entries for %d proposals", n, proposals)
	}
	if n := after["approval.collected"] - before["approval.collected"]; n != proposals*len(q.People) {
		t.Errorf("%d approval entries for %d approvals", n, proposals*len(q.People))
	}
	for _, p := range props {
		if len(proofs[p.id]) != 1 {
			t.Errorf("proposal %s: finalize answered %d different proofs", p.id[:8], len(proofs[p.id]))
		}
		id, _ := hex.DecodeString(p.id)
		ds, err := q.Coord.WS.Approvals([32]byte(id))
		if err != nil {
			t.Fatal(err)
		}
		for who, aid := range accepted[p.id] {
			if d, ok := ds[who]; !ok || d.IDHex() != aid {
				t.Errorf("proposal %s: %s's accepted approval %s is not stored", p.id[:8], who, aid[:8])
			}
		}
		if len(accepted[p.id]) != len(q.People) {
			t.Errorf("proposal %s: %d approvals accepted", p.id[:8], len(accepted[p.id]))
		}
	}
	// "airlock audit verify" on a replica's folder, through the database.
	cmd := exec.Command(airlock, "-C", replicas[0].dir, "audit", "verify", "--json")
	cmd.Env = append(os.Environ(), "AIRLOCK_DATABASE="+dsn, "AIRLOCK_NOW="+now.Format(time.RFC3339))
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(`"verified": true`)) || !bytes.Contains(out, []byte(`"stateAgrees": true`)) {
		t.Fatalf("audit verify after the run: %v\n%s", err, out)
	}
	t.Logf("%d requests; replica 1 killed after %d, %d failed over to another replica; %d proposals finalized once each",
		sent.Load(), sentAtKill.Load(), failovers.Load(), proposals)
}

// entryCounts counts the audit log's entries by kind.
func entryCounts(t *testing.T, ws *workspace.Workspace) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := ws.View(context.Background(), func(r store.Reader) error {
		for _, kind := range []string{"proposal.finalized", "approval.collected"} {
			ix, err := r.EntriesOfKind(kind)
			if err != nil {
				return err
			}
			out[kind] = len(ix)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// copyWorkspace deploys a replica's folder: the workspace's public
// configuration, its keystore and its head.
func copyWorkspace(t *testing.T, src, dst string) {
	t.Helper()
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
}

// replica is one "airlock serve" process.
type replica struct {
	dir, url, log string
	cmd           *exec.Cmd
	done          chan error
	exited        bool
}

// logText is what the process wrote.
func (r *replica) logText() string {
	b, _ := os.ReadFile(r.log)
	return string(b)
}

func startReplica(t *testing.T, airlock, dir, pass, dsn string, now time.Time) *replica {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := &replica{dir: dir, url: "http://" + addr, log: dir + ".log", done: make(chan error, 1)}
	logf, err := os.Create(r.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	r.cmd = exec.Command(airlock, "-C", dir, "serve", "--listen", addr, "--database", dsn, "--passphrase-file", pass)
	r.cmd.Env = append(os.Environ(), "AIRLOCK_NOW="+now.Format(time.RFC3339))
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if !r.exited {
			r.cmd.Process.Kill()
			<-r.done
		}
		if t.Failed() {
			t.Logf("replica %s log:\n%s", dir, r.logText())
		}
	})
	return r
}

func (r *replica) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(r.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case err := <-r.done:
			r.exited = true
			t.Fatalf("replica %s exited: %v\n%s", r.dir, err, r.logText())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("replica %s never became ready:\n%s", r.dir, r.logText())
}

// kill is SIGKILL: no shutdown, no lease given back, connections cut.
func (r *replica) kill(t *testing.T) {
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
	r.exited = true
}

// stop is SIGTERM: a graceful shutdown, which must succeed.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.done:
		r.exited = true
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Errorf("replica %s: %v", r.dir, err)
		} else if err != nil {
			t.Errorf("replica %s stopped with %v:\n%s", r.dir, err, r.logText())
		}
	case <-time.After(60 * time.Second):
		t.Errorf("replica %s did not stop within 60s of SIGTERM", r.dir)
	}
}

// cmdPGSchema: pgschema VAR sets VAR to the DSN of a fresh schema on the
// PostgreSQL server AIRLOCK_TEST_POSTGRES names (dropped when the script
// ends); the script fails without one.
func cmdPGSchema(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pgschema VAR")
	}
	dsn, drop, err := pgtest.Create(os.Getenv(pgtest.Env), "scripttest")
	ts.Check(err)
	ts.Defer(drop)
	ts.Setenv(args[0], dsn)
}
