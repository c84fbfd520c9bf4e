package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/store/sqlstore"
)

// pgSchema opens the store twice (two replicas) in a fresh schema of the
// server AIRLOCK_TEST_POSTGRES names.
func pgReplicas(t *testing.T) (*sqlstore.DB, *sqlstore.DB) {
	t.Helper()
	dsn := os.Getenv("AIRLOCK_TEST_POSTGRES")
	if dsn == "" {
		t.Fatal("AIRLOCK_TEST_POSTGRES is not set: replicas' nonces and leases must be tested on a real PostgreSQL server; ./scripts/test starts one")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	var b [6]byte
	rand.Read(b[:])
	schema := "servicetest_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	open := func() *sqlstore.DB {
		db, err := sqlstore.OpenPostgres(context.Background(), dsn+sep(dsn)+"search_path="+schema, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	a, b2 := open(), open()
	t.Cleanup(func() { a.Close(); b2.Close() })
	return a, b2
}

// TestNonceReplayedToAnotherReplicaRefused: a nonce one replica
// remembered is refused by the other until it expires.
func TestNonceReplayedToAnotherReplicaRefused(t *testing.T) {
	ctx := context.Background()
	a, b := pgReplicas(t)
	now := time.Unix(1_800_000_000, 0)
	if fresh, err := a.RememberNonce(ctx, "k n1", now.Add(time.Minute), now); err != nil || !fresh {
		t.Fatalf("a first nonce: %v %v", fresh, err)
	}
	if fresh, err := b.RememberNonce(ctx, "k n1", now.Add(time.Minute), now.Add(time.Second)); err != nil || fresh {
		t.Fatalf("the nonce replayed to the other replica: fresh=%v %v", fresh, err)
	}
	// Once its window passed, the same nonce may be used again (its
	// signature is refused as expired anyway).
	later := now.Add(2 * time.Minute)
	if fresh, err := b.RememberNonce(ctx, "k n1", later.Add(time.Minute), later); err != nil || !fresh {
		t.Fatalf("an expired nonce: %v %v", fresh, err)
	}
	if !a.Shared() || !b.Shared() {
		t.Fatal("a PostgreSQL store is not reported shared")
	}
}

// TestLeaseHeldByOneReplicaAtATime: one holder; released when it lets go
// or when its process (its connection) dies.
func TestLeaseHeldByOneReplicaAtATime(t *testing.T) {
	ctx := context.Background()
	a, b := pgReplicas(t)
	la, lb := a.Lease(42), b.Lease(42)
	if ok, err := la.Hold(ctx); !ok || err != nil {
		t.Fatalf("a free lease: %v %v", ok, err)
	}
	if ok, err := la.Hold(ctx); !ok || err != nil {
		t.Fatalf("a held lease asked again: %v %v", ok, err)
	}
	if ok, err := lb.Hold(ctx); ok || err != nil {
		t.Fatalf("a second replica took a held lease: %v %v", ok, err)
	}
	if err := la.Release(); err != nil {
		t.Fatal(err)
	}
	if ok, err := lb.Hold(ctx); !ok || err != nil {
		t.Fatalf("a released lease: %v %v", ok, err)
	}
	// The holder dies: its session ends and the lease is free.
	b.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := la.Hold(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lease of a closed replica was never freed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSQLiteLeaseAlwaysHeld: a SQLite store is one process's (the
// workspace lock), so it holds every lease; it is not shared.
func TestSQLiteLeaseAlwaysHeld(t *testing.T) {
	db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), sqlstore.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if ok, err := db.Lease(1).Hold(context.Background()); !ok || err != nil || db.Shared() {
		t.Fatalf("SQLite lease: %v %v shared=%v", ok, err, db.Shared())
	}
}
