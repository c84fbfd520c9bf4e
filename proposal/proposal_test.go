package proposal_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
)

var reg = chain.NewRegistry(bitcoin.Adapter{})

type member struct {
	id     string
	ident  ed25519.PrivateKey
	master *hdkeychain.ExtendedKey
	fp     [4]byte
}

func (m *member) MasterFingerprint() [4]byte { return m.fp }
func (m *member) derive(path []uint32) *hdkeychain.ExtendedKey {
	k := m.master
	for _, p := range path {
		k, _ = k.Derive(p)
	}
	return k
}
func (m *member) PublicKey(path []uint32) ([]byte, error) {
	p, err := m.derive(path).ECPubKey()
	if err != nil {
		return nil, err
	}
	return p.SerializeCompressed(), nil
}
func (m *member) SignECDSA(path []uint32, digest []byte) ([]byte, error) {
	k, err := m.derive(path).ECPrivKey()
	if err != nil {
		return nil, err
	}
	return ecdsa.Sign((*btcec.PrivateKey)(k), digest).Serialize(), nil
}

var account = []uint32{48 + keys.HardenedOffset, 1 + keys.HardenedOffset, keys.HardenedOffset, 2 + keys.HardenedOffset}

func (m *member) keyExpr() string {
	n, _ := m.derive(account).Neuter()
	return "[" + keys.FormatFingerprint(m.fp) + "/48'/1'/0'/2']" + n.String()
}

type world struct {
	coord   ed25519.PrivateKey
	members []*member
	pol     *policy.Policy
	polID   [32]byte
	now     time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{coord: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{50}, 32)), now: time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)}
	var b strings.Builder
	fmt.Fprintf(&b, "name: t\nnetwork: regtest\nmax_proposal_lifetime: 24h\ncoordinators:\n  - id: coord\n    identity: %s\nparticipants:\n", policy.EncodeIdentity(w.coord.Public().(ed25519.PublicKey)))
	for i, id := range []string{"alice", "bob", "carol"} {
		master, _ := hdkeychain.NewMaster(bytes.Repeat([]byte{byte(i + 1)}, 32), &chaincfg.RegressionNetParams)
		pub, _ := master.ECPubKey()
		m := &member{id: id, ident: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 10)}, 32)), master: master}
		copy(m.fp[:], address.Hash160(pub.SerializeCompressed())[:4])
		w.members = append(w.members, m)
		fmt.Fprintf(&b, "  - id: %s\n    name: %s\n    identity: %s\n    devices:\n      - id: hw\n        kind: software\n        key: \"%s\"\n", id, id, policy.EncodeIdentity(m.ident.Public().(ed25519.PublicKey)), m.keyExpr())
	}
	b.WriteString("vaults:\n  - name: ops\n    chain: bitcoin\n    threshold: 2\n    signers: [alice/hw, bob/hw, carol/hw]\n")
	f, err := policy.ParseFile([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if w.pol, err = f.Genesis(reg); err != nil {
		t.Fatal(err)
	}
	w.polID, _ = policy.ID(w.pol)
	return w
}

func (w *world) proposal(t *testing.T, signer ed25519.PrivateKey) (*envelope.Envelope, *proposal.Proposal) {
	t.Helper()
	cv, _ := w.pol.ChainVault(&w.pol.Vaults[0])
	_, psbt, err := bitcoin.Synthetic(cv, 1, "", 10_000_000, 1_000)
	if err != nil {
		t.Fatal(err)
	}
	p, err := proposal.New(w.pol, w.polID, proposal.Params{Vault: "ops", Payload: psbt, Now: w.now, Coordinator: "coord"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := proposal.Seal(p, signer)
	if err != nil {
		t.Fatal(err)
	}
	return e, p
}

func TestOpenAcceptsCoordinatorProposal(t *testing.T) {
	w := newWorld(t)
	e, _ := w.proposal(t, w.coord)
	if _, err := proposal.Open(e, w.pol, w.polID, w.now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesProposalSignedByAParticipant(t *testing.T) {
	w := newWorld(t)
	e, _ := w.proposal(t, w.members[0].ident)
	if _, err := proposal.Open(e, w.pol, w.polID, w.now); !errors.Is(err, proposal.ErrUnauthorized) {
		t.Fatalf("got %v", err)
	}
}

func TestOpenRefusesExpiredAndFutureProposals(t *testing.T) {
	w := newWorld(t)
	e, _ := w.proposal(t, w.coord)
	if _, err := proposal.Open(e, w.pol, w.polID, w.now.Add(24*time.Hour)); !errors.Is(err, proposal.ErrExpired) {
		t.Fatalf("at expiry: %v", err)
	}
	if _, err := proposal.Open(e, w.pol, w.polID, w.now.Add(-time.Hour)); err == nil || !strings.Contains(err.Error(), "future") {
		t.Fatalf("an hour early: %v", err)
	}
}

func TestOpenRefusesProposalUnderAnotherPolicy(t *testing.T) {
	w := newWorld(t)
	e, _ := w.proposal(t, w.coord)
	other := w.polID
	other[0] ^= 1
	if _, err := proposal.Open(e, w.pol, other, w.now); !errors.Is(err, proposal.ErrWrongPolicy) {
		t.Fatalf("got %v", err)
	}
}

func approve(t *testing.T, w *world, e *envelope.Envelope, p *proposal.Proposal, m *member, device string) *envelope.Envelope {
	t.Helper()
	cv, _ := w.pol.ChainVault(&w.pol.Vaults[0])
	sigs, err := bitcoin.Adapter{}.Sign(cv, p.Payload, m.keyExpr(), m)
	if err != nil {
		t.Fatal(err)
	}
	id := e.ID()
	a := &proposal.Approval{Format: 1, Proposal: id[:], Decision: proposal.Approve, Participant: m.id, Device: device,
		Policy: w.polID[:], PolicyVersion: 1, Signatures: sigs, Time: w.now.Add(time.Minute).Unix(), Review: make([]byte, 32)}
	ae, err := proposal.SealApproval(a, m.ident)
	if err != nil {
		t.Fatal(err)
	}
	return ae
}

func TestCheckApprovalVerifiesEverything(t *testing.T) {
	w := newWorld(t)
	e, p := w.proposal(t, w.coord)
	ae := approve(t, w, e, p, w.members[1], "hw")
	c, err := proposal.CheckApproval(ae, p, e.ID(), w.pol, w.polID, chain.NewRegistry(bitcoin.Adapter{}), w.now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.Participant.ID != "bob" || len(c.Verified) != 1 || len(c.Verified[0].Digest) != 32 {
		t.Fatalf("%+v", c)
	}
}

func TestCheckApprovalRefusesWrongDevice(t *testing.T) {
	w := newWorld(t)
	e, p := w.proposal(t, w.coord)
	ae := approve(t, w, e, p, w.members[1], "other")
	if _, err := proposal.CheckApproval(ae, p, e.ID(), w.pol, w.polID, chain.NewRegistry(bitcoin.Adapter{}), w.now); err == nil {
		t.Fatal("approval naming another device accepted")
	}
}

func TestCheckApprovalRefusesApprovalForAnotherProposal(t *testing.T) {
	w := newWorld(t)
	e, p := w.proposal(t, w.coord)
	e2, _ := w.proposal(t, w.coord) // a fresh nonce: a different proposal
	ae := approve(t, w, e, p, w.members[0], "hw")
	if _, err := proposal.CheckApproval(ae, p, e2.ID(), w.pol, w.polID, chain.NewRegistry(bitcoin.Adapter{}), w.now); err == nil {
		t.Fatal("approval replayed onto another proposal accepted")
	}
}

func TestCheckApprovalRefusesIdentityMismatch(t *testing.T) {
	w := newWorld(t)
	e, p := w.proposal(t, w.coord)
	// carol signs an approval that claims to be alice's.
	cv, _ := w.pol.ChainVault(&w.pol.Vaults[0])
	sigs, _ := bitcoin.Adapter{}.Sign(cv, p.Payload, w.members[0].keyExpr(), w.members[0])
	id := e.ID()
	a := &proposal.Approval{Format: 1, Proposal: id[:], Decision: proposal.Approve, Participant: "alice", Device: "hw",
		Policy: w.polID[:], PolicyVersion: 1, Signatures: sigs, Time: w.now.Unix(), Review: make([]byte, 32)}
	ae, _ := proposal.SealApproval(a, w.members[2].ident)
	if _, err := proposal.CheckApproval(ae, p, e.ID(), w.pol, w.polID, chain.NewRegistry(bitcoin.Adapter{}), w.now); !errors.Is(err, envelope.ErrNotSigned) {
		t.Fatalf("got %v", err)
	}
}

func TestSealApprovalRefusesRejectionWithoutReason(t *testing.T) {
	a := &proposal.Approval{Format: 1, Proposal: make([]byte, 32), Policy: make([]byte, 32), Decision: proposal.Reject}
	if _, err := proposal.SealApproval(a, ed25519.NewKeyFromSeed(make([]byte, 32))); err == nil {
		t.Fatal("rejection without a reason sealed")
	}
}
