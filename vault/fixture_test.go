package vault_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/vault"
)

var reg = chain.NewRegistry(bitcoin.Adapter{})

// station is a deterministic station: an in-memory keystore restored from
// a backup secret, and its account key as a policy names it.
type station struct {
	name string
	ks   *keystore.Keystore
	key  string
}

// Backup network codes (keystore.BackupSecret).
const (
	mainnet = 0
	regtest = 4
)

func newStation(t testing.TB, name string, seed, network byte) station {
	t.Helper()
	secret := append([]byte{1, network}, bytes.Repeat([]byte{seed}, 32)...)
	secret = append(secret, bytes.Repeat([]byte{seed + 100}, 32)...)
	ks, err := keystore.FromBackup(secret)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ks.KeyExpression()
	if err != nil {
		t.Fatal(err)
	}
	return station{name: name, ks: ks, key: key}
}

// quorum are the stations of the test policy: alice, bob and carol sign,
// dave holds the recovery key, erin is in no vault.
type quorum struct {
	alice, bob, carol, dave, erin station
	coord                         *keystore.Keystore
}

func newQuorum(t testing.TB) *quorum {
	t.Helper()
	return &quorum{
		alice: newStation(t, "alice", 1, regtest),
		bob:   newStation(t, "bob", 2, regtest),
		carol: newStation(t, "carol", 3, regtest),
		dave:  newStation(t, "dave", 4, regtest),
		erin:  newStation(t, "erin", 5, regtest),
		coord: newStation(t, "coord", 9, regtest).ks,
	}
}

// policy is a genesis policy on regtest with vaults ops (2 of 3), cold
// (3 of 3, nested segwit) and vault (2 of 3, dave alone after 110
// blocks). swap replaces key expressions in the participants' entries, as
// an entry changed on its way to the coordinator.
func (q *quorum) policy(t testing.TB, swap ...string) *policy.Policy {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "name: treasury\nnetwork: regtest\nmax_proposal_lifetime: 24h\ncoordinators:\n  - id: coord\n    identity: %s\n", identity(q.coord))
	b.WriteString("participants:\n")
	for _, s := range []station{q.alice, q.bob, q.carol, q.dave} {
		fmt.Fprintf(&b, "  - id: %s\n    name: %s\n    identity: %s\n    devices:\n      - id: keystore\n        kind: software\n        key: \"%s\"\n", s.name, s.name, identity(s.ks), s.key)
	}
	b.WriteString("vaults:\n" +
		"  - name: ops\n    chain: bitcoin\n    threshold: 2\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n" +
		"  - name: cold\n    chain: bitcoin\n    script: p2sh-p2wsh\n    threshold: 3\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n" +
		"  - name: vault\n    chain: bitcoin\n    threshold: 2\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n    recovery:\n      signer: dave/keystore\n      after_blocks: 110\n")
	text := b.String()
	for i := 0; i+1 < len(swap); i += 2 {
		text = strings.ReplaceAll(text, swap[i], swap[i+1])
	}
	f, err := policy.ParseFile([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Genesis(reg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func identity(ks *keystore.Keystore) string {
	return policy.EncodeIdentity(ks.IdentityKey().Public().(ed25519.PublicKey))
}

// vault resolves a vault of the test policy.
func (q *quorum) vault(t testing.TB, name string) *vault.Vault {
	t.Helper()
	v, err := vault.FromPolicy(q.policy(t), name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// descriptor is a vault's descriptor, as exported for hardware signers.
func (q *quorum) descriptor(t testing.TB, name string) *vault.Descriptor {
	t.Helper()
	d, err := q.vault(t, name).Descriptor()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// wantErr fails unless err is an error whose text holds want.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q; want one containing %q", err, want)
	}
}
