// Package envelope implements airlock's signed artifact container.
//
// Every artifact that crosses the air gap — a policy version, a proposal, an
// approval or a rejection — travels as an Envelope: a payload type, the
// payload bytes, and zero or more Ed25519 signatures. The envelope is encoded
// as deterministic CBOR (RFC 8949 §4.2.1, core deterministic encoding):
//
//	{1: "airlock.proposal/v1",            ; payload type
//	 2: h'a7...',                         ; payload bytes (itself deterministic CBOR)
//	 3: [{1: "9f86d081884c7d65", 2: h'...'}]} ; signatures: key id, Ed25519 signature
//
// Signatures never cover a re-serialised structure. As in DSSE, each
// signature is over the pre-authentication encoding
//
//	PAE(type, payload) = "DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload
//
// so that a signature for one payload type can never be replayed as another,
// and a verifier checks exactly the bytes it received.
//
// The id of an artifact is the SHA-256 of its payload bytes: adding a
// signature to an envelope (as participants do when they co-sign a policy)
// does not change its id.
//
// Threats this stops: a one-byte change anywhere in the payload or type
// (signature fails); a signature moved between artifact types (PAE binds the
// type); ambiguous encodings that let two parsers disagree (the decoder
// refuses duplicate map keys, indefinite lengths, tags, unknown fields,
// non-canonical forms and oversize input, so Decode→Encode gives back the
// same bytes).
package envelope

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Payload types. The version suffix changes only when a payload's schema does.
const (
	TypePolicy   = "airlock.policy/v1"
	TypeProposal = "airlock.proposal/v1"
	TypeApproval = "airlock.approval/v1"
	TypeProof    = "airlock.threshold-proof/v1"
	TypeManifest = "airlock.manifest/v1"
	// TypeExternal is a coordinator's record of a signed PSBT returned by
	// an external device (Coldcard, Sparrow, Keystone), whose chain
	// signatures are the proof.
	TypeExternal = "airlock.external-approval/v1"
	// TypeRelease is a coordinator's signed notice that a proposal ended
	// unfinalized (withdrawn, rejected, expired): stations free its claims.
	TypeRelease = "airlock.release/v1"
	// TypeBundle is the signed manifest of an audit evidence bundle
	// (package evidence): every file of the bundle with its digest.
	TypeBundle = "airlock.evidence-bundle/v1"
	// TypeDelegation is a participant's signed grant that another
	// identity key may sign requests to "airlock serve" on their behalf
	// (package serve): the key of an online client, so the participant's
	// own identity key stays at the offline station.
	TypeDelegation = "airlock.delegation/v1"
)

var knownTypes = map[string]bool{
	TypePolicy:     true,
	TypeProposal:   true,
	TypeApproval:   true,
	TypeProof:      true,
	TypeManifest:   true,
	TypeExternal:   true,
	TypeRelease:    true,
	TypeBundle:     true,
	TypeDelegation: true,
}

// Limits against hostile input.
const (
	// MaxSize bounds an encoded envelope.
	MaxSize = 8 << 20
	// MaxSignatures bounds the signatures on one envelope (a policy carries
	// one per participant).
	MaxSignatures = 64
)

// Errors callers branch on.
var (
	ErrMalformed    = errors.New("envelope: malformed")
	ErrBadSignature = errors.New("envelope: signature does not verify")
	ErrNotSigned    = errors.New("envelope: no signature by key")
)

// Envelope is a typed payload and the signatures over it.
type Envelope struct {
	Type       string      `cbor:"1,keyasint"`
	Payload    []byte      `cbor:"2,keyasint"`
	Signatures []Signature `cbor:"3,keyasint,omitempty"`
}

// Signature is one Ed25519 signature over PAE(Type, Payload).
type Signature struct {
	KeyID string `cbor:"1,keyasint"`
	Sig   []byte `cbor:"2,keyasint"`
}

// KeyID names an Ed25519 public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// PAE is DSSE's pre-authentication encoding of a payload type and payload.
func PAE(typ string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(typ)))
	b.WriteByte(' ')
	b.WriteString(typ)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// New returns an unsigned envelope.
func New(typ string, payload []byte) (*Envelope, error) {
	if !knownTypes[typ] {
		return nil, fmt.Errorf("envelope: unknown payload type %q", typ)
	}
	return &Envelope{Type: typ, Payload: payload}, nil
}

// ID is the artifact id: the SHA-256 of the payload bytes.
func (e *Envelope) ID() [32]byte { return sha256.Sum256(e.Payload) }

// IDHex is ID in lower-case hex.
func (e *Envelope) IDHex() string {
	id := e.ID()
	return hex.EncodeToString(id[:])
}

// Sign adds a signature by key, an Ed25519 crypto.Signer (an
// ed25519.PrivateKey or a key on a hardware token) that signs the message
// whole. The signature is verified before it is added, so a faulty device
// cannot leave a bad one behind. Signing twice with one key is refused.
func (e *Envelope) Sign(key crypto.Signer) error {
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("envelope: signing key is a %T, want an Ed25519 key", key.Public())
	}
	id := KeyID(pub)
	for _, s := range e.Signatures {
		if s.KeyID == id {
			return fmt.Errorf("envelope: already signed by key %s", id)
		}
	}
	if len(e.Signatures) >= MaxSignatures {
		return fmt.Errorf("envelope: more than %d signatures", MaxSignatures)
	}
	msg := PAE(e.Type, e.Payload)
	sig, err := key.Sign(nil, msg, crypto.Hash(0))
	if err != nil {
		return fmt.Errorf("envelope: sign: %w", err)
	}
	if !verify(pub, msg, sig) {
		return fmt.Errorf("envelope: the signature by key %s does not verify: faulty signing device", id)
	}
	e.Signatures = append(e.Signatures, Signature{KeyID: id, Sig: sig})
	return nil
}

// Verify checks that pub signed the envelope. It returns an error wrapping
// ErrNotSigned when no signature carries pub's key id, and ErrBadSignature
// when one does but does not verify.
func (e *Envelope) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("envelope: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	id := KeyID(pub)
	for _, s := range e.Signatures {
		if s.KeyID != id {
			continue
		}
		if !verify(pub, PAE(e.Type, e.Payload), s.Sig) {
			return fmt.Errorf("%w: key %s on %s", ErrBadSignature, id, e.Type)
		}
		return nil
	}
	return fmt.Errorf("%w %s on %s", ErrNotSigned, id, e.Type)
}

// Signers verifies every signature against the keys in known (key id →
// public key) and returns the key ids whose signatures verify. A signature
// by a key outside known, or one that fails, is an error: an envelope carries
// nothing unexplained.
func (e *Envelope) Signers(known map[string]ed25519.PublicKey) ([]string, error) {
	var ids []string
	for _, s := range e.Signatures {
		pub, ok := known[s.KeyID]
		if !ok {
			return nil, fmt.Errorf("envelope: signature by unknown key %s on %s", s.KeyID, e.Type)
		}
		if !verify(pub, PAE(e.Type, e.Payload), s.Sig) {
			return nil, fmt.Errorf("%w: key %s on %s", ErrBadSignature, s.KeyID, e.Type)
		}
		ids = append(ids, s.KeyID)
	}
	return ids, nil
}

// Encode returns the deterministic CBOR encoding of e.
func (e *Envelope) Encode() ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	b, err := Marshal(e)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("envelope: encoded size %d exceeds %d bytes", len(b), MaxSize)
	}
	return b, nil
}

// Decode parses an envelope strictly. Anything but the one canonical
// encoding of a well-formed envelope of a known type is refused.
func Decode(b []byte) (*Envelope, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrMalformed, len(b), MaxSize)
	}
	var e Envelope
	if err := Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, trimCBOR(err))
	}
	if err := e.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return &e, nil
}

func (e *Envelope) check() error {
	if !knownTypes[e.Type] {
		return fmt.Errorf("envelope: unknown payload type %q", e.Type)
	}
	if len(e.Payload) == 0 {
		return errors.New("envelope: empty payload")
	}
	if len(e.Signatures) > MaxSignatures {
		return fmt.Errorf("envelope: %d signatures exceeds %d", len(e.Signatures), MaxSignatures)
	}
	seen := map[string]bool{}
	for _, s := range e.Signatures {
		if len(s.KeyID) != 16 || strings.ToLower(s.KeyID) != s.KeyID {
			return fmt.Errorf("envelope: malformed key id %q", s.KeyID)
		}
		if _, err := hex.DecodeString(s.KeyID); err != nil {
			return fmt.Errorf("envelope: malformed key id %q", s.KeyID)
		}
		if len(s.Sig) != ed25519.SignatureSize {
			return fmt.Errorf("envelope: signature by %s is %d bytes, want %d", s.KeyID, len(s.Sig), ed25519.SignatureSize)
		}
		if seen[s.KeyID] {
			return fmt.Errorf("envelope: two signatures by key %s", s.KeyID)
		}
		seen[s.KeyID] = true
	}
	return nil
}

func trimCBOR(err error) string {
	return strings.TrimPrefix(err.Error(), "cbor: ")
}
