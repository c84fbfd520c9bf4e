package policy_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
)

var reg = chain.NewRegistry(bitcoin.Adapter{})

// member is a deterministic test participant.
type member struct {
	id  string
	key ed25519.PrivateKey
	xpb string // [fp/48'/1'/0'/2']tpub...
}

func newMember(t testing.TB, id string, seed byte) member {
	t.Helper()
	master, err := hdkeychain.NewMaster(bytes.Repeat([]byte{seed}, 32), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := master.ECPubKey()
	_ = pub
	fpKey, _ := master.Neuter()
	_ = fpKey
	h := keys.HardenedOffset
	path := []uint32{48 + h, 1 + h, 0 + h, 2 + h}
	k := master
	for _, i := range path {
		if k, err = k.Derive(i); err != nil {
			t.Fatal(err)
		}
	}
	n, _ := k.Neuter()
	mpub, _ := master.ECPubKey()
	fp := fingerprint(mpub.SerializeCompressed())
	return member{id: id, key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed + 100}, 32)),
		xpb: "[" + fp + "/48'/1'/0'/2']" + n.String()}
}

func fingerprint(pub []byte) string {
	return keys.FormatFingerprint([4]byte(hash160(pub)[:4]))
}

func yamlFor(coord ed25519.PrivateKey, ms []member, threshold int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "name: treasury\nnetwork: regtest\nmax_proposal_lifetime: 72h\n%scoordinators:\n  - id: coord\n    identity: %s\nparticipants:\n", extra, policy.EncodeIdentity(coord.Public().(ed25519.PublicKey)))
	var signers []string
	for _, m := range ms {
		fmt.Fprintf(&b, "  - id: %s\n    name: %s\n    identity: %s\n    devices:\n      - id: hw\n        kind: software\n        key: \"%s\"\n", m.id, m.id, policy.EncodeIdentity(m.key.Public().(ed25519.PublicKey)), m.xpb)
		signers = append(signers, m.id+"/hw")
	}
	fmt.Fprintf(&b, "vaults:\n  - name: ops\n    chain: bitcoin\n    threshold: %d\n    signers: [%s]\n", threshold, strings.Join(signers, ", "))
	return b.String()
}

func quorum(t testing.TB) (ed25519.PrivateKey, []member) {
	coord := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	return coord, []member{newMember(t, "alice", 1), newMember(t, "bob", 2), newMember(t, "carol", 3)}
}

func genesis(t testing.TB) (*policy.Policy, []member) {
	coord, ms := quorum(t)
	f, err := policy.ParseFile([]byte(yamlFor(coord, ms, 2, "")))
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Genesis(reg)
	if err != nil {
		t.Fatal(err)
	}
	return p, ms
}

func TestGenesisBuildsSortedMultiDescriptor(t *testing.T) {
	p, ms := genesis(t)
	d := p.Vaults[0].Descriptor
	if !strings.HasPrefix(d, "wsh(sortedmulti(2,") || !strings.Contains(d, "/<0;1>/*") || d[len(d)-9] != '#' {
		t.Fatalf("descriptor %q", d)
	}
	for _, m := range ms {
		if !strings.Contains(d, m.xpb) {
			t.Fatalf("descriptor lacks %s", m.xpb)
		}
	}
	if p.PolicyThreshold != 2 {
		t.Fatalf("default policy threshold %d, want a majority of 3", p.PolicyThreshold)
	}
}

func TestGenesisValidOnlyWhenEverySigned(t *testing.T) {
	p, ms := genesis(t)
	e, err := policy.Seal(p)
	if err != nil {
		t.Fatal(err)
	}
	id := e.ID()
	for i, m := range ms {
		if _, err := policy.Verify([]*envelope.Envelope{e}, reg); !errors.Is(err, policy.ErrIncomplete) {
			t.Fatalf("after %d signatures: got %v, want ErrIncomplete", i, err)
		}
		if err := e.Sign(m.key); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := policy.Verify([]*envelope.Envelope{e}, reg); err != nil {
		t.Fatalf("fully signed genesis: %v", err)
	}
	if e.ID() != id {
		t.Fatal("signing changed the policy id")
	}
}

func TestPolicyRefusesSignatureByOutsider(t *testing.T) {
	p, ms := genesis(t)
	e, _ := policy.Seal(p)
	for _, m := range ms {
		e.Sign(m.key)
	}
	e.Sign(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{77}, 32)))
	if _, err := policy.Verify([]*envelope.Envelope{e}, reg); err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("got %v, want unknown key", err)
	}
}

func TestRotationNeedsQuorumOfPreviousVersion(t *testing.T) {
	p1, ms := genesis(t)
	e1, _ := policy.Seal(p1)
	for _, m := range ms {
		e1.Sign(m.key)
	}
	id1 := e1.ID()
	p2 := *p1
	p2.Version, p2.Previous = 2, id1[:]
	p2.MaxProposalLifetime = 3600 // shorter: tightens, so no delay
	p2.Created, p2.NotBefore = 1000, 1000
	e2, err := policy.Seal(&p2)
	if err != nil {
		t.Fatal(err)
	}
	e2.Sign(ms[0].key)
	if _, err := policy.Verify([]*envelope.Envelope{e1, e2}, reg); !errors.Is(err, policy.ErrIncomplete) {
		t.Fatalf("one of two needed: got %v", err)
	}
	e2.Sign(ms[1].key)
	got, err := policy.Verify([]*envelope.Envelope{e1, e2}, reg)
	if err != nil {
		t.Fatal(err)
	}
	if got[1].Version != 2 || got[0].Version != 1 {
		t.Fatal("history not kept")
	}
	// A version that does not name its predecessor is refused.
	p3 := p2
	p3.Version, p3.Previous = 3, id1[:]
	p3.Created, p3.NotBefore = 2000, 2000
	e3, _ := policy.Seal(&p3)
	e3.Sign(ms[0].key)
	e3.Sign(ms[1].key)
	if _, err := policy.Verify([]*envelope.Envelope{e1, e2, e3}, reg); !errors.Is(err, policy.ErrBrokenChain) {
		t.Fatalf("got %v, want ErrBrokenChain", err)
	}
}

func TestParseRefuses(t *testing.T) {
	coord, ms := quorum(t)
	dup := []member{ms[0], ms[1], ms[0]}
	dup[2].id = "mallory"
	cases := map[string]struct {
		src  string
		want string
	}{
		"threshold zero":      {yamlFor(coord, ms, 0, ""), "threshold 0 outside 1..3"},
		"threshold above n":   {yamlFor(coord, ms, 4, ""), "threshold 4 outside 1..3"},
		"unknown field":       {yamlFor(coord, ms, 2, "daily_limit: 5\n"), "field daily_limit not found"},
		"duplicate key":       {yamlFor(coord, dup, 2, ""), "duplicate"},
		"bad lifetime":        {strings.Replace(yamlFor(coord, ms, 2, ""), "72h", "forever", 1), "max_proposal_lifetime"},
		"lifetime too long":   {strings.Replace(yamlFor(coord, ms, 2, ""), "72h", "9000h", 1), "outside"},
		"unknown chain":       {strings.Replace(yamlFor(coord, ms, 2, ""), "chain: bitcoin", "chain: dogecoin", 1), "unknown chain"},
		"unknown network":     {strings.Replace(yamlFor(coord, ms, 2, ""), "network: regtest", "network: moon", 1), "moon"},
		"mainnet with tpubs":  {strings.Replace(yamlFor(coord, ms, 2, ""), "network: regtest", "network: mainnet", 1), "not for mainnet"},
		"bad device kind":     {strings.Replace(yamlFor(coord, ms, 2, ""), "kind: software", "kind: paper", 1), "kind \"paper\""},
		"private key":         {strings.Replace(yamlFor(coord, ms, 2, ""), "]tpub", "]tprv", 1), "key"},
		"two documents":       {yamlFor(coord, ms, 2, "") + "---\nname: x\n", "more than one document"},
		"policy threshold 9":  {yamlFor(coord, ms, 2, "policy_threshold: 9\n"), "policy threshold 9 outside 1..3"},
		"descriptor mismatch": {strings.Replace(yamlFor(coord, ms, 2, ""), "threshold: 2\n", "threshold: 2\n    descriptor: wsh(multi(2,"+ms[0].xpb+"/0/*))\n", 1), "is not the one"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f, err := policy.ParseFile([]byte(c.src))
			if err == nil {
				_, err = f.Genesis(reg)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestDuplicateFingerprintRefused(t *testing.T) {
	coord, ms := quorum(t)
	// bob's key given alice's fingerprint in its origin.
	ms[1].xpb = ms[0].xpb[:9] + ms[1].xpb[9:]
	f, err := policy.ParseFile([]byte(yamlFor(coord, ms, 2, "")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Genesis(reg); err == nil || !strings.Contains(err.Error(), "duplicate master fingerprint") {
		t.Fatalf("got %v", err)
	}
}

func TestJSONSourceEqualsYAML(t *testing.T) {
	coord, ms := quorum(t)
	y, err := policy.ParseFile([]byte(yamlFor(coord, ms, 2, "")))
	if err != nil {
		t.Fatal(err)
	}
	j := fmt.Sprintf(`{"name":"treasury","network":"regtest","max_proposal_lifetime":"72h",
	 "coordinators":[{"id":"coord","identity":%q}],
	 "participants":[{"id":"alice","name":"alice","identity":%q,"devices":[{"id":"hw","kind":"software","key":%q}]},
	   {"id":"bob","name":"bob","identity":%q,"devices":[{"id":"hw","kind":"software","key":%q}]},
	   {"id":"carol","name":"carol","identity":%q,"devices":[{"id":"hw","kind":"software","key":%q}]}],
	 "vaults":[{"name":"ops","chain":"bitcoin","threshold":2,"signers":["alice/hw","bob/hw","carol/hw"]}]}`,
		policy.EncodeIdentity(coord.Public().(ed25519.PublicKey)),
		policy.EncodeIdentity(ms[0].key.Public().(ed25519.PublicKey)), ms[0].xpb,
		policy.EncodeIdentity(ms[1].key.Public().(ed25519.PublicKey)), ms[1].xpb,
		policy.EncodeIdentity(ms[2].key.Public().(ed25519.PublicKey)), ms[2].xpb)
	jf, err := policy.ParseFile([]byte(j))
	if err != nil {
		t.Fatal(err)
	}
	py, err := y.Genesis(reg)
	if err != nil {
		t.Fatal(err)
	}
	pj, err := jf.Genesis(reg)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := policy.ID(py)
	b, _ := policy.ID(pj)
	if a != b {
		t.Fatal("the same policy in JSON and YAML gives different ids")
	}
	if _, err := policy.ParseFile([]byte(strings.Replace(j, `"name":"treasury"`, `"name":"treasury","extra":1`, 1))); err == nil {
		t.Fatal("unknown JSON field accepted")
	}
}

func FuzzParseFile(f *testing.F) {
	coord, ms := quorum(f)
	f.Add([]byte(yamlFor(coord, ms, 2, "")))
	f.Add([]byte(yamlFor(coord, ms[:1], 1, "policy_threshold: 1\n")))
	f.Add([]byte(`{"name":"x","network":"regtest","max_proposal_lifetime":"1h"}`))
	f.Add([]byte("name: [a, b]\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		pf, err := policy.ParseFile(src)
		if err != nil {
			return
		}
		p, err := pf.Genesis(reg)
		if err != nil {
			return
		}
		e, err := policy.Seal(p)
		if err != nil {
			t.Fatalf("valid policy does not seal: %v", err)
		}
		raw, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		d, err := envelope.Decode(raw)
		if err != nil {
			t.Fatalf("sealed policy does not decode: %v", err)
		}
		q, err := policy.Open(d)
		if err != nil {
			t.Fatalf("sealed policy does not open: %v", err)
		}
		if err := q.Validate(reg); err != nil {
			t.Fatalf("round-tripped policy no longer validates: %v", err)
		}
		again, _ := policy.Seal(q)
		if again.ID() != e.ID() {
			t.Fatal("policy id changed across decode and encode")
		}
	})
}

// TestRevokedParticipantCannotCoSign: once version 2 revokes carol, her
// signature no longer counts towards version 3 (it is refused as an
// unknown key), so a thief of her key cannot help rotate the policy.
func TestRevokedParticipantCannotCoSign(t *testing.T) {
	p1, ms := genesis(t)
	e1, _ := policy.Seal(p1)
	for _, m := range ms {
		e1.Sign(m.key)
	}
	id1 := e1.ID()
	p2 := *p1
	p2.Participants = append([]policy.Participant(nil), p1.Participants...)
	p2.Version, p2.Previous, p2.Created, p2.NotBefore = 2, id1[:], 1000, 1000
	p2.Participants[2].Revoked = &policy.Revocation{Time: 1000, Reason: "left the company"}
	e2, _ := policy.Seal(&p2)
	e2.Sign(ms[0].key)
	e2.Sign(ms[1].key)
	if _, err := policy.Verify([]*envelope.Envelope{e1, e2}, reg); err != nil {
		t.Fatalf("revocation by the quorum: %v", err)
	}
	id2 := e2.ID()
	p3 := p2
	p3.Version, p3.Previous, p3.Created, p3.NotBefore = 3, id2[:], 2000, 2000
	p3.MaxProposalLifetime = 3600
	e3, _ := policy.Seal(&p3)
	e3.Sign(ms[0].key)
	e3.Sign(ms[2].key)
	if _, err := policy.Verify([]*envelope.Envelope{e1, e2, e3}, reg); err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("carol co-signs after her revocation: got %v", err)
	}
}
