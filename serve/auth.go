package serve

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

// Roles a request may need. A policy participant has those of these
// roles its policy entry lists (Participant.Roles, otherwise free-form
// labels); one that lists none of them is an approver. A coordinator of
// the policy is an admin.
const (
	RoleInitiator = "initiator" // propose, withdraw, finalize
	RoleApprover  = "approver"  // hand in decisions, finalize
	RoleAuditor   = "auditor"   // read only
	RoleAdmin     = "admin"     // everything
)

// Principal is who signed a request.
type Principal struct {
	ID    string
	Key   ed25519.PublicKey
	Roles []string
	// Via is the key id of the delegate key that signed for ID (a
	// Delegation); empty when ID's own key signed.
	Via string
	// delegation is the request's delegation header, checked again
	// under the workspace's lock.
	delegation string
}

// May says whether p holds one of roles (admin holds all; an empty list
// is any role: reading).
func (p *Principal) May(roles ...string) bool {
	if slices.Contains(p.Roles, RoleAdmin) || len(roles) == 0 {
		return true
	}
	for _, r := range roles {
		if slices.Contains(p.Roles, r) {
			return true
		}
	}
	return false
}

func keyID(pub ed25519.PublicKey) string { return envelope.KeyID(pub) }

// principals are the identities of the current policy, by key id.
func principals(pol *policy.Policy) map[string]*Principal {
	out := map[string]*Principal{}
	for _, c := range pol.Coordinators {
		out[keyID(c.Identity)] = &Principal{ID: c.ID, Key: ed25519.PublicKey(c.Identity), Roles: []string{RoleAdmin}}
	}
	for _, p := range pol.Participants {
		var roles []string
		for _, r := range p.Roles {
			if r == RoleInitiator || r == RoleApprover || r == RoleAuditor || r == RoleAdmin {
				roles = append(roles, r)
			}
		}
		if len(roles) == 0 {
			roles = []string{RoleApprover}
		}
		out[keyID(p.Identity)] = &Principal{ID: p.ID, Key: ed25519.PublicKey(p.Identity), Roles: roles}
	}
	return out
}

// Refusals of authentication, each its own problem type.
var (
	ErrUnsigned   = errors.New("serve: the request is not signed")
	ErrBadSig     = errors.New("serve: the request's signature does not verify")
	ErrUnknownKey = errors.New("serve: the request is signed by a key the policy does not list")
	ErrReplayed   = errors.New("serve: the request's nonce was already used")
	ErrSigExpired = errors.New("serve: the request's signature is expired or not yet valid")
	ErrForbidden  = errors.New("serve: the signer's roles do not allow this")
)

// verifier checks signed requests and remembers nonces until the end of
// their signature's window.
type verifier struct {
	window, skew time.Duration
	now          func() time.Time
	// shared, when set, keeps nonces in the database the replicas share,
	// so a request replayed to another replica is refused too. Without
	// it nonces live in this process, and started refuses requests signed
	// before it began: a restarted process cannot know what its
	// predecessor saw.
	shared  nonceStore
	started time.Time

	mu     sync.Mutex
	nonces map[string]time.Time // keyid " " nonce -> forget after
}

// maxNonces bounds the nonces remembered: past it, requests are refused
// (503) until older ones expire, never forgotten early.
const maxNonces = 1 << 20

var errBusy = errors.New("serve: too many requests in the signature window")

// verify authenticates r, whose body is body, against the policy's
// identities.
func (v *verifier) verify(ctx context.Context, r *http.Request, body []byte, who map[string]*Principal) (*Principal, error) {
	in, sg := r.Header.Values("Signature-Input"), r.Header.Values("Signature")
	if len(in) == 0 && len(sg) == 0 {
		return nil, ErrUnsigned
	}
	if len(in) != 1 || len(sg) != 1 {
		return nil, fmt.Errorf("%w: want one Signature-Input and one Signature field", ErrBadSig)
	}
	p, err := parseSignatureInput(in[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSig, err)
	}
	sig, err := parseSignature(sg[0], p.Label)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSig, err)
	}
	cd := r.Header.Values("Content-Digest")
	if len(cd) != 1 {
		return nil, fmt.Errorf("%w: want one Content-Digest field", ErrBadSig)
	}
	d, err := parseContentDigest(cd[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSig, err)
	}
	if h := sha256.Sum256(body); !bytes.Equal(h[:], d) {
		return nil, fmt.Errorf("%w: Content-Digest is not the body's", ErrBadSig)
	}
	pr, ok := who[p.KeyID]
	if !ok {
		return nil, fmt.Errorf("%w: keyid %q", ErrUnknownKey, p.KeyID)
	}
	if !ed25519.Verify(pr.Key, signatureBase(r.Method, targetURI(r), cd[0], p.Raw), sig) {
		return nil, ErrBadSig
	}
	now := v.now()
	created, expires := time.Unix(p.Created, 0), time.Unix(p.Expires, 0)
	switch {
	case !expires.After(created) || expires.Sub(created) > v.window:
		return nil, fmt.Errorf("%w: a signature is valid for at most %v", ErrSigExpired, v.window)
	case created.After(now.Add(v.skew)):
		return nil, fmt.Errorf("%w: created %v, in the future", ErrSigExpired, created.UTC())
	case !now.Before(expires.Add(v.skew)):
		return nil, fmt.Errorf("%w: expired %v", ErrSigExpired, expires.UTC())
	}
	key := p.KeyID + " " + p.Nonce
	if v.shared != nil {
		fresh, err := v.shared.RememberNonce(ctx, key, expires.Add(v.skew), now)
		if err != nil {
			return nil, err
		}
		if !fresh {
			return nil, ErrReplayed
		}
		return pr, nil
	}
	if created.Before(v.started.Truncate(time.Second)) {
		return nil, fmt.Errorf("%w: signed at %v, before this service started (%v), so it cannot be checked for replay: sign it again",
			ErrSigExpired, created.UTC(), v.started.UTC().Truncate(time.Second))
	}
	if err := v.remember(key, expires.Add(v.skew), now); err != nil {
		return nil, err
	}
	return pr, nil
}

// nonceStore keeps nonces where every replica sees them
// (sqlstore.DB.RememberNonce on PostgreSQL).
type nonceStore interface {
	RememberNonce(ctx context.Context, nonce string, until, now time.Time) (bool, error)
}

// remember records a nonce, refusing one seen before.
func (v *verifier) remember(key string, until, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.nonces == nil {
		v.nonces = map[string]time.Time{}
	}
	if t, ok := v.nonces[key]; ok && now.Before(t) {
		return ErrReplayed
	}
	if len(v.nonces) >= maxNonces/2 {
		for k, t := range v.nonces {
			if !now.Before(t) {
				delete(v.nonces, k)
			}
		}
		if len(v.nonces) >= maxNonces {
			return errBusy
		}
	}
	v.nonces[key] = until
	return nil
}
