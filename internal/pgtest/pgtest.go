// Package pgtest gives tests a fresh schema on the real PostgreSQL server
// AIRLOCK_TEST_POSTGRES names (./scripts/test starts one on 127.0.0.1).
// Without the variable a test fails: the PostgreSQL paths never skip.
package pgtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// Env names the server's DSN.
const Env = "AIRLOCK_TEST_POSTGRES"

// ErrNoServer says the variable is not set.
var ErrNoServer = errors.New(Env + ` is not set: this test needs a real PostgreSQL server; ./scripts/test installs and starts one (or eval "$(./scripts/postgres.sh start)")`)

// Create makes a fresh schema named prefix_RANDOM on the server dsn and
// returns a DSN whose search_path is it, and a function that drops it.
func Create(dsn, prefix string) (string, func(), error) {
	if dsn == "" {
		return "", nil, ErrNoServer
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, err
	}
	defer admin.Close()
	var b [6]byte
	rand.Read(b[:])
	schema := prefix + "_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		return "", nil, err
	}
	drop := func() {
		if a, err := sql.Open("pgx", dsn); err == nil {
			a.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema, drop, nil
}

// Schema is Create for a test: the schema is dropped when it ends.
func Schema(t testing.TB, prefix string) string {
	t.Helper()
	dsn, drop, err := Create(envDSN(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	return dsn
}

func envDSN() string { return os.Getenv(Env) }
