package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/store/sqlstore"
)

// fsyncRate measures the physical limit here: appends of one record to a
// plain file in dir, each followed by fsync, per second.
func fsyncRate(b *testing.B, dir string, n int) float64 {
	b.Helper()
	f, err := os.Create(filepath.Join(dir, "reference"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rec := make([]byte, 200)
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := f.Write(rec); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// transition is one state change with its audit entry: a collected
// approval, as the coordinator stores it.
func transition(i int64) func(store.Tx) error {
	var pid [32]byte
	binary.BigEndian.PutUint64(pid[:], uint64(i))
	sub := sha256.Sum256(pid[:])
	return func(tx store.Tx) error {
		if _, err := tx.Log(audit.Event{Time: time.Unix(1_800_000_000, 0), Kind: "approval.collected", Subject: fmt.Sprintf("%x", sub),
			Detail: map[string]string{"proposal": fmt.Sprintf("%x", pid), "participant": "alice", "decision": "approve"}}); err != nil {
			return err
		}
		return tx.PutDecision(store.Decision{Proposal: pid, Participant: "alice", Envelope: sub[:]})
	}
}

func openBench(b *testing.B, group bool) (*sqlstore.DB, string) {
	dir := b.TempDir()
	db, err := sqlstore.Open(context.Background(), filepath.Join(dir, "state.db"), sqlstore.Options{Create: true, GroupCommit: group})
	if err != nil {
		b.Fatal(err)
	}
	return db, dir
}

// BenchmarkTransition measures a state change plus its audit entry on
// SQLite (WAL, synchronous=FULL), one commit each, beside a bare fsync'd
// append to a file on the same disk measured in the same run: x-fsync is
// the ratio, 1.0 being the disk's own limit.
func BenchmarkTransition(b *testing.B) {
	db, dir := openBench(b, false)
	defer db.Close()
	ref := fsyncRate(b, dir, 300)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := db.Update(ctx, transition(int64(i))); err != nil {
			b.Fatal(err)
		}
	}
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "transitions/s")
	b.ReportMetric(ref, "fsync-appends/s")
	b.ReportMetric(rate/ref, "x-fsync")
}

// BenchmarkTransitionGroupCommit measures the same transition with 64
// concurrent writers and group commit (one fsync for every batch of up to
// 512 savepoints), beside the same fsync'd-append reference.
func BenchmarkTransitionGroupCommit(b *testing.B) {
	db, dir := openBench(b, true)
	defer db.Close()
	ref := fsyncRate(b, dir, 300)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(32) // × GOMAXPROCS writers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := db.Update(ctx, transition(next.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "transitions/s")
	b.ReportMetric(ref, "fsync-appends/s")
	b.ReportMetric(rate/ref, "x-fsync")
}
