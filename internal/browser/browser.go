// Package browser runs, for tests, the node scripts of test/browser: they
// drive Debian's Chromium (/usr/bin/chromium) through playwright-core,
// talking with the Go test in lines on stdin and stdout. A missing
// Chromium, node or node_modules fails the test with the command that
// installs them (./scripts/test); it never skips.
package browser

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Chromium is Debian's Chromium, the browser the scripts launch.
const Chromium = "/usr/bin/chromium"

// Dir is test/browser in the repository.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "test", "browser")
}

// Artifacts is the folder screenshots are written to: $AIRLOCK_ARTIFACTS,
// else a folder under the system's temporary folder (never in the
// repository), told in the test's log. name is a subfolder per test.
func Artifacts(t testing.TB, name string) string {
	t.Helper()
	base := os.Getenv("AIRLOCK_ARTIFACTS")
	if base == "" {
		base = filepath.Join(os.TempDir(), "airlock-artifacts")
	}
	abs, err := filepath.Abs(filepath.Join(base, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		t.Fatalf("browser: the artifacts folder: %v", err)
	}
	t.Logf("screenshots in %s", abs)
	return abs
}

// Session is one node script running.
type Session struct {
	t     testing.TB
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	// exited is closed once the script has exited, with err its end.
	exited chan struct{}
	err    error
	stderr tail
}

// Start runs script (a file of test/browser) with its arguments as one
// JSON value. It fails the test at once if Chromium, node or the
// scripts' node_modules are missing.
func Start(t testing.TB, script string, args any) *Session {
	t.Helper()
	hint := "run ./scripts/test once (it installs Debian's chromium and runs 'npm ci' in test/browser), or: apt-get install chromium && (cd test/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci)"
	if _, err := os.Stat(Chromium); err != nil {
		t.Fatalf("browser: no Chromium at %s: %v; %s", Chromium, err, hint)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("browser: no node on PATH: %v; %s", err, hint)
	}
	dir := Dir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("browser: playwright-core is not installed in %s: %v; %s", dir, err, hint)
	}
	a, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(dir, script), string(a))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1", "CHROMIUM="+Chromium)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &Session{t: t, cmd: cmd, in: in, lines: make(chan string, 64), exited: make(chan struct{})}
	cmd.Stderr = &s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("browser: starting node: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
		s.err = cmd.Wait() // after every read of stdout, as exec asks
		close(s.exited)
	}()
	t.Cleanup(func() {
		in.Close()
		go func() {
			for range s.lines { // what a failed test left unread
			}
		}()
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-s.exited
		}
	})
	return s
}

// tail keeps the start of node's stderr for failure messages.
type tail struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *tail) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 64<<10 {
		l.b.Write(b)
	}
	return len(b), nil
}

func (l *tail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Expect waits for the script's next line (up to timeout) and returns
// what follows prefix; a line "FAIL ..." or any other line fails the
// test.
func (s *Session) Expect(prefix string, timeout time.Duration) string {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			<-s.exited
			s.t.Fatalf("browser: the script ended (%v) before %q; its stderr:\n%s", s.err, prefix, s.stderr.String())
		}
		s.t.Logf("browser: %s", line)
		if !strings.HasPrefix(line, prefix) {
			s.t.Fatalf("browser: want %q, the script said %q; its stderr:\n%s", prefix, line, s.stderr.String())
		}
		return strings.TrimSpace(strings.TrimPrefix(line, prefix))
	case <-time.After(timeout):
		s.cmd.Process.Kill()
		s.t.Fatalf("browser: no %q within %v; its stderr:\n%s", prefix, timeout, s.stderr.String())
	}
	return ""
}

// Send writes one line to the script.
func (s *Session) Send(line string) {
	s.t.Helper()
	if _, err := fmt.Fprintln(s.in, line); err != nil {
		s.t.Fatalf("browser: telling the script %q: %v", line, err)
	}
}

// Wait waits for the script to exit and fails the test unless it exited
// 0 without a word more.
func (s *Session) Wait(timeout time.Duration) {
	s.t.Helper()
	s.in.Close()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-s.lines:
			if ok {
				s.t.Errorf("browser: the script said %q after its last step", line)
				continue
			}
			<-s.exited
			if s.err != nil {
				s.t.Fatalf("browser: the script failed: %v; its stderr:\n%s", s.err, s.stderr.String())
			}
			return
		case <-deadline:
			s.cmd.Process.Kill()
			s.t.Fatalf("browser: the script did not end within %v", timeout)
		}
	}
}
