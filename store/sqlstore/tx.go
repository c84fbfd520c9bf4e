package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/store"
)

// tx is one transaction: the store.Tx, and the audit.Store its log is
// read and appended through.
type tx struct {
	ctx      context.Context
	db       *DB
	tx       *sql.Tx
	writable bool
	entry    int64 // the entry logged in this transaction, -1 before
	size     int64 // cached log size, -1 unknown
	pending  audit.Event
	misses   []string // statements prepared for this transaction only
	local    map[string]*sql.Stmt
	tail     *logTail // the log's end as this database transaction left it
}

var (
	_ store.Tx    = (*tx)(nil)
	_ audit.Store = (*logTx)(nil)
)

func newTx(ctx context.Context, db *DB, t *sql.Tx, writable bool) *tx {
	return &tx{ctx: ctx, db: db, tx: t, writable: writable, entry: -1, size: -1, tail: &logTail{}}
}

// Writable says whether t is a write transaction (Update), not a view:
// what a view reads is committed.
func (t *tx) Writable() bool { return t.writable }

// stmt is q prepared once per database and bound to this transaction:
// parsing SQL costs more than running it.
func (t *tx) stmt(q string) (*sql.Stmt, error) {
	if st, ok := t.local[q]; ok {
		return st, nil
	}
	var st *sql.Stmt
	if shared := t.db.cached(q); shared != nil {
		st = t.tx.StmtContext(t.ctx, shared)
	} else {
		t.misses = append(t.misses, q)
		var err error
		if st, err = t.tx.PrepareContext(t.ctx, q); err != nil {
			return nil, err
		}
	}
	if t.local == nil {
		t.local = map[string]*sql.Stmt{}
	}
	t.local[q] = st
	return st, nil
}

func (t *tx) query(q string, args ...any) (*sql.Rows, error) {
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(t.ctx, args...)
}

func (t *tx) queryRow(q string, args ...any) *sql.Row {
	st, err := t.stmt(q)
	if err != nil {
		// Unprepared, the query reports the same error when scanned.
		return t.tx.QueryRowContext(t.ctx, q, args...)
	}
	return st.QueryRowContext(t.ctx, args...)
}

func (t *tx) execResult(q string, args ...any) (sql.Result, error) {
	if !t.writable {
		return nil, errors.New("sqlstore: write in a read-only transaction")
	}
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

func (t *tx) exec(q string, args ...any) error {
	_, err := t.execResult(q, args...)
	return err
}

// logged refuses a state change before its entry.
func (t *tx) logged(what string) error {
	if t.entry < 0 {
		return fmt.Errorf("%w: %s", store.ErrUnlogged, what)
	}
	return nil
}

func id32(b []byte) (out [32]byte, err error) {
	if len(b) != 32 {
		return out, fmt.Errorf("%w: stored id of %d bytes", store.ErrCorrupt, len(b))
	}
	copy(out[:], b)
	return out, nil
}

func (t *tx) Policies() ([][]byte, error) {
	rows, err := t.query("SELECT envelope FROM policies ORDER BY version")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

func (t *tx) proposals(where string, args ...any) ([]store.Proposal, error) {
	rows, err := t.query("SELECT id, envelope, state, entry FROM proposals "+where+" ORDER BY hexid", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Proposal
	for rows.Next() {
		var p store.Proposal
		var id []byte
		if err := rows.Scan(&id, &p.Envelope, &p.State, &p.Entry); err != nil {
			return nil, err
		}
		if p.ID, err = id32(id); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (t *tx) Proposal(id [32]byte) (store.Proposal, error) {
	ps, err := t.proposals("WHERE id = $1", id[:])
	if err != nil {
		return store.Proposal{}, err
	}
	if len(ps) == 0 {
		return store.Proposal{}, fmt.Errorf("%w: no proposal %x", store.ErrNotFound, id[:8])
	}
	return ps[0], nil
}

// hexPrefix checks a hex prefix so it can go into LIKE safely.
func hexPrefix(p string) (string, error) {
	p = strings.ToLower(p)
	if _, err := hex.DecodeString(p + strings.Repeat("0", len(p)%2)); err != nil || len(p) > 64 {
		return "", fmt.Errorf("sqlstore: %q is not a hex id prefix", p)
	}
	return p + "%", nil
}

func (t *tx) FindProposals(prefix string) ([]store.Proposal, error) {
	like, err := hexPrefix(prefix)
	if err != nil {
		return nil, err
	}
	return t.proposals("WHERE hexid LIKE $1", like)
}

func (t *tx) Proposals() ([]store.Proposal, error) { return t.proposals("") }

func (t *tx) ProposalsIn(states ...string) ([]store.Proposal, error) {
	if len(states) == 0 {
		return nil, nil
	}
	var where strings.Builder
	args := make([]any, len(states))
	where.WriteString("WHERE state IN (")
	for i, st := range states {
		if i > 0 {
			where.WriteString(", ")
		}
		fmt.Fprintf(&where, "$%d", i+1)
		args[i] = st
	}
	where.WriteString(")")
	return t.proposals(where.String(), args...)
}

func (t *tx) ProposalStates() (map[[32]byte]string, error) {
	rows, err := t.query("SELECT id, state FROM proposals")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[[32]byte]string{}
	for rows.Next() {
		var id []byte
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			return nil, err
		}
		k, err := id32(id)
		if err != nil {
			return nil, err
		}
		out[k] = st
	}
	return out, rows.Err()
}

func (t *tx) Decisions(proposal [32]byte) (map[string]store.Decision, error) {
	rows, err := t.query("SELECT participant, envelope, entry FROM decisions WHERE proposal = $1", proposal[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]store.Decision{}
	for rows.Next() {
		d := store.Decision{Proposal: proposal}
		if err := rows.Scan(&d.Participant, &d.Envelope, &d.Entry); err != nil {
			return nil, err
		}
		out[d.Participant] = d
	}
	return out, rows.Err()
}

func (t *tx) Claim(resource string) (store.Claim, error) {
	c := store.Claim{Resource: resource}
	var p []byte
	err := t.queryRow("SELECT proposal, entry FROM claims WHERE resource = $1", resource).Scan(&p, &c.Entry)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("%w: no claim on %s", store.ErrNotFound, resource)
	}
	if err != nil {
		return c, err
	}
	c.Proposal, err = id32(p)
	return c, err
}

func (t *tx) Claims() ([]store.Claim, error) {
	rows, err := t.query("SELECT resource, proposal, entry FROM claims ORDER BY resource")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Claim
	for rows.Next() {
		var c store.Claim
		var p []byte
		if err := rows.Scan(&c.Resource, &p, &c.Entry); err != nil {
			return nil, err
		}
		if c.Proposal, err = id32(p); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t *tx) blob(q string, args ...any) ([]byte, error) {
	var b []byte
	err := t.queryRow(q, args...).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return b, err
}

func (t *tx) Final(proposal [32]byte) ([]byte, error) {
	b, err := t.blob("SELECT proof FROM finals WHERE proposal = $1", proposal[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: proposal %x is not finalized", store.ErrNotFound, proposal[:8])
	}
	return b, err
}

func (t *tx) artifacts(where string, args ...any) ([]store.Artifact, error) {
	rows, err := t.query("SELECT id, kind, name, data, entry FROM artifacts "+where+" ORDER BY hexid", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Artifact
	for rows.Next() {
		var a store.Artifact
		var id []byte
		if err := rows.Scan(&id, &a.Kind, &a.Name, &a.Data, &a.Entry); err != nil {
			return nil, err
		}
		if a.ID, err = id32(id); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (t *tx) Artifact(id [32]byte) (store.Artifact, error) {
	as, err := t.artifacts("WHERE id = $1", id[:])
	if err != nil {
		return store.Artifact{}, err
	}
	if len(as) == 0 {
		return store.Artifact{}, fmt.Errorf("%w: no artifact %x", store.ErrNotFound, id[:8])
	}
	return as[0], nil
}

func (t *tx) FindArtifacts(prefix string) ([]store.Artifact, error) {
	like, err := hexPrefix(prefix)
	if err != nil {
		return nil, err
	}
	return t.artifacts("WHERE hexid LIKE $1", like)
}

func (t *tx) Sequence(channel string) (uint64, error) {
	var n int64
	err := t.queryRow("SELECT n FROM sequences WHERE channel = $1", channel).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return uint64(n), err
}

func (t *tx) Witness(key string) ([]byte, error) {
	b, err := t.blob("SELECT value FROM witnesses WHERE key = $1", key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return b, err
}

func (t *tx) Witnesses(prefix string) (map[string][]byte, error) {
	rows, err := t.query("SELECT key, value FROM witnesses WHERE substr(key, 1, $1) = $2", len(prefix), prefix)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

func (t *tx) Health(device string) ([]byte, error) {
	b, err := t.blob("SELECT record FROM health WHERE device = $1", device)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: no health record for device %q", store.ErrNotFound, device)
	}
	return b, err
}

func (t *tx) Meta(key string) (string, error) {
	var v string
	err := t.queryRow("SELECT value FROM meta WHERE key = $1", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

func (t *tx) PutPolicy(version uint64, id [32]byte, env []byte) error {
	if err := t.logged("policy"); err != nil {
		return err
	}
	return t.insertOnce(fmt.Sprintf("policy version %d", version),
		"INSERT INTO policies (version, id, envelope, entry) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", int64(version), id[:], env, t.entry)
}

func (t *tx) PutProposal(p store.Proposal) error {
	if err := t.logged("proposal"); err != nil {
		return err
	}
	return t.insertOnce(fmt.Sprintf("proposal %x is already held", p.ID[:8]),
		"INSERT INTO proposals (id, hexid, envelope, state, entry) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING", p.ID[:], hex.EncodeToString(p.ID[:]), p.Envelope, p.State, t.entry)
}

func (t *tx) SetProposalState(id [32]byte, state string) error {
	if err := t.logged("proposal state"); err != nil {
		return err
	}
	res, err := t.execResult("UPDATE proposals SET state = $1 WHERE id = $2", state, id[:])
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: no proposal %x", store.ErrNotFound, id[:8])
	}
	return nil
}

func (t *tx) PutDecision(d store.Decision) error {
	if err := t.logged("decision"); err != nil {
		return err
	}
	return t.insertOnce(fmt.Sprintf("%q already decided on proposal %x", d.Participant, d.Proposal[:4]),
		"INSERT INTO decisions (proposal, participant, envelope, entry) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", d.Proposal[:], d.Participant, d.Envelope, t.entry)
}

func (t *tx) PutClaim(resource string, proposal [32]byte) error {
	if err := t.logged("claim"); err != nil {
		return err
	}
	return t.exec("INSERT INTO claims (resource, proposal, entry) VALUES ($1, $2, $3) ON CONFLICT (resource) DO UPDATE SET proposal = excluded.proposal, entry = excluded.entry", resource, proposal[:], t.entry)
}

func (t *tx) ReleaseClaim(resource string) error {
	if err := t.logged("release"); err != nil {
		return err
	}
	return t.exec("DELETE FROM claims WHERE resource = $1", resource)
}

func (t *tx) PutFinal(proposal [32]byte, proof []byte) error {
	if err := t.logged("final"); err != nil {
		return err
	}
	return t.insertOnce(fmt.Sprintf("proposal %x is already finalized", proposal[:4]),
		"INSERT INTO finals (proposal, proof, entry) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", proposal[:], proof, t.entry)
}

func (t *tx) PutArtifact(a store.Artifact) error {
	if err := t.logged("artifact"); err != nil {
		return err
	}
	return t.exec("INSERT INTO artifacts (id, hexid, kind, name, data, entry) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
		a.ID[:], hex.EncodeToString(a.ID[:]), a.Kind, a.Name, a.Data, t.entry)
}

func (t *tx) SetSequence(channel string, n uint64) error {
	if err := t.logged("sequence"); err != nil {
		return err
	}
	return t.exec("INSERT INTO sequences (channel, n, entry) VALUES ($1, $2, $3) ON CONFLICT (channel) DO UPDATE SET n = excluded.n, entry = excluded.entry", channel, int64(n), t.entry)
}

func (t *tx) PutWitness(key string, value []byte) error {
	if err := t.logged("witness"); err != nil {
		return err
	}
	return t.exec("INSERT INTO witnesses (key, value, entry) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, entry = excluded.entry", key, value, t.entry)
}

func (t *tx) PutHealth(device string, record []byte) error {
	if err := t.logged("health"); err != nil {
		return err
	}
	return t.exec("INSERT INTO health (device, record, entry) VALUES ($1, $2, $3) ON CONFLICT (device) DO UPDATE SET record = excluded.record, entry = excluded.entry", device, record, t.entry)
}

func (t *tx) SetMeta(key, value string) error {
	if err := t.logged("setting"); err != nil {
		return err
	}
	return t.exec("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
}

// StateTables are the tables whose rows StateEntries reports.
var StateTables = []string{"policies", "proposals", "decisions", "claims", "finals", "artifacts"}

// StateEntries implements store.Reader.
func (t *tx) StateEntries() (map[string][]int64, error) {
	out := map[string][]int64{}
	for _, table := range StateTables {
		rows, err := t.query("SELECT entry FROM " + table + " ORDER BY entry")
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var e int64
			if err := rows.Scan(&e); err != nil {
				rows.Close()
				return nil, err
			}
			out[table] = append(out[table], e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// insertOnce runs an INSERT … ON CONFLICT DO NOTHING and reports a row
// that was already there as store.ErrDuplicate.
func (t *tx) insertOnce(what, q string, args ...any) error {
	res, err := t.execResult(q, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", store.ErrDuplicate, what)
	}
	return nil
}
