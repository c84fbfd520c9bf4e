package coordinator_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/chain/safe/stateproof"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/proposal"
)

// TestStateAttestedThroughTheRound: propose --rpc attests the Safe's
// state; a station verifies it offline and shows it; the same proposal
// with one storage value forged (re-signed by the coordinator, as a
// compromised coordinator would) is refused by the station; a Safe whose
// owners on chain are not the policy's is refused at the coordinator.
func TestStateAttestedThroughTheRound(t *testing.T) {
	g := newOnGeth(t, "1.4.1")
	ctx := context.Background()
	dead := common.HexToAddress("0x000000000000000000000000000000000000dEaD")
	pe, rv, err := g.q.Coord.Propose(ctx, coordinator.ProposeParams{Vault: "treasury", SafeTx: safeTxJSON(dead, big.NewInt(1), nil, 0, 0, 0), StateRPC: g.node.URL}, g.q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rv.Flags {
		if strings.HasPrefix(f.Code, "state-") {
			t.Fatalf("coordinator: %v", f)
		}
	}
	raw, err := pe.Encode()
	if err != nil {
		t.Fatal(err)
	}
	st := g.q.Stations[g.q.People[0]].Station
	res, err := st.Review(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := res.Review.Details.(safe.Details)
	if !ok || d.State == nil || len(d.State.Owners) != 3 || d.State.Threshold != 2 {
		t.Fatalf("station: state %+v", d.State)
	}
	for _, f := range res.Review.Flags {
		if strings.HasPrefix(f.Code, "state-") {
			t.Fatalf("station: %v", f)
		}
	}

	// Forged: the threshold's leaf says 1, re-signed.
	p, err := proposal.Decode(pe)
	if err != nil {
		t.Fatal(err)
	}
	att, err := stateproof.Decode(p.State)
	if err != nil {
		t.Fatal(err)
	}
	for i := range att.Safe.Slots {
		if common.BytesToHash(att.Safe.Slots[i].Slot) == stateproof.SlotThreshold {
			n := att.Safe.Slots[i].Nodes
			leaf := n[len(n)-1]
			leaf[len(leaf)-1] = 1
		}
	}
	if p.State, err = att.Encode(); err != nil {
		t.Fatal(err)
	}
	fe, err := proposal.Seal(p, g.q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	fraw, err := fe.Encode()
	if err != nil {
		t.Fatal(err)
	}
	res, err = st.Review(ctx, fraw)
	if err != nil {
		t.Fatal(err)
	}
	if res.MaySign() || !strings.Contains(strings.Join(res.Refusals, "\n"), "state-proof-invalid: the on-chain state attested does not verify: stateproof: threshold") {
		t.Fatalf("forged proof: refusals %q", res.Refusals)
	}

	// On chain, oldie owns Safe B; the policy says frank.
	_, _, err = g.q.Coord.Propose(ctx, coordinator.ProposeParams{Vault: "rotating", SafeTx: safeTxJSON(dead, big.NewInt(1), nil, 0, 0, 0), StateRPC: g.node.URL}, g.q.CoordKeys.Identity)
	if !errors.Is(err, coordinator.ErrBlocked) || !strings.Contains(err.Error(), "state-owners") || !strings.Contains(err.Error(), g.oldie.addr.Hex()) {
		t.Fatalf("drifted owners: %v", err)
	}
}
