package audit

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// rangeLog opens a log of n entries with a checkpoint.
func rangeLog(t *testing.T, n int) *Log {
	t.Helper()
	l, err := Open(newLog(t, n), origin, testKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestRangeVerifiesForEveryStart: a range from any start, in trees of
// many shapes, hashes to the checkpoint, and its intermediate roots are
// those of the log's own checkpoints.
func TestRangeVerifiesForEveryStart(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 8, 9, 31, 33} {
		l := rangeLog(t, n)
		for from := int64(0); from <= int64(n); from++ {
			r, err := l.ProveRange(from, int64(n))
			if err != nil {
				t.Fatalf("n %d from %d: %v", n, from, err)
			}
			v, err := VerifyRange(r, origin, pub())
			if err != nil {
				t.Fatalf("n %d from %d: %v", n, from, err)
			}
			if len(v.Entries) != n-int(from) || (from > 0) != (v.Before != nil) {
				t.Fatalf("n %d from %d: %d entries, before %v", n, from, len(v.Entries), v.Before)
			}
			// Every older tree is accepted, by recomputation or proof.
			for m := int64(1); m <= int64(n); m++ {
				root, err := tlog.TreeHash(m, l)
				if err != nil {
					t.Fatal(err)
				}
				var proof tlog.TreeProof
				if m < from {
					if proof, err = l.ConsistencyProof(m, from); err != nil {
						t.Fatal(err)
					}
				}
				if err := v.Extends(&Checkpoint{Size: m, Root: root}, proof); err != nil {
					t.Fatalf("n %d from %d seen %d: %v", n, from, m, err)
				}
			}
		}
	}
}

// TestRangeCatchesTampering: a coordinator that leaves an entry out of
// its history, reorders it, adds one, forges the frontier or the entry
// before, or signs with another key is caught.
func TestRangeCatchesTampering(t *testing.T) {
	l := rangeLog(t, 13)
	other := ed25519.NewKeyFromSeed(make([]byte, 32))
	for _, tc := range []struct {
		name   string
		edit   func(r *Range)
		key    ed25519.PublicKey
		substr string
	}{
		{"dropped entry", func(r *Range) { r.Records = append(r.Records[:2:2], r.Records[3:]...) }, nil, "does not end"},
		{"dropped entry, start moved", func(r *Range) { r.Records = append(r.Records[:2:2], r.Records[3:]...); r.From++ }, nil, ""},
		{"dropped entry, replaced by a copy", func(r *Range) { r.Records[2] = r.Records[1] }, nil, "do not hash"},
		{"reordered entries", func(r *Range) { r.Records[1], r.Records[2] = r.Records[2], r.Records[1] }, nil, "do not hash"},
		{"edited entry", func(r *Range) {
			r.Records[0] = []byte(strings.Replace(string(r.Records[0]), `"n":"5"`, `"n":"6"`, 1))
		}, nil, "do not hash"},
		{"forged frontier", func(r *Range) { r.Frontier[0][0] ^= 1 }, nil, "do not hash"},
		{"frontier of another size", func(r *Range) { r.Frontier = r.Frontier[1:] }, nil, "frontier"},
		{"forged entry before", func(r *Range) { r.Before = r.Records[0] }, nil, "not the one before"},
		{"no entry before", func(r *Range) { r.Before, r.BeforeProof = nil, nil }, nil, "lacks entry"},
		{"wrong key", func(r *Range) {}, other.Public().(ed25519.PublicKey), "does not verify"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := l.ProveRange(5, 13)
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(r)
			key := tc.key
			if key == nil {
				key = pub()
			}
			_, err = VerifyRange(r, origin, key)
			if err == nil {
				t.Fatal("a tampered range verifies")
			}
			if !strings.Contains(err.Error(), tc.substr) {
				t.Fatalf("error %q, want %q", err, tc.substr)
			}
		})
	}
}

// TestRangeCatchesForkAgainstWitnessed: a range from a log that forked
// after a checkpoint the station witnessed does not extend it.
func TestRangeCatchesForkAgainstWitnessed(t *testing.T) {
	l := rangeLog(t, 10)
	fork := rangeLog(t, 6) // the same first 6 entries, then others
	for i := 0; i < 4; i++ {
		if _, err := fork.Append(event(100 + i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fork.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	seenRoot, _ := tlog.TreeHash(8, l)
	seen := &Checkpoint{Size: 8, Root: seenRoot}
	for _, from := range []int64{3, 7} {
		r, err := fork.ProveRange(from, 10)
		if err != nil {
			t.Fatal(err)
		}
		v, err := VerifyRange(r, origin, pub())
		if err != nil {
			t.Fatal(err)
		}
		var proof tlog.TreeProof
		if from == 7 {
			proof, _ = l.ConsistencyProof(7, 8) // nothing valid exists
		}
		if err := v.Extends(seen, proof); !errors.Is(err, ErrTampered) {
			t.Fatalf("from %d: fork accepted: %v", from, err)
		}
	}
	// A witnessed tree before the range's start that the range's tree does
	// not extend: the consistency proof fails.
	r, _ := l.ProveRange(7, 10)
	v, err := VerifyRange(r, origin, pub())
	if err != nil {
		t.Fatal(err)
	}
	proof, _ := l.ConsistencyProof(2, 7)
	if err := v.Extends(&Checkpoint{Size: 2, Root: tlog.Hash{1}}, proof); !errors.Is(err, ErrTampered) {
		t.Fatalf("a forged older tree accepted: %v", err)
	}
}
