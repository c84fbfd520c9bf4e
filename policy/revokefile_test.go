package policy_test

import (
	"errors"
	"testing"

	"github.com/airlock-vault/airlock/policy"
)

// TestRevokeNamesOnlyWhatThePolicyLists: a revocation of a device the
// policy does not list, or of a participant it does not list, is refused
// with its own error, never turned into a revocation of something else;
// revoking the same device twice is refused, and a revoked participant's
// devices cannot be revoked again.
func TestRevokeNamesOnlyWhatThePolicyLists(t *testing.T) {
	f, err := policy.ParseFile([]byte(rulesSource(t, "", "", "")))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Revoke("alice", "phone", "lost"); !errors.Is(err, policy.ErrNoDevice) {
		t.Fatalf("an unlisted device: %v", err)
	}
	if err := f.Revoke("mallory", "", "gone"); !errors.Is(err, policy.ErrNoParticipant) {
		t.Fatalf("an unlisted participant: %v", err)
	}
	if err := f.Revoke("alice", "hw", "stolen"); err != nil {
		t.Fatal(err)
	}
	if err := f.Revoke("alice", "hw", "again"); err == nil {
		t.Fatal("a device was revoked twice")
	}
	if err := f.Revoke("bob", "", "left"); err != nil {
		t.Fatal(err)
	}
	if err := f.Revoke("bob", "hw", "after"); err == nil {
		t.Fatal("a revoked participant's device was revoked again")
	}
	for _, p := range f.Participants {
		switch {
		case p.ID == "alice" && (p.Revoked != "" || p.Devices[0].Revoked != "stolen"):
			t.Fatalf("alice: %+v", p)
		case p.ID == "bob" && p.Revoked != "left":
			t.Fatalf("bob: %+v", p)
		case p.ID != "alice" && p.ID != "bob" && p.Revoked != "":
			t.Fatalf("%s was revoked too", p.ID)
		}
	}
}
