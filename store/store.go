// Package store is a workspace's state and its audit log, behind one small
// interface, changed only in transactions that carry their own audit entry.
//
// The rule the package exists for: a state change and the audit entry that
// describes it commit together or not at all. A Tx refuses any state change
// until the transaction has logged its event (ErrUnlogged), every row it
// writes records the index of that entry, and the log's records, stored
// hashes and checkpoints live in the same database as the state. There is
// no moment where an approval exists without its entry, or an entry
// without its approval; a crash, a kill or a full disk rolls both back.
//
// Outputs are kept too: a decision, a threshold proof, a manifest is
// stored by id in the transaction that makes it, before any file is
// written, so a failed write can always be redone from the store.
//
// Backends: package sqlstore (SQLite by default, pure Go, WAL,
// synchronous=FULL; PostgreSQL for coordinator replicas). Every backend
// passes the conformance suite in package storetest.
package store

import (
	"context"
	"errors"

	"github.com/airlock-vault/airlock/audit"
)

// Errors callers branch on. Backends wrap them with detail.
var (
	ErrNotFound  = errors.New("store: not found")
	ErrDuplicate = errors.New("store: duplicate")
	ErrUnlogged  = errors.New("store: a state change before its audit entry")
	ErrCorrupt   = errors.New("store: database is corrupt or not an airlock store")
	ErrLocked    = errors.New("store: database is locked")
	ErrFull      = errors.New("store: disk full")
	ErrReplay    = errors.New("store: replayed sequence number")
	ErrDisagree  = errors.New("store: state and audit log disagree")
	ErrBackdated = errors.New("store: back-dated audit entry")
)

// Store is one workspace's state and audit log.
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Reader) error) error
	// Update runs fn in a read-write transaction and commits it if fn
	// returns nil; otherwise nothing fn did is kept.
	Update(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Proposal is a stored proposal envelope.
type Proposal struct {
	ID       [32]byte
	Envelope []byte
	State    string // the coordinator's lifecycle state; stations keep "held"
	Entry    int64  // the audit entry that stored it (-1: migrated)
}

// Decision is a participant's stored decision on a proposal: at a
// coordinator, one collected approval or rejection per participant; at a
// station, its own.
type Decision struct {
	Proposal    [32]byte
	Participant string
	Envelope    []byte
	Entry       int64
}

// Claim is a resource (a Bitcoin outpoint, a Safe nonce) a station
// approved spending in a proposal.
type Claim struct {
	Resource string
	Proposal [32]byte
	Entry    int64
}

// Artifact is an output kept by id so it can be given again: a decision,
// a threshold proof, a final transaction, a manifest.
type Artifact struct {
	ID    [32]byte
	Kind  string // "approval", "proof", "transaction", "manifest", …
	Name  string // the file name it was first written as (advisory)
	Data  []byte
	Entry int64
}

// Reader reads the state and the log.
type Reader interface {
	// Policies returns the stored policy envelopes, oldest version first.
	Policies() ([][]byte, error)
	Proposal(id [32]byte) (Proposal, error)
	// FindProposals returns the proposals whose hex id starts with prefix.
	FindProposals(prefix string) ([]Proposal, error)
	Proposals() ([]Proposal, error)
	// ProposalsIn returns the proposals in one of states (the live ones,
	// without reading the history's).
	ProposalsIn(states ...string) ([]Proposal, error)
	// ProposalStates returns every proposal's state by id (no envelopes).
	ProposalStates() (map[[32]byte]string, error)
	// Decisions returns the decisions on a proposal by participant.
	Decisions(proposal [32]byte) (map[string]Decision, error)
	// Claim returns who holds a resource, or ErrNotFound.
	Claim(resource string) (Claim, error)
	Claims() ([]Claim, error)
	// Final returns a finalized proposal's threshold proof envelope.
	Final(proposal [32]byte) ([]byte, error)
	Artifact(id [32]byte) (Artifact, error)
	// FindArtifacts returns the artifacts whose hex id starts with prefix.
	FindArtifacts(prefix string) ([]Artifact, error)
	// Sequence returns a channel's last sequence number (0: none).
	Sequence(channel string) (uint64, error)
	// Witness returns a witness record, or nil.
	Witness(key string) ([]byte, error)
	Witnesses(prefix string) (map[string][]byte, error)
	// Health returns a device's latest health record, or ErrNotFound.
	Health(device string) ([]byte, error)
	// Meta returns a store-wide setting, or "" when unset.
	Meta(key string) (string, error)
	// Audit is the log, read-only here.
	Audit() audit.Store
	// StateEntries returns, for each kind of row (policies, proposals,
	// decisions, claims, finals, artifacts), the audit entry of every row.
	StateEntries() (map[string][]int64, error)
	// Checkpoints returns every stored checkpoint, oldest first.
	Checkpoints() ([][]byte, error)
	// EntriesOfKind lists the indexes of the log's entries of one kind.
	EntriesOfKind(kind string) ([]int64, error)
}

// Tx changes the state. Every change must follow a Log call in the same
// transaction; the rows it writes record that entry's index.
type Tx interface {
	Reader
	// Log appends an event to the audit log and ties the state changes
	// that follow to it.
	Log(ev audit.Event) (int64, error)
	PutPolicy(version uint64, id [32]byte, env []byte) error
	// PutProposal stores a new proposal (ErrDuplicate if held).
	PutProposal(p Proposal) error
	SetProposalState(id [32]byte, state string) error
	// PutDecision stores a participant's decision (ErrDuplicate if the
	// participant already decided on the proposal).
	PutDecision(d Decision) error
	// PutClaim records that resource is spent by proposal, replacing any
	// earlier claim; ReleaseClaim frees it.
	PutClaim(resource string, proposal [32]byte) error
	ReleaseClaim(resource string) error
	// PutFinal records a proposal's threshold proof (ErrDuplicate if it
	// is finalized).
	PutFinal(proposal [32]byte, proof []byte) error
	// PutArtifact keeps an output (storing the same id again is a no-op).
	PutArtifact(a Artifact) error
	// SetSequence records a channel's last sequence number.
	SetSequence(channel string, n uint64) error
	PutWitness(key string, value []byte) error
	PutHealth(device string, record []byte) error
	SetMeta(key, value string) error
	// AuditWriter is the log, writable: checkpoints are signed through it.
	AuditWriter() audit.Store
}
