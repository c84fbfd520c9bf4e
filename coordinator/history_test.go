package coordinator

import (
	"fmt"
	"slices"
	"testing"

	"github.com/airlock-vault/airlock/store"
)

type witnesses struct {
	store.Reader
	recs map[string][]byte
}

func (w witnesses) Witnesses(prefix string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for k, v := range w.recs {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			out[k] = v
		}
	}
	return out, nil
}

// TestWitnessedSizesCoverEveryStationFirst: however many checkpoints
// went to one busy station, every station's newest comes first, so the
// bounded proofs reach the station that saw least.
func TestWitnessedSizesCoverEveryStationFirst(t *testing.T) {
	recs := map[string][]byte{"size:000000000007:carol": []byte("x"), "sent:bob:000000000003": {1}, "sent:alice:000000000090": {1}}
	for i := 10; i < 60; i++ {
		recs[fmt.Sprintf("sent:alice:%012d", i)] = []byte{1}
	}
	got, err := witnessedSizes(witnesses{recs: recs}, 80)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{59, 3, 7, 58}; !slices.Equal(got[:4], want) {
		t.Fatalf("first sizes %v, want %v", got[:4], want)
	}
	if slices.Contains(got, 90) {
		t.Fatal("a size at or after the range's start needs no proof")
	}
}
