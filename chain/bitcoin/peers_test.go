package bitcoin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
	"github.com/airlock-vault/airlock/internal/testvectors"
	"github.com/airlock-vault/airlock/keys"
)

// The tests in this file check airlock's descriptors and PSBTs against
// independent implementations run by test/btc-peers/peer.js:
// @bitcoinerlab/descriptors (addresses), bitcoinjs-lib and
// @scure/btc-signer (creating, signing and, for bitcoinjs-lib, finalizing
// PSBTs). Missing Node or packages fail the tests loudly.

// btcPeerResult is one op's answer from peer.js.
type btcPeerResult struct {
	Addresses []string `json:"addresses"`
	PSBT      string   `json:"psbt"`
	Signed    int      `json:"signed"`
	Version   int      `json:"version"`
	TxHex     string   `json:"txHex"`
	TxID      string   `json:"txid"`
	Error     string   `json:"error"`
}

// runBTCPeer sends ops to test/btc-peers/peer.js in one request and returns
// its results, one per op, in order.
func runBTCPeer(t *testing.T, ops []map[string]any) []btcPeerResult {
	t.Helper()
	dir := filepath.Join(testvectors.RepoRoot(t), "test", "btc-peers")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: the Bitcoin peer tests need Node.js 20+; install it and run 'npm ci' in %s", dir)
	}
	for _, pkg := range []string{"bitcoinjs-lib", "@scure/btc-signer", "@bitcoinerlab/descriptors"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("the Bitcoin peers are not installed (%s is missing): run 'npm ci' in %s", pkg, dir)
		}
	}
	in, err := json.Marshal(map[string]any{"ops": ops})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "peer.js")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("peer.js: %v\n%s", err, stderr.String())
	}
	var resp struct {
		Results   []btcPeerResult   `json:"results"`
		Libraries map[string]string `json:"libraries"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("peer.js answer: %v\n%s", err, out)
	}
	if len(resp.Results) != len(ops) {
		t.Fatalf("peer.js: %d results for %d ops", len(resp.Results), len(ops))
	}
	t.Logf("peers: %v", resp.Libraries)
	return resp.Results
}

// peerOK fails the test when a peer op failed.
func peerOK(t *testing.T, what string, r btcPeerResult) btcPeerResult {
	t.Helper()
	if r.Error != "" {
		t.Fatalf("%s: %s", what, r.Error)
	}
	return r
}

func b64(t *testing.T, p *psbt.Packet) string {
	t.Helper()
	s, err := p.B64()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decodeB64(t *testing.T, what, s string) *psbt.Packet {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%s: not base64: %v", what, err)
	}
	p, err := psbt.Decode(raw)
	if err != nil {
		t.Fatalf("%s: airlock cannot decode the peer's PSBT: %v", what, err)
	}
	return p
}

func txBytes(t *testing.T, tx *wire.MsgTx) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// vaultCoin is a funding transaction paying the vault at branch/index, as
// Synthetic makes one (its input spends an outpoint that exists nowhere).
func vaultCoin(t *testing.T, v chain.Vault, branch int, index uint32, value int64) *wire.MsgTx {
	t.Helper()
	vi, err := parseVault(v)
	if err != nil {
		t.Fatal(err)
	}
	d, err := vi.desc.Derive(branch, index)
	if err != nil {
		t.Fatal(err)
	}
	prev := chainhash.Hash(sha256.Sum256([]byte(fmt.Sprintf("airlock peer test funding %d/%d", branch, index))))
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&prev, 1), nil, nil))
	tx.AddTxOut(wire.NewTxOut(12_345, []byte{0x51})) // another output first: the coin is vout 1
	tx.AddTxOut(wire.NewTxOut(value, d.ScriptPubKey))
	return tx
}

// twoInputPSBT is an airlock PSBT (BuildPSBT) spending two vault coins,
// one on the receive branch at 0/5 and one on the change branch at 1/7,
// paying the demo destination with change at 1/9. It returns the PSBT and
// the account-relative paths of its inputs.
func twoInputPSBT(t *testing.T, f *fixture) (*psbt.Packet, []string) {
	t.Helper()
	a := vaultCoin(t, f.vault, 0, 5, 40_000_000)
	b := vaultCoin(t, f.vault, 1, 7, 25_000_000)
	dest, err := DemoDestination("regtest")
	if err != nil {
		t.Fatal(err)
	}
	net, _ := Network("regtest")
	script, err := PayTo(dest, net)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := BuildPSBT(f.vault, Spend{
		Funding:      []*wire.MsgTx{a, b},
		Coins:        []Coin{{Tx: 0, Vout: 1, Branch: 0, Index: 5}, {Tx: 1, Vout: 1, Branch: 1, Index: 7}},
		Outputs:      []*wire.TxOut{wire.NewTxOut(50_000_000, script)},
		ChangeIndex:  9,
		ChangeAmount: 40_000_000 + 25_000_000 - 50_000_000 - 3_000,
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Adapter{}.Review(context.Background(), f.vault, raw)
	if err != nil {
		t.Fatal(err)
	}
	if b := r.Blocking(); len(b) != 0 {
		t.Fatalf("airlock's own PSBT has blocking flags: %v", b)
	}
	p, err := psbt.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	return p, []string{"0/5", "1/7"}
}

func mustV0(t *testing.T, p *psbt.Packet) *psbt.Packet {
	t.Helper()
	q, err := p.ToV0()
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func accountPaths(rel []string) []string {
	out := make([]string, len(rel))
	for i, r := range rel {
		out[i] = keys.FormatPath(accountPath) + "/" + r
	}
	return out
}

func parsePaths(t *testing.T, ps []string) [][]uint32 {
	t.Helper()
	out := make([][]uint32, len(ps))
	for i, s := range ps {
		p, err := keys.ParsePath(s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = p
	}
	return out
}

func signOp(lib string, s *seedSigner, p string, paths []string) map[string]any {
	return map[string]any{"op": "sign", "lib": lib, "psbt": p, "xprv": s.master.String(), "paths": paths, "network": "regtest"}
}

// checkPeerSigs checks that the peer's PSBT is the PSBT it was given plus
// exactly one partial signature per input, by signer s at the input's
// path, valid by psbt.VerifyPartialSig; and that nothing else changed.
func checkPeerSigs(t *testing.T, lib string, orig, got *psbt.Packet, s *seedSigner, paths [][]uint32) {
	t.Helper()
	if got.UnsignedTx.TxHash() != orig.UnsignedTx.TxHash() || got.Version != orig.Version {
		t.Fatalf("%s: PSBT of tx %s version %d, sent tx %s version %d", lib, got.UnsignedTx.TxHash(), got.Version, orig.UnsignedTx.TxHash(), orig.Version)
	}
	for i := range got.Inputs {
		in := got.Inputs[i]
		if len(in.PartialSigs) != 1 {
			t.Fatalf("%s: input %d has %d partial signatures, want 1", lib, i, len(in.PartialSigs))
		}
		want, err := s.PublicKey(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		ps := in.PartialSigs[0]
		if !bytes.Equal(ps.PubKey, want) {
			t.Errorf("%s: input %d signed by %x, want the key at %s, %x", lib, i, ps.PubKey, keys.FormatPath(paths[i]), want)
		}
		if err := psbt.VerifyPartialSig(got, i, ps); err != nil {
			t.Errorf("%s: input %d: %v", lib, i, err)
		}
		// The same signature checked against airlock's own PSBT.
		if err := psbt.VerifyPartialSig(orig, i, ps); err != nil {
			t.Errorf("%s: input %d, against airlock's PSBT: %v", lib, i, err)
		}
	}
	// Everything but the signatures is what airlock wrote. Two differences
	// in form are allowed and logged, nothing else: the order of the BIP-32
	// derivation records (airlock writes them in the descriptor's key
	// order, both libraries rewrite them sorted by public key, as Bitcoin
	// Core does; BIP-174 gives no order), and in version 2 an explicit
	// PSBT_IN_SEQUENCE of 0xffffffff or PSBT_GLOBAL_TX_MODIFIABLE of 0,
	// which BIP-370 defines as what their absence means.
	a, err := orig.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := stripSigs(t, got, false).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		return
	}
	na, err := stripSigs(t, orig, true).Encode()
	if err != nil {
		t.Fatal(err)
	}
	nb, err := stripSigs(t, got, true).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(na, nb) {
		t.Errorf("%s: the signed PSBT less its partial signatures differs from the PSBT sent:\n sent %x\n got  %x", lib, a, b)
		return
	}
	t.Logf("%s: rewrote the PSBT in another form only (%s)", lib, strings.Join(formDiffs(orig, got), "; "))
}

// stripSigs copies p without its partial signatures; normalized, it also
// sorts the BIP-32 derivations by public key and drops the version 2
// records that only restate a default.
func stripSigs(t *testing.T, p *psbt.Packet, normalized bool) *psbt.Packet {
	t.Helper()
	q, err := p.Copy()
	if err != nil {
		t.Fatal(err)
	}
	byKey := func(ds []psbt.Bip32Derivation) {
		sort.Slice(ds, func(i, j int) bool { return bytes.Compare(ds[i].PubKey, ds[j].PubKey) < 0 })
	}
	for i := range q.Inputs {
		q.Inputs[i].PartialSigs = nil
		if normalized {
			byKey(q.Inputs[i].Bip32Derivations)
			q.Inputs[i].HasSequence = false
		}
	}
	if normalized {
		for i := range q.Outputs {
			byKey(q.Outputs[i].Bip32Derivations)
		}
		if q.HasTxModifiable && q.TxModifiable == 0 {
			q.HasTxModifiable = false
		}
	}
	return q
}

// formDiffs names the differences in form between a and b that stripSigs
// normalizes away.
func formDiffs(a, b *psbt.Packet) []string {
	var out []string
	order := func(x, y []psbt.Bip32Derivation) bool {
		for i := range x {
			if i >= len(y) || !bytes.Equal(x[i].PubKey, y[i].PubKey) {
				return true
			}
		}
		return false
	}
	for i := range a.Inputs {
		if order(a.Inputs[i].Bip32Derivations, b.Inputs[i].Bip32Derivations) {
			out = append(out, fmt.Sprintf("input %d BIP-32 derivations reordered", i))
		}
		if a.Inputs[i].HasSequence != b.Inputs[i].HasSequence {
			out = append(out, fmt.Sprintf("input %d PSBT_IN_SEQUENCE 0xffffffff written=%v, sent %v", i, b.Inputs[i].HasSequence, a.Inputs[i].HasSequence))
		}
	}
	for i := range a.Outputs {
		if order(a.Outputs[i].Bip32Derivations, b.Outputs[i].Bip32Derivations) {
			out = append(out, fmt.Sprintf("output %d BIP-32 derivations reordered", i))
		}
	}
	if a.HasTxModifiable != b.HasTxModifiable {
		out = append(out, fmt.Sprintf("PSBT_GLOBAL_TX_MODIFIABLE written=%v (value %d), sent %v", b.HasTxModifiable, b.TxModifiable, a.HasTxModifiable))
	}
	return out
}

// finalizeAndVerify finalizes p in airlock, extracts the transaction and
// runs btcd's script engine on every input. It returns the raw transaction.
func finalizeAndVerify(t *testing.T, p *psbt.Packet) []byte {
	t.Helper()
	q, err := p.Copy()
	if err != nil {
		t.Fatal(err)
	}
	prevOuts := make([]*wire.TxOut, len(q.Inputs))
	for i := range q.Inputs {
		if prevOuts[i], err = q.PrevOut(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Finalize(); err != nil {
		t.Fatalf("airlock finalize: %v", err)
	}
	tx, err := q.Extract()
	if err != nil {
		t.Fatalf("airlock extract: %v", err)
	}
	if err := psbt.VerifyScripts(tx, prevOuts); err != nil {
		t.Fatalf("script verification: %v", err)
	}
	if tx.TxHash() != p.UnsignedTx.TxHash() {
		t.Fatalf("final txid %s, PSBT's %s", tx.TxHash(), p.UnsignedTx.TxHash())
	}
	for i, in := range tx.TxIn {
		if len(in.Witness) != 4 || len(in.Witness[0]) != 0 {
			t.Fatalf("input %d witness %x: want empty dummy, 2 signatures, witness script", i, in.Witness)
		}
	}
	return txBytes(t, tx)
}

// assembleWith checks the signatures in peers through airlock's Adapter:
// each signer's partial signatures become its approval, Verify accepts
// them, and Assemble's transaction is raw.
func assembleWith(t *testing.T, f *fixture, p *psbt.Packet, signers map[int]*psbt.Packet, raw []byte) {
	t.Helper()
	payload, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string][]chain.Signature{}
	for idx, sp := range signers {
		var sigs []chain.Signature
		for i, in := range sp.Inputs {
			for _, ps := range in.PartialSigs {
				sigs = append(sigs, chain.Signature{Input: i, PubKey: ps.PubKey, Sig: ps.Signature})
			}
		}
		if _, err := (Adapter{}).Verify(f.vault, payload, f.vault.Keys[idx], sigs); err != nil {
			t.Fatalf("Adapter.Verify of signer %d's peer signatures: %v", idx+1, err)
		}
		sets[f.vault.Keys[idx]] = sigs
	}
	final, err := Adapter{}.Assemble(f.vault, payload, sets)
	if err != nil {
		t.Fatalf("Adapter.Assemble with peer signatures: %v", err)
	}
	if !bytes.Equal(final.Raw, raw) {
		t.Errorf("Adapter.Assemble gave\n %x\nairlock's finalizer\n %x", final.Raw, raw)
	}
}

// @bitcoinerlab/descriptors derives the same receive and change addresses
// from the vault descriptor as airlock, for several thresholds.
func TestPeersDeriveAddresses(t *testing.T) {
	indexes := []uint32{0, 1, 2, 5, 17, 999, 1000, 65_536}
	type want struct {
		desc   string
		change bool
		addrs  []string
	}
	var ops []map[string]any
	var wants []want
	for _, k := range []int{1, 2, 3} {
		f := newFixture(t, k)
		if !strings.HasPrefix(f.vault.Descriptor, "wsh(sortedmulti(") || !strings.Contains(f.vault.Descriptor, "/<0;1>/*") {
			t.Fatalf("fixture descriptor %s is not the multipath wsh(sortedmulti) expected", f.vault.Descriptor)
		}
		for branch := 0; branch < 2; branch++ {
			w := want{desc: f.vault.Descriptor, change: branch == 1}
			for _, i := range indexes {
				a, err := Address(f.vault, branch, i)
				if err != nil {
					t.Fatal(err)
				}
				w.addrs = append(w.addrs, a)
			}
			wants = append(wants, w)
			ops = append(ops, map[string]any{"op": "derive", "descriptor": w.desc, "network": "regtest", "indexes": indexes, "change": w.change})
		}
	}
	// A descriptor with a wrong checksum is refused by the peer: its
	// answers are checked, not merely echoed.
	bad := wants[0].desc[:len(wants[0].desc)-1] + map[bool]string{true: "q", false: "p"}[strings.HasSuffix(wants[0].desc, "p")]
	ops = append(ops, map[string]any{"op": "derive", "descriptor": bad, "network": "regtest", "indexes": []uint32{0}})
	res := runBTCPeer(t, ops)
	if res[len(res)-1].Error == "" {
		t.Errorf("@bitcoinerlab/descriptors accepted %s with a wrong checksum: %v", bad, res[len(res)-1].Addresses)
	}
	seen := map[string]bool{}
	for n, w := range wants {
		r := peerOK(t, fmt.Sprintf("derive %d", n), res[n])
		if len(r.Addresses) != len(indexes) {
			t.Fatalf("derive %d: %d addresses for %d indexes", n, len(r.Addresses), len(indexes))
		}
		for j, i := range indexes {
			if !strings.HasPrefix(w.addrs[j], "bcrt1q") || len(w.addrs[j]) != 64 {
				t.Errorf("airlock address %s is not a regtest P2WSH address", w.addrs[j])
			}
			if seen[w.addrs[j]] {
				t.Errorf("airlock address %s repeats", w.addrs[j])
			}
			seen[w.addrs[j]] = true
			if r.Addresses[j] != w.addrs[j] {
				t.Errorf("%s change=%v index %d: @bitcoinerlab/descriptors %s, airlock %s", w.desc, w.change, i, r.Addresses[j], w.addrs[j])
			}
		}
	}
}

// bitcoinjs-lib signs airlock's PSBT as signer 1 and @scure/btc-signer as
// signer 2; airlock checks, combines, finalizes and verifies, and
// bitcoinjs-lib finalizes airlock's combined PSBT to the same bytes.
func TestPeersSignAirlockPSBT(t *testing.T) {
	f := newFixture(t, 2)
	orig, rel := twoInputPSBT(t, f)
	full := accountPaths(rel)
	paths := parsePaths(t, full)
	res := runBTCPeer(t, []map[string]any{
		signOp("bitcoinjs", f.signers[0], b64(t, orig), full),
		signOp("scure", f.signers[1], b64(t, orig), full),
	})
	bj := peerOK(t, "bitcoinjs sign", res[0])
	sc := peerOK(t, "scure sign", res[1])
	if bj.Signed != len(orig.Inputs) || sc.Signed != len(orig.Inputs) {
		t.Fatalf("bitcoinjs signed %d, scure %d inputs of %d", bj.Signed, sc.Signed, len(orig.Inputs))
	}
	pb := decodeB64(t, "bitcoinjs", bj.PSBT)
	ps := decodeB64(t, "scure", sc.PSBT)
	checkPeerSigs(t, "bitcoinjs", orig, pb, f.signers[0], paths)
	checkPeerSigs(t, "scure", orig, ps, f.signers[1], paths)

	combined, err := psbt.Combine(orig, pb, ps)
	if err != nil {
		t.Fatalf("combine: %v", err)
	}
	raw := finalizeAndVerify(t, combined)
	assembleWith(t, f, orig, map[int]*psbt.Packet{0: pb, 1: ps}, raw)

	// bitcoinjs-lib finalizes airlock's combined PSBT independently.
	fin := runBTCPeer(t, []map[string]any{{"op": "finalize", "lib": "bitcoinjs", "psbt": b64(t, combined), "network": "regtest"}})
	r := peerOK(t, "bitcoinjs finalize", fin[0])
	if r.TxHex != hex.EncodeToString(raw) {
		t.Errorf("bitcoinjs finalized\n %s\nairlock\n %x", r.TxHex, raw)
	}
	if r.TxID != combined.UnsignedTx.TxHash().String() {
		t.Errorf("bitcoinjs txid %s, airlock %s", r.TxID, combined.UnsignedTx.TxHash())
	}
}

// The same with a version 2 PSBT (BIP-370): @scure/btc-signer signs the
// version 2 PSBT airlock's ToV2 makes and writes it back as version 2;
// bitcoinjs-lib, which reads only version 0, signs the version 0 original
// and airlock converts its answer. Combined in version 2, the result is
// the same transaction as in version 0, and bitcoinjs-lib finalizes
// airlock's ToV0 of it to the same bytes.
func TestPeersSignAirlockPSBTv2(t *testing.T) {
	f := newFixture(t, 2)
	orig, rel := twoInputPSBT(t, f)
	full := accountPaths(rel)
	paths := parsePaths(t, full)
	v2, err := orig.ToV2()
	if err != nil {
		t.Fatal(err)
	}
	if v2.Version != 2 {
		t.Fatalf("ToV2 gave version %d", v2.Version)
	}
	res := runBTCPeer(t, []map[string]any{
		signOp("scure", f.signers[1], b64(t, v2), full),
		signOp("bitcoinjs", f.signers[0], b64(t, orig), full),
		signOp("scure", f.signers[0], b64(t, v2), full),
		// bitcoinjs-lib has no BIP-370 support: it must refuse, not misread.
		signOp("bitcoinjs", f.signers[0], b64(t, v2), full),
	})
	sc := peerOK(t, "scure sign v2", res[0])
	bj := peerOK(t, "bitcoinjs sign v0", res[1])
	sc1 := peerOK(t, "scure sign v2 as signer 1", res[2])
	if res[3].Error == "" {
		t.Errorf("bitcoinjs-lib signed a version 2 PSBT: %s", res[3].PSBT)
	} else {
		t.Logf("bitcoinjs-lib refuses version 2: %s", res[3].Error)
	}
	if sc.Version != 2 || sc1.Version != 2 {
		t.Errorf("scure read the PSBT as version %d/%d, want 2", sc.Version, sc1.Version)
	}
	ps := decodeB64(t, "scure v2", sc.PSBT)
	ps1 := decodeB64(t, "scure v2 signer 1", sc1.PSBT)
	pb := decodeB64(t, "bitcoinjs v0", bj.PSBT)
	if ps.Version != 2 || !ps.HasVersion || ps1.Version != 2 {
		t.Fatalf("scure wrote version %d, want 2", ps.Version)
	}
	checkPeerSigs(t, "scure v2", v2, ps, f.signers[1], paths)
	checkPeerSigs(t, "scure v2 signer 1", v2, ps1, f.signers[0], paths)
	checkPeerSigs(t, "bitcoinjs v0", orig, pb, f.signers[0], paths)
	pb2, err := pb.ToV2()
	if err != nil {
		t.Fatal(err)
	}

	// Version 0 and version 2 give the same final transaction.
	v0comb, err := psbt.Combine(orig, pb, mustV0(t, ps))
	if err != nil {
		t.Fatalf("combine v0: %v", err)
	}
	want := finalizeAndVerify(t, v0comb)
	for name, pair := range map[string][2]*psbt.Packet{"bitcoinjs+scure": {pb2, ps}, "scure+scure": {ps1, ps}} {
		combined, err := psbt.Combine(v2, pair[0], pair[1])
		if err != nil {
			t.Fatalf("%s: combine v2: %v", name, err)
		}
		if combined.Version != 2 {
			t.Fatalf("%s: combined version %d", name, combined.Version)
		}
		raw := finalizeAndVerify(t, combined)
		if !bytes.Equal(raw, want) {
			t.Errorf("%s: version 2 gave\n %x\nversion 0\n %x", name, raw, want)
		}
	}
	assembleWith(t, f, v2, map[int]*psbt.Packet{0: pb2, 1: ps}, want)

	combined, err := psbt.Combine(v2, pb2, ps)
	if err != nil {
		t.Fatal(err)
	}
	back, err := combined.ToV0()
	if err != nil {
		t.Fatal(err)
	}
	fin := runBTCPeer(t, []map[string]any{{"op": "finalize", "lib": "bitcoinjs", "psbt": b64(t, back), "network": "regtest"}})
	r := peerOK(t, "bitcoinjs finalize", fin[0])
	if r.TxHex != hex.EncodeToString(want) {
		t.Errorf("bitcoinjs finalized\n %s\nairlock\n %x", r.TxHex, want)
	}
}

// bitcoinjs-lib (version 0) and @scure/btc-signer (versions 0 and 2)
// create a PSBT spending a vault coin; airlock reviews it without a
// blocking flag, two fixture signers sign it and Assemble finalizes and
// verifies it. bitcoinjs-lib finalizes the same signatures to the same
// bytes.
func TestAirlockSignsPeerPSBT(t *testing.T) {
	f := newFixture(t, 2)
	funding, _, err := Synthetic(f.vault, 5, "", 30_000_000, 2_000)
	if err != nil {
		t.Fatal(err)
	}
	vi, err := parseVault(f.vault)
	if err != nil {
		t.Fatal(err)
	}
	d, err := vi.desc.Derive(0, 5)
	if err != nil {
		t.Fatal(err)
	}
	var derivs []map[string]string
	for _, k := range d.Keys {
		derivs = append(derivs, map[string]string{"masterFingerprint": keys.FormatFingerprint(k.Fingerprint), "path": keys.FormatPath(k.Path), "pubkey": hex.EncodeToString(k.PubKey)})
	}
	dest, _ := DemoDestination("regtest")
	other, err := Address(f.vault, 0, 6) // a second output, to the vault's receive branch
	if err != nil {
		t.Fatal(err)
	}
	const fee = 2_500
	input := map[string]any{"txHex": hex.EncodeToString(txBytes(t, funding)), "vout": 0, "witnessScript": hex.EncodeToString(d.WitnessScript), "bip32Derivation": derivs}
	outputs := []map[string]any{{"address": dest, "value": 60_000_000}, {"address": other, "value": 100_000_000 - 60_000_000 - fee}}
	cases := []struct {
		lib     string
		version int
	}{{"bitcoinjs", 0}, {"scure", 0}, {"scure", 2}}
	var ops []map[string]any
	for _, c := range cases {
		ops = append(ops, map[string]any{"op": "create", "lib": c.lib, "network": "regtest", "inputs": []any{input}, "outputs": outputs, "version": c.version})
	}
	res := runBTCPeer(t, ops)
	var finals []string
	var wantRaw [][]byte
	for n, c := range cases {
		name := fmt.Sprintf("%s v%d", c.lib, c.version)
		r := peerOK(t, name+" create", res[n])
		p := decodeB64(t, name, r.PSBT)
		if int(p.Version) != c.version {
			t.Fatalf("%s: PSBT version %d", name, p.Version)
		}
		in := p.Inputs[0]
		if in.NonWitnessUtxo == nil || in.WitnessUtxo == nil || !bytes.Equal(in.WitnessScript, d.WitnessScript) || len(in.Bip32Derivations) != 3 {
			t.Fatalf("%s: input 0 lacks UTXOs, witness script or derivations: %+v", name, in)
		}
		if p.UnsignedTx.TxIn[0].PreviousOutPoint != (wire.OutPoint{Hash: funding.TxHash(), Index: 0}) {
			t.Fatalf("%s: spends %v, want %s:0", name, p.UnsignedTx.TxIn[0].PreviousOutPoint, funding.TxHash())
		}
		payload, _ := base64.StdEncoding.DecodeString(r.PSBT)
		rv, err := Adapter{}.Review(context.Background(), f.vault, payload)
		if err != nil {
			t.Fatalf("%s: review: %v", name, err)
		}
		if b := rv.Blocking(); len(b) != 0 {
			t.Fatalf("%s: blocking flags on the peer's PSBT: %v", name, b)
		}
		det := rv.Details.(Details)
		if len(det.Inputs) != 1 || !det.Inputs[0].Vault || det.Inputs[0].Path != "0/5" || det.Inputs[0].Amount != 100_000_000 || det.Fee != fee {
			t.Fatalf("%s: review details %+v", name, det)
		}
		sets := map[string][]chain.Signature{}
		for _, i := range []int{0, 2} {
			sigs, err := Adapter{}.Sign(f.vault, payload, f.vault.Keys[i], f.signers[i])
			if err != nil {
				t.Fatalf("%s: sign as signer %d: %v", name, i+1, err)
			}
			sets[f.vault.Keys[i]] = sigs
		}
		final, err := Adapter{}.Assemble(f.vault, payload, sets)
		if err != nil {
			t.Fatalf("%s: assemble: %v", name, err)
		}
		if final.TxID != p.UnsignedTx.TxHash().String() {
			t.Fatalf("%s: final txid %s, PSBT's %s", name, final.TxID, p.UnsignedTx.TxHash())
		}
		var tx wire.MsgTx
		if err := tx.Deserialize(bytes.NewReader(final.Raw)); err != nil {
			t.Fatal(err)
		}
		if err := psbt.VerifyScripts(&tx, []*wire.TxOut{funding.TxOut[0]}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// The same signatures, as partial signatures in the peer's PSBT
		// (in version 0), finalized by bitcoinjs-lib.
		q, err := p.ToV0()
		if err != nil {
			t.Fatal(err)
		}
		for _, sigs := range sets {
			for _, s := range sigs {
				q.Inputs[s.Input].PartialSigs = append(q.Inputs[s.Input].PartialSigs, psbt.PartialSig{PubKey: s.PubKey, Signature: s.Sig})
			}
		}
		finals = append(finals, b64(t, q))
		wantRaw = append(wantRaw, final.Raw)
	}
	var fops []map[string]any
	for _, s := range finals {
		fops = append(fops, map[string]any{"op": "finalize", "lib": "bitcoinjs", "psbt": s, "network": "regtest"})
	}
	for n, r := range runBTCPeer(t, fops) {
		r = peerOK(t, "bitcoinjs finalize", r)
		if r.TxHex != hex.EncodeToString(wantRaw[n]) {
			t.Errorf("%s v%d: bitcoinjs finalized\n %s\nairlock\n %x", cases[n].lib, cases[n].version, r.TxHex, wantRaw[n])
		}
	}
}

// @bitcoinerlab/descriptors, whose miniscript is its own, derives the same
// addresses as airlock from recovery vaults: the or_d/and_v/older
// miniscript in wsh and sh(wsh), and the two-leaf taproot tree.
func TestPeersDeriveRecoveryAddresses(t *testing.T) {
	indexes := []uint32{0, 1, 7, 1000}
	type want struct {
		desc  string
		addrs []string
	}
	var ops []map[string]any
	var wants []want
	for _, script := range []string{ScriptP2WSH, ScriptP2SHP2WSH, ScriptTaproot} {
		v, _ := recoveryVault(t, script, 144)
		for branch := range 2 {
			w := want{desc: v.Descriptor}
			for _, i := range indexes {
				a, err := Address(v, branch, i)
				if err != nil {
					t.Fatal(err)
				}
				w.addrs = append(w.addrs, a)
			}
			wants = append(wants, w)
			ops = append(ops, map[string]any{"op": "derive", "descriptor": v.Descriptor, "network": "regtest", "indexes": indexes, "change": branch == 1})
		}
	}
	res := runBTCPeer(t, ops)
	for n, w := range wants {
		r := peerOK(t, fmt.Sprintf("derive %s", w.desc[:16]), res[n])
		if len(r.Addresses) != len(indexes) {
			t.Fatalf("%d addresses for %d indexes", len(r.Addresses), len(indexes))
		}
		for j := range indexes {
			if r.Addresses[j] != w.addrs[j] {
				t.Errorf("%s index %d: @bitcoinerlab/descriptors %s, airlock %s", w.desc[:24], indexes[j], r.Addresses[j], w.addrs[j])
			}
		}
	}
}

// bitcoinjs-lib and @scure/btc-signer sign a recovery vault's PSBT (its
// witness script is miniscript, not a bare multisig) as the two primary
// signers, and bitcoinjs-lib alone as the recovery key once the lock
// holds; airlock
// takes their signatures back as external devices' and assembles either
// path through btcd's script engine.
func TestPeersSignRecoveryPSBT(t *testing.T) {
	const lock = 10
	v, s := recoveryVault(t, ScriptP2WSH, lock)
	funding, _, err := Synthetic(v, 7, "", 1_000, 500)
	if err != nil {
		t.Fatal(err)
	}
	coins, err := FindCoins(v, []*wire.MsgTx{funding})
	if err != nil || len(coins) != 1 {
		t.Fatalf("coins %v %v", coins, err)
	}
	path := accountPaths([]string{fmt.Sprintf("%d/%d", coins[0].Branch, coins[0].Index)})
	for _, c := range []struct {
		name     string
		recovery bool
		signers  map[string]int // lib -> signer
	}{
		{"primary", false, map[string]int{"bitcoinjs": 0, "scure": 1}},
		// @scure/btc-signer 2.4.1 signs only keys it finds pushed in the
		// script, not the recovery branch's pkh() (it signs 0 inputs).
		{"recovery by bitcoinjs", true, map[string]int{"bitcoinjs": 3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			payload := recoveryPSBT(t, v, funding, c.recovery, mineProof(t, funding, lock))
			p, err := psbt.Decode(payload)
			if err != nil {
				t.Fatal(err)
			}
			var ops []map[string]any
			var libs []string
			for lib, i := range c.signers {
				ops = append(ops, signOp(lib, s[i], b64(t, p), path))
				libs = append(libs, lib)
			}
			res := runBTCPeer(t, ops)
			sets := map[string][]chain.Signature{}
			for j, lib := range libs {
				r := peerOK(t, lib+" sign", res[j])
				if r.Signed != 1 {
					t.Fatalf("%s signed %d inputs", lib, r.Signed)
				}
				signed, err := base64.StdEncoding.DecodeString(r.PSBT)
				if err != nil {
					t.Fatal(err)
				}
				i := c.signers[lib]
				key := rkeyOr(v, i)
				sigs, err := Adapter{}.ExternalSignatures(v, payload, signed, key)
				if err != nil {
					t.Fatalf("%s: %v", lib, err)
				}
				sets[key] = sigs
			}
			fin, err := Adapter{}.Assemble(v, payload, sets)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := CheckFinal(payload, fin.Raw); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// rkeyOr is vault key i, or the recovery key for i == 3.
func rkeyOr(v chain.Vault, i int) string {
	if i == 3 {
		return v.Recovery.Key
	}
	return v.Keys[i]
}
