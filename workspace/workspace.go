// Package workspace is one airlock workspace on disk: a coordinator's or a
// signer station's folder.
//
//	DIR/airlock.json   role, name, network and public keys (no secrets)
//	DIR/keystore.age   the age-encrypted keystore (package keystore)
//	DIR/state.db       the store (package store, SQLite): policy versions,
//	                   proposals, decisions, claims, final transactions,
//	                   kept outputs, and the audit log with its checkpoints
//	DIR/head           the log's size and root after the last change
//	DIR/lock           held by the process working in the folder
//
// Every change is one store transaction that carries its own audit entry.
// Opening a workspace checks that the store is there and intact, that its
// log has not shrunk or forked since the last change (DIR/head), and that
// every decision, claim and finalization in the state has its entry and
// every such entry its row: a deleted row, a deleted or rolled-back log, a
// missing or replaced store is refused, never silently restarted.
//
// A first-release workspace (a bbolt state.db and an audit/ folder) is
// migrated on first open: its log is verified, copied entry by entry (the
// same tree, the same checkpoints) and its state copied, and the old files
// are kept in DIR/legacy-v1.
package workspace

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/internal/failpoint"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/store/sqlstore"
)

// Roles.
const (
	Station     = "station"
	Coordinator = "coordinator"
	// Client is an online workspace that holds only an identity key, to
	// sign requests to "airlock serve" for a participant who delegated
	// to it (serve.Delegation); it is in no policy and keeps no round.
	Client = "client"
)

// Format is the airlock.json format this release writes: 2, a SQL store.
// Format 1 (bbolt and an audit folder) is migrated on open.
const Format = 2

// Config is DIR/airlock.json: everything public about the workspace.
type Config struct {
	Format   int       `json:"format"`
	Role     string    `json:"role"`
	Name     string    `json:"name"`
	Network  string    `json:"network"`
	Created  time.Time `json:"created"`
	Identity string    `json:"identity"`         // ed25519:<base64>
	Key      string    `json:"key,omitempty"`    // station: [fp/path]xpub
	Device   string    `json:"device,omitempty"` // station: device id in the policy
	// Ethereum is the station's Safe owner key, [fp/44'/60'/0'/0/0]0xAddress.
	Ethereum string `json:"ethereum,omitempty"`
	// MediaAllow lists the folders exports may write to (absolute, with
	// symbolic links resolved).
	MediaAllow []string `json:"media_allow,omitempty"`
	// Token is set when the workspace's keys live on a PKCS#11 token
	// instead of in keystore.age.
	Token *Token `json:"token,omitempty"`
	// Drill marks a rehearsal workspace: only there may the clock be
	// overridden (AIRLOCK_NOW) and the log take back-dated entries.
	Drill bool `json:"drill,omitempty"`
}

// Token says where a workspace's keys live on a PKCS#11 token. The keys
// never leave it; the workspace records only where to find them, and
// Identity and Key record what they must be, so a swapped token or a
// replaced key is refused.
type Token struct {
	Module      string `json:"module"`              // the PKCS#11 library
	Label       string `json:"label"`               // the token's label
	Serial      string `json:"serial,omitempty"`    // the token's serial number when the keys were made
	Vendor      string `json:"vendor,omitempty"`    // as the token reports it
	Model       string `json:"model,omitempty"`     // as the token reports it
	IdentityKey string `json:"identity_key"`        // label of the Ed25519 identity key
	ChainKey    string `json:"chain_key,omitempty"` // label of the secp256k1 chain key (stations)
}

// Origin names this workspace in manifests: "station/alice".
func (c Config) Origin() string { return c.Role + "/" + c.Name }

// LogOrigin names this workspace's audit log: "airlock/station/alice".
func (c Config) LogOrigin() string { return "airlock/" + c.Origin() }

// Errors callers branch on.
var (
	ErrNotWorkspace = errors.New("workspace: not an airlock workspace")
	ErrDuplicate    = store.ErrDuplicate
	ErrConflict     = errors.New("workspace: conflicting proposal")
	ErrNotFound     = store.ErrNotFound
	ErrStoreMissing = errors.New("workspace: the store is missing")
	ErrRolledBack   = errors.New("workspace: the store was rolled back")
)

// Workspace is an open workspace.
type Workspace struct {
	Dir    string
	Config Config
	Store  store.Store
	// Now is the clock every entry is dated by.
	Now  func() time.Time
	warn func(error)
	lock *lockFile
	// inTx is set while a transaction runs: a workspace is used by one
	// goroutine at a time, and a transaction started inside another would
	// wait forever for the one connection, so it is refused instead.
	inTx atomic.Bool
	// chainCache is the policy chain last verified (versions.go).
	chainCache atomic.Pointer[verified]
	// heads, when set, writes DIR/head behind the commits
	// (WriteHeadsBehind).
	heads atomic.Pointer[headWriter]
	// spent keeps decoded spending entries of the log (SpendingOf).
	spent spentCache
}

// ErrNested is returned for a transaction started inside another.
var ErrNested = errors.New("workspace: a transaction inside a transaction (use the one the callback was given)")

// Options are the choices for Open and Init.
type Options struct {
	// Now overrides the clock (drill workspaces only; see Config.Drill).
	Now func() time.Time
	// LockWait bounds the wait for another process's lock (default
	// DefaultLockWait).
	LockWait time.Duration
	// Warn hears of what went wrong after a change was committed and
	// does not undo it: DIR/head could not be rewritten (a full disk).
	// The default logs it with log/slog.
	Warn func(error)
	// Database, when set, is a PostgreSQL database (a libpq URL or
	// key=value string) that holds the store instead of DIR/state.db: a
	// coordinator's, for the service. DIR keeps airlock.json, head and
	// the lock.
	Database string
}

// openStore opens the workspace's store: DIR/state.db, or o.Database.
func (w *Workspace) openStore(o Options, create bool) (*sqlstore.DB, error) {
	if o.Database == "" {
		return sqlstore.Open(context.Background(), w.path("state.db"), sqlstore.Options{Create: create})
	}
	db, err := sqlstore.OpenPostgres(context.Background(), o.Database, sqlstore.Options{})
	if err != nil || !create {
		return db, err
	}
	// A new workspace never takes over a database that holds a log.
	var size int64
	err = db.View(context.Background(), func(r store.Reader) (err error) {
		size, err = r.Audit().Size()
		return err
	})
	if err == nil && size > 0 {
		err = fmt.Errorf("workspace: the database already holds a store (%d log entries); a new workspace needs an empty one", size)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (o Options) warn() func(error) {
	if o.Warn != nil {
		return o.Warn
	}
	return func(err error) { slog.Warn(err.Error()) }
}

// DefaultLockWait is how long a command waits for another one working in
// the same workspace.
const DefaultLockWait = 10 * time.Second

func (o Options) now() func() time.Time {
	if o.Now != nil {
		return o.Now
	}
	return time.Now
}

func (w *Workspace) path(name string) string { return filepath.Join(w.Dir, name) }

// Init creates a workspace in dir (created if missing; it must hold no
// workspace yet). Its log's first entry records the workspace's identity.
func Init(dir string, cfg Config, o Options) (*Workspace, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("workspace: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "airlock.json")); err == nil {
		return nil, fmt.Errorf("workspace: %s already holds a workspace", dir)
	}
	if fi, err := os.Stat(filepath.Join(dir, "state.db")); err == nil && fi.Size() > 0 {
		return nil, fmt.Errorf("workspace: %s holds a state.db but no airlock.json: restore airlock.json, or remove state.db if it is left from an interrupted 'key new'", dir)
	}
	lock, err := acquire(dir, o.LockWait)
	if err != nil {
		return nil, err
	}
	w := &Workspace{Dir: dir, Config: cfg, Now: o.now(), warn: o.warn(), lock: lock}
	w.Config.Format = Format
	if o.Database == "" {
		os.Remove(w.path("state.db"))
	}
	db, err := w.openStore(o, true)
	if err != nil {
		lock.release()
		return nil, err
	}
	w.Store = db
	err = w.Update(context.Background(), func(tx store.Tx) error {
		if _, err := tx.Log(w.Event("workspace.created", "", map[string]string{"role": cfg.Role, "name": cfg.Name, "identity": cfg.Identity, "drill": fmt.Sprint(cfg.Drill)})); err != nil {
			return err
		}
		if cfg.Drill {
			return tx.SetMeta("clock", "drill")
		}
		return nil
	})
	if err == nil {
		err = w.saveConfig()
	}
	if err != nil {
		w.Close()
		os.Remove(w.path("state.db"))
		os.Remove(w.path("head"))
		return nil, err
	}
	return w, nil
}

// Open opens the workspace in dir, migrating a first-release one.
func Open(dir string, o Options) (*Workspace, error) {
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	lock, err := acquire(dir, o.LockWait)
	if err != nil {
		return nil, err
	}
	w := &Workspace{Dir: dir, Config: cfg, Now: o.now(), warn: o.warn(), lock: lock}
	if cfg.Format == 1 {
		if err := w.migrate(); err != nil {
			lock.release()
			return nil, err
		}
	}
	db, err := w.openStore(o, false)
	if errors.Is(err, store.ErrNotFound) {
		lock.release()
		return nil, fmt.Errorf("%w: %s: %v; a station's record of what it signed lives there: restore state.db from a backup, or re-initialise it with 'airlock store reinit --acknowledge REASON' (logged and signed)", ErrStoreMissing, dir, err)
	}
	if err != nil {
		lock.release()
		return nil, fmt.Errorf("workspace: %s: %w; nothing was changed", dir, err)
	}
	w.Store = db
	if err := w.check(); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// Peek reads a workspace's configuration alone, without taking its lock
// or opening its store: for a command that needs only the workspace's
// keys while another process works in it (a client of "airlock serve"
// signing with the identity of the workspace the service runs in). Its
// Store is nil; Close does nothing.
func Peek(dir string) (*Workspace, error) {
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	return &Workspace{Dir: dir, Config: cfg}, nil
}

func readConfig(dir string) (Config, error) {
	b, err := os.ReadFile(filepath.Join(dir, "airlock.json"))
	if errors.Is(err, os.ErrNotExist) {
		return Config{}, fmt.Errorf("%w: %s has no airlock.json", ErrNotWorkspace, dir)
	}
	if err != nil {
		return Config{}, fmt.Errorf("workspace: %v", err)
	}
	var cfg Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("workspace: %s/airlock.json: %v", dir, err)
	}
	if (cfg.Format != 1 && cfg.Format != Format) || (cfg.Role != Station && cfg.Role != Coordinator && cfg.Role != Client) {
		return Config{}, fmt.Errorf("workspace: %s/airlock.json: unknown format %d or role %q", dir, cfg.Format, cfg.Role)
	}
	return cfg, nil
}

// Close closes the store and releases the folder.
func (w *Workspace) Close() error {
	var err error
	// A head writer left running writes its last head before the store
	// closes (WriteHeadsBehind).
	if hw := w.heads.Swap(nil); hw != nil {
		hw.stop()
	}
	if w.Store != nil {
		err = w.Store.Close()
	}
	if w.lock != nil {
		w.lock.release()
		w.lock = nil
	}
	return err
}

// KeystorePath is where the workspace's keystore lives.
func (w *Workspace) KeystorePath() string { return w.path("keystore.age") }

// Event dates an audit event by the workspace's clock.
func (w *Workspace) Event(kind, subject string, detail map[string]string) audit.Event {
	return audit.Event{Time: w.Now().UTC(), Kind: kind, Subject: subject, Detail: detail}
}

// Update runs fn in one store transaction, then records the log's new
// head in DIR/head. Once the transaction has committed, Update reports
// success: the change is durable and its entry with it. A head that
// cannot be rewritten then (a full disk) is told to Options.Warn, not
// returned: the next open re-anchors it from the verified log, exactly as
// after a crash between the two writes, and an error here would tell a
// caller that a committed change did not happen.
func (w *Workspace) Update(ctx context.Context, fn func(store.Tx) error) error {
	if !w.inTx.CompareAndSwap(false, true) {
		return ErrNested
	}
	err := w.Store.Update(ctx, fn)
	w.inTx.Store(false)
	if err != nil {
		return err
	}
	failpoint.Hit("workspace.after-commit")
	if err := w.writeHead(ctx); err != nil {
		w.warn(fmt.Errorf("the change is committed, but %s/head was not updated (%v); the next change re-anchors it from the verified log", w.Dir, err))
	}
	return nil
}

// View runs fn in a read-only transaction.
func (w *Workspace) View(ctx context.Context, fn func(store.Reader) error) error {
	if !w.inTx.CompareAndSwap(false, true) {
		return ErrNested
	}
	defer w.inTx.Store(false)
	return w.Store.View(ctx, fn)
}

// Log records an event that changes no state (a review, an export).
func (w *Workspace) Log(ctx context.Context, kind, subject string, detail map[string]string) error {
	return w.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Log(w.Event(kind, subject, detail))
		return err
	})
}

// Checkpoint signs a checkpoint of the log with the identity key.
func (w *Workspace) Checkpoint(ctx context.Context, key crypto.Signer) ([]byte, error) {
	if !w.inTx.CompareAndSwap(false, true) {
		return nil, ErrNested
	}
	defer w.inTx.Store(false)
	failpoint.Hit("workspace.before-checkpoint")
	var cp []byte
	err := w.Store.Update(ctx, func(tx store.Tx) error {
		l, err := audit.New(tx.AuditWriter(), w.Config.LogOrigin(), key)
		if err != nil {
			return err
		}
		cp, err = l.Checkpoint()
		return err
	})
	return cp, err
}

// AuditLog runs fn with the log, read-only, and key (nil: no checkpoint
// can be signed).
func (w *Workspace) AuditLog(ctx context.Context, fn func(*audit.Log) error) error {
	return w.View(ctx, func(r store.Reader) error {
		l, err := audit.New(r.Audit(), w.Config.LogOrigin(), nil)
		if err != nil {
			return err
		}
		return fn(l)
	})
}

// SetDevice records the station's device id.
func (w *Workspace) SetDevice(id string) error {
	w.Config.Device = id
	return w.saveConfig()
}

// AllowMedia adds a folder to the export allowlist.
func (w *Workspace) AllowMedia(dir string) error {
	for _, d := range w.Config.MediaAllow {
		if d == dir {
			return nil
		}
	}
	w.Config.MediaAllow = append(w.Config.MediaAllow, dir)
	return w.saveConfig()
}

func (w *Workspace) saveConfig() error {
	b, err := json.MarshalIndent(w.Config, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(w.path("airlock.json"), append(b, '\n'), 0o600)
}

// SortedKeys returns a map's keys in order.
func SortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// WriteFileAtomic writes data to path through a synced temporary file and a
// rename, so readers see the old file or the new one, never half of one.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	failpoint.Hit("output.before-write")
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("workspace: cannot write %s: %v", path, unwrapPath(err))
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("workspace: %v", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("workspace: cannot write %s: %v", path, unwrapPath(err))
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("workspace: cannot write %s: %v", path, unwrapPath(err))
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("workspace: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("workspace: %v", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
