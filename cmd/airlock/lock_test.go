package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHeldLockIsReportedWithItsPID: a command that finds the workspace
// held by another process waits a bounded time, then names the holder and
// exits 1 with nothing changed; it never blocks forever.
func TestHeldLockIsReportedWithItsPID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "alice")
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte("correct horse battery\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"-C", dir, "key", "new", "--name", "alice", "--passphrase-file", pass, "--work-factor", "10"}, nil, &out, &errb); code != 0 {
		t.Fatalf("key new: %d %s", code, errb.String())
	}
	before, _ := os.ReadFile(filepath.Join(dir, "head"))
	// Another process holds the workspace: its pid is in the lock file.
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	f.Truncate(0)
	f.WriteAt([]byte("4242\n"), 0)
	t.Setenv("AIRLOCK_LOCK_WAIT", "300ms")
	start := time.Now()
	errb.Reset()
	code := run([]string{"-C", dir, "audit", "checkpoint", "--passphrase-file", pass}, nil, &out, &errb)
	if code != exitError {
		t.Fatalf("exit %d, want %d: %s", code, exitError, errb.String())
	}
	if !strings.Contains(errb.String(), "locked by pid 4242") {
		t.Fatalf("the error does not name the holder: %s", errb.String())
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("waited %v for a held lock", waited)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "head"))
	if !bytes.Equal(before, after) {
		t.Fatal("a command that could not lock the workspace changed it")
	}
	// Once released, the same command works.
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	errb.Reset()
	if code := run([]string{"-C", dir, "audit", "checkpoint", "--passphrase-file", pass}, nil, &out, &errb); code != 0 {
		t.Fatalf("after release: %d %s", code, errb.String())
	}
}
