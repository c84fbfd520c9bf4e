package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// smallDisk mounts a tmpfs of size bytes (a real file system that really
// fills) and unmounts it when the test ends. Mounting needs root: CI runs
// as root; elsewhere the test fails and says so.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mounting a %d-byte tmpfs to fill up for real: %v (this test needs root, as CI runs it; it refuses to pass without a full disk)", size, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a filler file until the disk is full, then gives back free
// bytes of it (rounded to pages by the file system). It returns the filler.
func fill(t *testing.T, dir string, free int64) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		w, err := f.Write(buf)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(max(0, n-free)); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFullDiskLosesNothing runs a station's sign and the coordinator's
// collect (one file a command: each file is its own transaction) and
// finalize on a disk that is full, or has only a few pages
// free. Each either succeeds or fails with a clear error and exit 1 (never
// a crash, never usage); then, with space again, the workspace verifies
// (state and log agree), the audit log holds no entry for a change that
// failed, and the command run again does its work, once.
func TestFullDiskLosesNothing(t *testing.T) {
	bin := crashBin(t)
	base := t.TempDir()
	r0 := &runner{t: t, bin: bin, dir: base}
	quorumIn(r0)
	r0.must("-C", "coord", "propose", "--vault", "ops", "--psbt", "spend.psbt", "--out", "p.proposal", "--passphrase-file", "pass")
	r0.must("-C", "bob", "sign", "p.proposal", "--approve", "--out", "b.approval", "--passphrase-file", "pass")
	steps := []struct {
		name string
		ws   string
		args []string
	}{
		{"sign", "alice", []string{"-C", "alice", "sign", "p.proposal", "--approve", "--out", "a.approval", "--passphrase-file", "pass"}},
		{"collect alice", "coord", []string{"-C", "coord", "collect", "a.approval"}},
		{"collect bob", "coord", []string{"-C", "coord", "collect", "b.approval"}},
		{"finalize", "coord", []string{"-C", "coord", "finalize", "PID", "--out", "final.tx", "--passphrase-file", "pass"}},
	}
	disk := smallDisk(t, 16<<20)
	refused := 0
	for _, free := range []int64{0, 4 << 10, 16 << 10, 64 << 10, 256 << 10} {
		dir := filepath.Join(disk, fmt.Sprintf("free-%d", free))
		copyTree(t, base, dir)
		r := &runner{t: t, bin: bin, dir: dir}
		pid := proposalIDOf(t, dir)
		for _, s := range steps {
			args := append([]string(nil), s.args...)
			for i, a := range args {
				if a == "PID" {
					args[i] = pid
				}
			}
			before := r.must("-C", s.ws, "audit", "log")
			filler := fill(t, disk, free)
			out, code, killed := r.run("", args...)
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			switch {
			case killed || code > 1 || strings.Contains(out, "internal error") || strings.Contains(out, "panic"):
				t.Fatalf("%s with %d bytes free: exit %d (killed %v), want 0 or a clear error with 1:\n%s", s.name, free, code, killed, out)
			case code == 1:
				refused++
				if !strings.Contains(out, "airlock: error:") || !strings.Contains(strings.ToLower(out), "full") && !strings.Contains(out, "no space") {
					t.Errorf("%s with %d bytes free: the error does not say the disk is full:\n%s", s.name, free, out)
				}
				if after := r.must("-C", s.ws, "audit", "log"); after != before {
					t.Errorf("%s with %d bytes free failed (%s) but its audit log changed:\nbefore:\n%s\nafter:\n%s", s.name, free, out, before, after)
				}
			}
			if out, code, _ := r.run("", "-C", s.ws, "audit", "verify"); code != 0 {
				t.Fatalf("%s with %d bytes free: %s does not verify:\n%s", s.name, free, s.ws, out)
			}
			if code != 0 {
				// With space again the command does its work; a decision
				// made before the failure comes back by export.
				if out, code, _ := r.run("", args...); code != 0 {
					if s.name != "sign" {
						t.Fatalf("%s rerun with space: exit %d\n%s", s.name, code, out)
					}
					r.must("-C", "alice", "export", pid, "--out", "a.approval")
				}
			}
		}
		if out := r.must("-C", "coord", "status"); !strings.Contains(out, "finalized") {
			t.Errorf("with %d bytes free: the round did not finish:\n%s", free, out)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "final.tx")); err != nil || len(b) < 100 {
			t.Errorf("with %d bytes free: no final transaction: %v", free, err)
		}
		os.RemoveAll(dir)
	}
	t.Logf("full disk: %d of %d commands refused with a clear error; every workspace verified after, no output lost", refused, 5*len(steps))
	if refused == 0 {
		t.Fatal("no command met a full disk: the test does not fill it")
	}
}
