package station_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/testws"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/workspace"
)

var (
	reg = chain.NewRegistry(bitcoin.Adapter{}, safe.Adapter{})
	ctx = context.Background()
)

func open(t *testing.T, dir string) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.Open(dir, workspace.Options{Now: func() time.Time { return testws.Time }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func unlock(t *testing.T, ws *workspace.Workspace) *keystore.Keystore {
	t.Helper()
	ks, err := keystore.Open(ws.KeystorePath(), []byte(testws.Passphrase))
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// secondProposal proposes the fixture's transaction again, with another
// intent: the same coin, a new proposal.
func secondProposal(t *testing.T, dir string, c *coordinator.Coordinator) (first, second *envelope.Envelope, rv *chain.Review) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "spend.proposal"))
	if err != nil {
		t.Fatal(err)
	}
	first, err = envelope.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, err := proposal.Decode(first)
	if err != nil {
		t.Fatal(err)
	}
	ks := unlock(t, c.WS)
	second, rv, err = c.Propose(ctx, coordinator.ProposeParams{Vault: p.Vault, Payload: p.Payload, Intent: "the same payment, proposed again"}, ks.Identity())
	if err != nil {
		t.Fatal(err)
	}
	return first, second, rv
}

// TestStationRefusesAConflictingSpendUntilReleased: alice approved the
// first proposal of a coin; she will not sign a second proposal of the
// same coin until the coordinator's signed release of the first frees it,
// and she never signs the released one.
func TestStationRefusesAConflictingSpendUntilReleased(t *testing.T) {
	dir := testws.V1(t)
	coord := open(t, filepath.Join(dir, "coord"))
	c := &coordinator.Coordinator{WS: coord, Reg: reg}
	first, second, rv := secondProposal(t, dir, c)
	dup := false
	for _, f := range rv.Flags {
		dup = dup || f.Code == "duplicate-proposal"
	}
	if !dup {
		t.Fatalf("the coordinator did not flag a second live proposal of the same transaction: %+v", rv.Flags)
	}

	alice := open(t, filepath.Join(dir, "alice"))
	st := &station.Station{WS: alice, Reg: reg}
	aks := unlock(t, alice)
	raw2, _ := second.Encode()
	_, res, err := st.Sign(ctx, raw2, station.Decision{Approve: true}, aks.Identity(), aks)
	var ref *station.Refusal
	if !errors.As(err, &ref) || len(res.Conflicts) == 0 {
		t.Fatalf("alice signed a second spend of a coin she approved: %v", err)
	}

	// The coordinator withdraws the first; alice applies its release.
	cks := unlock(t, coord)
	rel, err := c.Withdraw(ctx, first.IDHex(), "replaced by the second proposal", cks.Identity())
	if err != nil {
		t.Fatal(err)
	}
	relRaw, _ := rel.Encode()
	// A release signed by someone else is refused.
	forged, _ := envelope.Decode(relRaw)
	forged.Signatures = nil
	if err := forged.Sign(aks.Identity()); err != nil {
		t.Fatal(err)
	}
	forgedRaw, _ := forged.Encode()
	if _, err := st.ApplyRelease(ctx, forgedRaw, nil); err == nil {
		t.Fatal("a release signed by a station was applied")
	}
	got, err := st.ApplyRelease(ctx, relRaw, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Claims) != 1 || got.Release.State != proposal.StateWithdrawn {
		t.Fatalf("release freed %v (%s)", got.Claims, got.Release.State)
	}
	env, _, err := st.Sign(ctx, raw2, station.Decision{Approve: true}, aks.Identity(), aks)
	if err != nil {
		t.Fatalf("alice still refuses after the release: %v", err)
	}
	if _, err := c.Collect(ctx, mustEncode(t, env), nil); err != nil {
		t.Fatal(err)
	}
	// The released proposal is never signed again.
	raw1, _ := first.Encode()
	res, err = st.Review(ctx, raw1)
	if err != nil {
		t.Fatal(err)
	}
	if res.MaySign() || !strings.Contains(strings.Join(res.Refusals, ";"), "released") {
		t.Fatalf("review of a released proposal: %v", res.Refusals)
	}
	if err := alice.VerifyState(ctx); err != nil {
		t.Fatal(err)
	}
	if err := coord.VerifyState(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestDeletedStationStoreRefusesToSign: a station whose store is gone
// has lost its record of what it signed; it refuses to open until a
// backup is restored or a person re-initialises it, logged and signed.
func TestDeletedStationStoreRefusesToSign(t *testing.T) {
	dir := testws.V1(t)
	open(t, filepath.Join(dir, "alice")).Close() // migrate
	if err := os.Remove(filepath.Join(dir, "alice", "state.db")); err != nil {
		t.Fatal(err)
	}
	_, err := workspace.Open(filepath.Join(dir, "alice"), workspace.Options{})
	if !errors.Is(err, workspace.ErrStoreMissing) {
		t.Fatalf("a station with no store opened: %v", err)
	}
	stub, err := workspace.Stub(filepath.Join(dir, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	ks := unlock(t, stub)
	ws, err := workspace.Reinit(filepath.Join(dir, "alice"), "disk replaced", ks.Identity(), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var saw bool
	ws.AuditLog(ctx, func(l *audit.Log) error {
		es, err := l.Entries()
		for _, e := range es {
			saw = saw || (e.Event.Kind == "store.reinitialised" && e.Event.Detail["reason"] == "disk replaced")
		}
		return err
	})
	if !saw {
		t.Fatal("the re-initialisation is not in the new log")
	}
}

func mustEncode(t *testing.T, e *envelope.Envelope) []byte {
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
