package sqlstore_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
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

// proofEntries is the log size of the inclusion-proof benchmark: 1,000,000
// unless AIRLOCK_BENCH_PROOF_ENTRIES says otherwise (CI's one-pass smoke
// run uses fewer).
func proofEntries() int64 {
	if v := os.Getenv("AIRLOCK_BENCH_PROOF_ENTRIES"); v != "" {
		var n int64
		fmt.Sscan(v, &n)
		if n > 0 {
			return n
		}
	}
	return 1_000_000
}

var benchKey = ed25519.NewKeyFromSeed(make([]byte, 32))

const benchOrigin = "airlock/coordinator/bench"

// bigLog returns a store holding a log of n entries and a checkpoint of
// it, written through the store's own Log (in batches of 20,000 entries a
// transaction), kept in the temporary folder across runs of the same size.
func bigLog(b *testing.B, n int64) *sqlstore.DB {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("airlock-proof-bench-%d.db", n))
	ctx := context.Background()
	if db, err := sqlstore.Open(ctx, path, sqlstore.Options{}); err == nil {
		var size int64
		db.View(ctx, func(r store.Reader) (err error) {
			size, err = r.Audit().Size()
			return err
		})
		if _, err := latest(db); size == n && err == nil {
			return db
		}
		db.Close()
	}
	os.Remove(path)
	db, err := sqlstore.Open(ctx, path, sqlstore.Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	for done := int64(0); done < n; {
		err := db.Update(ctx, func(tx store.Tx) error {
			for k := 0; k < 20_000 && done < n; k++ {
				if _, err := tx.Log(audit.Event{Time: time.Unix(1_800_000_000, 0), Kind: "proposal.reviewed", Subject: fmt.Sprintf("%064x", done),
					Detail: map[string]string{"n": fmt.Sprint(done)}}); err != nil {
					return err
				}
				done++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	err = db.Update(ctx, func(tx store.Tx) error {
		l, err := audit.New(tx.AuditWriter(), benchOrigin, benchKey)
		if err != nil {
			return err
		}
		_, err = l.Checkpoint()
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return db
}

func latest(db *sqlstore.DB) ([]byte, error) {
	var cp []byte
	err := db.View(context.Background(), func(r store.Reader) (err error) {
		cp, err = r.Audit().LatestCheckpoint()
		return err
	})
	return cp, err
}

// BenchmarkInclusionProof1M measures, on a log of 1,000,000 entries kept
// in the SQLite store, building an inclusion proof of a random entry
// against the latest checkpoint (Prover.Prove: the record, the proof
// hashes, the text) and checking one (Verifier.Verify: parse, the
// checkpoint's signature once per checkpoint, tlog.CheckRecord). The
// cold-verify sub-benchmark checks the signature every time, as a
// one-off check by an outsider does.
func BenchmarkInclusionProof1M(b *testing.B) {
	n := proofEntries()
	db := bigLog(b, n)
	defer db.Close()
	pub := benchKey.Public().(ed25519.PublicKey)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	var proofs [][]byte
	err := db.View(ctx, func(rd store.Reader) error {
		p, err := audit.NewProver(rd.Audit(), benchOrigin)
		if err != nil {
			return err
		}
		b.Run("prove", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := p.Prove(r.Int64N(n)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/proof")
		})
		for i := 0; i < 64; i++ {
			pr, err := p.Prove(r.Int64N(n))
			if err != nil {
				return err
			}
			proofs = append(proofs, pr)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("verify", func(b *testing.B) {
		v := audit.NewVerifier(pub)
		for i := 0; i < b.N; i++ {
			if _, err := v.Verify(proofs[i%len(proofs)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/proof")
	})
	b.Run("verify-cold", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := audit.VerifyProof(proofs[i%len(proofs)], pub); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/proof")
	})
}
