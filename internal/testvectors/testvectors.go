// Package testvectors locates the repository and the official test vectors
// (../shared/vectors beside the repository) for tests. A missing folder
// fails the test loudly: vectors are never skipped.
package testvectors

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the folder holding go.mod above the test.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("testvectors: no go.mod above the test")
		}
		dir = filepath.Dir(dir)
	}
}

// Bitcoin returns ../shared/vectors/bitcoin, or fails the test saying
// where it looked.
func Bitcoin(t testing.TB) string {
	t.Helper()
	v := filepath.Join(RepoRoot(t), "..", "shared", "vectors", "bitcoin")
	if _, err := os.Stat(v); err != nil {
		t.Fatalf("official test vectors missing: looked for %s (clone the project with ../shared beside it)", v)
	}
	return v
}

// Read reads one file of the Bitcoin vectors.
func Read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Bitcoin(t), name))
	if err != nil {
		t.Fatalf("official test vectors: %v", err)
	}
	return b
}
