// Package storetest is the conformance suite every store.Store backend
// runs (as golang.org/x/mod/sumdb/storage's test.go is for its backends):
// a state change without its audit entry is refused, a failed transaction
// leaves nothing, duplicates are typed errors, rows cite their entry, the
// log kept through the store verifies and proves, back-dated entries are
// refused outside a drill, and concurrent writers each land whole.
package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/store"
)

// Run runs the suite. newStore returns a fresh, empty store each call.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"StateChangeWithoutEntryIsRefused", testUnlogged},
		{"FailedTransactionLeavesNothing", testRollback},
		{"DuplicatesAreTypedErrors", testDuplicates},
		{"RowsCiteTheirEntry", testRowsCiteEntry},
		{"ClaimsReplaceAndRelease", testClaims},
		{"ArtifactsByIDAndPrefix", testArtifacts},
		{"SequencesWitnessesHealthMeta", testSmallState},
		{"PoliciesInVersionOrder", testPolicies},
		{"HexPrefixIsChecked", testPrefix},
		{"BackdatedEntryIsRefusedOutsideADrill", testBackdated},
		{"LogVerifiesAndProvesThroughTheStore", testLog},
		{"ConcurrentWritersEachLandWhole", testConcurrent},
		{"AFailingWriterRollsBackAlone", testFailingWriter},
		{"ProposalsByState", testProposalsByState},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			defer s.Close()
			tc.fn(t, s)
		})
	}
}

var (
	ctx     = context.Background()
	t0      = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	testKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
)

const origin = "airlock/coordinator/storetest"

func ev(i int, kind string) audit.Event {
	return audit.Event{Time: t0.Add(time.Duration(i) * time.Second), Kind: kind, Subject: fmt.Sprintf("s%d", i), Detail: map[string]string{"i": fmt.Sprint(i)}}
}

func id(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func size(t *testing.T, s store.Store) int64 {
	t.Helper()
	var n int64
	if err := s.View(ctx, func(r store.Reader) (err error) {
		n, err = r.Audit().Size()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func testUnlogged(t *testing.T, s store.Store) {
	puts := map[string]func(store.Tx) error{
		"proposal": func(tx store.Tx) error {
			return tx.PutProposal(store.Proposal{ID: id("p"), Envelope: []byte("e"), State: "open"})
		},
		"decision": func(tx store.Tx) error {
			return tx.PutDecision(store.Decision{Proposal: id("p"), Participant: "alice", Envelope: []byte("d")})
		},
		"claim":  func(tx store.Tx) error { return tx.PutClaim("outpoint:0", id("p")) },
		"final":  func(tx store.Tx) error { return tx.PutFinal(id("p"), []byte("proof")) },
		"policy": func(tx store.Tx) error { return tx.PutPolicy(1, id("pol"), []byte("pol")) },
		"artifact": func(tx store.Tx) error {
			return tx.PutArtifact(store.Artifact{ID: id("a"), Kind: "x", Data: []byte("a")})
		},
		"health":   func(tx store.Tx) error { return tx.PutHealth("dev", []byte("h")) },
		"sequence": func(tx store.Tx) error { return tx.SetSequence("out:x", 1) },
		"witness":  func(tx store.Tx) error { return tx.PutWitness("k", []byte("v")) },
	}
	for what, put := range puts {
		err := s.Update(ctx, put)
		if !errors.Is(err, store.ErrUnlogged) {
			t.Errorf("%s without its entry: got %v, want ErrUnlogged", what, err)
		}
	}
	err := s.View(ctx, func(r store.Reader) error {
		if ps, _ := r.Proposals(); len(ps) != 0 {
			t.Error("an unlogged proposal was stored")
		}
		if _, err := r.Final(id("p")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an unlogged final was stored: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testRollback(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Log(ev(0, "proposal.created")); err != nil {
			return err
		}
		if err := tx.PutProposal(store.Proposal{ID: id("p"), Envelope: []byte("e"), State: "open"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if n := size(t, s); n != 0 {
		t.Fatalf("a failed transaction left %d audit entries", n)
	}
	s.View(ctx, func(r store.Reader) error {
		if _, err := r.Proposal(id("p")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a failed transaction left its proposal: %v", err)
		}
		return nil
	})
}

func logged(t *testing.T, s store.Store, i int, kind string, fn func(store.Tx) error) error {
	t.Helper()
	return s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Log(ev(i, kind)); err != nil {
			return err
		}
		return fn(tx)
	})
}

func testDuplicates(t *testing.T, s store.Store) {
	p := store.Proposal{ID: id("p"), Envelope: []byte("e"), State: "open"}
	d := store.Decision{Proposal: id("p"), Participant: "alice", Envelope: []byte("d")}
	steps := []struct {
		what string
		fn   func(store.Tx) error
	}{
		{"proposal", func(tx store.Tx) error { return tx.PutProposal(p) }},
		{"decision", func(tx store.Tx) error { return tx.PutDecision(d) }},
		{"final", func(tx store.Tx) error { return tx.PutFinal(id("p"), []byte("proof")) }},
		{"policy", func(tx store.Tx) error { return tx.PutPolicy(1, id("pol"), []byte("pol")) }},
	}
	for i, st := range steps {
		if err := logged(t, s, 2*i, "x.first", st.fn); err != nil {
			t.Fatalf("first %s: %v", st.what, err)
		}
		before := size(t, s)
		if err := logged(t, s, 2*i+1, "x.again", st.fn); !errors.Is(err, store.ErrDuplicate) {
			t.Errorf("second %s: got %v, want ErrDuplicate", st.what, err)
		}
		if size(t, s) != before {
			t.Errorf("a refused duplicate %s left its entry", st.what)
		}
	}
	// A second participant decides; a different decision by the first does not.
	if err := logged(t, s, 20, "x", func(tx store.Tx) error {
		return tx.PutDecision(store.Decision{Proposal: id("p"), Participant: "bob", Envelope: []byte("b")})
	}); err != nil {
		t.Fatal(err)
	}
	if err := logged(t, s, 21, "x", func(tx store.Tx) error {
		return tx.PutDecision(store.Decision{Proposal: id("p"), Participant: "alice", Envelope: []byte("other")})
	}); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("a conflicting second decision: %v", err)
	}
}

func testRowsCiteEntry(t *testing.T, s store.Store) {
	for i := 0; i < 3; i++ {
		if err := logged(t, s, i, "filler", func(store.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	var want int64
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Log(ev(3, "proposal.created")); err != nil {
			return err
		}
		var err error
		if want, err = tx.Log(ev(4, "approval.collected")); err != nil {
			return err
		}
		if err := tx.PutProposal(store.Proposal{ID: id("p"), Envelope: []byte("e"), State: "open"}); err != nil {
			return err
		}
		return tx.PutDecision(store.Decision{Proposal: id("p"), Participant: "alice", Envelope: []byte("d")})
	})
	if err != nil {
		t.Fatal(err)
	}
	if want != 4 {
		t.Fatalf("second entry of the transaction has index %d", want)
	}
	s.View(ctx, func(r store.Reader) error {
		p, err := r.Proposal(id("p"))
		if err != nil || p.Entry != want {
			t.Errorf("proposal cites entry %d, want %d (%v)", p.Entry, want, err)
		}
		ds, _ := r.Decisions(id("p"))
		if ds["alice"].Entry != want {
			t.Errorf("decision cites entry %d, want %d", ds["alice"].Entry, want)
		}
		se, err := r.StateEntries()
		if err != nil || len(se["proposals"]) != 1 || se["decisions"][0] != want {
			t.Errorf("state entries %v, %v", se, err)
		}
		idx, err := r.EntriesOfKind("approval.collected")
		if err != nil || len(idx) != 1 || idx[0] != want {
			t.Errorf("entries of kind: %v, %v", idx, err)
		}
		return nil
	})
}

func testClaims(t *testing.T, s store.Store) {
	if err := logged(t, s, 0, "approval.created", func(tx store.Tx) error { return tx.PutClaim("txid:0", id("p1")) }); err != nil {
		t.Fatal(err)
	}
	if err := logged(t, s, 1, "approval.created", func(tx store.Tx) error { return tx.PutClaim("txid:0", id("p2")) }); err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(r store.Reader) error {
		c, err := r.Claim("txid:0")
		if err != nil || c.Proposal != id("p2") || c.Entry != 1 {
			t.Errorf("claim after override: %+v %v", c, err)
		}
		return nil
	})
	if err := logged(t, s, 2, "claim.released", func(tx store.Tx) error { return tx.ReleaseClaim("txid:0") }); err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(r store.Reader) error {
		if _, err := r.Claim("txid:0"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("released claim: %v", err)
		}
		cs, err := r.Claims()
		if err != nil || len(cs) != 0 {
			t.Errorf("claims %v %v", cs, err)
		}
		return nil
	})
}

func testArtifacts(t *testing.T, s store.Store) {
	a := store.Artifact{ID: id("approval"), Kind: "approval", Name: "a.approval", Data: []byte("envelope bytes")}
	for i := 0; i < 2; i++ { // storing the same id again is a no-op
		if err := logged(t, s, i, "approval.created", func(tx store.Tx) error { return tx.PutArtifact(a) }); err != nil {
			t.Fatal(err)
		}
	}
	s.View(ctx, func(r store.Reader) error {
		got, err := r.Artifact(a.ID)
		if err != nil || !bytes.Equal(got.Data, a.Data) || got.Kind != "approval" || got.Entry != 0 {
			t.Errorf("artifact %+v %v", got, err)
		}
		hexID := fmt.Sprintf("%x", a.ID)
		found, err := r.FindArtifacts(hexID[:6])
		if err != nil || len(found) != 1 {
			t.Errorf("by prefix: %d, %v", len(found), err)
		}
		found, err = r.FindArtifacts(hexID[:6] + "z")
		if err == nil {
			t.Errorf("a non-hex prefix was taken: %d", len(found))
		}
		if _, err := r.Artifact(id("nothing")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing artifact: %v", err)
		}
		return nil
	})
}

func testSmallState(t *testing.T, s store.Store) {
	err := logged(t, s, 0, "x", func(tx store.Tx) error {
		if err := tx.SetSequence("out:station/alice", 7); err != nil {
			return err
		}
		if err := tx.PutWitness("sent:alice:000000000004", []byte{1}); err != nil {
			return err
		}
		if err := tx.PutWitness("sent:alice_x:000000000005", []byte{2}); err != nil {
			return err
		}
		if err := tx.PutWitness("seen:coordinator/c", []byte("cp")); err != nil {
			return err
		}
		if err := tx.PutHealth("hsm", []byte("h1")); err != nil {
			return err
		}
		return tx.SetMeta("clock", "wall")
	})
	if err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(r store.Reader) error {
		if n, err := r.Sequence("out:station/alice"); n != 7 || err != nil {
			t.Errorf("sequence %d %v", n, err)
		}
		if n, err := r.Sequence("in:nobody"); n != 0 || err != nil {
			t.Errorf("unknown sequence %d %v", n, err)
		}
		// A prefix is matched literally: "_" and "%" are not wildcards.
		ws, err := r.Witnesses("sent:alice:")
		if err != nil || len(ws) != 1 {
			t.Errorf("witnesses by prefix: %v %v", ws, err)
		}
		if v, err := r.Witness("nothing"); v != nil || err != nil {
			t.Errorf("missing witness %v %v", v, err)
		}
		if h, err := r.Health("hsm"); string(h) != "h1" || err != nil {
			t.Errorf("health %q %v", h, err)
		}
		if _, err := r.Health("other"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing health %v", err)
		}
		if m, err := r.Meta("clock"); m != "wall" || err != nil {
			t.Errorf("meta %q %v", m, err)
		}
		return nil
	})
}

func testPolicies(t *testing.T, s store.Store) {
	for _, v := range []uint64{2, 1, 3} {
		if err := logged(t, s, int(v), "policy.imported", func(tx store.Tx) error {
			return tx.PutPolicy(v, id(fmt.Sprint(v)), []byte(fmt.Sprint(v)))
		}); err != nil {
			// Entries must not go back in time: use increasing indexes.
			t.Logf("note: %v", err)
		}
	}
	s.View(ctx, func(r store.Reader) error {
		ps, err := r.Policies()
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for _, p := range ps {
			got += string(p)
		}
		if got != "123" && got != "23" {
			t.Errorf("policies in order %q", got)
		}
		return nil
	})
}

func testPrefix(t *testing.T, s store.Store) {
	s.View(ctx, func(r store.Reader) error {
		for _, bad := range []string{"%", "ab%", "ab_c", "'; DROP TABLE proposals; --"} {
			if _, err := r.FindProposals(bad); err == nil {
				t.Errorf("prefix %q was taken", bad)
			}
		}
		return nil
	})
}

func testBackdated(t *testing.T, s store.Store) {
	if err := logged(t, s, 10, "x", func(store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := logged(t, s, 10, "same second", func(store.Tx) error { return nil }); err != nil {
		t.Fatalf("an entry in the same second: %v", err)
	}
	err := logged(t, s, 5, "earlier", func(store.Tx) error { return nil })
	if !errors.Is(err, store.ErrBackdated) {
		t.Fatalf("a back-dated entry: %v", err)
	}
	if err := logged(t, s, 11, "drill", func(tx store.Tx) error { return tx.SetMeta("clock", "drill") }); err != nil {
		t.Fatal(err)
	}
	if err := logged(t, s, 1, "earlier in a drill", func(store.Tx) error { return nil }); err != nil {
		t.Fatalf("a drill store refused a back-dated entry: %v", err)
	}
}

func testLog(t *testing.T, s store.Store) {
	const n = 100
	for i := 0; i < n; i++ {
		if err := logged(t, s, i, "proposal.reviewed", func(store.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	var cp []byte
	err := s.Update(ctx, func(tx store.Tx) error {
		l, err := audit.New(tx.AuditWriter(), origin, testKey)
		if err != nil {
			return err
		}
		cp, err = l.Checkpoint()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	pub := testKey.Public().(ed25519.PublicKey)
	s.View(ctx, func(r store.Reader) error {
		l, _ := audit.New(r.Audit(), origin, nil)
		rep, err := l.Verify(pub)
		if err != nil || rep.Entries != n || rep.CheckpointSize != n {
			t.Fatalf("verify: %+v %v", rep, err)
		}
		latest, err := r.Audit().LatestCheckpoint()
		if err != nil || !bytes.Equal(latest, cp) {
			t.Fatalf("latest checkpoint: %v", err)
		}
		cps, err := r.Checkpoints()
		if err != nil || len(cps) != 1 {
			t.Fatalf("checkpoints: %d %v", len(cps), err)
		}
		for _, i := range []int64{0, 1, 50, n - 1} {
			p, err := l.Prove(i)
			if err != nil {
				t.Fatal(err)
			}
			e, err := audit.VerifyProof(p, pub)
			if err != nil || e.Index != i || e.Event.Detail["i"] != fmt.Sprint(i) {
				t.Fatalf("proof of %d: %+v %v", i, e, err)
			}
		}
		if _, err := l.ConsistencyProof(10, n); err != nil {
			t.Fatal(err)
		}
		return nil
	})
}

func testConcurrent(t *testing.T, s store.Store) {
	const writers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				p := id(fmt.Sprint(w, "/", i))
				errs <- s.Update(ctx, func(tx store.Tx) error {
					if _, err := tx.Log(audit.Event{Time: t0, Kind: "proposal.created", Subject: fmt.Sprintf("%x", p)}); err != nil {
						return err
					}
					return tx.PutProposal(store.Proposal{ID: p, Envelope: p[:], State: "open"})
				})
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := size(t, s); n != writers*each {
		t.Fatalf("%d entries for %d transactions", n, writers*each)
	}
	s.View(ctx, func(r store.Reader) error {
		ps, _ := r.Proposals()
		if len(ps) != writers*each {
			t.Fatalf("%d proposals", len(ps))
		}
		se, _ := r.StateEntries()
		seen := map[int64]bool{}
		for _, e := range se["proposals"] {
			if seen[e] {
				t.Fatalf("two proposals cite entry %d", e)
			}
			seen[e] = true
		}
		l, _ := audit.New(r.Audit(), origin, nil)
		entries, err := l.Entries()
		if err != nil || len(entries) != writers*each {
			t.Fatalf("entries %d %v", len(entries), err)
		}
		return nil
	})
}

func testFailingWriter(t *testing.T, s store.Store) {
	const writers = 16
	var wg sync.WaitGroup
	errs := make([]error, writers)
	boom := errors.New("boom")
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			p := id(fmt.Sprint("w", w))
			errs[w] = s.Update(ctx, func(tx store.Tx) error {
				if _, err := tx.Log(audit.Event{Time: t0, Kind: "proposal.created", Subject: fmt.Sprintf("%x", p)}); err != nil {
					return err
				}
				if err := tx.PutProposal(store.Proposal{ID: p, Envelope: p[:], State: "open"}); err != nil {
					return err
				}
				if w%2 == 1 {
					return boom
				}
				return nil
			})
		}(w)
	}
	wg.Wait()
	for w, err := range errs {
		if (w%2 == 1) != errors.Is(err, boom) || (w%2 == 0 && err != nil) {
			t.Fatalf("writer %d: %v", w, err)
		}
	}
	if n := size(t, s); n != writers/2 {
		t.Fatalf("%d entries after %d successful writers", n, writers/2)
	}
	s.View(ctx, func(r store.Reader) error {
		for w := 0; w < writers; w++ {
			_, err := r.Proposal(id(fmt.Sprint("w", w)))
			if (err == nil) != (w%2 == 0) {
				t.Errorf("writer %d's proposal: %v", w, err)
			}
		}
		l, _ := audit.New(r.Audit(), origin, nil)
		es, err := l.Entries()
		if err != nil || len(es) != writers/2 {
			t.Fatalf("entries %d %v", len(es), err)
		}
		return nil
	})
}

// testProposalsByState: the live proposals and every state, read without
// the envelopes, agree with the proposals read whole.
func testProposalsByState(t *testing.T, s store.Store) {
	states := map[string]string{"a": "open", "b": "finalized", "c": "approved", "d": "expired", "e": "open"}
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		err := s.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.Log(ev(0, "proposal.created")); err != nil {
				return err
			}
			return tx.PutProposal(store.Proposal{ID: id(name), Envelope: []byte("env " + name), State: states[name]})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	s.View(ctx, func(r store.Reader) error {
		live, err := r.ProposalsIn("open", "approved")
		if err != nil {
			t.Fatal(err)
		}
		got := map[[32]byte]string{}
		for _, p := range live {
			if string(p.Envelope) == "" {
				t.Errorf("proposal %x read without its envelope", p.ID[:4])
			}
			got[p.ID] = p.State
		}
		if len(got) != 3 || got[id("a")] != "open" || got[id("c")] != "approved" || got[id("e")] != "open" {
			t.Errorf("ProposalsIn(open, approved) = %v", got)
		}
		if none, err := r.ProposalsIn(); err != nil || len(none) != 0 {
			t.Errorf("ProposalsIn() = %v, %v", none, err)
		}
		all, err := r.ProposalStates()
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != len(states) {
			t.Errorf("ProposalStates: %d, want %d", len(all), len(states))
		}
		for name, st := range states {
			if all[id(name)] != st {
				t.Errorf("ProposalStates[%s] = %q, want %q", name, all[id(name)], st)
			}
		}
		return nil
	})
}
