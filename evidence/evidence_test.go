package evidence_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/evidence"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/vault"
)

var ctx = context.Background()

// rounds runs a small month: a payment finalized, one rejected, one
// withdrawn, and a second payment finalized a week later.
func rounds(t *testing.T) (*quorum.Quorum, [32]byte) {
	t.Helper()
	q := quorum.New(t, quorum.Options{})
	v, err := vault.Resolve(q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	pay := func(seed uint64, who ...string) *envelope.Envelope {
		syn, err := v.Synthetic(vault.SyntheticRequest{Seed: seed, Amount: 1_000_000 * int64(seed), Fee: 1000})
		if err != nil {
			t.Fatal(err)
		}
		pe, _, err := q.Coord.Propose(ctx, coordinator.ProposeParams{Vault: "ops", Payload: syn.PSBT}, q.CoordKeys.Identity)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := pe.Encode()
		for _, w := range who {
			d := station.Decision{Approve: true}
			if strings.HasPrefix(w, "-") {
				w, d = w[1:], station.Decision{Reason: "not ours"}
			}
			q.Decide(t, w, raw, d)
		}
		return pe
	}
	p1 := pay(1, "alice", "bob")
	if _, err := q.Coord.Finalize(ctx, p1.IDHex(), q.CoordKeys.Identity); err != nil {
		t.Fatal(err)
	}
	q.Advance(24 * time.Hour)
	pay(2, "-bob", "-carol")
	p3 := pay(3, "alice")
	if _, err := q.Coord.Withdraw(ctx, p3.IDHex(), "wrong amount", q.CoordKeys.Identity); err != nil {
		t.Fatal(err)
	}
	q.Advance(7 * 24 * time.Hour)
	p4 := pay(4, "bob", "carol")
	if _, err := q.Coord.Finalize(ctx, p4.IDHex(), q.CoordKeys.Identity); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Coord.WS.Checkpoint(ctx, q.CoordKeys.Identity); err != nil {
		t.Fatal(err)
	}
	return q, q.Policy.ID()
}

func export(t *testing.T, q *quorum.Quorum) map[string][]byte {
	t.Helper()
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	files, err := evidence.Export(ctx, q.Coord.WS, start, start.AddDate(0, 1, 0), q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// reseal is what a compromised coordinator can do to a bundle: edit it
// and sign a new manifest with its own key.
func reseal(t *testing.T, files map[string][]byte, key crypto.Signer) {
	t.Helper()
	me, err := envelope.Decode(files[evidence.ManifestFile])
	if err != nil {
		t.Fatal(err)
	}
	var m evidence.Manifest
	if err := envelope.Unmarshal(me.Payload, &m); err != nil {
		t.Fatal(err)
	}
	m.Files = nil
	var paths []string
	for p := range files {
		if p != evidence.ManifestFile {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		s := sha256.Sum256(files[p])
		m.Files = append(m.Files, evidence.File{Path: p, SHA256: s[:], Size: int64(len(files[p]))})
	}
	ne, err := evidence.Seal(&m, key)
	if err != nil {
		t.Fatal(err)
	}
	files[evidence.ManifestFile], _ = ne.Encode()
}

func mustCheck(t *testing.T, files map[string][]byte, genesis [32]byte) *evidence.Report {
	t.Helper()
	rep, err := evidence.Check(files, genesis, quorum.Reg)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func failedWith(t *testing.T, rep *evidence.Report, check, words string) {
	t.Helper()
	if rep.OK {
		t.Fatalf("the bundle passed: %+v", rep.Findings)
	}
	for _, f := range rep.Failures() {
		if f.Check == check && strings.Contains(f.Detail, words) {
			return
		}
	}
	t.Fatalf("no failed %s check saying %q; failures: %+v", check, words, rep.Failures())
}

// TestBundleOfAMonthVerifiesAloneAndIsDeterministic: the bundle verifies
// with the genesis id alone, counts what happened, and a second export of
// the same period (after more work happened) is byte-identical, as a
// folder and as a tar.
func TestBundleOfAMonthVerifiesAloneAndIsDeterministic(t *testing.T) {
	q, genesis := rounds(t)
	files := export(t, q)
	rep := mustCheck(t, files, genesis)
	if !rep.OK || rep.Proposals != 4 || rep.Finalized != 2 || rep.Decisions != 7 || rep.Checkpoints == 0 {
		t.Fatalf("report %+v", rep)
	}
	dir := t.TempDir()
	if err := evidence.Write(filepath.Join(dir, "a.tar"), files, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	q.Advance(60 * 24 * time.Hour) // more work, after the period
	if _, err := q.Coord.WS.Checkpoint(ctx, q.CoordKeys.Identity); err != nil {
		t.Fatal(err)
	}
	again := export(t, q)
	if err := evidence.Write(filepath.Join(dir, "b.tar"), again, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	a, _ := evidence.Read(filepath.Join(dir, "a.tar"))
	b, _ := evidence.Read(filepath.Join(dir, "b.tar"))
	if len(a) != len(b) {
		t.Fatalf("%d files, then %d", len(a), len(b))
	}
	for p := range a {
		if !bytes.Equal(a[p], b[p]) {
			t.Fatalf("%s differs between two exports of the same period", p)
		}
	}
	if rep := mustCheck(t, a, genesis); !rep.OK {
		t.Fatalf("read back from tar: %+v", rep.Failures())
	}
}

// TestBundleAgainstAnotherGenesisFails: the auditor's genesis decides.
func TestBundleAgainstAnotherGenesisFails(t *testing.T) {
	q, _ := rounds(t)
	failedWith(t, mustCheck(t, export(t, q), [32]byte{1}), "policy-chain", "not the")
}

// TestTamperedBundlesFail: each edit is caught with the check that says
// what and where, even when a compromised coordinator re-signs the
// manifest over the edited files.
func TestTamperedBundlesFail(t *testing.T) {
	q, genesis := rounds(t)
	key := q.CoordKeys.Identity
	pick := func(files map[string][]byte, prefix string) string {
		var ps []string
		for p := range files {
			if strings.HasPrefix(p, prefix) {
				ps = append(ps, p)
			}
		}
		sort.Strings(ps)
		if len(ps) == 0 {
			t.Fatalf("no %s in the bundle", prefix)
		}
		return ps[0]
	}
	t.Run("an approval removed", func(t *testing.T) {
		files := export(t, q)
		delete(files, pick(files, "decisions/"))
		failedWith(t, mustCheck(t, files, genesis), "manifest", "missing from the bundle")
		reseal(t, files, key)
		failedWith(t, mustCheck(t, files, genesis), "decisions", "the bundle does not hold")
	})
	t.Run("a proof byte flipped", func(t *testing.T) {
		files := export(t, q)
		p := pick(files, "proofs/")
		files[p][len(files[p])/2] ^= 1
		reseal(t, files, key)
		failedWith(t, mustCheck(t, files, genesis), "proofs", "")
	})
	t.Run("a final transaction swapped", func(t *testing.T) {
		files := export(t, q)
		finals := []string{}
		for p := range files {
			if strings.HasPrefix(p, "final/") {
				finals = append(finals, p)
			}
		}
		sort.Strings(finals)
		files[finals[0]], files[finals[1]] = files[finals[1]], files[finals[0]]
		reseal(t, files, key)
		failedWith(t, mustCheck(t, files, genesis), "proofs", "not the one the threshold proof records")
	})
	t.Run("a checkpoint replaced by a fork", func(t *testing.T) {
		files := export(t, q)
		// The coordinator's key signs another history under the same
		// log name.
		l, err := audit.Open(t.TempDir(), q.Coord.WS.Config.LogOrigin(), key)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		for i := range 5 {
			if _, err := l.Append(audit.Event{Time: time.Date(2026, 12, 4, 10, i, 0, 0, time.UTC), Kind: "proposal.created", Subject: hex.EncodeToString([]byte{byte(i)})}); err != nil {
				t.Fatal(err)
			}
		}
		fork, err := l.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		files[pick(files, "log/checkpoint-")] = fork
		reseal(t, files, key)
		failedWith(t, mustCheck(t, files, genesis), "checkpoints", "FORK")
	})
	t.Run("a log record edited", func(t *testing.T) {
		files := export(t, q)
		recs := strings.Split(string(files["log/records"]), "\n")
		recs[2], recs[3] = recs[3], recs[2]
		files["log/records"] = []byte(strings.Join(recs, "\n"))
		reseal(t, files, key)
		failedWith(t, mustCheck(t, files, genesis), "checkpoints", "entries among 0..")
	})
}

// TestApprovalCollectedAfterRevocationFails: a coordinator that collects
// an approval by a key a policy version had already revoked (it had not
// imported the version yet) is caught: the bundle's chain holds the
// version, and the log says when the approval was collected.
func TestApprovalCollectedAfterRevocationFails(t *testing.T) {
	q := quorum.New(t, quorum.Options{})
	v, err := vault.Resolve(q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	syn, err := v.Synthetic(vault.SyntheticRequest{Seed: 9, Amount: 1_000_000, Fee: 1000})
	if err != nil {
		t.Fatal(err)
	}
	pe, _, err := q.Coord.Propose(ctx, coordinator.ProposeParams{Vault: "ops", Payload: syn.PSBT}, q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := pe.Encode()
	m := q.Stations["alice"]
	ae, _, err := m.Sign(ctx, raw, station.Decision{Approve: true}, m.Keys.Identity, m.Keys.Chain)
	if err != nil {
		t.Fatal(err)
	}
	// Version 2 revokes alice; bob and carol sign it.
	q.Advance(time.Minute)
	prev, _, err := q.Coord.WS.Policy(quorum.Reg)
	if err != nil {
		t.Fatal(err)
	}
	f := policy.ToFile(prev)
	for i := range f.Participants {
		if f.Participants[i].ID == "alice" {
			f.Participants[i].Revoked = "laptop stolen"
		}
	}
	v2, _, err := policy.Next(prev, f, quorum.Reg, q.Now(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	env2, err := policy.Seal(v2)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"bob", "carol"} {
		if err := env2.Sign(q.Stations[who].Keys.Identity); err != nil {
			t.Fatal(err)
		}
	}
	// The coordinator collects alice's approval before importing it.
	q.Advance(time.Minute)
	b, _ := ae.Encode()
	if _, err := q.Coord.Collect(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	q.Advance(time.Minute)
	if _, err := q.Coord.WS.ImportPolicy(env2, quorum.Reg); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Coord.WS.Checkpoint(ctx, q.CoordKeys.Identity); err != nil {
		t.Fatal(err)
	}
	failedWith(t, mustCheck(t, export(t, q), q.Policy.ID()), "revocations", "revokes alice")
}

// TestReportShowsEveryControl: the HTML report holds a section for every
// CCSS aspect, the verdict, and no external resource; a failing bundle's
// report says FAIL where.
func TestReportShowsEveryControl(t *testing.T) {
	q, genesis := rounds(t)
	files := export(t, q)
	var b strings.Builder
	if err := evidence.WriteReport(&b, mustCheck(t, files, genesis), genesis); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, h := range evidence.ReportHeadings() {
		if !strings.Contains(page, h) {
			t.Errorf("no section %q", h)
		}
	}
	if !strings.Contains(page, `id="verdict">the bundle verifies`) {
		t.Error("no verdict")
	}
	for _, ext := range []string{"src=", "href=", "http://", "https://", "@import"} {
		if strings.Contains(page, ext) {
			t.Errorf("the report refers outside itself (%s)", ext)
		}
	}
	delete(files, "log/records")
	b.Reset()
	rep, err := evidence.Check(files, genesis, quorum.Reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := evidence.WriteReport(&b, rep, genesis); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "does NOT verify") || !strings.Contains(b.String(), ">FAIL<") {
		t.Error("a failing bundle's report does not say so")
	}
}

// TestProofOfAnotherPolicyVersionFails: a coordinator that finalizes a
// proposal made under version 2 with a threshold proof counting version
// 1's signers (where alice is not yet revoked), and re-signs the proof and
// the manifest with its own key, is caught: a proof counts only under the
// version its proposal cites.
func TestProofOfAnotherPolicyVersionFails(t *testing.T) {
	q := quorum.New(t, quorum.Options{})
	v, err := vault.Resolve(q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	pay := func(seed uint64, who ...string) *envelope.Envelope {
		syn, err := v.Synthetic(vault.SyntheticRequest{Seed: seed, Amount: 1_000_000, Fee: 1000})
		if err != nil {
			t.Fatal(err)
		}
		pe, _, err := q.Coord.Propose(ctx, coordinator.ProposeParams{Vault: "ops", Payload: syn.PSBT}, q.CoordKeys.Identity)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := pe.Encode()
		for _, w := range who {
			q.Decide(t, w, raw, station.Decision{Approve: true})
		}
		if _, err := q.Coord.Finalize(ctx, pe.IDHex(), q.CoordKeys.Identity); err != nil {
			t.Fatal(err)
		}
		return pe
	}
	p1 := pay(1, "alice", "bob")
	// Version 2 revokes alice; bob and carol sign it; everyone imports it.
	q.Advance(time.Hour)
	prev, _, err := q.Coord.WS.Policy(quorum.Reg)
	if err != nil {
		t.Fatal(err)
	}
	f := policy.ToFile(prev)
	for i := range f.Participants {
		if f.Participants[i].ID == "alice" {
			f.Participants[i].Revoked = "left"
		}
	}
	v2, _, err := policy.Next(prev, f, quorum.Reg, q.Now(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	env2, err := policy.Seal(v2)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"bob", "carol"} {
		if err := env2.Sign(q.Stations[who].Keys.Identity); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Coord.WS.ImportPolicy(env2, quorum.Reg); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"bob", "carol"} {
		if _, err := q.Stations[who].WS.ImportPolicy(env2, quorum.Reg); err != nil {
			t.Fatal(err)
		}
	}
	q.Advance(time.Hour)
	p2 := pay(2, "bob", "carol")
	if _, err := q.Coord.WS.Checkpoint(ctx, q.CoordKeys.Identity); err != nil {
		t.Fatal(err)
	}
	files := export(t, q)
	if rep := mustCheck(t, files, q.Policy.ID()); !rep.OK || rep.Policies != 2 || rep.Finalized != 2 {
		t.Fatalf("the honest bundle: %+v, failures %+v", rep, rep.Failures())
	}
	// The forged proof: version 1's proof, re-addressed to p2, re-signed.
	pfe, err := envelope.Decode(files["proofs/"+p1.IDHex()+".proof"])
	if err != nil {
		t.Fatal(err)
	}
	pf, err := proposal.DecodeProof(pfe)
	if err != nil {
		t.Fatal(err)
	}
	id2 := p2.ID()
	pf.Proposal = id2[:]
	forged, err := proposal.SealProof(pf, q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	files["proofs/"+p2.IDHex()+".proof"], _ = forged.Encode()
	reseal(t, files, q.CoordKeys.Identity)
	failedWith(t, mustCheck(t, files, q.Policy.ID()), "proofs", "a threshold proof under policy version 1 for a proposal made under version 2")
}
