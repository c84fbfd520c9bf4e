package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
)

var testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))

const origin = "airlock/station/test"

func pub() ed25519.PublicKey { return testKey.Public().(ed25519.PublicKey) }

func event(i int) Event {
	return Event{Time: time.Date(2026, 11, 25, 12, 0, i, 0, time.UTC), Kind: "proposal.reviewed", Subject: fmt.Sprintf("%064x", i), Detail: map[string]string{"n": fmt.Sprint(i), "b": "x"}}
}

// newLog returns a log of n entries with a checkpoint, closed, and its dir.
func newLog(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	l, err := Open(dir, origin, testKey)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if idx, err := l.Append(event(i)); err != nil || idx != int64(i) {
			t.Fatalf("append %d: %d, %v", i, idx, err)
		}
	}
	if _, err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	return dir
}

func verify(t *testing.T, dir string) error {
	t.Helper()
	l, err := Open(dir, origin, nil)
	if err != nil {
		return err
	}
	defer l.Close()
	_, err = l.Verify(pub())
	return err
}

func TestReopenKeepsEntries(t *testing.T) {
	dir := newLog(t, 5)
	l, err := Open(dir, origin, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	es, err := l.Entries()
	if err != nil || len(es) != 5 {
		t.Fatalf("%d entries, %v", len(es), err)
	}
	if es[3].Event.Detail["n"] != "3" || !es[3].Event.Time.Equal(event(3).Time) {
		t.Fatalf("entry 3 is %+v", es[3].Event)
	}
	rep, err := l.Verify(pub())
	if err != nil || rep.Entries != 5 || rep.CheckpointSize != 5 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func TestCheckpointIsC2SPSignedNote(t *testing.T) {
	dir := newLog(t, 3)
	l, _ := Open(dir, origin, nil)
	defer l.Close()
	cp, err := l.LatestCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	vkey, _ := VerifierKey(origin, pub())
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	c, _, _, err := log.ParseCheckpoint(cp, origin, v)
	if err != nil {
		t.Fatal(err)
	}
	if c.Size != 3 || c.Origin != origin {
		t.Fatalf("checkpoint %+v", c)
	}
	if _, err := note.Open(cp, note.VerifierList(v)); err != nil {
		t.Fatal(err)
	}
}

// rewrite replaces the entries file with the given records.
func rewrite(t *testing.T, dir string, recs [][]byte) {
	var b bytes.Buffer
	for _, r := range recs {
		binary.Write(&b, binary.BigEndian, uint32(len(r)))
		b.Write(r)
	}
	if err := os.WriteFile(filepath.Join(dir, "entries"), b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func records(t *testing.T, dir string) [][]byte {
	l, err := Open(dir, origin, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	es, err := l.Entries()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range es {
		out = append(out, e.Raw)
	}
	return out
}

func TestVerifyDetectsEditedEntry(t *testing.T) {
	dir := newLog(t, 8)
	recs := records(t, dir)
	recs[4] = bytes.Replace(recs[4], []byte(`"n":"4"`), []byte(`"n":"5"`), 1)
	rewrite(t, dir, recs)
	if err := verify(t, dir); !errors.Is(err, ErrTampered) {
		t.Fatalf("got %v, want ErrTampered", err)
	}
}

func TestVerifyDetectsEditedEntryEvenWithRecomputedHashes(t *testing.T) {
	// An attacker who edits an entry and rebuilds the hashes file still
	// cannot match the signed checkpoint.
	dir := newLog(t, 8)
	recs := records(t, dir)
	recs[2] = bytes.Replace(recs[2], []byte(`"n":"2"`), []byte(`"n":"9"`), 1)
	cp, _ := os.ReadFile(filepath.Join(dir, "checkpoints"))
	rebuilt := t.TempDir()
	l, _ := Open(rebuilt, origin, nil)
	for _, r := range recs {
		e, err := decode(r)
		if err != nil {
			t.Fatal(err)
		}
		l.Append(e)
	}
	l.Close()
	os.WriteFile(filepath.Join(rebuilt, "checkpoints"), cp, 0o600)
	err := verify(t, rebuilt)
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "signed checkpoint says") {
		t.Fatalf("got %v", err)
	}
}

func TestVerifyDetectsRemovedEntry(t *testing.T) {
	dir := newLog(t, 8)
	recs := records(t, dir)
	rewrite(t, dir, append(recs[:3:3], recs[4:]...))
	if err := verify(t, dir); !errors.Is(err, ErrTampered) {
		t.Fatalf("got %v, want ErrTampered", err)
	}
}

func TestVerifyDetectsReorderedEntries(t *testing.T) {
	dir := newLog(t, 8)
	recs := records(t, dir)
	recs[1], recs[6] = recs[6], recs[1]
	rewrite(t, dir, recs)
	if err := verify(t, dir); !errors.Is(err, ErrTampered) {
		t.Fatalf("got %v, want ErrTampered", err)
	}
}

func TestVerifyDetectsEditedHashes(t *testing.T) {
	dir := newLog(t, 8)
	path := filepath.Join(dir, "hashes")
	b, _ := os.ReadFile(path)
	b[40] ^= 1
	os.WriteFile(path, b, 0o600)
	if err := verify(t, dir); !errors.Is(err, ErrTampered) {
		t.Fatalf("got %v, want ErrTampered", err)
	}
}

func TestVerifyDetectsForeignCheckpointKey(t *testing.T) {
	dir := newLog(t, 4)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))
	l, _ := Open(dir, origin, nil)
	defer l.Close()
	if _, err := l.Verify(other.Public().(ed25519.PublicKey)); !errors.Is(err, ErrTampered) {
		t.Fatalf("got %v", err)
	}
}

func TestVerifyDetectsTruncationBelowCheckpoint(t *testing.T) {
	dir := newLog(t, 8)
	recs := records(t, dir)
	rewrite(t, dir, recs[:5])
	// The hashes file no longer matches the entries, caught at open; with
	// the hashes rebuilt too, the checkpoint's size gives it away.
	if err := verify(t, dir); err == nil {
		t.Fatal("truncated log verified")
	}
	rebuilt := t.TempDir()
	l, _ := Open(rebuilt, origin, nil)
	for _, r := range recs[:5] {
		e, _ := decode(r)
		l.Append(e)
	}
	l.Close()
	cp, _ := os.ReadFile(filepath.Join(dir, "checkpoints"))
	os.WriteFile(filepath.Join(rebuilt, "checkpoints"), cp, 0o600)
	if err := verify(t, rebuilt); err == nil || !strings.Contains(err.Error(), "entries were removed") {
		t.Fatalf("got %v", err)
	}
}

func TestOpenRefusesTornRecord(t *testing.T) {
	dir := newLog(t, 3)
	f, _ := os.OpenFile(filepath.Join(dir, "entries"), os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0, 0, 1, 0, 'x'})
	f.Close()
	if _, err := Open(dir, origin, nil); !errors.Is(err, ErrTampered) {
		t.Fatalf("got %v", err)
	}
}

func TestAppendRefusesOversizeAndWritesNothing(t *testing.T) {
	dir := newLog(t, 2)
	l, _ := Open(dir, origin, testKey)
	defer l.Close()
	before, _ := os.ReadFile(filepath.Join(dir, "entries"))
	_, err := l.Append(Event{Time: time.Now(), Kind: "x", Detail: map[string]string{"big": strings.Repeat("a", MaxRecord)}})
	if err == nil {
		t.Fatal("oversize event accepted")
	}
	after, _ := os.ReadFile(filepath.Join(dir, "entries"))
	if !bytes.Equal(before, after) || l.Size() != 2 {
		t.Fatal("a refused event changed the log")
	}
}

func TestProofsVerifyOffline(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 100} {
		dir := newLog(t, n)
		l, _ := Open(dir, origin, nil)
		for _, i := range []int{0, n / 2, n - 1} {
			p, err := l.Prove(int64(i))
			if err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			e, err := VerifyProof(p, pub())
			if err != nil || e.Index != int64(i) || e.Event.Detail["n"] != fmt.Sprint(i) {
				t.Fatalf("n=%d i=%d: %+v %v", n, i, e, err)
			}
		}
		l.Close()
	}
}

func TestVerifyProofRefusesTampering(t *testing.T) {
	dir := newLog(t, 10)
	l, _ := Open(dir, origin, nil)
	defer l.Close()
	p, _ := l.Prove(4)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	if _, err := VerifyProof(p, other.Public().(ed25519.PublicKey)); err == nil {
		t.Fatal("proof verified with another key")
	}
	lines := strings.Split(string(p), "\n")
	for i, l := range lines {
		var edited string
		switch {
		case strings.HasPrefix(l, "entry "):
			e, _ := l2(l)
			edited = strings.Replace(string(p), l, e, 1)
		case strings.HasPrefix(l, "hash ") && i == 4:
			edited = strings.Replace(string(p), l, "hash "+strings.Repeat("A", 43)+"=", 1)
		case strings.HasPrefix(l, "index "):
			edited = strings.Replace(string(p), l, "index 5", 1)
		default:
			continue
		}
		if _, err := VerifyProof([]byte(edited), pub()); err == nil {
			t.Fatalf("proof with edited %q line verified", strings.Fields(l)[0])
		}
	}
	// A proof against another log's checkpoint fails.
	dir2 := newLog(t, 11)
	l2log, _ := Open(dir2, origin, nil)
	p2, _ := l2log.Prove(4)
	l2log.Close()
	head, _, _ := bytes.Cut(p, []byte("\n\n"))
	_, cp2, _ := bytes.Cut(p2, []byte("\n\n"))
	if _, err := VerifyProof(append(append(head, "\n\n"...), cp2...), pub()); err == nil {
		t.Fatal("proof verified against another checkpoint")
	}
}

// l2 returns an entry line with a different (still well-formed) record.
func l2(line string) (string, error) {
	e := event(99)
	rec, err := encode(e)
	if err != nil {
		return "", err
	}
	return "entry " + b64(rec), nil
}

func FuzzParseProof(f *testing.F) {
	dir := f.TempDir()
	l, err := Open(dir, origin, testKey)
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		l.Append(event(i))
	}
	l.Checkpoint()
	for i := int64(0); i < 5; i++ {
		p, err := l.Prove(i)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p)
	}
	l.Close()
	f.Add([]byte("airlock audit proof v1\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := VerifyProof(in, pub())
		if err == nil && e.Event.Kind == "" {
			t.Fatal("verified proof of an empty event")
		}
	})
}
