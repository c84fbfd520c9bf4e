package station_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/vault"
)

// compliance is a quorum where dave, a compliance officer, holds no key of
// vault ops (2 of alice, bob, carol) and a large payment needs 2 of
// treasury AND 1 of compliance.
func compliance(t *testing.T) (*quorum.Quorum, *envelope.Envelope, []byte) {
	t.Helper()
	q := quorum.New(t, quorum.Options{
		People: []string{"alice", "bob", "carol", "dave"},
		Rules: "groups:\n  - {name: treasury, members: [alice, bob, carol]}\n  - {name: compliance, members: [dave]}\n" +
			"transaction_rules:\n  - {name: large, kind: approve, asset: BTC, above: \"0.2\", require: {all: [{group: treasury, count: 2}, {group: compliance, count: 1}]}}\n",
		Vaults: "vaults:\n  - name: ops\n    chain: bitcoin\n    threshold: 2\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n",
	})
	v, err := vault.Resolve(q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	syn, err := v.Synthetic(vault.SyntheticRequest{Seed: 7, To: bookAddr, Amount: 50_000_000, Fee: 1000})
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
	return q, pe, raw
}

func decide(t *testing.T, q *quorum.Quorum, raw []byte, who string) []byte {
	t.Helper()
	return q.Decide(t, who, raw, station.Decision{Approve: true})
}

// TestComplianceEndorsementCountsForItsGroupOnly: the compliance officer
// approves with the identity key alone; the assembly needs that
// endorsement for the large payment's rule, lists it in the threshold
// proof, and never counts it toward the vault's on-chain threshold.
func TestComplianceEndorsementCountsForItsGroupOnly(t *testing.T) {
	q, pe, raw := compliance(t)
	res, err := q.Stations["dave"].Review(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Endorser || !res.MaySign() {
		t.Fatalf("dave: endorser %v, may sign %v, refusals %v", res.Endorser, res.MaySign(), res.Refusals)
	}
	decide(t, q, raw, "dave")
	decide(t, q, raw, "alice")
	// alice and dave: one signature, the threshold is 2.
	rows, err := q.Coord.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].State != proposal.StateOpen {
		t.Fatalf("with alice's signature and dave's endorsement the state is %s, want open: an endorsement must not count toward the threshold", rows[0].State)
	}
	if _, err := q.Coord.Finalize(ctx, pe.IDHex(), q.CoordKeys.Identity); err == nil {
		t.Fatal("finalized with one chain signature")
	}
	decide(t, q, raw, "bob")
	fin, err := q.Coord.Finalize(ctx, pe.IDHex(), q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if len(fin.Proof.Endorsements) != 1 || fin.Proof.Endorsements[0].Participant != "dave" {
		t.Fatalf("proof endorsements %+v, want dave's", fin.Proof.Endorsements)
	}
	if len(fin.Proof.Approvals) != 2 || !strings.Contains(fin.Proof.Rule, "compliance") {
		t.Fatalf("proof: %d approvals, rule %q", len(fin.Proof.Approvals), fin.Proof.Rule)
	}
}

// TestLargePaymentWithoutComplianceIsNotAssembled: two treasury
// signatures meet the vault's threshold but not the rule; finalize
// refuses and says what is missing.
func TestLargePaymentWithoutComplianceIsNotAssembled(t *testing.T) {
	q, pe, raw := compliance(t)
	decide(t, q, raw, "alice")
	decide(t, q, raw, "bob")
	_, err := q.Coord.Finalize(ctx, pe.IDHex(), q.CoordKeys.Identity)
	if !errors.Is(err, coordinator.ErrDenied) || !strings.Contains(err.Error(), "compliance") {
		t.Fatalf("finalize without the compliance endorsement: %v", err)
	}
}

// TestSignerCannotPassOffAnEndorsement: a signer's approval without a
// chain signature (an "endorsement" by someone who holds a key) is
// refused: it would let a key holder count without signing.
func TestSignerCannotPassOffAnEndorsement(t *testing.T) {
	q, pe, _ := compliance(t)
	p, err := proposal.Decode(pe)
	if err != nil {
		t.Fatal(err)
	}
	pol, polID, err := q.Coord.WS.Policy(quorum.Reg)
	if err != nil {
		t.Fatal(err)
	}
	id := pe.ID()
	ap := &proposal.Approval{Format: 1, Proposal: id[:], Participant: "carol", Policy: polID[:], PolicyVersion: pol.Version,
		Time: q.Now().Unix(), Review: make([]byte, 32), Decision: proposal.Approve}
	ae, err := proposal.SealApproval(ap, q.Stations["carol"].Keys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := proposal.CheckApproval(ae, p, id, pol, polID, quorum.Reg, q.Now()); err == nil {
		t.Fatal("a signer's approval without a chain signature was accepted")
	}
}
