package serve_test

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/proposal"
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

// TestForgedChainSignatureOnAKnownProposalIsRefused: once a proposal's
// hand-ins are verified from memory (after its first), an approval whose
// identity signature is good but whose chain signature is not (bob's
// station key did not make it) is still refused (422 invalid) and not
// recorded; a stored approval handed in again after finalization still
// answers 200 as the first time.
func TestForgedChainSignatureOnAKnownProposalIsRefused(t *testing.T) {
	eachStore(t, forgedChainSignature)
}

func forgedChainSignature(t *testing.T, o quorum.Options) {
	ctx := context.Background()
	f := newFixture(t, o)
	p := f.propose("rent")
	_, env, err := f.clients["alice"].Do(ctx, "GET", "/v1/proposals/"+p.ID+"/envelope", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	handIn := func(who string, b []byte) (int, []byte) {
		resp, body, err := f.clients[who].Do(ctx, "POST", "/v1/proposals/"+p.ID+"/decisions", b, "application/octet-stream")
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	alice := f.approve("alice", env)
	code, first := handIn("alice", alice)
	if code != http.StatusCreated {
		t.Fatalf("alice: %d %s", code, first)
	}
	e, err := envelope.Decode(f.approve("bob", env))
	if err != nil {
		t.Fatal(err)
	}
	ap, err := proposal.DecodeApproval(e)
	if err != nil || len(ap.Signatures) == 0 {
		t.Fatalf("bob's approval carries no chain signature: %v", err)
	}
	good := ap.Signatures[0].Sig
	forged := bytes.Clone(good)
	forged[len(forged)/2] ^= 1
	ap.Signatures[0].Sig = forged
	fe, err := proposal.SealApproval(ap, f.q.Stations["bob"].Keys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := fe.Encode()
	size := f.logSize()
	if code, b := handIn("bob", raw); code != http.StatusUnprocessableEntity || !bytes.Contains(b, []byte("problem:invalid")) {
		t.Fatalf("a forged chain signature: %d %s", code, b)
	}
	if f.logSize() != size {
		t.Fatal("a forged chain signature was recorded")
	}
	ap.Signatures[0].Sig = good
	ge, err := proposal.SealApproval(ap, f.q.Stations["bob"].Keys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = ge.Encode()
	if code, b := handIn("bob", raw); code != http.StatusCreated {
		t.Fatalf("bob's good approval: %d %s", code, b)
	}
	if err := f.clients["coord"].JSON(ctx, "POST", "/v1/proposals/"+p.ID+"/finalize", nil, nil); err != nil {
		t.Fatal(err)
	}
	if code, again := handIn("alice", alice); code != http.StatusOK || !bytes.Equal(again, first) {
		t.Fatalf("alice's approval again after finalization: %d %s", code, again)
	}
}
