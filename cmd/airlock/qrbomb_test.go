package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/airlock-vault/airlock/internal/bomb"
)

// peakRSS runs the airlock binary (this test binary, linked as airlock)
// with args and returns its exit code, stderr and peak resident set in
// kilobytes.
func peakRSS(t *testing.T, dir string, args ...string) (int, string, int64) {
	t.Helper()
	bin := filepath.Join(dir, "airlock")
	if _, err := os.Lstat(bin); err != nil {
		if err := os.Symlink(os.Args[0], bin); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no rusage on this platform")
	}
	return code, errb.String(), ru.Maxrss
}

// TestQRReadBombInBoundedMemory: 'airlock qr read' on a 30000×30000 PNG
// (tens of kilobytes, 900 MB once decoded) refuses it from its header,
// and its peak memory is that of a command that decodes nothing.
func TestQRReadBombInBoundedMemory(t *testing.T) {
	dir := t.TempDir()
	bomb := bomb.PNG(30000, 30000)
	if err := os.WriteFile(filepath.Join(dir, "bomb.png"), bomb, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stderr, rss := peakRSS(t, dir, "qr", "read", "bomb.png", "--out", "got")
	if code != exitError || !strings.Contains(stderr, "over the pixel budget") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, _, base := peakRSS(t, dir, "version")
	t.Logf("qr read of a %d-byte PNG declaring 30000×30000 pixels (900 MB decoded): refused, peak RSS %d KB; 'airlock version' in the same run: %d KB (ratio %.2f)", len(bomb), rss, base, float64(rss)/float64(base))
	if rss > 2*base+64<<10 {
		t.Fatalf("peak RSS %d KB, against %d KB for a command that decodes nothing", rss, base)
	}
	if _, err := os.Stat(filepath.Join(dir, "got")); err == nil {
		t.Fatal("an output was written")
	}
}
