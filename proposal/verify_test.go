package proposal_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/vault"
)

var ctx = context.Background()

const safeVaults = `vaults:
  - name: treasury
    chain: ethereum
    threshold: 2
    signers: [alice/keystore, bob/keystore, carol/keystore]
    safe:
      address: "0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4"
      chain_id: 31337
      version: 1.3.0
`

const safeTransfer = `{"to":"0x000000000000000000000000000000000000dEaD","value":"100000000000000000","data":null,"operation":0,"safeTxGas":"0","baseGas":"0","gasPrice":"0","gasToken":"0x0000000000000000000000000000000000000000","refundReceiver":"0x0000000000000000000000000000000000000000","nonce":4}`

// finalized runs a round to its threshold proof: alice and carol approve.
func finalized(t *testing.T, q *quorum.Quorum, prm coordinator.ProposeParams) (proof, prop *envelope.Envelope, versions []proposal.Version) {
	t.Helper()
	pe, _, err := q.Coord.Propose(ctx, prm, q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := pe.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice", "carol"} {
		q.Decide(t, who, raw, station.Decision{Approve: true})
	}
	fin, err := q.Coord.Finalize(ctx, pe.IDHex(), q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	envs, err := q.Coord.WS.Policies()
	if err != nil {
		t.Fatal(err)
	}
	chain, err := policy.Verify(envs, quorum.Reg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range chain {
		versions = append(versions, proposal.Version{Policy: chain[i], ID: envs[i].ID()})
	}
	if _, err := proposal.VerifyProof(fin.Env, versions, pe, quorum.Reg); err != nil {
		t.Fatalf("the genuine proof: %v", err)
	}
	return fin.Env, pe, versions
}

// resealed is what a compromised coordinator can do: edit the proof and
// sign it again with its own key.
func resealed(t *testing.T, q *quorum.Quorum, pe *envelope.Envelope, edit func(*proposal.Proof)) *envelope.Envelope {
	t.Helper()
	pr, err := proposal.DecodeProof(pe)
	if err != nil {
		t.Fatal(err)
	}
	edit(pr)
	out, err := proposal.SealProof(pr, q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func bitcoinPayment(t *testing.T, q *quorum.Quorum) coordinator.ProposeParams {
	t.Helper()
	v, err := vault.Resolve(q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	syn, err := v.Synthetic(vault.SyntheticRequest{Seed: 3, Amount: 2_000_000, Fee: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return coordinator.ProposeParams{Vault: "ops", Payload: syn.PSBT}
}

// TestCoordinatorCannotSwapTheFinalTransaction: a proof whose final
// transaction was changed, even when the coordinator signs it again, does
// not verify: its approvals assemble something else.
func TestCoordinatorCannotSwapTheFinalTransaction(t *testing.T) {
	q := quorum.New(t, quorum.Options{})
	pe, prop, versions := finalized(t, q, bitcoinPayment(t, q))
	forged := resealed(t, q, pe, func(p *proposal.Proof) { p.Transaction[len(p.Transaction)-5] ^= 1 })
	if _, err := proposal.VerifyProof(forged, versions, prop, quorum.Reg); !errors.Is(err, proposal.ErrProofInvalid) {
		t.Fatalf("a swapped transaction: %v", err)
	}
	// Dropping an approval below the threshold is refused too.
	short := resealed(t, q, pe, func(p *proposal.Proof) { p.Approvals = p.Approvals[:1] })
	if _, err := proposal.VerifyProof(short, versions, prop, quorum.Reg); !errors.Is(err, proposal.ErrProofInvalid) {
		t.Fatalf("one approval of two: %v", err)
	}
}

// TestProofCitingAnUnknownPolicyVersionRefused: a proof under a policy
// version outside the verifier's chain (another quorum's) is refused.
func TestProofCitingAnUnknownPolicyVersionRefused(t *testing.T) {
	q := quorum.New(t, quorum.Options{})
	pe, prop, _ := finalized(t, q, bitcoinPayment(t, q))
	other := quorum.New(t, quorum.Options{})
	envs, _ := other.Coord.WS.Policies()
	chain, _ := policy.Verify(envs, quorum.Reg)
	versions := []proposal.Version{{Policy: chain[0], ID: envs[0].ID()}}
	if _, err := proposal.VerifyProof(pe, versions, prop, quorum.Reg); !errors.Is(err, proposal.ErrProofInvalid) {
		t.Fatalf("a proof under another chain: %v", err)
	}
	forged := resealed(t, q, pe, func(p *proposal.Proof) { p.PolicyVersion = 7 })
	if _, err := proposal.VerifyProof(forged, versionsOf(t, q), prop, quorum.Reg); !errors.Is(err, proposal.ErrProofInvalid) {
		t.Fatalf("a proof naming version 7: %v", err)
	}
}

func versionsOf(t *testing.T, q *quorum.Quorum) []proposal.Version {
	t.Helper()
	envs, _ := q.Coord.WS.Policies()
	chain, err := policy.Verify(envs, quorum.Reg)
	if err != nil {
		t.Fatal(err)
	}
	var out []proposal.Version
	for i := range chain {
		out = append(out, proposal.Version{Policy: chain[i], ID: envs[i].ID()})
	}
	return out
}

// TestSafeProofWithSwappedSignatureRefused: in a Safe proof, replacing
// one owner's signature in the execTransaction calldata by the other's
// (or swapping their order) makes the proof fail, though the coordinator
// signed it again.
func TestSafeProofWithSwappedSignatureRefused(t *testing.T) {
	q := quorum.New(t, quorum.Options{Vaults: safeVaults})
	pe, prop, versions := finalized(t, q, coordinator.ProposeParams{Vault: "treasury", SafeTx: []byte(safeTransfer)})
	pr, err := proposal.DecodeProof(pe)
	if err != nil {
		t.Fatal(err)
	}
	// The two 65-byte signatures sit together in the calldata; find
	// alice's and carol's as the approvals verified them.
	var sigs [][]byte
	for _, a := range pr.Approvals {
		ae, err := envelope.Decode(a.Envelope)
		if err != nil {
			t.Fatal(err)
		}
		ap, err := proposal.DecodeApproval(ae)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ap.Signatures {
			if len(s.Sig) == 65 {
				sigs = append(sigs, s.Sig)
			}
		}
	}
	if len(sigs) != 2 {
		t.Fatalf("found %d Safe signatures in the proof's approvals", len(sigs))
	}
	i, j := bytes.Index(pr.Transaction, sigs[0]), bytes.Index(pr.Transaction, sigs[1])
	if i < 0 || j < 0 {
		t.Fatalf("signatures not found in the calldata (%d, %d)", i, j)
	}
	for name, edit := range map[string]func(tx []byte){
		"one signature repeated": func(tx []byte) { copy(tx[j:j+65], sigs[0]) },
		"order swapped": func(tx []byte) {
			copy(tx[i:i+65], sigs[1])
			copy(tx[j:j+65], sigs[0])
		},
	} {
		forged := resealed(t, q, pe, func(p *proposal.Proof) { edit(p.Transaction) })
		if _, err := proposal.VerifyProof(forged, versions, prop, quorum.Reg); !errors.Is(err, proposal.ErrProofInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
