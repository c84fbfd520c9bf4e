// Package audit is a workspace's append-only, tamper-evident event log.
//
// Every event (a policy signed, a proposal created, reviewed, approved,
// rejected, collected, finalized…) is a record in a Merkle tree hashed as
// RFC 6962 §2.1 prescribes, through golang.org/x/mod/sumdb/tlog. The tree's
// size and root are published as C2SP signed-note checkpoints
// (https://c2sp.org/tlog-checkpoint), signed with the workspace's Ed25519
// identity key. Anyone with that public key can check a checkpoint, and an
// inclusion proof ties any one event to it, offline.
//
// On disk, in the log's folder:
//
//	entries      the records, each a 4-byte big-endian length and the
//	             record bytes, appended and fsynced one at a time
//	hashes       the tlog stored hashes, 32 bytes each, in
//	             StoredHashIndex order (derivable; kept to prove quickly)
//	checkpoints  every signed checkpoint, each a 4-byte length and the note
//	lock         an advisory lock: one writer at a time
//
// A record is the event as JSON with a fixed field order and sorted detail
// keys, so it encodes one way only. Verify ignores the stored hashes and
// recomputes the tree from the records; an edited, removed, inserted or
// reordered record changes the root, and the signed checkpoint no longer
// matches.
//
// Example checkpoint:
//
//	airlock/coordinator/coord
//	12
//	2tXvC4W1k0J6CzKpZ9k9o4M0y0nq4pN8bq0Yc8h1wVQ=
//
//	— airlock/coordinator/coord Az3grl…
package audit

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// MaxRecord bounds one stored event.
const MaxRecord = 64 << 10

// Event is one thing that happened in a workspace.
type Event struct {
	Time    time.Time         // stored in UTC with second precision
	Kind    string            // e.g. "proposal.created"
	Subject string            // usually an artifact id
	Detail  map[string]string // small facts
}

// Entry is a stored event with its index.
type Entry struct {
	Index int64
	Event Event
	Raw   []byte // the record bytes, as hashed
}

// Report is what Verify found.
type Report struct {
	Entries        int64
	CheckpointSize int64
	Root           tlog.Hash
}

// Errors callers branch on.
var (
	ErrTampered     = errors.New("audit: log tampered with")
	ErrNoCheckpoint = errors.New("audit: no checkpoint")
)

// Store is where a log keeps its records, its stored hashes (in
// tlog.StoredHashIndex order) and its signed checkpoints. A Store is used
// by one Log at a time; the SQL store implements it inside the database
// transaction that also changes the state the entries describe, so an
// entry and its state change commit together or not at all.
type Store interface {
	tlog.HashReader
	// Size is the number of records.
	Size() (int64, error)
	// Record returns record i.
	Record(i int64) ([]byte, error)
	// Append stores record i (i == Size()) with the stored hashes
	// tlog.StoredHashes computed for it.
	Append(i int64, rec []byte, hashes []tlog.Hash) error
	// AddCheckpoint stores a signed checkpoint of size entries.
	AddCheckpoint(size int64, note []byte) error
	// LatestCheckpoint returns the newest checkpoint, or ErrNoCheckpoint.
	LatestCheckpoint() ([]byte, error)
}

// Log is an audit log over a Store.
type Log struct {
	mu     sync.Mutex
	origin string
	signer note.Signer // nil when the identity key is not at hand
	st     Store
}

// New returns the log named origin kept in st. key may be nil: the log
// then records events but cannot sign checkpoints.
func New(st Store, origin string, key crypto.Signer) (*Log, error) {
	l := &Log{origin: origin, st: st}
	if key != nil {
		s, err := Signer(origin, key)
		if err != nil {
			return nil, fmt.Errorf("audit: %v", err)
		}
		l.signer = s
	}
	return l, nil
}

// Origin is the log's name in its checkpoints.
func (l *Log) Origin() string { return l.origin }

type record struct {
	Time    string            `json:"time"`
	Kind    string            `json:"kind"`
	Subject string            `json:"subject"`
	Detail  map[string]string `json:"detail"`
}

// encode renders an event as its one canonical record.
func encode(e Event) ([]byte, error) {
	if e.Kind == "" {
		return nil, errors.New("audit: event without a kind")
	}
	r := record{Time: e.Time.UTC().Truncate(time.Second).Format(time.RFC3339), Kind: e.Kind, Subject: e.Subject, Detail: e.Detail}
	if r.Detail == nil {
		r.Detail = map[string]string{}
	}
	b, err := json.Marshal(r) // encoding/json sorts map keys
	if err != nil {
		return nil, err
	}
	if len(b) > MaxRecord {
		return nil, fmt.Errorf("audit: event of %d bytes exceeds %d", len(b), MaxRecord)
	}
	return b, nil
}

func decode(b []byte) (Event, error) {
	// Unknown fields, duplicate keys, other spacing or order: the record is
	// encoded again below and must come out the same bytes.
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return Event{}, err
	}
	t, err := time.Parse(time.RFC3339, r.Time)
	if err != nil {
		return Event{}, err
	}
	e := Event{Time: t, Kind: r.Kind, Subject: r.Subject, Detail: r.Detail}
	again, err := encode(e)
	if err != nil || !bytes.Equal(again, b) {
		return Event{}, errors.New("record is not in canonical form")
	}
	return e, nil
}

// Signer builds the note signer for an Ed25519 identity key under origin.
// The key is any Ed25519 crypto.Signer, so a checkpoint can be signed by a
// key that never leaves its token.
func Signer(origin string, key crypto.Signer) (note.Signer, error) {
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("audit: checkpoint key is a %T, want an Ed25519 key", key.Public())
	}
	vkey, err := VerifierKey(origin, pub)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	return noteSigner{name: origin, hash: v.KeyHash(), key: key, verifier: v}, nil
}

// noteSigner signs notes with an Ed25519 crypto.Signer (note's Ed25519
// algorithm signs the note text itself) and checks every signature.
type noteSigner struct {
	name     string
	hash     uint32
	key      crypto.Signer
	verifier note.Verifier
}

func (s noteSigner) Name() string    { return s.name }
func (s noteSigner) KeyHash() uint32 { return s.hash }
func (s noteSigner) Sign(msg []byte) ([]byte, error) {
	sig, err := s.key.Sign(nil, msg, crypto.Hash(0))
	if err != nil {
		return nil, err
	}
	if !s.verifier.Verify(msg, sig) {
		return nil, errors.New("audit: checkpoint signature does not verify: faulty signing device")
	}
	return sig, nil
}

// VerifierKey is the note verifier key for an identity under origin.
func VerifierKey(origin string, pub ed25519.PublicKey) (string, error) {
	k, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		return "", fmt.Errorf("audit: %v", err)
	}
	return k, nil
}

// Close closes the store when it is an io.Closer.
func (l *Log) Close() error {
	if c, ok := l.st.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Size is the number of entries (0 when the store cannot be read; Verify
// reports why).
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, _ := l.st.Size()
	return n
}

// ReadHashes implements tlog.HashReader over the stored hashes.
func (l *Log) ReadHashes(indexes []int64) ([]tlog.Hash, error) { return l.st.ReadHashes(indexes) }

// Append stores one event and returns its index. The record and its
// stored hashes go to the Store in one call; whether that is durable on
// return is the Store's promise (the SQL store commits them with the
// state change in one transaction).
func (l *Log) Append(e Event) (int64, error) {
	rec, err := encode(e)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.st.Size()
	if err != nil {
		return 0, err
	}
	hs, err := tlog.StoredHashes(n, rec, l.st)
	if err != nil {
		return 0, fmt.Errorf("audit: %v", err)
	}
	if err := l.st.Append(n, rec, hs); err != nil {
		return 0, err
	}
	return n, nil
}

// Encode renders an event as its one canonical record.
func Encode(e Event) ([]byte, error) { return encode(e) }

// Decode parses a record, refusing any that is not in canonical form.
func Decode(rec []byte) (Event, error) { return decode(rec) }

func (l *Log) raw(i int64) ([]byte, error) { return l.st.Record(i) }

// Entry returns entry i.
func (l *Log) Entry(i int64) (Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	size, err := l.st.Size()
	if err != nil {
		return Entry{}, err
	}
	if i < 0 || i >= size {
		return Entry{}, fmt.Errorf("audit: no entry %d in a log of %d", i, size)
	}
	b, err := l.raw(i)
	if err != nil {
		return Entry{}, err
	}
	ev, err := decode(b)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: entry %d: %v", ErrTampered, i, err)
	}
	return Entry{Index: i, Event: ev, Raw: b}, nil
}

// Entries returns every entry, in order.
func (l *Log) Entries() ([]Entry, error) {
	out := make([]Entry, 0, l.Size())
	for i := int64(0); i < l.Size(); i++ {
		e, err := l.Entry(i)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Checkpoint signs and stores a checkpoint of the current tree.
func (l *Log) Checkpoint() ([]byte, error) {
	if l.signer == nil {
		return nil, errors.New("audit: no identity key to sign a checkpoint with")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	size, err := l.st.Size()
	if err != nil {
		return nil, err
	}
	root, err := tlog.TreeHash(size, l.st)
	if err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	body := log.Checkpoint{Origin: l.origin, Size: uint64(size), Hash: root[:]}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, l.signer)
	if err != nil {
		return nil, fmt.Errorf("audit: sign checkpoint: %v", err)
	}
	if len(signed) > maxCheckpoint {
		return nil, fmt.Errorf("audit: checkpoint of %d bytes exceeds %d", len(signed), maxCheckpoint)
	}
	if err := l.st.AddCheckpoint(size, signed); err != nil {
		return nil, err
	}
	return signed, nil
}

// maxCheckpoint bounds a stored checkpoint note.
const maxCheckpoint = 1 << 16

// LatestCheckpoint returns the last stored checkpoint.
func (l *Log) LatestCheckpoint() ([]byte, error) { return l.st.LatestCheckpoint() }

// openCheckpoint verifies a signed checkpoint with pub under origin.
func openCheckpoint(cp []byte, origin string, pub ed25519.PublicKey) (*log.Checkpoint, error) {
	vkey, err := VerifierKey(origin, pub)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	c, _, _, err := log.ParseCheckpoint(cp, origin, v)
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint does not verify with %s: %v", ErrTampered, vkey, err)
	}
	return c, nil
}

// Verify recomputes the tree from the stored records alone, checks every
// stored hash against it and the latest checkpoint's signature and root.
func (l *Log) Verify(pub ed25519.PublicKey) (Report, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var rep Report
	mem := map[int64]tlog.Hash{}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			h, ok := mem[x]
			if !ok {
				return nil, fmt.Errorf("hash %d missing", x)
			}
			out[i] = h
		}
		return out, nil
	})
	size, err := l.st.Size()
	if err != nil {
		return rep, err
	}
	for i := int64(0); i < size; i++ {
		b, err := l.raw(i)
		if err != nil {
			return rep, err
		}
		if _, err := decode(b); err != nil {
			return rep, fmt.Errorf("%w: entry %d: %v", ErrTampered, i, err)
		}
		hs, err := tlog.StoredHashes(i, b, reader)
		if err != nil {
			return rep, fmt.Errorf("audit: %v", err)
		}
		base := tlog.StoredHashIndex(0, i)
		for k, h := range hs {
			mem[base+int64(k)] = h
		}
	}
	idx := make([]int64, 0, len(mem))
	for k := range mem {
		idx = append(idx, k)
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	stored, err := l.st.ReadHashes(idx)
	if err != nil {
		return rep, err
	}
	for k, x := range idx {
		if stored[k] != mem[x] {
			level, n := tlog.SplitStoredHashIndex(x)
			return rep, fmt.Errorf("%w: stored hash at level %d, index %d differs from the recomputed one (entry %d or the hashes file was edited)", ErrTampered, level, n, n<<level)
		}
	}
	cp, err := l.LatestCheckpoint()
	if err != nil {
		return rep, err
	}
	c, err := openCheckpoint(cp, l.origin, pub)
	if err != nil {
		return rep, err
	}
	rep.Entries, rep.CheckpointSize = size, int64(c.Size)
	if rep.CheckpointSize > size {
		return rep, fmt.Errorf("%w: checkpoint covers %d entries, the log holds %d: entries were removed", ErrTampered, c.Size, size)
	}
	root, err := tlog.TreeHash(rep.CheckpointSize, reader)
	if err != nil {
		return rep, fmt.Errorf("audit: %v", err)
	}
	if !bytes.Equal(root[:], c.Hash) {
		return rep, fmt.Errorf("%w: the first %d entries hash to %s, the signed checkpoint says %s: an entry was edited, removed, inserted or reordered", ErrTampered, c.Size, root, base64.StdEncoding.EncodeToString(c.Hash))
	}
	rep.Root = root
	return rep, nil
}
