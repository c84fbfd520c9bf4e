package inspect_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/inspect"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
)

// member is a participant with a software key: enough to sign a PSBT.
type member struct {
	id     string
	ident  ed25519.PrivateKey
	master *hdkeychain.ExtendedKey
	fp     [4]byte
}

var account = []uint32{48 + keys.HardenedOffset, 1 + keys.HardenedOffset, keys.HardenedOffset, 2 + keys.HardenedOffset}

func (m *member) MasterFingerprint() [4]byte { return m.fp }

func (m *member) derive(path []uint32) *hdkeychain.ExtendedKey {
	k := m.master
	for _, p := range path {
		k, _ = k.Derive(p)
	}
	return k
}

func (m *member) PublicKey(path []uint32) ([]byte, error) {
	p, err := m.derive(path).ECPubKey()
	if err != nil {
		return nil, err
	}
	return p.SerializeCompressed(), nil
}

func (m *member) SignECDSA(path []uint32, digest []byte) ([]byte, error) {
	k, err := m.derive(path).ECPrivKey()
	if err != nil {
		return nil, err
	}
	return ecdsa.Sign((*btcec.PrivateKey)(k), digest).Serialize(), nil
}

// keyExpr is the member's account key as a policy names it.
func (m *member) keyExpr() string {
	n, _ := m.derive(account).Neuter()
	return "[" + keys.FormatFingerprint(m.fp) + "/48'/1'/0'/2']" + n.String()
}

// world is a regtest policy with two vaults over the same three members:
// ops (2 of 3) and cold (3 of 3), and every artifact of one spend from ops.
type world struct {
	coord    ed25519.PrivateKey
	members  []*member
	pol      *policy.Policy
	polID    [32]byte
	ops      chain.Vault
	cold     chain.Vault
	psbt     []byte // binary
	policy   []byte // encoded envelopes
	proposal []byte
	approval []byte
	reject   []byte
	proof    []byte
}

func newWorld(t testing.TB) *world {
	t.Helper()
	now := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	w := &world{coord: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{50}, 32))}
	var b strings.Builder
	fmt.Fprintf(&b, "name: t\nnetwork: regtest\nmax_proposal_lifetime: 24h\ncoordinators:\n  - id: coord\n    identity: %s\nparticipants:\n", policy.EncodeIdentity(w.coord.Public().(ed25519.PublicKey)))
	for i, id := range []string{"alice", "bob", "carol"} {
		master, err := hdkeychain.NewMaster(bytes.Repeat([]byte{byte(i + 1)}, 32), &chaincfg.RegressionNetParams)
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := master.ECPubKey()
		m := &member{id: id, ident: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 10)}, 32)), master: master}
		copy(m.fp[:], address.Hash160(pub.SerializeCompressed())[:4])
		w.members = append(w.members, m)
		fmt.Fprintf(&b, "  - id: %s\n    name: %s\n    identity: %s\n    devices:\n      - id: hw\n        kind: software\n        key: \"%s\"\n", id, id, policy.EncodeIdentity(m.ident.Public().(ed25519.PublicKey)), m.keyExpr())
	}
	b.WriteString("vaults:\n")
	b.WriteString("  - name: ops\n    chain: bitcoin\n    threshold: 2\n    signers: [alice/hw, bob/hw, carol/hw]\n")
	b.WriteString("  - name: cold\n    chain: bitcoin\n    threshold: 3\n    signers: [alice/hw, bob/hw, carol/hw]\n")
	f, err := policy.ParseFile([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	reg := chain.NewRegistry(bitcoin.Adapter{})
	if w.pol, err = f.Genesis(reg); err != nil {
		t.Fatal(err)
	}
	if w.polID, err = policy.ID(w.pol); err != nil {
		t.Fatal(err)
	}
	if w.ops, err = w.pol.ChainVault(&w.pol.Vaults[0]); err != nil {
		t.Fatal(err)
	}
	if w.cold, err = w.pol.ChainVault(&w.pol.Vaults[1]); err != nil {
		t.Fatal(err)
	}
	funding, psbt, err := bitcoin.Synthetic(w.ops, 7, "", 30_000_000, 2_000)
	if err != nil {
		t.Fatal(err)
	}
	if w.psbt, err = inspect.DecodePSBTText(psbt); err != nil {
		t.Fatal(err)
	}

	pe, err := policy.Seal(w.pol)
	if err != nil {
		t.Fatal(err)
	}
	p, err := proposal.New(w.pol, w.polID, proposal.Params{Vault: "ops", Payload: w.psbt, Intent: "pay invoice 42", Now: now, Coordinator: "coord"})
	if err != nil {
		t.Fatal(err)
	}
	prop, err := proposal.Seal(p, w.coord)
	if err != nil {
		t.Fatal(err)
	}
	pid := prop.ID()
	sigs, err := bitcoin.Adapter{}.Sign(w.ops, w.psbt, w.members[0].keyExpr(), w.members[0])
	if err != nil {
		t.Fatal(err)
	}
	appr, err := proposal.SealApproval(&proposal.Approval{Format: 1, Proposal: pid[:], Decision: proposal.Approve, Participant: "alice", Device: "hw",
		Policy: w.polID[:], PolicyVersion: 1, Signatures: sigs, Time: now.Unix(), Review: make([]byte, 32)}, w.members[0].ident)
	if err != nil {
		t.Fatal(err)
	}
	rej, err := proposal.SealApproval(&proposal.Approval{Format: 1, Proposal: pid[:], Decision: proposal.Reject, Reason: "invoice 42 already paid",
		Participant: "bob", Device: "hw", Policy: w.polID[:], PolicyVersion: 1, Time: now.Unix(), Review: make([]byte, 32)}, w.members[1].ident)
	if err != nil {
		t.Fatal(err)
	}
	// The proof's transaction: any well-formed one will do for a
	// description, which verifies nothing.
	var tx bytes.Buffer
	if err := funding.Serialize(&tx); err != nil {
		t.Fatal(err)
	}
	proof := w.proofEnvelope(t, pid, tx.Bytes())

	w.policy, w.proposal, w.approval, w.reject, w.proof = encode(t, pe), encode(t, prop), encode(t, appr), encode(t, rej), encode(t, proof)
	return w
}

// proofEnvelope is a proof of proposal pid carrying the transaction tx.
func (w *world) proofEnvelope(t testing.TB, pid [32]byte, tx []byte) *envelope.Envelope {
	t.Helper()
	e, err := proposal.SealProof(&proposal.Proof{Format: 1, Proposal: pid[:], Chain: "bitcoin", Vault: "ops", Policy: w.polID[:], PolicyVersion: 1,
		Threshold: 2, TxID: "00", Transaction: tx, Time: 1_900_000_000}, w.coord)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func encode(t testing.TB, e *envelope.Envelope) []byte {
	t.Helper()
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func regtest() string { return "regtest" }

// marshal is the report as the command prints it.
func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestArtifactDescribesEveryArtifact(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		name    string
		raw     []byte
		network func() string
		kind    string
		want    []string // substrings of the JSON
		notWant []string
	}{
		{"policy", w.policy, nil, envelope.TypePolicy,
			// The policy's keys are its Go field names: the JSON has
			// always been printed so.
			[]string{`"maxProposalLifetimeSeconds": 86400`, `"signaturesNeeded": 0`, `"name": "cold"`, `"signedBy": []`}, nil},
		{"proposal with addresses", w.proposal, regtest, envelope.TypeProposal,
			[]string{`"intent": "pay invoice 42"`, `"coordinator": "coord"`, `"address": "bcrt1q`, `"created": "2031-01-02T03:04:05Z"`}, nil},
		{"proposal outside a workspace", w.proposal, nil, envelope.TypeProposal,
			[]string{`"intent": "pay invoice 42"`}, []string{`"address"`}},
		{"approval", w.approval, nil, envelope.TypeApproval,
			[]string{`"decision": "approve"`, `"participant": "alice"`, `"flagsSeen": []`, `"input": 0`}, nil},
		{"rejection", w.reject, nil, envelope.TypeApproval,
			[]string{`"decision": "reject"`, `"reason": "invoice 42 already paid"`, `"signatures": null`}, nil},
		{"proof", w.proof, nil, envelope.TypeProof,
			[]string{`"threshold": 2`, `"time": "2030-03-17T17:46:40Z"`, `"approvals": null`}, nil},
		{"binary PSBT", w.psbt, regtest, "psbt",
			[]string{`"address": "bcrt1q`}, nil},
		{"base64 PSBT", []byte(base64.StdEncoding.EncodeToString(w.psbt)), nil, "psbt",
			[]string{`"globalXpubs"`}, []string{`"address"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := inspect.Artifact(tc.raw, tc.network)
			if err != nil {
				t.Fatal(err)
			}
			if out["kind"] != tc.kind {
				t.Errorf("kind %v, want %s", out["kind"], tc.kind)
			}
			js := marshal(t, out)
			for _, s := range tc.want {
				if !strings.Contains(js, s) {
					t.Errorf("no %s in\n%s", s, js)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(js, s) {
					t.Errorf("%s in\n%s", s, js)
				}
			}
		})
	}
}

func TestArtifactNetworkIsAskedOnlyForAPSBT(t *testing.T) {
	w := newWorld(t)
	for name, raw := range map[string][]byte{"policy": w.policy, "approval": w.approval, "proof": w.proof} {
		asked := false
		if _, err := inspect.Artifact(raw, func() string { asked = true; return "regtest" }); err != nil {
			t.Fatal(err)
		}
		if asked {
			t.Errorf("%s: the network was looked up for an artifact holding no PSBT", name)
		}
	}
}

func TestArtifactRefuses(t *testing.T) {
	w := newWorld(t)
	var pid [32]byte
	manifest, err := envelope.New(envelope.TypeManifest, []byte{0xa0})
	if err != nil {
		t.Fatal(err)
	}
	badPolicy, err := envelope.New(envelope.TypePolicy, []byte("not a policy"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := proposal.New(w.pol, w.polID, proposal.Params{Vault: "ops", Payload: []byte("not a psbt"), Now: time.Unix(1_900_000_000, 0), Coordinator: "coord"})
	if err != nil {
		t.Fatal(err)
	}
	badProposal, err := proposal.Seal(p, w.coord)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		raw  []byte
		is   error
		as   bool // an *UnknownFormatError
	}{
		{"a proof carrying a malformed transaction", encode(t, w.proofEnvelope(t, pid, []byte{0x02, 0x00, 0x00})), inspect.ErrMalformedTransaction, false},
		{"a proof carrying no transaction", encode(t, w.proofEnvelope(t, pid, nil)), inspect.ErrMalformedTransaction, false},
		{"a manifest that does not decode", encode(t, manifest), nil, false},
		{"a policy envelope holding no policy", encode(t, badPolicy), nil, false},
		{"a Bitcoin proposal whose payload is not a PSBT", encode(t, badProposal), nil, false},
		{"a truncated envelope", w.approval[:len(w.approval)-1], nil, true},
		{"a truncated PSBT", w.psbt[:len(w.psbt)-1], nil, true},
		{"text", []byte("hello\n"), nil, true},
		{"nothing", nil, nil, true},
		{"more than MaxSize bytes", append(bytes.Clone(w.psbt), make([]byte, inspect.MaxSize)...), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := inspect.Artifact(tc.raw, regtest)
			if err == nil {
				t.Fatalf("described: %v", out)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("got %v, want %v", err, tc.is)
			}
			if _, ok := errors.AsType[*inspect.UnknownFormatError](err); ok != tc.as {
				t.Errorf("%v: an UnknownFormatError: %v, want %v", err, ok, tc.as)
			}
		})
	}
}

func TestUnknownFormatErrorGivesBothReasons(t *testing.T) {
	_, err := inspect.Artifact([]byte("hello"), nil)
	uf, ok := errors.AsType[*inspect.UnknownFormatError](err)
	if !ok || uf.Envelope == nil || uf.PSBT == nil {
		t.Fatalf("got %#v", err)
	}
	if got := err.Error(); !strings.HasPrefix(got, "neither an airlock envelope (envelope: malformed: ") || !strings.Contains(got, ") nor a PSBT (bitcoin: ") {
		t.Errorf("message %q", got)
	}
}

func TestPSBTAcceptsTheVaultsOwnSpend(t *testing.T) {
	w := newWorld(t)
	for name, raw := range map[string][]byte{"binary": w.psbt, "base64": []byte(base64.StdEncoding.EncodeToString(w.psbt) + "\n")} {
		t.Run(name, func(t *testing.T) {
			// No network named: test keys mean regtest.
			res, err := inspect.PSBT(context.Background(), raw, w.ops.Descriptor, "")
			if err != nil {
				t.Fatal(err)
			}
			if b := res.Blocking(); len(b) != 0 {
				t.Fatalf("blocking flags %v", b)
			}
			js := marshal(t, res.Body)
			for _, s := range []string{`"flags": []`, `"fee": 2000`, `"network": "regtest"`, `"change": true`} {
				if !strings.Contains(js, s) {
					t.Errorf("no %s in\n%s", s, js)
				}
			}
			if len(res.Lines) == 0 || len(res.Lines) != len(res.Review.Lines)+len(res.Review.Flags) {
				t.Errorf("%d lines for %d review lines and %d flags", len(res.Lines), len(res.Review.Lines), len(res.Review.Flags))
			}
		})
	}
}

func TestPSBTRefusesADescriptor(t *testing.T) {
	w := newWorld(t)
	// Bob's key claims alice's master fingerprint (at another path: one
	// origin for two keys is refused by the descriptor parser already).
	a, b := w.members[0].keyExpr(), w.members[1].keyExpr()
	b = "[" + keys.FormatFingerprint(w.members[0].fp) + strings.Replace(b[9:], "/0'/2']", "/1'/2']", 1)
	dup, err := descriptor.Checksum("wsh(sortedmulti(2," + a + "/<0;1>/*," + b + "/<0;1>/*))")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, descriptor, network, code string
	}{
		{"whose keys are for another network", w.ops.Descriptor, "mainnet", bitcoin.FlagNetworkMismatch},
		{"with two keys under one master fingerprint", "wsh(sortedmulti(2," + a + "/<0;1>/*," + b + "/<0;1>/*))#" + dup, "regtest", bitcoin.FlagDuplicateFingerprint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := inspect.PSBT(context.Background(), w.psbt, tc.descriptor, tc.network)
			if err == nil {
				t.Fatalf("checked: %v", res.Body)
			}
			if re, ok := errors.AsType[*inspect.RefusedError](err); !ok || !strings.Contains(re.Error(), tc.code) {
				t.Errorf("got %v, want a RefusedError for %s", err, tc.code)
			}
		})
	}
}

func TestPSBTBlocksASpendOfAnotherVault(t *testing.T) {
	w := newWorld(t)
	res, err := inspect.PSBT(context.Background(), w.psbt, w.cold.Descriptor, "regtest")
	if err != nil {
		t.Fatal(err)
	}
	b := res.Blocking()
	if len(b) == 0 || b[0].Code != "foreign-input" {
		t.Fatalf("blocking flags %v", b)
	}
	if !contains(res.Lines, "flag block foreign-input: ") {
		t.Errorf("no flag line in %q", res.Lines)
	}
}

func TestPSBTRefusesWhatIsNotAPSBT(t *testing.T) {
	w := newWorld(t)
	for name, raw := range map[string][]byte{"text": []byte("not base64!"), "an envelope": w.approval} {
		if _, err := inspect.PSBT(context.Background(), raw, w.ops.Descriptor, "regtest"); err == nil {
			t.Errorf("%s checked as a PSBT", name)
		}
	}
}

func TestDefaultNetwork(t *testing.T) {
	for desc, want := range map[string]string{
		"wsh(sortedmulti(2,[00000000/48'/0'/0'/2']xpub6.../<0;1>/*))": "mainnet",
		"wsh(sortedmulti(2,[00000000/48'/1'/0'/2']tpubD.../<0;1>/*))": "regtest",
	} {
		if got := inspect.DefaultNetwork(desc); got != want {
			t.Errorf("%s: %s, want %s", desc, got, want)
		}
	}
}

// The Safe and transactions of cmd/airlock/testdata/safe.txt.
const (
	safeAddr = "0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4"
	transfer = `{"to":"0x000000000000000000000000000000000000dEaD","value":"100000000000000000","data":null,"operation":0,"safeTxGas":"0","baseGas":"0","gasPrice":"0","gasToken":"0x0000000000000000000000000000000000000000","refundReceiver":"0x0000000000000000000000000000000000000000","nonce":4}`
	// The Bybit transaction of 21 February 2025: a delegatecall to a
	// contract that replaced the Safe's implementation.
	bybit = `{"to":"0x96221423681A6d52E184D440a8eFCEbB105C7242","value":"0","data":"0xa9059cbb000000000000000000000000bdd077f651ebe7f7b3ce16fe5f2b025be29695160000000000000000000000000000000000000000000000000000000000000000","operation":1,"safeTxGas":"45746","baseGas":"0","gasPrice":"0","gasToken":"0x0000000000000000000000000000000000000000","refundReceiver":"0x0000000000000000000000000000000000000000","nonce":71}`
	// A payload that claims a safeTxHash the station does not compute.
	liar = `{"to":"0x000000000000000000000000000000000000dEaD","value":"1","data":"0x","operation":0,"safeTxGas":"0","baseGas":"0","gasPrice":"0","gasToken":"0x0000000000000000000000000000000000000000","refundReceiver":"0x0000000000000000000000000000000000000000","nonce":5,"safeTxHash":"0x1111111111111111111111111111111111111111111111111111111111111111"}`
)

func TestSafe(t *testing.T) {
	pinned, err := inspect.ParseTrusted("target=0x96221423681A6d52E184D440a8eFCEbB105C7242:0x" + strings.Repeat("00", 32))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		version string
		tx      string
		trusted []chain.Trusted
		block   string // the first blocking flag, "" for none
		line    string // one of the lines for a person
	}{
		{"a plain transfer passes", "1.3.0", transfer, nil, "", "0 CALL 0x000000000000000000000000000000000000dEaD value 100000000000000000 wei"},
		{"a delegatecall to an unpinned contract blocks", "1.1.1", bybit, nil, "delegatecall-untrusted", "flag block delegatecall-untrusted: call 0: delegatecall to 0x96221423681A6d52E184D440a8eFCEbB105C7242"},
		{"a delegatecall to a pinned contract passes", "1.1.1", bybit, []chain.Trusted{pinned}, "", "0 DELEGATECALL 0x96221423681A6d52E184D440a8eFCEbB105C7242 (target (pinned in the policy))"},
		{"a payload claiming another hash blocks", "1.3.0", liar, nil, "hash-mismatch", "flag block hash-mismatch: the payload claims hash 0x1111"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := inspect.Safe(inspect.SafeRequest{ChainID: 31337, Safe: safeAddr, Version: tc.version, Trusted: tc.trusted, Tx: []byte(tc.tx)})
			if err != nil {
				t.Fatal(err)
			}
			b := res.Blocking()
			switch {
			case tc.block == "" && len(b) != 0:
				t.Errorf("blocking flags %v", b)
			case tc.block != "" && (len(b) == 0 || b[0].Code != tc.block):
				t.Errorf("blocking flags %v, want %s first", b, tc.block)
			}
			if !contains(res.Lines, tc.line) {
				t.Errorf("no line %q in\n%s", tc.line, strings.Join(res.Lines, "\n"))
			}
			js := marshal(t, res.Body)
			for _, s := range []string{`"safeTxHash": "0x`, `"domainHash": "0x`, `"messageHash": "0x`, `"chainId": "31337"`, `"flags": [`} {
				if !strings.Contains(js, s) {
					t.Errorf("no %s in\n%s", s, js)
				}
			}
		})
	}
}

func TestSafeRefusesAnUnknownVersion(t *testing.T) {
	if _, err := inspect.Safe(inspect.SafeRequest{ChainID: 31337, Safe: safeAddr, Version: "9.9.9", Tx: []byte(transfer)}); err == nil {
		t.Fatal("checked against a Safe version nobody wrote")
	}
}

func TestParseTrusted(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want chain.Trusted
		ok   bool
	}{
		{"multisend=0xA238:0xbeef", chain.Trusted{Name: "multisend", Address: "0xA238", CodeHash: "0xbeef"}, true},
		{"a=b=c:d:e", chain.Trusted{Name: "a", Address: "b=c", CodeHash: "d:e"}, true},
		{"multisend", chain.Trusted{}, false},
		{"multisend=0xA238", chain.Trusted{}, false},
		{"0xA238:0xbeef", chain.Trusted{}, false},
		{"", chain.Trusted{}, false},
	} {
		got, err := inspect.ParseTrusted(tc.spec)
		if tc.ok {
			if err != nil || got != tc.want {
				t.Errorf("%q: %+v, %v; want %+v", tc.spec, got, err, tc.want)
			}
			continue
		}
		if se, ok := errors.AsType[*inspect.TrustedSyntaxError](err); !ok || se.Spec != tc.spec {
			t.Errorf("%q: %v, want a TrustedSyntaxError", tc.spec, err)
		}
	}
}

func TestDecodePSBTText(t *testing.T) {
	bin := []byte("psbt\xff\x01\x02")
	for _, tc := range []struct {
		name string
		in   []byte
		want []byte
	}{
		{"binary is kept", bin, bin},
		{"base64 is decoded", []byte(base64.StdEncoding.EncodeToString(bin)), bin},
		{"white space around base64 is ignored", []byte("\n " + base64.StdEncoding.EncodeToString(bin) + "\r\n"), bin},
		{"text is refused", []byte("psbt!"), nil},
	} {
		got, err := inspect.DecodePSBTText(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: decoded %x", tc.name, got)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: %x, %v", tc.name, got, err)
		}
	}
}

func contains(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

func ExampleSafe() {
	res, err := inspect.Safe(inspect.SafeRequest{ChainID: 1, Safe: safeAddr, Version: "1.1.1", Tx: []byte(bybit)})
	if err != nil {
		panic(err)
	}
	for _, f := range res.Blocking() {
		fmt.Println(f.Severity, f.Code)
	}
	// Output: block delegatecall-untrusted
}
