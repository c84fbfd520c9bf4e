package serve_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/serve"
)

// TestClientRefusesASwappedAnswer: a service (or a proxy before it) that
// answers with another proposal's envelope, or another proposal's
// release, is not believed: the client's checked calls refuse what does
// not belong to the proposal asked for, and take the true answers.
func TestClientRefusesASwappedAnswer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, quorum.Options{})
	coord := f.clients["coord"]
	a, b := f.propose("a").ID, f.propose("b").ID

	if pe, err := coord.ProposalEnvelope(ctx, a); err != nil || pe.IDHex() != a {
		t.Fatalf("the true envelope: %v", err)
	}
	envB, err := coord.Envelope(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	var withdrawnB serve.Withdrawn
	if err := coord.JSON(ctx, "POST", "/v1/proposals/"+b+"/withdraw", serve.WithdrawRequest{Reason: "for the liar"}, &withdrawnB); err != nil {
		t.Fatal(err)
	}

	// The liar answers every envelope with b's, every withdraw with b's
	// release.
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/envelope"):
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(envB)
		case strings.HasSuffix(r.URL.Path, "/withdraw"):
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(serve.Withdrawn{Proposal: a, State: "withdrawn", Release: withdrawnB.Release})
		default:
			http.NotFound(w, r)
		}
	}))
	defer liar.Close()
	lied := *coord
	lied.Base = liar.URL

	if _, err := lied.ProposalEnvelope(ctx, a); err == nil || !strings.Contains(err.Error(), "when asked for "+a) {
		t.Fatalf("another proposal's envelope was taken for %s: %v", a, err)
	}
	if _, _, err := lied.WithdrawChecked(ctx, a, "wrong"); err == nil || !strings.Contains(err.Error(), "release is not one of proposal "+a) {
		t.Fatalf("another proposal's release was taken for %s: %v", a, err)
	}
	w, rel, err := coord.WithdrawChecked(ctx, a, "the true one")
	if err != nil || w.State != "withdrawn" || rel == nil {
		t.Fatalf("the true withdraw: %+v %v", w, err)
	}
}

// TestRequestRefusedStopsABatchOnlyForTheRequest: a refusal of the
// request (its signature, key, roles) ends a batch of hand-ins; a refusal
// of the file handed in does not.
func TestRequestRefusedStopsABatchOnlyForTheRequest(t *testing.T) {
	for kind, stops := range map[string]bool{"bad-signature": true, "unknown-key": true, "forbidden": true, "halted": true,
		"duplicate": false, "invalid": false, "expired": false, "not-found": false} {
		err := &serve.Problem{Type: serve.ProblemBase + kind, Status: 400}
		if serve.RequestRefused(err) != stops {
			t.Errorf("%s: RequestRefused %v, want %v", kind, !stops, stops)
		}
	}
	if !serve.RequestRefused(context.DeadlineExceeded) {
		t.Error("a service that does not answer did not stop the batch")
	}
}
