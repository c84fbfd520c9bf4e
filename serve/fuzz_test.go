package serve

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/policy"
)

// FuzzSignatureHeaders: the signature field parsers never panic, bound
// what they accept, and what they accept is well-formed.
func FuzzSignatureHeaders(f *testing.F) {
	f.Add(`sig1=("@method" "@target-uri" "content-digest");created=1733302800;expires=1733303100;nonce="abc";keyid="0123456789abcdef";alg="ed25519"`,
		"sig1=:"+strings.Repeat("A", 86)+"==:", "sha-256=:"+strings.Repeat("A", 43)+"=:")
	f.Add(`sig1=("@method" "@target-uri" "content-digest");created=1;expires=2;nonce="a\"b";keyid="k"`, "sig1=::", "sha-256=::")
	f.Add(`a=()`, "", "")
	f.Fuzz(func(t *testing.T, input, sig, digest string) {
		if p, err := parseSignatureInput(input); err == nil {
			if p.Nonce == "" || len(p.Nonce) > maxNonce || p.KeyID == "" || p.Created <= 0 || p.Expires <= 0 || !isToken(p.Label) {
				t.Fatalf("accepted %q as %+v", input, p)
			}
			if b, err := parseSignature(sig, p.Label); err == nil && len(b) != ed25519.SignatureSize {
				t.Fatalf("accepted a signature of %d bytes", len(b))
			}
		}
		if b, err := parseContentDigest(digest); err == nil && len(b) != 32 {
			t.Fatalf("accepted a digest of %d bytes", len(b))
		}
	})
}

// FuzzVerify: any headers on a request are refused or verified, never a
// panic, and nothing but a real signature by a listed key is accepted.
func FuzzVerify(f *testing.F) {
	pub, key, _ := ed25519.GenerateKey(nil)
	now := time.Unix(1733302800, 0)
	r := httptest.NewRequest("POST", "http://127.0.0.1:8700/v1/proposals", nil)
	if err := Sign(r, []byte("{}"), key, now, time.Minute); err != nil {
		f.Fatal(err)
	}
	f.Add(r.Header.Get("Signature-Input"), r.Header.Get("Signature"), r.Header.Get("Content-Digest"), []byte("{}"))
	who := map[string]*Principal{keyID(pub): {ID: "alice", Key: pub, Roles: []string{RoleApprover}}}
	valid := r.Header.Clone()
	f.Fuzz(func(t *testing.T, in, sig, digest string, body []byte) {
		v := &verifier{window: DefaultWindow, skew: DefaultSkew, now: func() time.Time { return now }}
		req := httptest.NewRequest("POST", "http://127.0.0.1:8700/v1/proposals", nil)
		req.Header.Set("Signature-Input", in)
		req.Header.Set("Signature", sig)
		req.Header.Set("Content-Digest", digest)
		p, err := v.verify(context.Background(), req, body, who)
		if err == nil && (p.ID != "alice" || in != valid.Get("Signature-Input") || !bytes.Equal(body, []byte("{}"))) {
			t.Fatalf("accepted a request that was not signed: %q %q %q %q", in, sig, digest, body)
		}
	})
}

// FuzzProposeBody: the JSON body parser refuses what is not one object
// of known fields, never panics.
func FuzzProposeBody(f *testing.F) {
	f.Add([]byte(`{"vault":"ops","psbt":"cHNidP8=","intent":"rent","lifetime":"1h"}`))
	f.Add([]byte(`{"vault":"ops","safe_tx":{"to":"0x00"}}`))
	f.Add([]byte(`{"vault":"ops","force":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req ProposeRequest
		if err := decodeJSON(b, &req); err == nil {
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(b, &fields); err != nil {
				t.Fatalf("accepted what is not one object: %s", b)
			}
			for k := range fields {
				if !jsonNames(reflect.TypeOf(req))[k] {
					t.Fatalf("accepted an unknown field %q: %s", k, b)
				}
			}
		}
		var w WithdrawRequest
		decodeJSON(b, &w)
	})
}

// TestRolesFromThePolicy: the policy's role names decide; a participant
// without service roles (none, or free-form labels only) approves; an auditor only reads; a coordinator is admin.
func TestRolesFromThePolicy(t *testing.T) {
	pub := func(b byte) []byte { k := make([]byte, 32); k[0] = b; return k }
	pol := &policy.Policy{
		Coordinators: []policy.Coordinator{{ID: "coord", Identity: pub(1)}},
		Participants: []policy.Participant{
			{ID: "ann", Identity: pub(2), Roles: []string{RoleInitiator}},
			{ID: "bea", Identity: pub(3)},
			{ID: "cid", Identity: pub(4), Roles: []string{RoleAuditor}},
			{ID: "dan", Identity: pub(5), Roles: []string{"treasurer"}},
			{ID: "eve", Identity: pub(6), Roles: []string{"treasurer", RoleInitiator, RoleApprover}},
		},
	}
	ps := principals(pol)
	by := func(b byte) *Principal { return ps[keyID(pub(b))] }
	cases := []struct {
		who   byte
		roles []string
		may   bool
	}{
		{1, []string{RoleInitiator}, true}, {1, []string{RoleApprover}, true},
		{2, []string{RoleInitiator}, true}, {2, []string{RoleApprover}, false},
		{3, []string{RoleApprover}, true}, {3, []string{RoleInitiator}, false},
		{4, nil, true}, {4, []string{RoleApprover}, false}, {4, []string{RoleInitiator}, false},
		{5, nil, true}, {5, []string{RoleApprover}, true}, {5, []string{RoleInitiator}, false},
		{6, []string{RoleAuditor}, false}, {6, []string{RoleInitiator}, true}, {6, []string{RoleApprover}, true},
	}
	for _, c := range cases {
		if got := by(c.who).May(c.roles...); got != c.may {
			t.Errorf("%s may %v: %v, want %v", by(c.who).ID, c.roles, got, c.may)
		}
	}
}
