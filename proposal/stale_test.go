package proposal_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
)

// next is version 2 of w's policy, edited, made a minute after w.now.
func (w *world) next(t *testing.T, edit func(*policy.Policy)) (*policy.Policy, [32]byte) {
	t.Helper()
	b, _ := envelope.Marshal(w.pol)
	var p policy.Policy
	if err := envelope.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	p.Version, p.Previous = 2, w.polID[:]
	p.Created = w.now.Add(time.Minute).Unix()
	p.NotBefore = p.Created
	edit(&p)
	id, _ := policy.ID(&p)
	return &p, id
}

// TestStaleProposalRefusedAfterSignerChange: a proposal made under
// version 1 cannot be pushed through after version 2 changes the vault's
// threshold, its signers, or revokes one of them (as Squads does);
// otherwise it goes on, judged by version 2.
func TestStaleProposalRefusedAfterSignerChange(t *testing.T) {
	w := newWorld(t)
	e, _ := w.proposal(t, w.coord)
	later := w.now.Add(2 * time.Minute)
	for name, c := range map[string]struct {
		edit func(*policy.Policy)
		want string
	}{
		"threshold": {func(p *policy.Policy) { p.Vaults[0].Threshold = 3 }, "version 2 changes the threshold of vault ops: proposals made before a change of signers or threshold are refused"},
		"revoked signer": {func(p *policy.Policy) {
			p.Participants[2].Devices[0].Revoked = &policy.Revocation{Time: p.Created, Reason: "stolen"}
		}, "version 2 revokes a signer of vault ops (device carol/hw is revoked"},
		"coordinator": {func(p *policy.Policy) { p.Coordinators[0].ID = "coord2" }, "no longer lists coordinator coord"},
	} {
		t.Run(name, func(t *testing.T) {
			p2, _ := w.next(t, c.edit)
			_, err := proposal.OpenAt(e, w.pol, w.polID, p2, later)
			if !errors.Is(err, proposal.ErrStale) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrStale: %s", err, c.want)
			}
		})
	}
	// A change elsewhere leaves it standing.
	p2, _ := w.next(t, func(p *policy.Policy) { p.ChangeDelay = 3600 })
	if _, err := proposal.OpenAt(e, w.pol, w.polID, p2, later); err != nil {
		t.Fatalf("unrelated change: %v", err)
	}
}

// TestRevokedKeyLaterApprovalRefused: bob's key is revoked in version 2;
// his approval of a version-1 proposal still verifies against version 1
// (old approvals and proofs keep verifying), but CheckApprover refuses it
// under the version in effect, whatever time it claims.
func TestRevokedKeyLaterApprovalRefused(t *testing.T) {
	w := newWorld(t)
	e, p := w.proposal(t, w.coord)
	ae := approve(t, w, e, p, w.members[1], "hw")
	c, err := proposal.CheckApproval(ae, p, e.ID(), w.pol, w.polID, reg, w.now.Add(time.Hour))
	if err != nil {
		t.Fatalf("the approval against the version it cites: %v", err)
	}
	p2, _ := w.next(t, func(p *policy.Policy) {
		p.Participants[1].Devices[0].Revoked = &policy.Revocation{Time: p.Created, Reason: "laptop stolen"}
	})
	if err := proposal.CheckApprover(c, p2); !errors.Is(err, proposal.ErrRevoked) || !strings.Contains(err.Error(), "laptop stolen") {
		t.Fatalf("got %v, want ErrRevoked with the reason", err)
	}
	if err := proposal.CheckApprover(c, w.pol); err != nil {
		t.Fatalf("under version 1: %v", err)
	}
	// Under version 2 itself, bob holds no signer any more.
	if _, ok := p2.SignerFor(&p2.Vaults[0], "bob"); ok {
		t.Fatal("a revoked device still signs for the vault")
	}
}
