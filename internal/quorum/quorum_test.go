package quorum_test

import (
	"context"
	"testing"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/vault"
)

// TestQuorumRoundTrip: the quorum the package builds runs a whole round
// through the real coordinator and stations: propose, two approvals,
// finalize.
func TestQuorumRoundTrip(t *testing.T) {
	ctx := context.Background()
	q := quorum.New(t, quorum.Options{})
	v, err := vault.Resolve(q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	syn, err := v.Synthetic(vault.SyntheticRequest{Seed: 1, Amount: 1000000, Fee: 1000})
	if err != nil {
		t.Fatal(err)
	}
	pe, _, err := q.Coord.Propose(ctx, coordinator.ProposeParams{Vault: "ops", Payload: syn.PSBT}, q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := pe.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice", "bob"} {
		q.Decide(t, who, raw, station.Decision{Approve: true})
	}
	rows, err := q.Coord.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].State != "approved" {
		t.Fatalf("status %+v, want one approved proposal", rows)
	}
}
