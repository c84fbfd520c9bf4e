//go:build cgo

package enroll

import (
	"errors"
	"testing"

	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/keys/pkcs11"
	"github.com/airlock-vault/airlock/keys/pkcs11/softhsmtest"
	"github.com/airlock-vault/airlock/keys/unlock"
	"github.com/airlock-vault/airlock/workspace"
)

// TestTokenEnrolment makes a station's keys on a SoftHSM2 token, writes
// the workspace that records them and unlocks it; a second enrolment of
// the same name on the token is refused and leaves the first keys alone;
// a discarded enrolment leaves no key behind.
func TestTokenEnrolment(t *testing.T) {
	pin := []byte("1234")
	module := softhsmtest.New(t, "bob-token", string(pin))
	p := station("bob")
	p.Device = "hsm"

	en, err := Token(module, "bob-token", pin, p)
	if err != nil {
		t.Fatal(err)
	}
	c := en.Config
	if c.Token == nil || c.Token.Label != "bob-token" || c.Token.IdentityKey != "airlock/bob/identity" || c.Token.ChainKey != "airlock/bob/chain" || c.Token.Vendor == "" {
		t.Fatalf("token record %+v", c.Token)
	}
	ak, err := bitcoin.ParseAccountKey(c.Key, p.Network)
	if err != nil || ak.Static == nil {
		t.Fatalf("key %s: %v, want a static key", c.Key, err)
	}
	owner, err := safe.ParseOwnerKey(c.Ethereum)
	if err != nil || owner.Fingerprint == nil || *owner.Fingerprint != ak.Fingerprint || len(owner.Path) != 0 {
		t.Fatalf("Safe owner %s: %v, want [%s]0x…", c.Ethereum, err, keys.FormatFingerprint(ak.Fingerprint))
	}
	if en.Detail["token"] != "bob-token" || en.Detail["key"] != c.Key || en.Detail["firmware"] == "" {
		t.Errorf("detail %v", en.Detail)
	}
	en.Keys.Close()

	ws, err := workspace.Init(t.TempDir(), c, workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	k, err := unlock.Token(ws, pin)
	if err != nil {
		t.Fatalf("the enrolled token does not unlock its workspace: %v", err)
	}
	k.Close()

	if _, err := Token(module, "bob-token", pin, p); !errors.Is(err, pkcs11.ErrKeyExists) {
		t.Fatalf("second enrolment of bob: %v, want ErrKeyExists", err)
	}
	k, err = unlock.Token(ws, pin)
	if err != nil {
		t.Fatalf("a refused enrolment damaged the first keys: %v", err)
	}
	k.Close()

	carol := station("carol")
	carol.Device = "hsm"
	en, err = Token(module, "bob-token", pin, carol)
	if err != nil {
		t.Fatal(err)
	}
	if err := en.Discard(); err != nil {
		t.Fatal(err)
	}
	en.Keys.Close()
	en, err = Token(module, "bob-token", pin, carol)
	if err != nil {
		t.Fatalf("the labels of a discarded enrolment are still taken: %v", err)
	}
	en.Keys.Close()
}

// TestTokenWrongPIN: a wrong PIN makes no key.
func TestTokenWrongPIN(t *testing.T) {
	module := softhsmtest.New(t, "tok", "1234")
	if _, err := Token(module, "tok", []byte("0000"), station("bob")); !errors.Is(err, pkcs11.ErrWrongPIN) {
		t.Fatalf("wrong PIN: %v, want ErrWrongPIN", err)
	}
}
