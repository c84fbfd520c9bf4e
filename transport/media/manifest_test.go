package media

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

var (
	coordKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	aliceKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	pol      = &policy.Policy{Name: "t",
		Coordinators: []policy.Coordinator{{ID: "coord", Identity: coordKey.Public().(ed25519.PublicKey)}},
		Participants: []policy.Participant{{ID: "alice", Identity: aliceKey.Public().(ed25519.PublicKey)}}}
)

func artifact(t *testing.T) ([]byte, *envelope.Envelope) {
	e, _ := envelope.New(envelope.TypeProposal, []byte{0xa0})
	e.Sign(coordKey)
	raw, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return raw, e
}

func manifest(t *testing.T, raw []byte, e *envelope.Envelope) *Manifest {
	sum := sha256.Sum256(raw)
	id := e.ID()
	return &Manifest{Format: 1, Digest: sum[:], Kind: e.Type, Artifact: id[:], Origin: "coordinator/coord",
		Destination: "station/alice", Sequence: 1, Policy: make([]byte, 32)}
}

func TestManifestRoundTrip(t *testing.T) {
	raw, e := artifact(t)
	me, err := Seal(manifest(t, raw, e), coordKey)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(me, pol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CheckArtifact(raw); err != nil {
		t.Fatal(err)
	}
}

func TestManifestRefusesWrongSigner(t *testing.T) {
	raw, e := artifact(t)
	// Signed by alice but claiming to come from the coordinator.
	me, _ := Seal(manifest(t, raw, e), aliceKey)
	if _, err := Open(me, pol); !errors.Is(err, envelope.ErrNotSigned) {
		t.Fatalf("got %v", err)
	}
	m := manifest(t, raw, e)
	m.Origin = "station/mallory"
	me, _ = Seal(m, aliceKey)
	if _, err := Open(me, pol); err == nil {
		t.Fatal("a manifest from outside the policy opened")
	}
}

func TestCheckArtifactRefusesEditedArtifact(t *testing.T) {
	raw, e := artifact(t)
	m := manifest(t, raw, e)
	edited := bytes.Clone(raw)
	edited[len(edited)-1] ^= 1
	if _, err := m.CheckArtifact(edited); !errors.Is(err, ErrTampered) {
		t.Fatalf("got %v", err)
	}
	// Same bytes but the manifest names another kind.
	m.Kind = envelope.TypePolicy
	if _, err := m.CheckArtifact(raw); !errors.Is(err, ErrTampered) {
		t.Fatalf("got %v", err)
	}
}

func TestDirectionRules(t *testing.T) {
	cases := []struct {
		role, kind string
		ok         bool
	}{
		{"station", envelope.TypeProposal, true},
		{"station", envelope.TypePolicy, true},
		{"station", envelope.TypeApproval, false},
		{"station", envelope.TypeProof, false},
		{"coordinator", envelope.TypeApproval, true},
		{"coordinator", envelope.TypeProposal, false},
		{"coordinator", envelope.TypeManifest, false},
	}
	for _, c := range cases {
		if Accepts(c.role, c.kind) != c.ok {
			t.Errorf("%s accepting %s: want %v", c.role, c.kind, c.ok)
		}
	}
}
