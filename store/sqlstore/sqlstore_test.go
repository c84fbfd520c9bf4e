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
