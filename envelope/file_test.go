package envelope_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/envelope"
)

// TestReadArtifactRefusesAFileOverTheBound: a file one byte over MaxSize
// (a sparse file: no disk spent) is refused with its name, not read
// whole into memory; one of MaxSize is read.
func TestReadArtifactRefusesAFileOverTheBound(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int64{envelope.MaxSize, envelope.MaxSize + 1} {
		p := filepath.Join(dir, "artifact")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(n); err != nil {
			t.Fatal(err)
		}
		f.Close()
		b, err := envelope.ReadArtifact(p)
		switch {
		case n > envelope.MaxSize && (err == nil || !strings.Contains(err.Error(), p+" is larger than")):
			t.Fatalf("a file of %d bytes: %v", n, err)
		case n <= envelope.MaxSize && (err != nil || int64(len(b)) != n):
			t.Fatalf("a file of %d bytes: %d read, %v", n, len(b), err)
		}
	}
	if _, err := envelope.ReadFile(filepath.Join(dir, "artifact")); err == nil {
		t.Fatal("an oversized file decoded as an envelope")
	}
}
