// Package devnode is what the tests' real nodes (btcd in regtest, geth in
// dev mode) share: finding the installed binary, free ports on
// 127.0.0.1, a bounded tail of the node's output, and the process
// attribute that has the kernel kill the node with the test process.
package devnode

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// FindBinary returns the executable name: from $PATH, else $GOBIN, else
// $(go env GOPATH)/bin. Its error, prefixed pkg, names what needs it and
// the install script.
func FindBinary(pkg, name, what, install string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	var dirs []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "-json", "GOBIN", "GOPATH").Output()
	var env struct{ GOBIN, GOPATH string }
	if err == nil && json.Unmarshal(out, &env) == nil {
		if env.GOBIN != "" {
			dirs = append(dirs, env.GOBIN)
		}
		for _, p := range filepath.SplitList(env.GOPATH) {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %s not found in $PATH, $GOBIN or $(go env GOPATH)/bin: "+
		"these tests need %s; install it with %s (searched %s)", pkg, name, what, install, strings.Join(dirs, ", "))
}

var (
	portsMu sync.Mutex
	given   = map[int]bool{} // ports handed out in this process
)

// FreePorts returns count distinct free 127.0.0.1 ports, never one this
// process handed out before, so that nodes started together (of any
// kind) do not clash.
func FreePorts(t testing.TB, count int) []int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	var ports []int
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for tries := 0; len(ports) < count; tries++ {
		if tries > 100 {
			t.Fatal("devnode: no free port on 127.0.0.1")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("devnode: finding a free port: %v", err)
		}
		held = append(held, l)
		p := l.Addr().(*net.TCPAddr).Port
		if given[p] {
			continue
		}
		given[p] = true
		ports = append(ports, p)
	}
	return ports
}

// Tail keeps the last Max bytes written to it.
type Tail struct {
	Max int
	mu  sync.Mutex
	buf []byte
}

func (w *Tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - w.Max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	return len(p), nil
}

func (w *Tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}
