package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/store/sqlstore"
	"github.com/airlock-vault/airlock/store/storetest"
)

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), sqlstore.Options{Create: true})
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func TestSQLiteGroupCommitConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), sqlstore.Options{Create: true, GroupCommit: true})
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

// TestPostgresConformance runs the suite on a real PostgreSQL server, one
// fresh schema per test. ./scripts/test starts one on 127.0.0.1 and sets
// AIRLOCK_TEST_POSTGRES; without it the test fails, it never skips.
func TestPostgresConformance(t *testing.T) {
	dsn := os.Getenv("AIRLOCK_TEST_POSTGRES")
	if dsn == "" {
		t.Fatal("AIRLOCK_TEST_POSTGRES is not set: the store must pass its conformance suite on a real PostgreSQL server; ./scripts/test installs and starts one (postgres://…@127.0.0.1)")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, group := range []bool{false, true} {
		name := "one-commit-per-update"
		if group {
			name = "group-commit"
		}
		t.Run(name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store {
				var b [6]byte
				rand.Read(b[:])
				schema := "storetest_" + hex.EncodeToString(b[:])
				if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
				db, err := sqlstore.OpenPostgres(context.Background(), dsn+sep(dsn)+"search_path="+schema, sqlstore.Options{GroupCommit: group})
				if err != nil {
					t.Fatal(err)
				}
				return db
			})
		})
	}
}

func sep(dsn string) string {
	for _, c := range dsn {
		if c == '?' {
			return "&"
		}
	}
	return "?"
}

// TestMissingOrEmptyFileIsNeverAFreshStore: a store that was deleted or
// zeroed is refused, not silently recreated empty.
func TestMissingOrEmptyFileIsNeverAFreshStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if _, err := sqlstore.Open(context.Background(), path, sqlstore.Options{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
	os.WriteFile(path, nil, 0o600)
	if _, err := sqlstore.Open(context.Background(), path, sqlstore.Options{}); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("empty file: %v", err)
	}
	os.WriteFile(path, make([]byte, 8192), 0o600)
	if _, err := sqlstore.Open(context.Background(), path, sqlstore.Options{}); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("zeroed file: %v", err)
	}
}

// TestTruncatedStoreIsRefusedNotCrashed: a store cut into its pages fails
// with an error, never a crash. (A cut that only drops free pages at the
// end loses nothing; the workspace's head and cross-checks catch any cut
// that loses an entry or a row.)
func TestTruncatedStoreIsRefusedNotCrashed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sqlstore.Open(context.Background(), path, sqlstore.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	fi, _ := os.Stat(path)
	for _, n := range []int64{100, 4096 + 17, fi.Size() / 2} {
		b, _ := os.ReadFile(path)
		cut := filepath.Join(t.TempDir(), "cut.db")
		os.WriteFile(cut, b[:n], 0o600)
		db, err := sqlstore.Open(context.Background(), cut, sqlstore.Options{})
		if err == nil {
			err = db.View(context.Background(), func(r store.Reader) error { _, err := r.Proposals(); return err })
			db.Close()
		}
		if err == nil {
			t.Fatalf("a store cut to %d of %d bytes opened and read", n, fi.Size())
		}
	}
}

// TestKilledAfterCommitReopens: a process killed after a commit leaves
// committed pages in the write-ahead log that the database file does not
// have yet (SQLite checkpoints them on a clean close). That store is
// intact and must open with everything committed; refusing it as "cut
// short" would lock a station out of its own state after a crash. The
// files are copied while the store is still open, as a kill leaves them.
func TestKilledAfterCommitReopens(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	db, err := sqlstore.Open(ctx, path, sqlstore.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Enough rows that the database grows by many pages past its file.
	big := make([]byte, 64<<10)
	for i := 0; i < 8; i++ {
		err := db.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.Log(audit.Event{Time: time.Unix(1_800_000_000, 0), Kind: "artifact.kept", Subject: "x"}); err != nil {
				return err
			}
			return tx.PutArtifact(store.Artifact{ID: [32]byte{byte(i + 1)}, Kind: "proof", Data: big})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	killed := filepath.Join(t.TempDir(), "state.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatalf("%s: %v (the store should still have its write-ahead log open)", path+suffix, err)
		}
		os.WriteFile(killed+suffix, b, 0o600)
	}
	if fi, _ := os.Stat(killed); fi.Size() >= 8*int64(len(big)) {
		t.Fatalf("the file already holds the commits (%d bytes): this test does not reproduce a kill", fi.Size())
	}
	re, err := sqlstore.Open(ctx, killed, sqlstore.Options{})
	if err != nil {
		t.Fatalf("a store killed after its commits does not reopen: %v", err)
	}
	defer re.Close()
	err = re.View(ctx, func(r store.Reader) error {
		a, err := r.Artifact([32]byte{8})
		if err == nil && len(a.Data) != len(big) {
			err = errors.New("the last artifact came back short")
		}
		return err
	})
	if err != nil {
		t.Fatalf("the last commit before the kill: %v", err)
	}
}
