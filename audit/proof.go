package audit

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// Proof text limits.
const (
	maxProof       = 256 << 10
	maxProofHashes = 64
	proofHeader    = "airlock audit proof v1"
)

// Prove returns an inclusion proof of entry i against the latest
// checkpoint, as a self-contained text:
//
//	airlock audit proof v1
//	origin <origin>
//	index <i>
//	entry <base64 record>
//	hash <base64>          (one line per proof hash, leaf to root)
//
//	<the signed checkpoint note>
func (l *Log) Prove(i int64) ([]byte, error) {
	cp, err := l.LatestCheckpoint()
	if err != nil {
		return nil, err
	}
	size, err := checkpointSize(cp)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= size {
		return nil, fmt.Errorf("audit: entry %d is not covered by the latest checkpoint (size %d)", i, size)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	rec, err := l.raw(i)
	if err != nil {
		return nil, err
	}
	p, err := tlog.ProveRecord(size, i, l)
	if err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\norigin %s\nindex %d\nentry %s\n", proofHeader, l.origin, i, base64.StdEncoding.EncodeToString(rec))
	for _, h := range p {
		fmt.Fprintf(&b, "hash %s\n", base64.StdEncoding.EncodeToString(h[:]))
	}
	b.WriteString("\n")
	b.Write(cp)
	return b.Bytes(), nil
}

// checkpointSize reads the size line of a checkpoint without verifying it.
func checkpointSize(cp []byte) (int64, error) {
	lines := strings.SplitN(string(cp), "\n", 3)
	if len(lines) < 3 {
		return 0, fmt.Errorf("%w: malformed checkpoint", ErrTampered)
	}
	return strconv.ParseInt(lines[1], 10, 64)
}

type proof struct {
	origin string
	index  int64
	record []byte
	hashes tlog.RecordProof
	cp     []byte
}

func parseProof(b []byte) (*proof, error) {
	if len(b) > maxProof {
		return nil, fmt.Errorf("audit: proof of %d bytes exceeds %d", len(b), maxProof)
	}
	head, cp, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok || len(cp) == 0 {
		return nil, errors.New("audit: proof has no checkpoint")
	}
	p := &proof{cp: cp}
	// One line at a time, without copying: the header, origin, index and
	// entry lines in that order, then hash lines.
	line := func() ([]byte, bool) {
		if len(head) == 0 {
			return nil, false
		}
		l, rest, _ := bytes.Cut(head, []byte{'\n'})
		head = rest
		return l, true
	}
	if l, ok := line(); !ok || string(l) != proofHeader {
		return nil, errors.New("audit: not an airlock audit proof")
	}
	l, _ := line()
	origin, ok1 := bytes.CutPrefix(l, []byte("origin "))
	if !ok1 || len(origin) == 0 {
		return nil, errors.New("audit: proof: bad origin line")
	}
	p.origin = string(origin)
	l, _ = line()
	idx, ok2 := bytes.CutPrefix(l, []byte("index "))
	n, err := strconv.ParseInt(string(idx), 10, 64)
	if !ok2 || err != nil || n < 0 || strconv.FormatInt(n, 10) != string(idx) {
		return nil, errors.New("audit: proof: bad index line")
	}
	p.index = n
	l, _ = line()
	entry, ok3 := bytes.CutPrefix(l, []byte("entry "))
	enc := base64.StdEncoding.Strict()
	p.record = make([]byte, enc.DecodedLen(len(entry)))
	m, err := enc.Decode(p.record, entry)
	if !ok3 || err != nil || m == 0 || m > MaxRecord {
		return nil, errors.New("audit: proof: bad entry line")
	}
	p.record = p.record[:m]
	for {
		l, ok := line()
		if !ok {
			break
		}
		hs, ok := bytes.CutPrefix(l, []byte("hash "))
		// 44 characters decode to at most 33 bytes: room for them all, so
		// a line without padding is refused, never written past the hash.
		var buf [tlog.HashSize + 1]byte
		if !ok || len(hs) != 44 {
			return nil, fmt.Errorf("audit: proof: bad hash line %q", l)
		}
		if k, err := enc.Decode(buf[:], hs); err != nil || k != tlog.HashSize {
			return nil, fmt.Errorf("audit: proof: bad hash line %q", l)
		}
		h := tlog.Hash(buf[:tlog.HashSize])
		if len(p.hashes) == maxProofHashes {
			return nil, fmt.Errorf("audit: proof: more than %d hashes", maxProofHashes)
		}
		p.hashes = append(p.hashes, h)
	}
	return p, nil
}

// VerifyProof checks a proof from Prove offline: the checkpoint's signature
// by pub, then that the entry is the index-th record of the tree the
// checkpoint signs.
func VerifyProof(b []byte, pub ed25519.PublicKey) (Entry, error) {
	p, err := parseProof(b)
	if err != nil {
		return Entry{}, err
	}
	c, err := openCheckpoint(p.cp, p.origin, pub)
	if err != nil {
		return Entry{}, err
	}
	if p.index >= int64(c.Size) {
		return Entry{}, fmt.Errorf("audit: entry %d is beyond the checkpoint's %d entries", p.index, c.Size)
	}
	if err := tlog.CheckRecord(p.hashes, int64(c.Size), tlog.Hash(c.Hash), p.index, tlog.RecordHash(p.record)); err != nil {
		return Entry{}, fmt.Errorf("%w: inclusion proof of entry %d fails: %v", ErrTampered, p.index, err)
	}
	ev, err := decode(p.record)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: proven entry is malformed: %v", err)
	}
	return Entry{Index: p.index, Event: ev, Raw: p.record}, nil
}

// ConsistencyProof proves that the tree of size from is a prefix of the
// tree of size to (RFC 6962 §2.1.2).
func (l *Log) ConsistencyProof(from, to int64) (tlog.TreeProof, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	size, err := l.st.Size()
	if err != nil {
		return nil, err
	}
	if from < 1 || from > to || to > size {
		return nil, fmt.Errorf("audit: no consistency proof from %d to %d in a log of %d", from, to, size)
	}
	p, err := tlog.ProveTree(to, from, l)
	if err != nil {
		return nil, fmt.Errorf("audit: %v", err)
	}
	return p, nil
}

// Checkpoint is a verified checkpoint.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	Body   []byte // the signed note's text
}

// OpenCheckpoint verifies a signed checkpoint of the log named origin with
// its owner's identity key.
func OpenCheckpoint(cp []byte, origin string, pub ed25519.PublicKey) (*Checkpoint, error) {
	c, err := openCheckpoint(cp, origin, pub)
	if err != nil {
		return nil, err
	}
	body, _, _ := bytes.Cut(cp, []byte("\n\n"))
	return &Checkpoint{Origin: c.Origin, Size: int64(c.Size), Root: tlog.Hash(c.Hash), Body: append(body, '\n')}, nil
}

// CheckConsistency checks that newer extends older, given a proof.
func CheckConsistency(older, newer *Checkpoint, proof tlog.TreeProof) error {
	switch {
	case newer.Size < older.Size:
		return fmt.Errorf("%w: the log shrank from %d to %d entries", ErrTampered, older.Size, newer.Size)
	case newer.Size == older.Size:
		if newer.Root != older.Root {
			return fmt.Errorf("%w: two different trees of %d entries: the log forked", ErrTampered, newer.Size)
		}
		return nil
	}
	if err := tlog.CheckTree(proof, newer.Size, newer.Root, older.Size, older.Root); err != nil {
		return fmt.Errorf("%w: the log of %d entries does not extend the one of %d seen before: it forked or was rewritten (%v)", ErrTampered, newer.Size, older.Size, err)
	}
	return nil
}

// Cosignature is a witness's C2SP cosignature/v1 over a checkpoint: an
// Ed25519 signature over "cosignature/v1\ntime <t>\n" and the checkpoint
// body, by a key that saw the checkpoint and checked it extends every one
// it saw before.
type Cosignature struct {
	Time      int64
	Signature []byte
}

func cosignedMessage(body []byte, t int64) []byte {
	return append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), body...)
}

// Cosign signs a checkpoint body as a witness with an Ed25519 signer (a
// software key or a key on a token), and checks the result.
func Cosign(key crypto.Signer, body []byte, t int64) (Cosignature, error) {
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return Cosignature{}, fmt.Errorf("audit: cosigning key is a %T, want an Ed25519 key", key.Public())
	}
	msg := cosignedMessage(body, t)
	sig, err := key.Sign(nil, msg, crypto.Hash(0))
	if err != nil {
		return Cosignature{}, fmt.Errorf("audit: cosign: %w", err)
	}
	if !ed25519.Verify(pub, msg, sig) {
		return Cosignature{}, errors.New("audit: cosignature does not verify: faulty signing device")
	}
	return Cosignature{Time: t, Signature: sig}, nil
}

// VerifyCosignature checks a witness's cosignature.
func VerifyCosignature(pub ed25519.PublicKey, body []byte, c Cosignature) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, cosignedMessage(body, c.Time), c.Signature)
}
