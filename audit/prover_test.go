package audit

import (
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestProverPathIsTlogs: the in-memory PATH gives exactly the proof
// tlog.ProveRecord gives, for every entry of trees of many sizes
// (complete, one short, one over, odd right edges).
func TestProverPathIsTlogs(t *testing.T) {
	var dense []tlog.Hash
	reader := tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(ix))
		for i, x := range ix {
			out[i] = dense[x]
		}
		return out, nil
	})
	sizes := map[int64]bool{}
	for n := int64(1); n <= 70; n++ {
		sizes[n] = true
	}
	for _, n := range []int64{127, 128, 129, 1000, 1023, 1024, 1025, 3333} {
		sizes[n] = true
	}
	for n := int64(0); n < 3333; n++ {
		hs, err := tlog.StoredHashes(n, []byte(fmt.Sprint("record ", n)), reader)
		if err != nil {
			t.Fatal(err)
		}
		dense = append(dense, hs...)
		size := n + 1
		if !sizes[size] {
			continue
		}
		p := &Prover{size: size, dense: dense}
		root, _ := tlog.TreeHash(size, reader)
		for m := int64(0); m < size; m += 1 + size/97 {
			want, err := tlog.ProveRecord(size, m, reader)
			if err != nil {
				t.Fatal(err)
			}
			got := p.path(m)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("size %d entry %d: path differs from tlog's", size, m)
			}
			if err := tlog.CheckRecord(got, size, root, m, tlog.RecordHash([]byte(fmt.Sprint("record ", m)))); err != nil {
				t.Fatalf("size %d entry %d: %v", size, m, err)
			}
		}
	}
}
