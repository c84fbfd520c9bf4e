package evidence_test

// BenchmarkCheck: what `airlock audit check` costs on a month's bundle of
// 100,000 log entries and 10,000 finalized proposals, beside the cost of
// the signature verifications the check performs, timed in the same run.
//
// The bundle is generated, not recorded through the coordinator: a round
// through coordinator.Propose, station.Sign, Collect and Finalize costs
// about 70 ms (descriptor derivations and store transactions, growing
// with the store), so 10,000 of them would take a quarter of an hour
// before the first measurement. The generator instead uses the same
// libraries those paths call, on a real quorum (internal/quorum: real
// keystores, a genesis policy every participant signed): proposal.New and
// proposal.Seal by the coordinator's key; the chain adapter's Sign with
// each station's own chain key, and proposal.SealApproval with its
// identity key; CheckApproval, Assemble and proposal.SealProof as Finalize
// does; the log's records through audit.Log over an in-memory store, a
// checkpoint signed by the coordinator's key at each proposal's export
// (as transport/transfer signs one for every hand-off). Each
// round logs what a round through removable media logs: the proposal
// created and exported, two transfers out and two in, two approvals
// collected, approved, finalized — ten entries a proposal.
//
//	go test -run '^$' -bench BenchmarkCheck -benchtime 3x ./evidence/
//	AIRLOCK_BENCH_EVIDENCE_ENTRIES=5000 go test -run '^$' -bench BenchmarkCheck -benchtime 1x ./evidence/
//
// The bundle is built once per test binary run, written as a tar to a
// temporary folder (removed at the end by TestMain), and every iteration
// reads it and checks it, as the command does.

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/evidence"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/vault"
)

var benchDir string // the cached bundles of this run

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// edVerify is one Ed25519 verification the check performs.
type edVerify struct {
	pub      ed25519.PublicKey
	msg, sig []byte
}

// ecVerify is one ECDSA verification over a sighash.
type ecVerify struct {
	pub, digest, der []byte
}

// benchBundle is a generated bundle and the signatures its check verifies.
type benchBundle struct {
	tar       string
	genesis   [32]byte
	entries   int64
	proposals int
	ed        []edVerify
	ec        []ecVerify
}

var (
	benchMu      sync.Mutex
	benchBundles = map[int]*benchBundle{}
)

func benchEntries(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("AIRLOCK_BENCH_EVIDENCE_ENTRIES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 20 {
			b.Fatalf("AIRLOCK_BENCH_EVIDENCE_ENTRIES=%q: want a number of log entries, at least 20", s)
		}
		n = v
	}
	return n
}

// memLog is an audit.Store in memory: the generator appends 100,000
// records without a sync each.
type memLog struct {
	recs   [][]byte
	hashes []tlog.Hash
	cps    [][]byte
}

func (m *memLog) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("hash %d missing", x)
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}
func (m *memLog) Size() (int64, error)           { return int64(len(m.recs)), nil }
func (m *memLog) Record(i int64) ([]byte, error) { return m.recs[i], nil }
func (m *memLog) Append(i int64, rec []byte, hs []tlog.Hash) error {
	if i != int64(len(m.recs)) {
		return fmt.Errorf("append at %d to %d", i, len(m.recs))
	}
	m.recs = append(m.recs, rec)
	m.hashes = append(m.hashes, hs...)
	return nil
}
func (m *memLog) AddCheckpoint(_ int64, n []byte) error { m.cps = append(m.cps, n); return nil }
func (m *memLog) LatestCheckpoint() ([]byte, error) {
	if len(m.cps) == 0 {
		return nil, audit.ErrNoCheckpoint
	}
	return m.cps[len(m.cps)-1], nil
}

// round is one generated proposal with its decisions and proof.
type round struct {
	id        string
	created   time.Time
	txid      string
	prop      []byte
	decisions map[string][]byte // participant -> approval envelope
	apIDs     map[string]string
	proof     []byte
	proofID   string
	tx        []byte
	ed        []edVerify
	ec        []ecVerify
}

// buildBundle generates the bundle of entries log entries (entries/10
// proposals), or returns the one this run built already.
func buildBundle(b *testing.B, entries int) *benchBundle {
	benchMu.Lock()
	defer benchMu.Unlock()
	if bb := benchBundles[entries]; bb != nil {
		return bb
	}
	if benchDir == "" {
		d, err := os.MkdirTemp("", "airlock-bench-evidence-")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = d
	}
	start := time.Now()
	files, bb, err := generate(b, entries/10)
	if err != nil {
		b.Fatal(err)
	}
	bb.tar = filepath.Join(benchDir, fmt.Sprintf("bundle-%d.tar", entries))
	if err := evidence.Write(bb.tar, files, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated a bundle of %d log entries, %d proposals, %d files in %v", bb.entries, bb.proposals, len(files), time.Since(start).Round(time.Millisecond))
	benchBundles[entries] = bb
	return bb
}

// generate makes the bundle's files: m finalized proposals over December.
func generate(tb testing.TB, m int) (map[string][]byte, *benchBundle, error) {
	q := quorum.New(tb, quorum.Options{Start: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	pol, polID, err := q.Coord.WS.Policy(quorum.Reg)
	if err != nil {
		return nil, nil, err
	}
	vr, err := vault.Resolve(q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		return nil, nil, err
	}
	v, _ := pol.Vault("ops")
	cv, err := pol.ChainVault(v)
	if err != nil {
		return nil, nil, err
	}
	adapter, err := quorum.Reg.Lookup("bitcoin")
	if err != nil {
		return nil, nil, err
	}
	coordKey := q.CoordKeys.Identity
	coordPub := coordKey.Public().(ed25519.PublicKey)
	month := 30 * 24 * time.Hour
	step := month / time.Duration(m+1)
	t0 := q.Now()

	rounds := make([]*round, m)
	errs := make([]error, m)
	var wg sync.WaitGroup
	work := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range work {
				rounds[i], errs[i] = makeRound(i, t0.Add(step*time.Duration(i+1)), vr, pol, polID, v, cv, adapter, q, coordPub)
			}
		})
	}
	for i := range m {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}

	// The log: what the coordinator's workspace recorded before the
	// month (workspace, key, policy), then ten entries a round.
	ml := &memLog{}
	origin := q.Coord.WS.Config.LogOrigin()
	lg, err := audit.New(ml, origin, coordKey)
	if err != nil {
		return nil, nil, err
	}
	var head []audit.Event
	if err := q.Coord.WS.AuditLog(ctx, func(l *audit.Log) error {
		es, err := l.Entries()
		for _, e := range es {
			head = append(head, e.Event)
		}
		return err
	}); err != nil {
		return nil, nil, err
	}
	appendEv := func(e audit.Event) error {
		if _, err := lg.Append(e); err != nil {
			return err
		}
		if e.Kind == "proposal.exported" { // a hand-off carries a fresh checkpoint
			_, err := lg.Checkpoint()
			return err
		}
		return nil
	}
	for _, e := range head {
		if err := appendEv(e); err != nil {
			return nil, nil, err
		}
	}
	bb := &benchBundle{genesis: q.Policy.ID(), proposals: m}
	files := map[string][]byte{}
	polRaw, err := q.Policy.Encode()
	if err != nil {
		return nil, nil, err
	}
	files["policy/v0001.airlock"] = polRaw
	for _, r := range rounds {
		at := func(min int) time.Time { return r.created.Add(time.Duration(min) * 5 * time.Second) }
		evs := []audit.Event{
			{Time: at(0), Kind: "proposal.created", Subject: r.id, Detail: map[string]string{"expires": r.created.Add(pol.Lifetime()).Format(time.RFC3339), "policy_version": "1", "spent": "BTC=1000000", "txid": r.txid, "vault": "ops"}},
			{Time: at(1), Kind: "proposal.exported", Subject: r.id, Detail: map[string]string{"file": r.id[:12] + ".proposal"}},
			{Time: at(2), Kind: "transfer.exported", Subject: r.id, Detail: map[string]string{"peer": "station/alice", "kind": "proposal"}},
			{Time: at(3), Kind: "transfer.exported", Subject: r.id, Detail: map[string]string{"peer": "station/bob", "kind": "proposal"}},
		}
		for k, who := range []string{"alice", "bob"} {
			evs = append(evs,
				audit.Event{Time: at(4 + 2*k), Kind: "transfer.imported", Subject: r.apIDs[who], Detail: map[string]string{"peer": "station/" + who, "kind": "approval"}},
				audit.Event{Time: at(5 + 2*k), Kind: "approval.collected", Subject: r.apIDs[who], Detail: map[string]string{"decision": "approve", "participant": who, "proposal": r.id}})
		}
		evs = append(evs,
			audit.Event{Time: at(8), Kind: "proposal.approved", Subject: r.id, Detail: map[string]string{"decisions": "2/2 of 3", "from": "open", "to": "approved"}},
			audit.Event{Time: at(9), Kind: "proposal.finalized", Subject: r.id, Detail: map[string]string{"approvals": "[alice bob]", "from": "approved", "proof": r.proofID, "to": "finalized", "txid": r.txid}})
		for _, e := range evs {
			if err := appendEv(e); err != nil {
				return nil, nil, err
			}
		}
		files["proposals/"+r.id+".proposal"] = r.prop
		for who, d := range r.decisions {
			files["decisions/"+r.id+"/"+who+".approval"] = d
		}
		files["proofs/"+r.id+".proof"] = r.proof
		files["final/"+r.id+".tx"] = []byte(hex.EncodeToString(r.tx) + "\n")
		bb.ed = append(bb.ed, r.ed...)
		bb.ec = append(bb.ec, r.ec...)
	}
	if _, err := lg.Checkpoint(); err != nil { // the month's last
		return nil, nil, err
	}
	var recs strings.Builder
	for _, r := range ml.recs {
		recs.WriteString(b64(r))
		recs.WriteByte('\n')
	}
	files["log/records"] = []byte(recs.String())
	verifier, err := audit.VerifierKey(origin, coordPub)
	if err != nil {
		return nil, nil, err
	}
	for i, cp := range ml.cps {
		files[fmt.Sprintf("log/checkpoint-%04d.note", i+1)] = cp
		bb.ed = append(bb.ed, noteVerify(tb, cp, verifier))
	}
	bb.entries = int64(len(ml.recs))

	// The manifest, as Export writes it.
	man := &evidence.Manifest{Format: evidence.FormatVersion, Coordinator: "coord", Origin: origin, Genesis: bb.genesis[:],
		Since: t0.Unix(), Until: t0.Add(month).Unix(), LogSize: bb.entries}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		s := sha256.Sum256(files[p])
		man.Files = append(man.Files, evidence.File{Path: p, SHA256: s[:], Size: int64(len(files[p]))})
	}
	me, err := evidence.Seal(man, coordKey)
	if err != nil {
		return nil, nil, err
	}
	if files[evidence.ManifestFile], err = me.Encode(); err != nil {
		return nil, nil, err
	}
	bb.ed = append(bb.ed, envVerifies(me, coordPub)...)
	// The genesis policy's signatures.
	for _, who := range q.People {
		part, _ := pol.Participant(who)
		bb.ed = append(bb.ed, envVerifies(q.Policy, part.Identity)...)
	}
	return files, bb, nil
}

// makeRound makes proposal i, alice's and bob's approvals, and the proof,
// and lists the verifications the check performs on them: the proposal's
// signature twice (its own check, and in VerifyProof), each approval's
// identity signature twice (the decision, and again inside the proof),
// each chain signature three times (the decision, whose result the
// proof's approval reuses through evidence/memo.go; Assemble's own verify
// before it merges; btcd's script engine on the extracted transaction),
// and the proof's signature once.
func makeRound(i int, created time.Time, vr *vault.Vault, pol *policy.Policy, polID [32]byte, v *policy.Vault, cv chain.Vault, a chain.Adapter, q *quorum.Quorum, coordPub ed25519.PublicKey) (*round, error) {
	syn, err := vr.Synthetic(vault.SyntheticRequest{Seed: uint64(i + 1), Amount: 1_000_000, Fee: 1000})
	if err != nil {
		return nil, err
	}
	p, err := proposal.New(pol, polID, proposal.Params{Vault: "ops", Payload: syn.PSBT, Now: created, Coordinator: "coord"})
	if err != nil {
		return nil, err
	}
	pe, err := proposal.Seal(p, q.CoordKeys.Identity)
	if err != nil {
		return nil, err
	}
	r := &round{id: pe.IDHex(), created: created, decisions: map[string][]byte{}, apIDs: map[string]string{}}
	if r.prop, err = pe.Encode(); err != nil {
		return nil, err
	}
	r.ed = append(r.ed, envVerifies(pe, coordPub)...)
	r.ed = append(r.ed, envVerifies(pe, coordPub)...)
	pid := pe.ID()
	proof := &proposal.Proof{Format: 1, Proposal: pid[:], Chain: p.Chain, Vault: p.Vault, Policy: polID[:],
		PolicyVersion: pol.Version, Threshold: v.Threshold, Time: created.Add(45 * time.Second).Unix()}
	sets := map[string][]chain.Signature{}
	for k, who := range []string{"alice", "bob"} {
		m := q.Stations[who]
		s, _ := pol.SignerFor(v, who)
		key := s.Device.KeyFor(v.Chain)
		sigs, err := a.Sign(cv, p.Payload, key, m.Keys.Chain)
		if err != nil {
			return nil, err
		}
		review := sha256.Sum256([]byte(r.id + who))
		ap := &proposal.Approval{Format: 1, Proposal: pid[:], Decision: proposal.Approve, Participant: who, Device: s.Device.ID,
			Policy: polID[:], PolicyVersion: pol.Version, Signatures: sigs, Time: created.Add(time.Duration(20+10*k) * time.Second).Unix(), Review: review[:]}
		ae, err := proposal.SealApproval(ap, m.Keys.Identity)
		if err != nil {
			return nil, err
		}
		ch, err := proposal.CheckApproval(ae, p, pid, pol, polID, quorum.Reg, created.Add(time.Minute))
		if err != nil {
			return nil, err
		}
		raw, err := ae.Encode()
		if err != nil {
			return nil, err
		}
		r.decisions[who], r.apIDs[who] = raw, ae.IDHex()
		aid := ae.ID()
		proof.Approvals = append(proof.Approvals, proposal.ProofApproval{Participant: who, Device: s.Device.ID, Approval: aid[:], Envelope: raw, Verified: ch.Verified})
		sets[ch.Key] = sigs
		for range 2 {
			r.ed = append(r.ed, envVerifies(ae, s.Participant.Identity)...)
		}
		for _, vf := range ch.Verified {
			for _, sg := range sigs {
				if sg.Input == vf.Input {
					for range 3 {
						r.ec = append(r.ec, ecVerify{pub: sg.PubKey, digest: vf.Digest, der: sg.Sig[:len(sg.Sig)-1]})
					}
				}
			}
		}
	}
	final, err := a.Assemble(cv, p.Payload, sets)
	if err != nil {
		return nil, err
	}
	proof.TxID, proof.Transaction, r.txid, r.tx = final.TxID, final.Raw, final.TxID, final.Raw
	pfe, err := proposal.SealProof(proof, q.CoordKeys.Identity)
	if err != nil {
		return nil, err
	}
	if r.proof, err = pfe.Encode(); err != nil {
		return nil, err
	}
	r.proofID = pfe.IDHex()
	r.ed = append(r.ed, envVerifies(pfe, coordPub)...)
	return r, nil
}

// envVerifies is the verification of pub's signature on e.
func envVerifies(e *envelope.Envelope, pub ed25519.PublicKey) []edVerify {
	id := envelope.KeyID(pub)
	for _, s := range e.Signatures {
		if s.KeyID == id {
			return []edVerify{{pub: pub, msg: envelope.PAE(e.Type, e.Payload), sig: s.Sig}}
		}
	}
	panic("envVerifies: not signed by " + id)
}

// noteVerify is the verification of a checkpoint note's signature.
func noteVerify(tb testing.TB, cp []byte, vkey string) edVerify {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := note.Open(cp, note.VerifierList(v))
	if err != nil {
		tb.Fatal(err)
	}
	sig, err := b64dec(n.Sigs[0].Base64)
	if err != nil || len(sig) < 4 {
		tb.Fatalf("checkpoint signature: %v", err)
	}
	parts := strings.SplitN(vkey, "+", 3) // name+hash+key
	pub, err := b64dec(parts[len(parts)-1])
	if err != nil || len(pub) != 1+ed25519.PublicKeySize {
		tb.Fatalf("verifier key %q: %v", vkey, err)
	}
	return edVerify{pub: ed25519.PublicKey(pub[1:]), msg: []byte(n.Text), sig: sig[4:]}
}

// rawVerify runs every verification once, from their bytes (keys and
// signatures parsed as the check parses them), and fails on any that does
// not verify.
func rawVerify(tb testing.TB, bb *benchBundle) {
	for _, v := range bb.ed {
		if !ed25519.Verify(v.pub, v.msg, v.sig) {
			tb.Fatal("raw verify: an Ed25519 signature does not verify")
		}
	}
	for _, v := range bb.ec {
		pk, err := btcec.ParsePubKey(v.pub)
		if err != nil {
			tb.Fatal(err)
		}
		s, err := ecdsa.ParseDERSignature(v.der)
		if err != nil {
			tb.Fatal(err)
		}
		if !s.Verify(v.digest, pk) {
			tb.Fatal("raw verify: an ECDSA signature does not verify")
		}
	}
}

// BenchmarkCheck reads and checks the bundle (what `airlock audit check`
// does), then times the raw signature verifications of the same check.
func BenchmarkCheck(b *testing.B) {
	bb := buildBundle(b, benchEntries(b))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		files, err := evidence.Read(bb.tar)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := evidence.Check(files, bb.genesis, quorum.Reg)
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK || rep.Entries != bb.entries || rep.Finalized != bb.proposals {
			b.Fatalf("the generated bundle does not verify: %+v", rep.Failures())
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	rawStart := time.Now()
	rawVerify(b, bb)
	raw := time.Since(rawStart)
	perCheck := float64(elapsed.Nanoseconds()) / float64(b.N)
	b.ReportMetric(perCheck, "ns/check")
	b.ReportMetric(float64(bb.entries)*float64(b.N)/elapsed.Seconds(), "entries/s")
	b.ReportMetric(float64(len(bb.ed)+len(bb.ec)), "verifies")
	b.ReportMetric(float64(raw.Nanoseconds()), "raw-verify-ns")
	b.ReportMetric(perCheck/float64(raw.Nanoseconds()), "x-raw-verify")
}

// TestGeneratedBundleVerifies: the benchmark's generator makes a bundle
// the check passes, and its raw verifications all verify, so the
// benchmark measures a passing check (a small one, every test run).
func TestGeneratedBundleVerifies(t *testing.T) {
	files, bb, err := generate(t, 12)
	if err != nil {
		t.Fatal(err)
	}
	rep := mustCheck(t, files, bb.genesis)
	if !rep.OK || rep.Proposals != 12 || rep.Finalized != 12 || rep.Decisions != 24 || rep.Entries != bb.entries || rep.Checkpoints == 0 {
		t.Fatalf("report %+v, failures %+v", rep, rep.Failures())
	}
	rawVerify(t, bb)
}

func b64(b []byte) string             { return base64.StdEncoding.EncodeToString(b) }
func b64dec(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
