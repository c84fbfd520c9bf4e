// Package testws gives tests workspaces written by airlock's first
// release: v1-workspaces.tar.gz, made by make-v1-workspaces.sh with that
// release's binary (a coordinator and stations alice, bob and carol, a
// signed 2-of-3 policy, one proposal approved by alice and rejected by
// bob, both collected, and carol.approval not yet collected).
package testws

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Passphrase unlocks every keystore of the fixture.
const Passphrase = "fixture passphrase"

// Time is a moment when the fixture's proposal is open.
var Time = time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)

// V1 unpacks the fixture into a fresh folder and returns it.
func V1(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(file), "v1-workspaces.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Clean(h.Name)
		if strings.HasPrefix(name, "..") || filepath.IsAbs(name) {
			t.Fatalf("fixture entry %q escapes its folder", h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, 0o700)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o700)
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}
