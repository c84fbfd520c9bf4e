package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"math/bits"
	"strconv"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// upperLevel is the lowest tree level a Prover keeps in memory: every
// node at or above it (one for each 256 entries, about 8,000 hashes for a
// log of a million) is shared by many proofs, so each is read once.
const upperLevel = 8

// HashScanner is a Store that can read all its stored hashes in index
// order, cheaply (one sequential scan).
type HashScanner interface {
	ScanHashes(n int64, fn func(idx int64, h tlog.Hash) error) error
}

// Prover proves entries against one checkpoint of a log. Over a store
// that can scan its hashes (the SQL store) it holds the checkpoint's
// stored hashes in memory (32 bytes each, about two per entry: 64 MB for a
// million entries), so a proof reads only its record from the store;
// otherwise it keeps the upper levels it has read (one node per 256
// entries and up) and reads the rest for each proof.
type Prover struct {
	st     Store
	origin string
	cp     []byte
	size   int64
	dense  []tlog.Hash // every stored hash of the checkpoint's tree, or nil

	mu    sync.Mutex
	upper map[int64]tlog.Hash
	edge  map[int64]tlog.Hash // MTH(lo, size) of the tree's right edge
}

// NewProver returns a prover for the latest checkpoint in st.
func NewProver(st Store, origin string) (*Prover, error) {
	cp, err := st.LatestCheckpoint()
	if err != nil {
		return nil, err
	}
	size, err := checkpointSize(cp)
	if err != nil {
		return nil, err
	}
	p := &Prover{st: st, origin: origin, cp: cp, size: size, upper: map[int64]tlog.Hash{}}
	if hs, ok := st.(HashScanner); ok {
		n := tlog.StoredHashCount(size)
		dense := make([]tlog.Hash, 0, n)
		err := hs.ScanHashes(n, func(idx int64, h tlog.Hash) error {
			if idx != int64(len(dense)) {
				return fmt.Errorf("%w: stored hash %d is missing", ErrTampered, len(dense))
			}
			dense = append(dense, h)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if int64(len(dense)) != n {
			return nil, fmt.Errorf("%w: %d stored hashes for a tree of %d entries, want %d", ErrTampered, len(dense), size, n)
		}
		// The hashes must be the checkpoint's tree (a prover never serves
		// proofs that would not verify).
		root, err := tlog.TreeHash(size, tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(ix))
			for i, x := range ix {
				out[i] = dense[x]
			}
			return out, nil
		}))
		if err != nil {
			return nil, err
		}
		if want, err := checkpointRoot(cp); err != nil || want != root {
			return nil, fmt.Errorf("%w: the stored hashes do not hash to the latest checkpoint's root", ErrTampered)
		}
		p.dense = dense
	}
	return p, nil
}

// checkpointRoot reads the root line of a checkpoint without verifying it.
func checkpointRoot(cp []byte) (tlog.Hash, error) {
	lines := bytes.SplitN(cp, []byte("\n"), 4)
	if len(lines) < 4 {
		return tlog.Hash{}, fmt.Errorf("%w: malformed checkpoint", ErrTampered)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(string(lines[2]))
	if err != nil || len(b) != tlog.HashSize {
		return tlog.Hash{}, fmt.Errorf("%w: malformed checkpoint root", ErrTampered)
	}
	return tlog.Hash(b), nil
}

// ReadHashes implements tlog.HashReader: the upper levels from memory,
// the rest from the store in one read.
func (p *Prover) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	if p.dense != nil {
		for i, x := range indexes {
			if x < 0 || x >= int64(len(p.dense)) {
				return nil, fmt.Errorf("audit: stored hash %d is outside the tree", x)
			}
			out[i] = p.dense[x]
		}
		return out, nil
	}
	var missing []int64
	var at []int
	p.mu.Lock()
	for i, x := range indexes {
		if h, ok := p.upper[x]; ok {
			out[i] = h
			continue
		}
		missing = append(missing, x)
		at = append(at, i)
	}
	p.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	hs, err := p.st.ReadHashes(missing)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	for k, h := range hs {
		out[at[k]] = h
		if level, _ := tlog.SplitStoredHashIndex(missing[k]); level >= upperLevel {
			p.upper[missing[k]] = h
		}
	}
	p.mu.Unlock()
	return out, nil
}

// Prove returns the inclusion proof of entry i in the format of Log.Prove.
func (p *Prover) Prove(i int64) ([]byte, error) {
	if i < 0 || i >= p.size {
		return nil, fmt.Errorf("audit: entry %d is not covered by the latest checkpoint (size %d)", i, p.size)
	}
	rec, err := p.st.Record(i)
	if err != nil {
		return nil, err
	}
	var proof tlog.RecordProof
	if p.dense != nil {
		proof = p.path(i)
	} else if proof, err = tlog.ProveRecord(p.size, i, p); err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	return formatProof(p.origin, i, rec, proof, p.cp), nil
}

// path is RFC 6962 §2.1.1's PATH(m, D[size]) over the in-memory stored
// hashes, leaf to root (the order of tlog.RecordProof): a complete
// subtree's hash is one stored hash; the right edge's incomplete subtrees
// are hashed once and remembered.
func (p *Prover) path(m int64) tlog.RecordProof {
	out := make(tlog.RecordProof, 0, 64)
	lo, hi := int64(0), p.size
	for hi-lo > 1 {
		k := maxPow2Below(hi - lo)
		if m < lo+k {
			out = append(out, p.mth(lo+k, hi))
			hi = lo + k
		} else {
			out = append(out, p.mth(lo, lo+k))
			lo += k
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// mth is MTH(D[lo:hi]) for a subtree of the proof's tree: complete and
// aligned, or on the right edge (hi == size).
func (p *Prover) mth(lo, hi int64) tlog.Hash {
	n := hi - lo
	if n&(n-1) == 0 && lo%n == 0 {
		level := bits.TrailingZeros64(uint64(n))
		return p.dense[tlog.StoredHashIndex(level, lo>>level)]
	}
	p.mu.Lock()
	h, ok := p.edge[lo]
	p.mu.Unlock()
	if ok {
		return h
	}
	k := maxPow2Below(n)
	h = tlog.NodeHash(p.mth(lo, lo+k), p.mth(lo+k, hi))
	p.mu.Lock()
	if p.edge == nil {
		p.edge = map[int64]tlog.Hash{}
	}
	p.edge[lo] = h
	p.mu.Unlock()
	return h
}

// maxPow2Below is the largest power of two less than n (n > 1).
func maxPow2Below(n int64) int64 {
	return 1 << (bits.Len64(uint64(n-1)) - 1)
}

func formatProof(origin string, i int64, rec []byte, proof tlog.RecordProof, cp []byte) []byte {
	enc := base64.StdEncoding
	b := make([]byte, 0, len(proofHeader)+len(origin)+enc.EncodedLen(len(rec))+len(proof)*50+len(cp)+64)
	b = append(b, proofHeader+"\norigin "...)
	b = append(b, origin...)
	b = append(b, "\nindex "...)
	b = strconv.AppendInt(b, i, 10)
	b = append(b, "\nentry "...)
	b = enc.AppendEncode(b, rec)
	b = append(b, '\n')
	for _, h := range proof {
		b = append(b, "hash "...)
		b = enc.AppendEncode(b, h[:])
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, cp...)
}

// Verifier checks inclusion proofs by one log owner, verifying each
// distinct checkpoint's signature once: a proof against a checkpoint it
// already verified costs only the hashing.
type Verifier struct {
	pub ed25519.PublicKey

	mu   sync.Mutex
	seen map[string]checkpointTree // checkpoint bytes → its verified tree
}

type checkpointTree struct {
	origin string
	size   int64
	root   tlog.Hash
}

// maxVerified bounds the checkpoints a Verifier remembers.
const maxVerified = 1024

// NewVerifier returns a verifier of proofs signed by pub.
func NewVerifier(pub ed25519.PublicKey) *Verifier {
	return &Verifier{pub: pub, seen: map[string]checkpointTree{}}
}

// Verify checks a proof as VerifyProof does.
func (v *Verifier) Verify(b []byte) (Entry, error) {
	p, err := parseProof(b)
	if err != nil {
		return Entry{}, err
	}
	v.mu.Lock()
	t, ok := v.seen[string(p.cp)]
	v.mu.Unlock()
	if !ok || t.origin != p.origin {
		c, err := openCheckpoint(p.cp, p.origin, v.pub)
		if err != nil {
			return Entry{}, err
		}
		t = checkpointTree{origin: p.origin, size: int64(c.Size), root: tlog.Hash(c.Hash)}
		v.mu.Lock()
		if len(v.seen) >= maxVerified {
			clear(v.seen)
		}
		v.seen[string(p.cp)] = t
		v.mu.Unlock()
	}
	return checkRecord(p, t.size, t.root)
}

func checkRecord(p *proof, size int64, root tlog.Hash) (Entry, error) {
	if p.index >= size {
		return Entry{}, fmt.Errorf("audit: entry %d is beyond the checkpoint's %d entries", p.index, size)
	}
	if err := tlog.CheckRecord(p.hashes, size, root, p.index, tlog.RecordHash(p.record)); err != nil {
		return Entry{}, fmt.Errorf("%w: inclusion proof of entry %d fails: %v", ErrTampered, p.index, err)
	}
	ev, err := decode(p.record)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: proven entry is malformed: %v", err)
	}
	return Entry{Index: p.index, Event: ev, Raw: p.record}, nil
}
