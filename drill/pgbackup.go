package drill

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// A coordinator on PostgreSQL (Options.Database) is backed up and
// restored with the server's own tools, as docs/service.md ("Backup of
// the database") tells an operator to: pg_dump --format=custom while the
// coordinator is stopped, pg_restore --clean of that dump later. The
// workspace folder (airlock.json, head, lock) stays: its head remembers
// the longer log, and the restored database must be refused as rolled
// back until it is accepted, exactly as a restored state.db.

// pgTarget splits a DSN the coordinator's store opens into the
// connection libpq's tools take and the schema, when the DSN selects one
// with pgx's search_path parameter (the tests' fresh schemas).
func pgTarget(dsn string) (conn, schema string, err error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", "", fmt.Errorf("drill: the coordinator's database: want a postgres:// URL")
	}
	q := u.Query()
	schema = q.Get("search_path")
	if strings.ContainsAny(schema, ", \"'") {
		return "", "", fmt.Errorf("drill: the coordinator's database: one plain schema in search_path, not %q", schema)
	}
	q.Del("search_path")
	u.RawQuery = q.Encode()
	return u.String(), schema, nil
}

// pgTool runs pg_dump or pg_restore, bounded in time.
func pgTool(ctx context.Context, name string, args ...string) error {
	path, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("drill: %s not found: a coordinator on PostgreSQL is backed up with the server's tools (Debian: postgresql-client)", name)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("drill: %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// pgDump writes the coordinator's database to a custom-format dump in
// the run's folder and returns its path.
func (s *sim) pgDump(i int) (string, error) {
	conn, schema, err := pgTarget(s.database)
	if err != nil {
		return "", err
	}
	path := filepath.Join(s.dir, fmt.Sprintf("coordinator-backup-%d.dump", i))
	args := []string{"--format=custom", "--no-owner", "--file=" + path}
	if schema != "" {
		args = append(args, "--schema="+schema)
	}
	return path, pgTool(s.ctx, "pg_dump", append(args, "--dbname="+conn)...)
}

// pgRestore puts a dump back over the coordinator's database, in one
// transaction: what was written since the dump is gone.
func (s *sim) pgRestore(path string) error {
	conn, _, err := pgTarget(s.database)
	if err != nil {
		return err
	}
	return pgTool(s.ctx, "pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", "--exit-on-error", "--dbname="+conn, path)
}
