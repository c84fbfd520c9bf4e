package drill_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/drill"
)

// TestExpiredSafePaymentDoesNotHoldTheLaterOnesBack: a Safe payment
// expires while two of the three owners are away, leaving its nonce
// unused. The coordinator proposes the on-chain rejection of that nonce,
// the owners sign it once back, it executes, and every payment that
// waited behind the hole executes: nothing is left waiting, the drill
// passes, and one seed gives one report.
func TestExpiredSafePaymentDoesNotHoldTheLaterOnesBack(t *testing.T) {
	rep, text := safeRun(t, "testdata/safe-expired-hole.yaml")
	if !rep.Passed {
		t.Fatalf("the drill failed (seed %d):\n%s", rep.Seed, text)
	}
	if rep.Proposals.Expired == 0 {
		t.Fatalf("no payment expired: the scenario tests nothing\n%s", text)
	}
	sf, sc := rep.Safe, rep.History.Safe
	if sf == nil || sc == nil {
		t.Fatalf("no Safe section in the report:\n%s", text)
	}
	if sf.Rejections == 0 || sf.RejectionsProposed < sf.Rejections || len(sf.Waiting) != 0 || len(sf.Holes) != 0 {
		t.Fatalf("the Safe section %+v: want the rejections executed, nothing waiting\n%s", sf, text)
	}
	if sc.Executed != rep.Proposals.Finalized || len(sc.Reverted) != 0 {
		t.Fatalf("%d finalized, %d executed on chain (reverted %v)\n%s", rep.Proposals.Finalized, sc.Executed, sc.Reverted, text)
	}
	kinds := map[string]int{}
	for _, e := range rep.Notable {
		kinds[e.Kind]++
		if e.Kind == "safe-rejection-proposed" && !strings.Contains(e.Note, "on-chain rejection of #") {
			t.Errorf("the rejection does not name the proposal it fills in for: %s", e.Note)
		}
	}
	if kinds["safe-rejection-proposed"] != sf.RejectionsProposed || kinds["safe-rejection-executed"] != sf.Rejections {
		t.Fatalf("notable events %v, Safe section %+v", kinds, sf)
	}
	if !strings.Contains(text, "on-chain rejections: ") {
		t.Fatalf("the text report does not count the rejections:\n%s", text)
	}
	j1, _ := render(t, load(t, "testdata/safe-expired-hole.yaml"), nil)
	j2, _ := render(t, load(t, "testdata/safe-expired-hole.yaml"), nil)
	if !bytes.Equal(j1, j2) {
		t.Fatal("same seed, different report")
	}
}

// TestSafeNonceLeftUnusedIsCaught: the same run with the rejection never
// proposed (quorum.safe.skip_rejection, a broken procedure): the payments
// after the expired one wait forever, and safe-on-chain fails naming the
// unused nonce.
func TestSafeNonceLeftUnusedIsCaught(t *testing.T) {
	sc := load(t, "testdata/safe-expired-hole.yaml")
	sc.Quorum.Safe.SkipRejection = true
	rep, err := drill.Run(ctx, sc, drill.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	rep.Text(&b)
	if rep.Passed || !slices.Contains(rep.Failed(), drill.InvSafe) {
		t.Fatalf("a nonce left unused passed the drill:\n%s", b.String())
	}
	if sf := rep.Safe; sf == nil || len(sf.Holes) == 0 || len(sf.Waiting) == 0 || sf.RejectionsProposed != 0 {
		t.Fatalf("the Safe section %+v: want the hole and what waits behind it", rep.Safe)
	}
	if !strings.Contains(b.String(), "is unused and nothing open fills it") {
		t.Fatalf("the violation does not name the unused nonce:\n%s", b.String())
	}
}
