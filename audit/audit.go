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
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
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

// Log is an open audit log.
type Log struct {
	mu      sync.Mutex
	dir     string
	origin  string
	signer  note.Signer // nil when the identity key is not at hand
	lock    *os.File
	entries *os.File
	hashes  *os.File
	size    int64
	offsets []int64 // record offsets in entries
}

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
	var r record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
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

// Open opens (creating if missing) the log in dir. key may be nil: the log
// then records events but cannot sign checkpoints.
func Open(dir, origin string, key crypto.Signer) (*Log, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	l := &Log{dir: dir, origin: origin}
	if key != nil {
		s, err := Signer(origin, key)
		if err != nil {
			return nil, fmt.Errorf("audit: %v", err)
		}
		l.signer = s
	}
	var err error
	if l.lock, err = os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	if err := syscall.Flock(int(l.lock.Fd()), syscall.LOCK_EX); err != nil {
		l.lock.Close()
		return nil, fmt.Errorf("audit: lock: %v", err)
	}
	if l.entries, err = os.OpenFile(filepath.Join(dir, "entries"), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("audit: %v", err)
	}
	if l.hashes, err = os.OpenFile(filepath.Join(dir, "hashes"), os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("audit: %v", err)
	}
	if err := l.scan(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// scan indexes the records and checks the hashes file's length.
func (l *Log) scan() error {
	data, err := io.ReadAll(io.NewSectionReader(l.entries, 0, 1<<40))
	if err != nil {
		return fmt.Errorf("audit: %v", err)
	}
	for off := int64(0); off < int64(len(data)); {
		if int64(len(data))-off < 4 {
			return fmt.Errorf("%w: torn record header at byte %d of %s", ErrTampered, off, l.entries.Name())
		}
		n := int64(binary.BigEndian.Uint32(data[off:]))
		if n == 0 || n > MaxRecord || off+4+n > int64(len(data)) {
			return fmt.Errorf("%w: torn or oversize record at byte %d of %s", ErrTampered, off, l.entries.Name())
		}
		l.offsets = append(l.offsets, off)
		off += 4 + n
	}
	l.size = int64(len(l.offsets))
	fi, err := l.hashes.Stat()
	if err != nil {
		return fmt.Errorf("audit: %v", err)
	}
	if want := tlog.StoredHashCount(l.size) * tlog.HashSize; fi.Size() != want {
		return fmt.Errorf("%w: hashes file holds %d bytes, %d entries need %d", ErrTampered, fi.Size(), l.size, want)
	}
	return nil
}

// Close releases the log.
func (l *Log) Close() error {
	for _, f := range []*os.File{l.entries, l.hashes} {
		if f != nil {
			f.Close()
		}
	}
	if l.lock != nil {
		syscall.Flock(int(l.lock.Fd()), syscall.LOCK_UN)
		l.lock.Close()
	}
	return nil
}

// Size is the number of entries.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// ReadHashes implements tlog.HashReader over the stored hashes.
func (l *Log) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		if _, err := l.hashes.ReadAt(out[i][:], idx*tlog.HashSize); err != nil {
			return nil, fmt.Errorf("audit: read hash %d: %v", idx, err)
		}
	}
	return out, nil
}

// Append durably stores one event and returns its index. The record is
// synced before the hashes, and the hashes before Append returns; a crash
// in between leaves a hashes file that Open reports.
func (l *Log) Append(e Event) (int64, error) {
	rec, err := encode(e)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.size
	hs, err := tlog.StoredHashes(n, rec, l)
	if err != nil {
		return 0, fmt.Errorf("audit: %v", err)
	}
	end, err := l.entries.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("audit: %v", err)
	}
	buf := make([]byte, 4+len(rec))
	binary.BigEndian.PutUint32(buf, uint32(len(rec)))
	copy(buf[4:], rec)
	if _, err := l.entries.WriteAt(buf, end); err != nil {
		l.entries.Truncate(end)
		return 0, fmt.Errorf("audit: %v", err)
	}
	if err := l.entries.Sync(); err != nil {
		return 0, fmt.Errorf("audit: %v", err)
	}
	hb := make([]byte, 0, len(hs)*tlog.HashSize)
	for _, h := range hs {
		hb = append(hb, h[:]...)
	}
	if _, err := l.hashes.WriteAt(hb, tlog.StoredHashIndex(0, n)*tlog.HashSize); err != nil {
		return 0, fmt.Errorf("audit: %v", err)
	}
	if err := l.hashes.Sync(); err != nil {
		return 0, fmt.Errorf("audit: %v", err)
	}
	l.offsets = append(l.offsets, end)
	l.size++
	return n, nil
}

func (l *Log) raw(i int64) ([]byte, error) {
	var hdr [4]byte
	if _, err := l.entries.ReadAt(hdr[:], l.offsets[i]); err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := l.entries.ReadAt(b, l.offsets[i]+4); err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	return b, nil
}

// Entry returns entry i.
func (l *Log) Entry(i int64) (Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i < 0 || i >= l.size {
		return Entry{}, fmt.Errorf("audit: no entry %d in a log of %d", i, l.size)
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
	root, err := tlog.TreeHash(l.size, l)
	if err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	body := log.Checkpoint{Origin: l.origin, Size: uint64(l.size), Hash: root[:]}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, l.signer)
	if err != nil {
		return nil, fmt.Errorf("audit: sign checkpoint: %v", err)
	}
	f, err := os.OpenFile(filepath.Join(l.dir, "checkpoints"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	defer f.Close()
	buf := make([]byte, 4+len(signed))
	binary.BigEndian.PutUint32(buf, uint32(len(signed)))
	copy(buf[4:], signed)
	if _, err := f.Write(buf); err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	return signed, nil
}

// LatestCheckpoint returns the last stored checkpoint.
func (l *Log) LatestCheckpoint() ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(l.dir, "checkpoints"))
	if errors.Is(err, os.ErrNotExist) || len(data) == 0 {
		return nil, ErrNoCheckpoint
	}
	if err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	var last []byte
	for off := 0; off < len(data); {
		if len(data)-off < 4 {
			return nil, fmt.Errorf("%w: torn checkpoint", ErrTampered)
		}
		n := int(binary.BigEndian.Uint32(data[off:]))
		if n > 1<<16 || off+4+n > len(data) {
			return nil, fmt.Errorf("%w: torn checkpoint", ErrTampered)
		}
		last = data[off+4 : off+4+n]
		off += 4 + n
	}
	return last, nil
}

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
	for i := int64(0); i < l.size; i++ {
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
	stored, err := l.ReadHashes(idx)
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
	rep.Entries, rep.CheckpointSize = l.size, int64(c.Size)
	if rep.CheckpointSize > l.size {
		return rep, fmt.Errorf("%w: checkpoint covers %d entries, the log holds %d: entries were removed", ErrTampered, c.Size, l.size)
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
