package serve_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/serve"
)

// TestDelegationActsOnlyAsGranted: a participant's station delegates to
// an online key, which then acts for them — and no further. A delegation
// signed by anyone else, one carried by a key it does not name, an
// expired one, one naming a key the policy lists, and roles beyond the
// delegation's or the policy's are each refused.
func TestDelegationActsOnlyAsGranted(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, quorum.Options{})
	open := f.propose("rent")
	alice := f.q.Stations["alice"].Keys.Identity
	deskPub, desk, _ := ed25519.GenerateKey(nil)
	_, stranger, _ := ed25519.GenerateKey(nil)
	now := f.q.Now()
	grant := func(by crypto.Signer, to ed25519.PublicKey, roles []string, created time.Time, life time.Duration) []byte {
		t.Helper()
		e, err := serve.Delegate("alice", to, roles, created, life, by)
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	as := func(key ed25519.PrivateKey, d []byte) *serve.Client {
		return &serve.Client{Base: f.url, Key: key, Now: f.q.Now, Delegation: d}
	}
	kind := func(err error) string {
		var p *serve.Problem
		if errors.As(err, &p) {
			return p.Kind()
		}
		if err != nil {
			return err.Error()
		}
		return "ok"
	}
	read := func(c *serve.Client) string { _, err := c.List(ctx, url.Values{}); return kind(err) }
	propose := func(c *serve.Client) string {
		_, err := c.Propose(ctx, serve.ProposeRequest{Vault: "ops", PSBT: f.psbt()})
		return kind(err)
	}

	good := grant(alice, deskPub, nil, now, 24*time.Hour)
	if got := read(as(desk, good)); got != "ok" {
		t.Fatalf("alice's delegate reads: %s", got)
	}
	// alice lists no service role: an approver. Her delegate hands in
	// her station's approval, and may not propose.
	env, err := f.clients["coord"].Envelope(ctx, open.ID)
	if err != nil {
		t.Fatal(err)
	}
	if h, again, err := as(desk, good).HandIn(ctx, open.ID, f.approve("alice", env)); err != nil || again || h.Decisions[0].Participant != "alice" {
		t.Fatalf("alice's delegate hands in her approval: %v %v %+v", err, again, h)
	}
	if got := propose(as(desk, good)); got != "forbidden" {
		t.Errorf("alice's delegate proposes: %s, want forbidden (alice is no initiator)", got)
	}

	pub, _ := keys.IdentityPublic(f.q.CoordKeys.Identity)
	cases := []struct {
		name string
		c    *serve.Client
		want string
	}{
		{"a delegation signed by a stranger, not alice", as(desk, grant(stranger, deskPub, nil, now, time.Hour)), "bad-delegation"},
		{"alice's delegation carried by a key it does not name", as(stranger, good), "unknown-key"},
		{"an expired delegation", as(desk, grant(alice, deskPub, nil, now.Add(-48*time.Hour), 24*time.Hour)), "bad-delegation"},
		{"a delegation made in the future", as(desk, grant(alice, deskPub, nil, now.Add(time.Hour), 24*time.Hour)), "bad-delegation"},
		{"a delegation to a key the policy lists (the coordinator's)", &serve.Client{Base: f.url, Key: f.q.CoordKeys.Identity, Now: f.q.Now,
			Delegation: grant(alice, pub, nil, now, time.Hour)}, "bad-delegation"},
		{"only roles the policy does not give alice", as(desk, grant(alice, deskPub, []string{serve.RoleInitiator}, now, time.Hour)), "bad-delegation"},
		{"a header that is no envelope", as(desk, []byte("not an envelope")), "bad-delegation"},
	}
	for _, c := range cases {
		if got := read(c.c); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// Narrowed to auditor: reads, hands nothing in.
	auditor := as(desk, grant(alice, deskPub, []string{serve.RoleAuditor}, now, time.Hour))
	if got := read(auditor); got != "ok" {
		t.Errorf("an auditor delegate reads: %s", got)
	}
	if _, _, err := auditor.HandIn(ctx, open.ID, f.approve("bob", env)); kind(err) != "forbidden" {
		t.Errorf("an auditor delegate hands in: %s, want forbidden", kind(err))
	}
}
