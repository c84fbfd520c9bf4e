package audit

import (
	"bufio"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// BenchmarkAppendDurable measures Append: encode, hash, write and fsync
// the record, write and fsync the stored hashes. Compare it with
// BenchmarkAppendReferenceFsync, one write+fsync of the same bytes to a
// plain file on the same disk in the same run: the ratio is the log's
// overhead over the disk's own durable-write rate.
func BenchmarkAppendDurable(b *testing.B) {
	l, err := Open(b.TempDir(), origin, testKey)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Append(event(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

func BenchmarkAppendReferenceFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "plain"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rec, _ := encode(event(1))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Write(rec); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// bulkLog writes a log of n entries in the on-disk format without a sync
// per entry (setup only: the benchmark measures proofs, not loading), then
// opens it and signs a checkpoint through the real code.
func bulkLog(b *testing.B, dir string, n int) *Log {
	b.Helper()
	ef, _ := os.Create(filepath.Join(dir, "entries"))
	hf, _ := os.Create(filepath.Join(dir, "hashes"))
	ew, hw := bufio.NewWriterSize(ef, 1<<20), bufio.NewWriterSize(hf, 1<<20)
	var hashes []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	var hdr [4]byte
	for i := 0; i < n; i++ {
		rec, err := encode(event(i))
		if err != nil {
			b.Fatal(err)
		}
		binary.BigEndian.PutUint32(hdr[:], uint32(len(rec)))
		ew.Write(hdr[:])
		ew.Write(rec)
		hs, err := tlog.StoredHashes(int64(i), rec, reader)
		if err != nil {
			b.Fatal(err)
		}
		hashes = append(hashes, hs...)
		for _, h := range hs {
			hw.Write(h[:])
		}
	}
	ew.Flush()
	hw.Flush()
	ef.Close()
	hf.Close()
	l, err := Open(dir, origin, testKey)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := l.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	return l
}

var (
	millionOnce sync.Once
	millionLog  *Log
	millionDir  string
)

// BenchmarkInclusionProof1M measures, on a real on-disk log of 1,000,000
// entries, building an inclusion proof for a random entry (Prove: read the
// record and the proof hashes from disk) and checking it offline
// (VerifyProof: parse, verify the checkpoint signature, tlog.CheckRecord).
func BenchmarkInclusionProof1M(b *testing.B) {
	const n = 1_000_000
	millionOnce.Do(func() {
		millionDir, _ = os.MkdirTemp("", "airlock-audit-bench-")
		millionLog = bulkLog(b, millionDir, n)
	})
	if millionLog == nil {
		b.Fatal("setup failed")
	}
	b.Cleanup(func() {})
	r := rand.New(rand.NewPCG(1, 2))
	b.Run("prove", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := millionLog.Prove(r.Int64N(n)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/proof")
	})
	proofs := make([][]byte, 64)
	for i := range proofs {
		proofs[i], _ = millionLog.Prove(r.Int64N(n))
	}
	b.Run("verify", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := VerifyProof(proofs[i%len(proofs)], pub()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/proof")
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if millionLog != nil {
		millionLog.Close()
		os.RemoveAll(millionDir)
	}
	os.Exit(code)
}
