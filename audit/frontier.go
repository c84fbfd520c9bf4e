package audit

import (
	"crypto/ed25519"
	"fmt"
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"
)

// Range bounds.
const (
	// MaxRangeRecords bounds the records one Range carries.
	MaxRangeRecords = 10000
	// MaxRangeBytes bounds their total size.
	MaxRangeBytes = 2 << 20
	// maxFrontier is the most complete subtrees a tree can have.
	maxFrontier = 64
)

// Range proves that Records are the whole of a log after entry From, up
// to the size of a signed checkpoint: the contiguous entries [From, n) of
// the tree a checkpoint of n entries signs, with the frontier of the tree
// of From entries (the hashes of its complete subtrees, largest first) and
// the record of entry From-1 with its inclusion proof in that tree (none
// when From is 0). A verifier recomputes the tree of n entries from the
// frontier and the records: an entry left out, added or reordered
// changes its root. Inclusion proofs of single entries could not show
// that nothing was left out; a range can.
type Range struct {
	From        int64
	Frontier    []tlog.Hash
	Records     [][]byte
	Before      []byte           // record From-1, or nil when From is 0
	BeforeProof tlog.RecordProof // its inclusion in the tree of From entries
	Checkpoint  []byte           // the signed checkpoint of From+len(Records) entries
}

// ProveRange proves the entries [from, to) of the log, where to is the
// size of its latest checkpoint (sign one first with Checkpoint).
func (l *Log) ProveRange(from, to int64) (*Range, error) {
	cp, err := l.LatestCheckpoint()
	if err != nil {
		return nil, err
	}
	size, err := checkpointSize(cp)
	if err != nil {
		return nil, err
	}
	if size != to {
		return nil, fmt.Errorf("audit: the latest checkpoint covers %d entries, not %d", size, to)
	}
	if from < 0 || from > to {
		return nil, fmt.Errorf("audit: no range from %d to %d", from, to)
	}
	if to-from > MaxRangeRecords {
		return nil, fmt.Errorf("audit: a range of %d entries exceeds %d", to-from, MaxRangeRecords)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := &Range{From: from, Checkpoint: cp}
	idx := frontierIndexes(from)
	if len(idx) > 0 {
		if r.Frontier, err = l.st.ReadHashes(idx); err != nil {
			return nil, err
		}
	}
	total := 0
	for i := from; i < to; i++ {
		rec, err := l.raw(i)
		if err != nil {
			return nil, err
		}
		if total += len(rec); total > MaxRangeBytes {
			return nil, fmt.Errorf("audit: a range of entries %d..%d exceeds %d bytes", from, to, MaxRangeBytes)
		}
		r.Records = append(r.Records, rec)
	}
	if from > 0 {
		if r.Before, err = l.raw(from - 1); err != nil {
			return nil, err
		}
		if r.BeforeProof, err = tlog.ProveRecord(from, from-1, l.st); err != nil {
			return nil, fmt.Errorf("audit: %v", err)
		}
	}
	return r, nil
}

// frontierIndexes are the stored-hash indexes of the complete subtrees of
// a tree of n entries, largest (leftmost) first.
func frontierIndexes(n int64) []int64 {
	var out []int64
	var start int64
	for level := 63; level >= 0; level-- {
		if n&(1<<level) == 0 {
			continue
		}
		out = append(out, tlog.StoredHashIndex(level, start>>level))
		start += 1 << level
	}
	return out
}

// compact is a tree's right edge as complete subtrees, largest first:
// appending a leaf merges equal subtrees, and folding from the right gives
// the root (RFC 6962's MTH).
type compact struct {
	hashes []tlog.Hash
	levels []int
	size   int64
}

func newCompact(n int64, frontier []tlog.Hash) (*compact, error) {
	if n < 0 {
		return nil, fmt.Errorf("%w: a range starts at %d", ErrTampered, n)
	}
	c := &compact{size: n}
	if len(frontier) != bits.OnesCount64(uint64(n)) {
		return nil, fmt.Errorf("%w: a frontier of %d hashes for a tree of %d entries, want %d", ErrTampered, len(frontier), n, bits.OnesCount64(uint64(n)))
	}
	k := 0
	for level := 63; level >= 0; level-- {
		if n&(1<<level) != 0 {
			c.hashes = append(c.hashes, frontier[k])
			c.levels = append(c.levels, level)
			k++
		}
	}
	return c, nil
}

func (c *compact) append(rec []byte) {
	c.hashes = append(c.hashes, tlog.RecordHash(rec))
	c.levels = append(c.levels, 0)
	c.size++
	for n := len(c.hashes); n >= 2 && c.levels[n-1] == c.levels[n-2]; n = len(c.hashes) {
		c.hashes[n-2] = tlog.NodeHash(c.hashes[n-2], c.hashes[n-1])
		c.levels[n-2]++
		c.hashes, c.levels = c.hashes[:n-1], c.levels[:n-1]
	}
}

func (c *compact) root() tlog.Hash {
	if len(c.hashes) == 0 {
		return tlog.Hash{}
	}
	h := c.hashes[len(c.hashes)-1]
	for i := len(c.hashes) - 2; i >= 0; i-- {
		h = tlog.NodeHash(c.hashes[i], h)
	}
	return h
}

// VerifiedRange is what VerifyRange proved.
type VerifiedRange struct {
	Checkpoint *Checkpoint
	From       int64
	Entries    []Entry // the entries From..Checkpoint.Size-1, in order
	Before     *Entry  // entry From-1, or nil when From is 0
	// roots are the tree's roots at every size From..Checkpoint.Size.
	roots []tlog.Hash
	// fromRoot is the root of the tree of From entries.
	fromRoot tlog.Hash
}

// VerifyRange checks a Range offline against the key of the log named
// origin: the checkpoint's signature, that the frontier and the records
// hash to its root (so the records are every entry after From, none left
// out, added or reordered), and that Before is entry From-1 of the same
// tree. Every record must decode as an event.
func VerifyRange(r *Range, origin string, pub ed25519.PublicKey) (*VerifiedRange, error) {
	cp, err := OpenCheckpoint(r.Checkpoint, origin, pub)
	if err != nil {
		return nil, err
	}
	if len(r.Records) > MaxRangeRecords {
		return nil, fmt.Errorf("audit: a range of %d entries exceeds %d", len(r.Records), MaxRangeRecords)
	}
	if r.From < 0 || r.From+int64(len(r.Records)) != cp.Size {
		return nil, fmt.Errorf("%w: a range of %d entries from %d does not end at the checkpoint's %d", ErrTampered, len(r.Records), r.From, cp.Size)
	}
	c, err := newCompact(r.From, r.Frontier)
	if err != nil {
		return nil, err
	}
	out := &VerifiedRange{Checkpoint: cp, From: r.From, fromRoot: c.root()}
	out.roots = append(out.roots, out.fromRoot)
	total := 0
	for i, rec := range r.Records {
		if total += len(rec); total > MaxRangeBytes || len(rec) > MaxRecord {
			return nil, fmt.Errorf("audit: a range's records exceed %d bytes", MaxRangeBytes)
		}
		c.append(rec)
		out.roots = append(out.roots, c.root())
		ev, err := decode(rec)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d of the range is malformed: %v", ErrTampered, r.From+int64(i), err)
		}
		out.Entries = append(out.Entries, Entry{Index: r.From + int64(i), Event: ev, Raw: rec})
	}
	if c.root() != cp.Root {
		return nil, fmt.Errorf("%w: the range's entries %d..%d and frontier do not hash to the checkpoint's root: an entry was left out, added or changed", ErrTampered, r.From, cp.Size)
	}
	switch {
	case r.From == 0 && (len(r.Before) != 0 || len(r.BeforeProof) != 0):
		return nil, fmt.Errorf("%w: a range from the first entry has an entry before it", ErrTampered)
	case r.From > 0:
		if len(r.Before) == 0 || len(r.Before) > MaxRecord || len(r.BeforeProof) > maxProofHashes {
			return nil, fmt.Errorf("%w: a range from entry %d lacks entry %d", ErrTampered, r.From, r.From-1)
		}
		if err := tlog.CheckRecord(r.BeforeProof, r.From, out.fromRoot, r.From-1, tlog.RecordHash(r.Before)); err != nil {
			return nil, fmt.Errorf("%w: entry %d is not the one before the range: %v", ErrTampered, r.From-1, err)
		}
		ev, err := decode(r.Before)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d is malformed: %v", ErrTampered, r.From-1, err)
		}
		out.Before = &Entry{Index: r.From - 1, Event: ev, Raw: r.Before}
	}
	return out, nil
}

// Extends checks that the range's checkpoint extends older, a checkpoint
// of the same log seen before: when older is no larger than the range's
// start, by proof, a consistency proof from older's size to the range's
// start (RFC 6962), checked against the frontier's root; when it falls
// inside the range, by recomputing its root from the records (no proof
// needed). A checkpoint newer than the range's is not for this function.
func (v *VerifiedRange) Extends(older *Checkpoint, proof tlog.TreeProof) error {
	switch {
	case older.Size > v.Checkpoint.Size:
		return fmt.Errorf("audit: a checkpoint of %d entries is newer than the range's %d", older.Size, v.Checkpoint.Size)
	case older.Size >= v.From:
		if v.roots[older.Size-v.From] != older.Root {
			return fmt.Errorf("%w: the range's tree of %d entries differs from the checkpoint seen before: the log forked", ErrTampered, older.Size)
		}
		return nil
	case older.Size == 0:
		return nil
	}
	if err := tlog.CheckTree(proof, v.From, v.fromRoot, older.Size, older.Root); err != nil {
		return fmt.Errorf("%w: the log of %d entries does not extend the one of %d seen before: it forked or was rewritten (%v)", ErrTampered, v.From, older.Size, err)
	}
	return nil
}
