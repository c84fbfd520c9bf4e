// Package media moves airlock artifacts across the air gap on removable
// media, each with a signed hand-off manifest.
//
// An export writes two files into an allowlisted folder:
//
//	0007-proposal-d7521b13c2363093.coord-to-alice.airlock    the artifact (an envelope)
//	0007-proposal-d7521b13c2363093.coord-to-alice.manifest   its manifest (an envelope)
//
// The manifest, signed with the sender's identity key, names the artifact's
// SHA-256 and kind, the origin and destination workspaces, the purpose,
// the transaction and the approvals the policy requires, a sequence number
// per channel (origin → destination) and the time. An import checks, before
// anything is kept: the manifest's signature against the policy, that it is
// addressed to this workspace, the artifact's digest, the direction (a
// station accepts only proposals and policy versions; a coordinator only
// approvals and rejections), and the sequence: a number already seen is a
// replay and refused, a jump is a gap and reported.
//
// Threats this stops: an artifact swapped or edited on the stick, a file
// dropped on the stick by someone outside the policy, an old proposal
// replayed, an artifact meant for another station, anything unsigned or of
// the wrong kind travelling toward a signer, and a lost transfer going
// unnoticed.
package media

import (
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

// Manifest describes one hand-off.
type Manifest struct {
	Format      int    `cbor:"1,keyasint" json:"format"`
	Digest      []byte `cbor:"2,keyasint" json:"digest"`   // SHA-256 of the artifact file
	Kind        string `cbor:"3,keyasint" json:"kind"`     // the artifact's envelope type
	Artifact    []byte `cbor:"4,keyasint" json:"artifact"` // the artifact id
	Origin      string `cbor:"5,keyasint" json:"origin"`   // "coordinator/coord", "station/alice"
	Destination string `cbor:"6,keyasint" json:"destination"`
	Purpose     string `cbor:"7,keyasint" json:"purpose"`
	TxID        string `cbor:"8,keyasint,omitempty" json:"txid,omitempty"`
	Required    int    `cbor:"9,keyasint,omitempty" json:"requiredApprovals,omitempty"`
	Sequence    uint64 `cbor:"10,keyasint" json:"sequence"`
	Time        int64  `cbor:"11,keyasint" json:"time"`
	Policy      []byte `cbor:"12,keyasint" json:"policy"`
	// Checkpoint is the sender's latest signed audit checkpoint, and Proofs
	// prove (RFC 6962 §2.1.2) that it extends each checkpoint the sender
	// recently sent this receiver, so the receiver can check it against the
	// last one it saw — even if transfers were lost — without going online.
	Checkpoint []byte  `cbor:"13,keyasint,omitempty" json:"checkpoint,omitempty"`
	Proofs     []Proof `cbor:"14,keyasint,omitempty" json:"proofs,omitempty"`
}

// MaxProofs bounds the consistency proofs one manifest carries.
const MaxProofs = 32

// Proof is a consistency proof from a tree of size From to the manifest's
// checkpoint.
type Proof struct {
	From   int64    `cbor:"1,keyasint" json:"from"`
	Hashes [][]byte `cbor:"2,keyasint" json:"hashes"`
}

// TypeManifest is the manifest's envelope type.
const TypeManifest = envelope.TypeManifest

// Errors callers branch on.
var (
	ErrReplay    = errors.New("media: replayed transfer")
	ErrDirection = errors.New("media: artifact may not travel this way")
	ErrTampered  = errors.New("media: artifact does not match its manifest")
	ErrNotForUs  = errors.New("media: manifest is addressed to another workspace")
	ErrNotListed = errors.New("media: export folder is not on the allowlist")
)

// Accepts says which artifact kinds a workspace role imports: only
// proposals and policy versions travel toward a station; only approvals
// (which include rejections and carry co-signed checkpoints) travel back.
func Accepts(role, kind string) bool {
	switch role {
	case "station":
		return kind == envelope.TypeProposal || kind == envelope.TypePolicy || kind == envelope.TypeRelease
	case "coordinator":
		return kind == envelope.TypeApproval
	}
	return false
}

// Seal signs a manifest with the sender's identity key.
func Seal(m *Manifest, key crypto.Signer) (*envelope.Envelope, error) {
	b, err := envelope.Marshal(m)
	if err != nil {
		return nil, err
	}
	e, err := envelope.New(TypeManifest, b)
	if err != nil {
		return nil, err
	}
	return e, e.Sign(key)
}

// Open decodes a manifest envelope and verifies its signature by the
// origin it names, as pol lists it.
func Open(e *envelope.Envelope, pol *policy.Policy) (*Manifest, error) {
	if e.Type != TypeManifest {
		return nil, fmt.Errorf("media: envelope holds %s, not a manifest", e.Type)
	}
	var m Manifest
	if err := envelope.Unmarshal(e.Payload, &m); err != nil {
		return nil, fmt.Errorf("media: malformed manifest: %v", err)
	}
	if m.Format != 1 || len(m.Digest) != sha256.Size || len(m.Artifact) != sha256.Size || m.Sequence == 0 || len(m.Proofs) > MaxProofs {
		return nil, errors.New("media: malformed manifest")
	}
	pub, err := SenderKey(pol, m.Origin)
	if err != nil {
		return nil, err
	}
	if len(e.Signatures) != 1 {
		return nil, fmt.Errorf("media: manifest carries %d signatures, want 1", len(e.Signatures))
	}
	if err := e.Verify(pub); err != nil {
		return nil, fmt.Errorf("media: manifest from %s: %w", m.Origin, err)
	}
	return &m, nil
}

// SenderKey finds the identity key of a workspace named "role/name" in
// the policy: a coordinator or a participant.
func SenderKey(pol *policy.Policy, origin string) ([]byte, error) {
	role, name, _ := strings.Cut(origin, "/")
	switch role {
	case "coordinator":
		if c, ok := pol.Coordinator(name); ok {
			return c.Identity, nil
		}
	case "station":
		if p, ok := pol.Participant(name); ok {
			return p.Identity, nil
		}
	}
	return nil, fmt.Errorf("media: %q is not a coordinator or participant of policy %s: manifest refused", origin, pol.Name)
}

// CheckArtifact checks the artifact file against the manifest.
func (m *Manifest) CheckArtifact(raw []byte) (*envelope.Envelope, error) {
	sum := sha256.Sum256(raw)
	if string(sum[:]) != string(m.Digest) {
		return nil, fmt.Errorf("%w: its SHA-256 is %x, the manifest says %x", ErrTampered, sum[:8], m.Digest[:8])
	}
	e, err := envelope.Decode(raw)
	if err != nil {
		return nil, err
	}
	id := e.ID()
	if e.Type != m.Kind || string(id[:]) != string(m.Artifact) {
		return nil, fmt.Errorf("%w: it is %s %x, the manifest says %s %x", ErrTampered, e.Type, id[:8], m.Kind, m.Artifact[:8])
	}
	return e, nil
}

// TimeOf is the manifest's time.
func (m *Manifest) TimeOf() time.Time { return time.Unix(m.Time, 0).UTC() }

// ShortKind is the kind's short name for file names: "proposal".
func ShortKind(kind string) string {
	k := strings.TrimPrefix(kind, "airlock.")
	k, _, _ = strings.Cut(k, "/")
	return k
}
