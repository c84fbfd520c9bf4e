package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/airlock-vault/airlock/store"
)

// OpenPostgres opens the store in a PostgreSQL database (a coordinator's,
// shared by its replicas), creating or migrating the schema. dsn is a
// libpq URL or key=value string; give search_path to keep several stores
// in one database.
func OpenPostgres(ctx context.Context, dsn string, o Options) (*DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %v", err)
	}
	db.SetMaxOpenConns(8)
	s := &DB{db: db, path: "postgresql", dialect: "postgres"}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: connect to PostgreSQL: %w", mapPG(s.path, err))
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if o.GroupCommit {
		s.group = newCommitter(s)
	}
	return s, nil
}

// mapPG turns PostgreSQL's SQLSTATEs into the store's errors.
func mapPG(where string, err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code[:2] {
	case "40", "55": // serialization failure, deadlock; lock not available
		return fmt.Errorf("%w: %s: %s", store.ErrLocked, where, pe.Message)
	case "53": // insufficient resources: disk full, out of memory
		return fmt.Errorf("%w: %s: %s; nothing was written", store.ErrFull, where, pe.Message)
	case "XX": // internal error: data corrupted, index corrupted
		return fmt.Errorf("%w: %s: %s", store.ErrCorrupt, where, pe.Message)
	}
	return fmt.Errorf("sqlstore: %s: %s (SQLSTATE %s)", where, pe.Message, pe.Code)
}
