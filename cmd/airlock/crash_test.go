package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/envelope"
)

// failpoints are the places between a command's writes where the crash
// test kills it: inside the store transaction before its commit, after
// the commit before the workspace records its head, before a checkpoint
// is signed, and before an output file is written.
var failpoints = []string{"store.before-commit", "workspace.after-commit", "workspace.before-checkpoint", "output.before-write"}

// crashBin builds airlock with failpoints compiled in.
func crashBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "airlock")
	cmd := exec.Command("go", "build", "-tags", "failpoints", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags failpoints: %v\n%s", err, out)
	}
	return bin
}

type runner struct {
	pid  string // the first proposal's id, once made
	t    *testing.T
	bin  string
	dir  string
	pass string
}

// run runs airlock in r.dir; killed reports a SIGKILL.
func (r *runner) run(failpoint string, args ...string) (out string, code int, killed bool) {
	r.t.Helper()
	cmd := exec.Command(r.bin, args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "AIRLOCK_FAILPOINT="+failpoint, "AIRLOCK_TEST_WORK_FACTOR=10", "AIRLOCK_NOW=", "AIRLOCK_LOCK_WAIT=5s")
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return b.String(), -1, true
		}
		return b.String(), ee.ExitCode(), false
	} else if err != nil {
		r.t.Fatal(err)
	}
	return b.String(), 0, false
}

func (r *runner) must(args ...string) string {
	r.t.Helper()
	out, code, _ := r.run("", args...)
	if code != 0 {
		r.t.Fatalf("airlock %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// quorumIn sets up coord, alice, bob and carol with a signed 2-of-3 policy,
// imported everywhere but at the workspaces named in later (whose import
// is a step of the test).
func quorumIn(r *runner, later ...string) {
	os.WriteFile(filepath.Join(r.dir, "pass"), []byte("correct horse battery\n"), 0o600)
	r.must("-C", "coord", "key", "new", "--role", "coordinator", "--name", "coord", "--passphrase-file", "pass", "--work-factor", "10")
	entries := map[string]string{"coord": r.must("-C", "coord", "key", "show", "--yaml")}
	people := []string{"alice", "bob", "carol"}
	for _, who := range people {
		r.must("-C", who, "key", "new", "--name", who, "--passphrase-file", "pass", "--work-factor", "10")
		entries[who] = r.must("-C", who, "key", "show", "--yaml")
	}
	yaml := "name: treasury\nnetwork: regtest\nmax_proposal_lifetime: 24h\npolicy_threshold: 2\ncoordinators:\n" + entries["coord"] +
		"participants:\n" + entries["alice"] + entries["bob"] + entries["carol"] +
		"vaults:\n  - name: ops\n    chain: bitcoin\n    threshold: 2\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n"
	os.WriteFile(filepath.Join(r.dir, "policy.yaml"), []byte(yaml), 0o644)
	r.must("-C", "coord", "policy", "init", "policy.yaml", "--out", "treasury.policy")
	for _, who := range people {
		r.must("-C", who, "policy", "sign", "treasury.policy", "--passphrase-file", "pass")
	}
	for _, who := range append([]string{"coord"}, people...) {
		if !slices.Contains(later, who) {
			r.must("-C", who, "policy", "import", "treasury.policy")
		}
	}

	r.must("-C", "coord", "psbt", "synth", "--vault", "ops", "--out", "spend.psbt")
}

// copyTree copies a folder (workspaces and files; no special files).
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, fi.Mode())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// step is one command of the round, the workspaces it changes, and how
// to get its output back after a kill.
type step struct {
	name      string
	args      []string
	touches   []string
	recover   func(r *runner) // gives back the output (rerun or export)
	wantFiles []string        // must exist once recovered
}

type statusRow struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// statusRows reads 'status --json' (docs/schemas/status.schema.json).
func statusRows(r *runner, out string) []statusRow {
	var doc struct {
		Proposals []statusRow `json:"proposals"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		r.t.Fatalf("status --json: %v\n%s", err, out)
	}
	return doc.Proposals
}

// proposalID is the id of the newest proposal at the coordinator.
func newestProposal(r *runner) string {
	out := r.must("-C", "coord", "status", "--json")
	rows := statusRows(r, out)
	if len(rows) == 0 {
		r.t.Fatalf("status --json: no proposals\n%s", out)
	}
	return rows[len(rows)-1].ID
}

// openProposal is the id of the one open proposal at the coordinator.
func openProposal(r *runner) string {
	out := r.must("-C", "coord", "status", "--json")
	rows := statusRows(r, out)
	for _, row := range rows {
		if row.State == "open" {
			return row.ID
		}
	}
	r.t.Fatalf("no open proposal:\n%s", out)
	return ""
}

func roundSteps() []step {
	rerun := func(args ...string) func(*runner) {
		return func(r *runner) { r.must(args...) }
	}
	// A replayed import (the first run committed before its kill) is
	// refused with exit 3: the transfer is in.
	importOnce := func(ws string) func(*runner) {
		return func(r *runner) {
			if out, code, _ := r.run("", "-C", ws, "import", "stick"); code != 0 && !strings.Contains(out, "replayed transfer") {
				r.t.Fatalf("import at %s: exit %d\n%s", ws, code, out)
			}
		}
	}
	// An export killed before its files were written is made again (a
	// new transfer number: the one lost is never seen by the importer).
	exportOnce := func(way string, args ...string) func(*runner) {
		return func(r *runner) {
			if m, _ := filepath.Glob(filepath.Join(r.dir, "stick", "*."+way+".airlock")); len(m) > 0 {
				return
			}
			r.must(args...)
		}
	}
	return []step{
		{name: "policy import", args: []string{"-C", "carol", "policy", "import", "treasury.policy"},
			touches: []string{"carol"},
			recover: func(r *runner) { r.must("-C", "carol", "policy", "import", "treasury.policy") }},
		{name: "propose", args: []string{"-C", "coord", "propose", "--vault", "ops", "--psbt", "spend.psbt", "--out", "p.proposal", "--passphrase-file", "pass"},
			touches: []string{"coord"},
			recover: func(r *runner) {
				if _, err := os.Stat(filepath.Join(r.dir, "p.proposal")); err == nil {
					return
				}
				if out, _, _ := r.run("", "-C", "coord", "status", "--json"); strings.Contains(out, `"id"`) {
					r.must("-C", "coord", "export", newestProposal(r), "--out", "p.proposal")
					return
				}
				r.must("-C", "coord", "propose", "--vault", "ops", "--psbt", "spend.psbt", "--out", "p.proposal", "--passphrase-file", "pass")
			},
			wantFiles: []string{"p.proposal"}},
		{name: "sign alice", args: []string{"-C", "alice", "sign", "p.proposal", "--approve", "--out", "a.approval", "--passphrase-file", "pass"},
			touches: []string{"alice"},
			recover: func(r *runner) {
				if _, code, _ := r.run("", "-C", "alice", "sign", "p.proposal", "--approve", "--out", "a.approval", "--passphrase-file", "pass"); code != 0 {
					r.must("-C", "alice", "export", newestProposal(r), "--out", "a.approval")
				}
			},
			wantFiles: []string{"a.approval"}},
		{name: "sign bob", args: []string{"-C", "bob", "sign", "p.proposal", "--approve", "--out", "b.approval", "--passphrase-file", "pass"},
			touches: []string{"bob"},
			recover: func(r *runner) {
				if _, code, _ := r.run("", "-C", "bob", "sign", "p.proposal", "--approve", "--out", "b.approval", "--passphrase-file", "pass"); code != 0 {
					r.must("-C", "bob", "export", newestProposal(r), "--out", "b.approval")
				}
			},
			wantFiles: []string{"b.approval"}},
		{name: "collect", args: []string{"-C", "coord", "collect", "a.approval", "b.approval"},
			touches: []string{"coord"},
			recover: func(r *runner) {
				r.run("", "-C", "coord", "collect", "a.approval")
				r.run("", "-C", "coord", "collect", "b.approval")
				if out := r.must("-C", "coord", "status"); !strings.Contains(out, "approved  2/2 of 3") {
					r.t.Fatalf("after recovering collect:\n%s", out)
				}
			}},
		{name: "finalize", args: []string{"-C", "coord", "finalize", "PID", "--out", "final.tx", "--passphrase-file", "pass"},
			touches:   []string{"coord"},
			recover:   rerun("-C", "coord", "finalize", "PID", "--out", "final.tx", "--passphrase-file", "pass"),
			wantFiles: []string{"final.tx", "final.proof"}},
		// A second proposal of the same coin, approved by carol, then
		// withdrawn: its release frees carol's claim.
		{name: "propose again", args: []string{"-C", "coord", "propose", "--vault", "ops", "--psbt", "spend.psbt", "--intent", "again", "--out", "p2.proposal", "--passphrase-file", "pass"},
			touches: []string{"coord"},
			recover: func(r *runner) {
				if _, err := os.Stat(filepath.Join(r.dir, "p2.proposal")); err == nil {
					return
				}
				if id := newestProposal(r); !strings.HasPrefix(id, r.pid) {
					r.must("-C", "coord", "export", id, "--out", "p2.proposal")
					return
				}
				r.must("-C", "coord", "propose", "--vault", "ops", "--psbt", "spend.psbt", "--intent", "again", "--out", "p2.proposal", "--passphrase-file", "pass")
			},
			wantFiles: []string{"p2.proposal"}},
		{name: "sign carol", args: []string{"-C", "carol", "sign", "p2.proposal", "--approve", "--out", "c2.approval", "--passphrase-file", "pass"},
			touches: []string{"carol"},
			recover: func(r *runner) {
				if _, code, _ := r.run("", "-C", "carol", "sign", "p2.proposal", "--approve", "--out", "c2.approval", "--passphrase-file", "pass"); code != 0 {
					r.must("-C", "carol", "export", "p2.proposal", "--out", "c2.approval")
				}
			},
			wantFiles: []string{"c2.approval"}},
		{name: "withdraw", args: []string{"-C", "coord", "withdraw", "p2.proposal", "--reason", "duplicate", "--out", "p2.release", "--passphrase-file", "pass"},
			touches: []string{"coord"},
			recover: func(r *runner) {
				if _, code, _ := r.run("", "-C", "coord", "withdraw", "p2.proposal", "--reason", "duplicate", "--out", "p2.release", "--passphrase-file", "pass"); code != 0 {
					r.must("-C", "coord", "release", "p2.proposal", "--out", "p2.release", "--passphrase-file", "pass")
				}
			},
			wantFiles: []string{"p2.release"}},
		{name: "release at carol", args: []string{"-C", "carol", "release", "p2.release"},
			touches: []string{"carol"},
			recover: func(r *runner) {
				r.must("-C", "carol", "release", "p2.release")
				if out, _, _ := r.run("", "-C", "carol", "review", "p2.proposal"); strings.Contains(out, "verdict: may sign") {
					r.t.Fatalf("carol may sign a released proposal:\n%s", out)
				}
			}},
		// A third proposal crosses the gap on removable media both ways:
		// its export and import, carol's decision's export and import.
		{name: "propose third", args: []string{"-C", "coord", "propose", "--vault", "ops", "--psbt", "spend.psbt", "--intent", "third", "--out", "p3.proposal", "--passphrase-file", "pass"},
			touches: []string{"coord"},
			recover: func(r *runner) {
				if _, err := os.Stat(filepath.Join(r.dir, "p3.proposal")); err == nil {
					return
				}
				if strings.Count(r.must("-C", "coord", "status", "--json"), `"id"`) < 3 {
					r.must("-C", "coord", "propose", "--vault", "ops", "--psbt", "spend.psbt", "--intent", "third", "--out", "p3.proposal", "--passphrase-file", "pass")
					return
				}
				r.must("-C", "coord", "export", openProposal(r), "--out", "p3.proposal")
			},
			wantFiles: []string{"p3.proposal"}},
		{name: "media export to carol", args: []string{"-C", "coord", "export", "p3.proposal", "--media", "stick", "--to", "carol", "--passphrase-file", "pass"},
			touches: []string{"coord"},
			recover: exportOnce("coord-to-carol", "-C", "coord", "export", "p3.proposal", "--media", "stick", "--to", "carol", "--passphrase-file", "pass")},
		{name: "media import at carol", args: []string{"-C", "carol", "import", "stick"},
			touches: []string{"carol"},
			recover: importOnce("carol")},
		{name: "sign carol third", args: []string{"-C", "carol", "sign", "p3.proposal", "--approve", "--out", "c3.approval", "--passphrase-file", "pass"},
			touches: []string{"carol"},
			recover: func(r *runner) {
				if _, code, _ := r.run("", "-C", "carol", "sign", "p3.proposal", "--approve", "--out", "c3.approval", "--passphrase-file", "pass"); code != 0 {
					r.must("-C", "carol", "export", "p3.proposal", "--out", "c3.approval")
				}
			},
			wantFiles: []string{"c3.approval"}},
		{name: "media export to coord", args: []string{"-C", "carol", "export", "c3.approval", "--media", "stick", "--to", "coord", "--passphrase-file", "pass"},
			touches: []string{"carol"},
			recover: exportOnce("carol-to-coord", "-C", "carol", "export", "c3.approval", "--media", "stick", "--to", "coord", "--passphrase-file", "pass")},
		{name: "media import at coord", args: []string{"-C", "coord", "import", "stick"},
			touches: []string{"coord"},
			recover: func(r *runner) {
				importOnce("coord")(r)
				if out := r.must("-C", "coord", "status"); !strings.Contains(out, "(carol)") {
					r.t.Fatalf("carol's decision did not arrive by media:\n%s", out)
				}
			}},
	}
}

// TestCrashAtEveryFailpointLosesNothing kills every state-changing command
// of a round at every failpoint it reaches; after each kill the
// workspaces it touched verify (state and log agree), and rerunning the
// command or exporting gives back its output. It reports failpoints ×
// commands covered and the disagreements found, which must be zero.
func TestCrashAtEveryFailpointLosesNothing(t *testing.T) {
	bin := crashBin(t)
	base := t.TempDir()
	quorumIn(&runner{t: t, bin: bin, dir: base}, "carol")
	covered, disagreements := 0, 0
	for _, fp := range failpoints {
		dir := t.TempDir()
		copyTree(t, base, dir)
		r := &runner{t: t, bin: bin, dir: dir}
		os.Mkdir(filepath.Join(dir, "stick"), 0o700)
		r.must("-C", "coord", "media", "allow", "stick")
		r.must("-C", "carol", "media", "allow", "stick")
		pid := ""
		for _, s := range roundSteps() {
			args := append([]string(nil), s.args...)
			for i, a := range args {
				if a == "PID" {
					args[i] = pid
				}
			}
			_, _, killed := r.run(fp, args...)
			if killed {
				covered++
				for _, ws := range s.touches {
					if out, code, _ := r.run("", "-C", ws, "audit", "verify"); code != 0 {
						disagreements++
						t.Errorf("%s killed at %s: %s does not verify:\n%s", s.name, fp, ws, out)
					}
				}
			}
			s2 := s
			if s.name == "finalize" {
				s2.recover = func(r *runner) {
					r.must("-C", "coord", "finalize", pid, "--out", "final.tx", "--passphrase-file", "pass")
				}
			}
			s2.recover(r)
			for _, f := range s.wantFiles {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					disagreements++
					t.Errorf("%s killed at %s: %s was not given back", s.name, fp, f)
				}
			}
			for _, ws := range s.touches {
				if out, code, _ := r.run("", "-C", ws, "audit", "verify"); code != 0 {
					disagreements++
					t.Errorf("%s at %s, recovered: %s does not verify:\n%s", s.name, fp, ws, out)
				}
			}
			if s.name == "propose" {
				pid = newestProposal(r)[:16]
				r.pid = pid
			}
		}
		// The transaction is the one every run makes: nothing was signed
		// twice, nothing lost.
		if b, err := os.ReadFile(filepath.Join(dir, "final.tx")); err != nil || len(b) < 100 {
			t.Errorf("at %s: no final transaction: %v", fp, err)
		}
	}
	t.Logf("crash test: %d kills (failpoints × commands reached) of %d failpoints × %d commands; disagreements found: %d",
		covered, len(failpoints), len(roundSteps()), disagreements)
	if covered < len(roundSteps())*2 {
		t.Fatalf("only %d kills: the failpoints are not reached", covered)
	}
}

// TestCrashAtRandomTimesLosesNothing kills sign at random moments (a
// bounded loop); after each kill the station verifies and its decision,
// if it was made, comes back by export, or the command reruns.
func TestCrashAtRandomTimesLosesNothing(t *testing.T) {
	bin := crashBin(t)
	base := t.TempDir()
	r0 := &runner{t: t, bin: bin, dir: base}
	quorumIn(r0)
	r0.must("-C", "coord", "propose", "--vault", "ops", "--psbt", "spend.psbt", "--out", "p.proposal", "--passphrase-file", "pass")
	// How long a whole sign takes here: the kills land within it.
	timing := t.TempDir()
	copyTree(t, base, timing)
	start := time.Now()
	(&runner{t: t, bin: bin, dir: timing}).must("-C", "alice", "sign", "p.proposal", "--approve", "--out", "a.approval", "--passphrase-file", "pass")
	whole := time.Since(start)
	rng := rand.New(rand.NewPCG(7, 7))
	kills, disagreements := 0, 0
	for i := 0; i < 12; i++ {
		dir := t.TempDir()
		copyTree(t, base, dir)
		r := &runner{t: t, bin: bin, dir: dir}
		cmd := exec.Command(bin, "-C", "alice", "sign", "p.proposal", "--approve", "--out", "a.approval", "--passphrase-file", "pass")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "AIRLOCK_NOW=")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(whole))))
		cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); err != nil {
			kills++
		}
		if out, code, _ := r.run("", "-C", "alice", "audit", "verify"); code != 0 {
			disagreements++
			t.Errorf("kill %d: alice does not verify:\n%s", i, out)
		}
		if _, code, _ := r.run("", "-C", "alice", "sign", "p.proposal", "--approve", "--out", "a.approval", "--passphrase-file", "pass"); code != 0 {
			out := r.must("-C", "alice", "export", proposalIDOf(t, dir), "--out", "a.approval")
			if !strings.Contains(out, "kept decision") {
				t.Errorf("kill %d: export: %s", i, out)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "a.approval")); err != nil {
			disagreements++
			t.Errorf("kill %d: the decision was lost", i)
		}
	}
	t.Logf("random kills: %d of 12 runs killed mid-way; disagreements found: %d", kills, disagreements)
}

// proposalIDOf reads p.proposal's id as inspect prints it.
func proposalIDOf(t *testing.T, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "p.proposal"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := envelope.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return e.IDHex()[:16]
}
