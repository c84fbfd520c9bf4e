package serve_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/airlock-vault/airlock/internal/quorum"
)

// TestSameApprovalInFlightAtOnceIsRecordedOnce: the same approval handed
// in by several clients at the same moment (a station's operator and a
// retrying courier) is recorded once: one 201, every other answer 200
// with the same decisions, one audit entry. Its signatures are verified
// outside the workspace's lock, so the copies pass the "already stored"
// look together; the record refuses all but one.
func TestSameApprovalInFlightAtOnceIsRecordedOnce(t *testing.T) { eachStore(t, sameApprovalInFlight) }

func sameApprovalInFlight(t *testing.T, o quorum.Options) {
	ctx := context.Background()
	f := newFixture(t, o)
	p := f.propose("rent")
	_, env, err := f.clients["alice"].Do(ctx, "GET", "/v1/proposals/"+p.ID+"/envelope", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	a := f.approve("alice", env)
	size := f.logSize()
	const copies = 8
	codes := make([]int, copies)
	bodies := make([][]byte, copies)
	var wg sync.WaitGroup
	for i := range copies {
		wg.Go(func() {
			resp, b, err := f.clients["alice"].Do(ctx, "POST", "/v1/proposals/"+p.ID+"/decisions", a, "application/octet-stream")
			if err != nil {
				t.Error(err)
				return
			}
			codes[i], bodies[i] = resp.StatusCode, b
		})
	}
	wg.Wait()
	created := 0
	for i := range copies {
		switch codes[i] {
		case http.StatusCreated:
			created++
		case http.StatusOK:
		default:
			t.Fatalf("copy %d: %d %s", i, codes[i], bodies[i])
		}
		if !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatalf("copies answered differently:\n%s\n%s", bodies[i], bodies[0])
		}
	}
	if created != 1 {
		t.Fatalf("%d copies answered 201 Created, want 1", created)
	}
	if got := f.logSize(); got != size+1 {
		t.Fatalf("the log grew by %d entries, want 1 (the approval)", got-size)
	}
}
