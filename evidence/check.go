package evidence

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
)

// Finding is one check of a bundle.
type Finding struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Where  string `json:"where,omitempty"`
}

// Report is what Check found, check by check.
type Report struct {
	OK          bool      `json:"ok"`
	Coordinator string    `json:"coordinator"`
	Since       string    `json:"since"`
	Until       string    `json:"until"`
	Policies    int       `json:"policyVersions"`
	Entries     int64     `json:"logEntries"`
	Checkpoints int       `json:"checkpoints"`
	Witnessed   int       `json:"witnessedCheckpoints"`
	Proposals   int       `json:"proposals"`
	Decisions   int       `json:"decisions"`
	Finalized   int       `json:"finalized"`
	Findings    []Finding `json:"findings"`
}

func (r *Report) add(check string, ok bool, where, format string, args ...any) {
	r.Findings = append(r.Findings, Finding{Check: check, OK: ok, Detail: fmt.Sprintf(format, args...), Where: where})
	if !ok {
		r.OK = false
	}
}

// Failures are the findings that failed.
func (r *Report) Failures() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if !f.OK {
			out = append(out, f)
		}
	}
	return out
}

var (
	idFile       = regexp.MustCompile(`^(proposals|proofs|final)/([0-9a-f]{64})\.(proposal|proof|tx)$`)
	decisionFile = regexp.MustCompile(`^decisions/([0-9a-f]{64})/([a-z0-9][a-z0-9._-]{0,62})\.approval$`)
	policyFile   = regexp.MustCompile(`^policy/v(\d{4})\.airlock$`)
	cpFile       = regexp.MustCompile(`^log/checkpoint-(\d{4})\.note$`)
)

// Check verifies a bundle (its files by path) with nothing but the
// genesis policy's id: the policy chain from that genesis; the manifest,
// signed by a coordinator of that chain, listing exactly the files there
// are; the audit log recomputed from its records, every checkpoint signed
// by the coordinator and a prefix of those records (no fork), every
// checkpoint a station cosigned in an approval likewise; every proposal
// signed by its coordinator and logged; every decision verified against
// the policy version it cites and logged; every threshold proof verified
// end to end (proposal.VerifyProof) with its final transaction; and no
// two finalized transactions spending the same coin or Safe nonce. The
// error is for a bundle that cannot be read at all; everything else is a
// finding.
func Check(files map[string][]byte, genesis [32]byte, reg *chain.Registry) (*Report, error) {
	rep := &Report{OK: true}
	reg = memoRegistry(reg)
	if len(files) > MaxFiles {
		return nil, fmt.Errorf("evidence: %d files, at most %d", len(files), MaxFiles)
	}
	for p, b := range files {
		if len(b) > MaxFileSize && p != "log/records" {
			return nil, fmt.Errorf("evidence: %s is %d bytes, at most %d", p, len(b), MaxFileSize)
		}
	}
	raw, ok := files[ManifestFile]
	if !ok {
		return nil, errors.New("evidence: no manifest.airlock: not a bundle")
	}
	me, err := envelope.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("evidence: the manifest: %w", err)
	}
	if me.Type != envelope.TypeBundle {
		return nil, fmt.Errorf("evidence: the manifest holds %s", me.Type)
	}
	var m Manifest
	if err := envelope.Unmarshal(me.Payload, &m); err != nil || m.Format != FormatVersion {
		return nil, fmt.Errorf("evidence: malformed manifest (format %d): %v", m.Format, err)
	}
	rep.Coordinator = m.Coordinator
	rep.Since, rep.Until = time.Unix(m.Since, 0).UTC().Format(time.RFC3339), time.Unix(m.Until, 0).UTC().Format(time.RFC3339)

	// The policy chain, from the genesis the auditor names.
	var pols []*envelope.Envelope
	for i := 1; ; i++ {
		b, ok := files[fmt.Sprintf("policy/v%04d.airlock", i)]
		if !ok {
			break
		}
		e, err := envelope.Decode(b)
		if err != nil {
			rep.add("policy-chain", false, fmt.Sprintf("policy/v%04d.airlock", i), "unreadable: %v", err)
			return rep, nil
		}
		pols = append(pols, e)
	}
	chainOf, err := policy.Verify(pols, reg)
	switch {
	case err != nil:
		rep.add("policy-chain", false, "policy/", "the chain of %d versions does not verify: %v", len(pols), err)
		return rep, nil
	case pols[0].ID() != genesis:
		rep.add("policy-chain", false, "policy/v0001.airlock", "the genesis is %s, not the %s the auditor gave", pols[0].IDHex(), hex.EncodeToString(genesis[:]))
		return rep, nil
	}
	rep.Policies = len(pols)
	versions := make([]proposal.Version, len(chainOf))
	for i := range chainOf {
		versions[i] = proposal.Version{Policy: chainOf[i], ID: pols[i].ID()}
	}
	rep.add("policy-chain", true, "policy/", "%d versions from genesis %s, each signed by its predecessor's quorum", len(pols), pols[0].IDHex()[:16])

	// The manifest: signed by the coordinator it names, listing exactly
	// the files there are.
	keys := coordinatorKeys(chainOf, m.Coordinator)
	signed := false
	for _, k := range keys {
		if me.Verify(k) == nil {
			signed = true
		}
	}
	if !signed || m.Origin != "airlock/coordinator/"+m.Coordinator {
		rep.add("manifest", false, ManifestFile, "not signed by coordinator %q of the policy chain (origin %q)", m.Coordinator, m.Origin)
		return rep, nil
	}
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[f.Path] = true
		b, ok := files[f.Path]
		switch {
		case !ok:
			rep.add("manifest", false, f.Path, "listed in the manifest, missing from the bundle")
		case int64(len(b)) != f.Size || !bytes.Equal(sum(b), f.SHA256):
			rep.add("manifest", false, f.Path, "its bytes are not the ones the manifest lists (sha256 %x, listed %x)", sum(b)[:8], f.SHA256[:min(8, len(f.SHA256))])
		}
	}
	for p := range files {
		if p != ManifestFile && !listed[p] {
			rep.add("manifest", false, p, "in the bundle, not in the manifest")
		}
	}
	if rep.OK {
		rep.add("manifest", true, ManifestFile, "signed by coordinator %s; %d files, each as listed", m.Coordinator, len(m.Files))
	}

	// The log: recomputed from its records; every checkpoint a prefix.
	lg, err := readLog(files["log/records"], m.LogSize)
	if err != nil {
		rep.add("log", false, "log/records", "%v", err)
		return rep, nil
	}
	rep.Entries = int64(len(lg.events))
	// Every checkpoint is opened and compared with the records first;
	// then a mismatch is named by what the others show: a checkpoint
	// disagreeing with a larger one the records match is a second history
	// signed by the same key (a fork); otherwise the records changed
	// between the last checkpoint they match and this one (or it is a
	// fork: the bundle alone cannot tell which).
	type opened struct {
		path  string
		c     *audit.Checkpoint
		root  tlog.Hash
		match bool
	}
	var cks []opened
	for _, p := range sortedMatching(files, cpFile) {
		rep.Checkpoints++
		var c *audit.Checkpoint
		for _, k := range keys {
			if cc, err := audit.OpenCheckpoint(files[p], m.Origin, k); err == nil {
				c = cc
				break
			}
		}
		if c == nil {
			rep.add("checkpoints", false, p, "not signed by coordinator %s for log %s", m.Coordinator, m.Origin)
			continue
		}
		root, err := lg.root(c.Size)
		if err != nil {
			rep.add("checkpoints", false, p, "a checkpoint of %d entries; the bundle's log holds %d", c.Size, rep.Entries)
			continue
		}
		cks = append(cks, opened{p, c, root, root == c.Root})
	}
	// A change to the records fails every checkpoint after it: one
	// finding, naming the later ones.
	type change struct {
		finding int
		later   []string
	}
	changed := map[int64]*change{} // by the size of the last checkpoint the records match
	sort.SliceStable(cks, func(i, j int) bool { return cks[i].c.Size < cks[j].c.Size })
	// For each checkpoint: the largest smaller one the records match, and
	// the smallest one at least as large that they match.
	below := make([]int64, len(cks))
	above := make([]int, len(cks))
	var lastMatch int64
	for i := 0; i < len(cks); {
		j := i
		for ; j < len(cks) && cks[j].c.Size == cks[i].c.Size; j++ {
			below[j] = lastMatch
		}
		for k := i; k < j; k++ {
			if cks[k].match {
				lastMatch = cks[k].c.Size
			}
		}
		i = j
	}
	next := -1
	for i := len(cks) - 1; i >= 0; i-- {
		if cks[i].match {
			next = i
		}
		above[i] = next
	}
	for i, o := range cks {
		if o.match {
			continue
		}
		if a := above[i]; a >= 0 {
			rep.add("checkpoints", false, o.path, "FORK: the coordinator's key signed this checkpoint of %d entries (root %s) and %s of %d entries, which the records match: two histories under one key", o.c.Size, o.c.Root, cks[a].path, cks[a].c.Size)
			continue
		}
		if ch := changed[below[i]]; ch != nil {
			ch.later = append(ch.later, o.path)
			continue
		}
		since := "they match no earlier checkpoint"
		if below[i] > 0 {
			since = fmt.Sprintf("they match the checkpoint of %d entries", below[i])
		}
		rep.add("checkpoints", false, o.path, "the records do not make the root this checkpoint of %d entries signs (%s; the records make %s): entries among %d..%d were changed, removed, inserted or reordered (%s), or the checkpoint is of another history (a FORK)", o.c.Size, o.c.Root, o.root, below[i], o.c.Size-1, since)
		changed[below[i]] = &change{finding: len(rep.Findings) - 1}
	}
	for _, ch := range changed {
		if n := len(ch.later); n > 0 {
			rep.Findings[ch.finding].Detail += fmt.Sprintf("; nor do they make the roots of the %d later checkpoints, %s to %s", n, ch.later[0], ch.later[n-1])
		}
	}
	if rep.OK {
		rep.add("log", true, "log/", "%d entries recomputed into one tree; %d checkpoints signed by %s, each a prefix of it (no fork)", rep.Entries, rep.Checkpoints, m.Coordinator)
	}

	// Proposals, decisions, proofs and final transactions. Each path is
	// read once: decisions are indexed by their proposal.
	type finalized struct {
		id     string
		spends []string
	}
	var finals []finalized
	var propIDs []string
	decisionsOf := map[string][]string{} // proposal id -> decision paths
	for p := range files {
		if mm := idFile.FindStringSubmatch(p); mm != nil && mm[1] == "proposals" {
			propIDs = append(propIDs, mm[2])
		} else if dm := decisionFile.FindStringSubmatch(p); dm != nil {
			decisionsOf[dm[1]] = append(decisionsOf[dm[1]], p)
		}
	}
	sort.Strings(propIDs)
	for _, id := range propIDs {
		p := "proposals/" + id + ".proposal"
		pe, err := envelope.Decode(files[p])
		if err != nil {
			rep.add("proposals", false, p, "unreadable: %v", err)
			continue
		}
		if pe.IDHex() != id {
			rep.add("proposals", false, p, "its id is %s, not its name: the proposal's bytes were changed", pe.IDHex()[:16])
			continue
		}
		pr, err := proposal.Decode(pe)
		if err != nil {
			rep.add("proposals", false, p, "%v", err)
			continue
		}
		ver := versionOf(versions, pr.Policy)
		if ver == nil {
			rep.add("proposals", false, p, "cites policy %x, not in the chain", pr.Policy[:8])
			continue
		}
		c, ok := ver.Policy.Coordinator(pr.Coordinator)
		if !ok || pe.Verify(c.Identity) != nil {
			rep.add("proposals", false, p, "not signed by its coordinator %q under policy version %d", pr.Coordinator, ver.Policy.Version)
			continue
		}
		if !lg.has("proposal.created", id) && !lg.has("proposal.readopted", id) {
			rep.add("proposals", false, p, "no proposal.created (or proposal.readopted) entry in the log: state and log disagree")
		}
		rep.Proposals++
		// Its decisions.
		dps := decisionsOf[id]
		sort.Strings(dps)
		for _, dp := range dps {
			dm := decisionFile.FindStringSubmatch(dp)
			de, err := envelope.Decode(files[dp])
			if err != nil {
				rep.add("decisions", false, dp, "unreadable: %v", err)
				continue
			}
			ap, err := proposal.DecodeApproval(de)
			if err != nil {
				rep.add("decisions", false, dp, "%v", err)
				continue
			}
			dver := versionOf(versions, ap.Policy)
			if dver == nil {
				rep.add("decisions", false, dp, "cites policy %x, not in the chain", ap.Policy[:8])
				continue
			}
			at := time.Unix(ap.Time, 0)
			if !at.Before(pr.ExpiresTime()) {
				at = pr.ExpiresTime().Add(-time.Second)
			}
			ch, err := proposal.CheckApproval(de, pr, pe.ID(), dver.Policy, dver.ID, reg, at)
			if err != nil || ch.Participant.ID != dm[2] {
				rep.add("decisions", false, dp, "does not verify against policy version %d: %v", dver.Policy.Version, err)
				continue
			}
			collected, ok := lg.first("approval.collected", de.IDHex())
			if !ok {
				rep.add("decisions", false, dp, "no approval.collected entry in the log: state and log disagree")
			} else if v := revokedBefore(chainOf, ch, collected); v != nil {
				rep.add("revocations", false, dp, "collected at %s although policy version %d (made %s) revokes %s's key", collected.UTC().Format(time.RFC3339), v.Version, time.Unix(v.Created, 0).UTC().Format(time.RFC3339), ch.Participant.ID)
			}
			if w := ch.Witnessed; w != nil {
				rep.Witnessed++
				if w.Size <= rep.Entries {
					if root, err := lg.root(w.Size); err == nil && root != w.Root {
						rep.add("checkpoints", false, dp, "FORK: %s cosigned a checkpoint of %d entries with root %s; the records make %s", dm[2], w.Size, w.Root, root)
					}
				}
			}
			rep.Decisions++
		}
		// Its proof and final transaction.
		proofPath, txPath := "proofs/"+id+".proof", "final/"+id+".tx"
		pb, hasProof := files[proofPath]
		if !hasProof {
			if _, ok := files[txPath]; ok {
				rep.add("proofs", false, txPath, "a final transaction without a threshold proof")
			}
			continue
		}
		pfe, err := envelope.Decode(pb)
		if err != nil {
			rep.add("proofs", false, proofPath, "unreadable: %v", err)
			continue
		}
		// A proof counts the approvals of the version it cites; that must
		// be the version the proposal was made under.
		if pf, err := proposal.DecodeProof(pfe); err == nil && !bytes.Equal(pf.Policy, pr.Policy) {
			cited := fmt.Sprintf("%x (not in the chain)", pf.Policy[:min(8, len(pf.Policy))])
			if pv := versionOf(versions, pf.Policy); pv != nil {
				cited = fmt.Sprint(pv.Policy.Version)
			}
			rep.add("proofs", false, proofPath, "a threshold proof under policy version %s for a proposal made under version %d: the wrong version's signers and threshold", cited, ver.Policy.Version)
			continue
		}
		prep, err := proposal.VerifyProof(pfe, versions, pe, reg)
		if err != nil {
			rep.add("proofs", false, proofPath, "%v", err)
			continue
		}
		if !lg.hasDetail("proposal.finalized", id, "proof", pfe.IDHex()) {
			rep.add("proofs", false, proofPath, "no proposal.finalized entry for this proof in the log: state and log disagree")
		}
		txHex := strings.TrimSpace(string(files[txPath]))
		if txHex != hex.EncodeToString(prep.Proof.Transaction) {
			rep.add("proofs", false, txPath, "the final transaction is not the one the threshold proof records (swapped or edited)")
			continue
		}
		v, _ := prep.Policy.Vault(pr.Vault)
		cv, err := prep.Policy.ChainVault(v)
		if err == nil {
			if a, err2 := reg.Lookup(pr.Chain); err2 == nil {
				if rv, err3 := a.Review(context.Background(), cv, pr.Payload); err3 == nil {
					finals = append(finals, finalized{id, rv.Spends})
				}
			}
		}
		rep.Finalized++
	}
	// And the other way: what the log says happened to a proposal of the
	// bundle has its artifact in the bundle.
	for i, ev := range lg.events {
		id := ev.Subject
		switch ev.Kind {
		case "approval.collected":
			pid := ev.Detail["proposal"]
			if _, ok := files["proposals/"+pid+".proposal"]; !ok {
				continue
			}
			if _, ok := files["decisions/"+pid+"/"+ev.Detail["participant"]+".approval"]; !ok {
				rep.add("decisions", false, fmt.Sprintf("log entry %d", i), "the log records a decision by %s on proposal %s that the bundle does not hold", ev.Detail["participant"], short(pid))
			}
		case "proposal.finalized":
			if _, ok := files["proposals/"+id+".proposal"]; !ok {
				continue
			}
			if _, ok := files["proofs/"+id+".proof"]; !ok {
				rep.add("proofs", false, fmt.Sprintf("log entry %d", i), "the log records the finalization of proposal %s; the bundle holds no proof of it", short(id))
			}
		case "proposal.created", "proposal.readopted":
			at := ev.Time
			if ev.Kind == "proposal.readopted" {
				// Taken back after a restore: the bundle holds it by
				// when it was made.
				if at, err = time.Parse(time.RFC3339, ev.Detail["created"]); err != nil {
					rep.add("proposals", false, fmt.Sprintf("log entry %d", i), "a proposal.readopted entry without its creation time")
					continue
				}
			}
			if at.Unix() < m.Since || at.Unix() > m.Until {
				continue
			}
			if _, ok := files["proposals/"+id+".proposal"]; !ok {
				rep.add("proposals", false, fmt.Sprintf("log entry %d", i), "the log records proposal %s, created in the period; the bundle does not hold it", short(id))
			}
		}
	}
	// No two finalized transactions spend the same coin or nonce.
	spentBy := map[string]string{}
	for _, f := range finals {
		for _, s := range f.spends {
			if other, ok := spentBy[s]; ok && other != f.id {
				rep.add("conflicts", false, "proofs/"+f.id+".proof", "spends %s, which finalized proposal %s spends too", s, other[:16])
			}
			spentBy[s] = f.id
		}
	}
	if rep.OK {
		rep.add("rounds", true, "proposals/", "%d proposals, %d decisions and %d threshold proofs verified against the policy versions they cite, each logged; %d witnessed checkpoints agree; no key used after its revocation; no conflicting spends", rep.Proposals, rep.Decisions, rep.Finalized, rep.Witnessed)
	}
	return rep, nil
}

func sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

func coordinatorKeys(vs []*policy.Policy, id string) []ed25519.PublicKey {
	var out []ed25519.PublicKey
	seen := map[string]bool{}
	for _, p := range vs {
		if c, ok := p.Coordinator(id); ok && !seen[string(c.Identity)] {
			seen[string(c.Identity)] = true
			out = append(out, c.Identity)
		}
	}
	return out
}

func versionOf(vs []proposal.Version, id []byte) *proposal.Version {
	for i := range vs {
		if bytes.Equal(vs[i].ID[:], id) {
			return &vs[i]
		}
	}
	return nil
}

func sortedMatching(files map[string][]byte, re *regexp.Regexp) []string {
	var out []string
	for p := range files {
		if re.MatchString(p) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// bundleLog is the log of a bundle, its tree recomputed.
type bundleLog struct {
	events []audit.Event
	hashes map[int64]tlog.Hash
	index  map[string][]int // kind + " " + subject -> entries
}

func readLog(b []byte, want int64) (*bundleLog, error) {
	lg := &bundleLog{hashes: map[int64]tlog.Hash{}, index: map[string][]int{}}
	text := strings.TrimSuffix(string(b), "\n")
	var lines []string
	if text != "" {
		lines = strings.Split(text, "\n")
	}
	if int64(len(lines)) != want || want > MaxRecords {
		return nil, fmt.Errorf("%d records, the manifest says %d", len(lines), want)
	}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			h, ok := lg.hashes[x]
			if !ok {
				return nil, fmt.Errorf("hash %d missing", x)
			}
			out[i] = h
		}
		return out, nil
	})
	for i, l := range lines {
		rec, err := base64.StdEncoding.Strict().DecodeString(l)
		if err != nil || len(rec) > audit.MaxRecord {
			return nil, fmt.Errorf("record %d: not base64 of a record", i)
		}
		ev, err := audit.Decode(rec)
		if err != nil {
			return nil, fmt.Errorf("record %d: %v", i, err)
		}
		hs, err := tlog.StoredHashes(int64(i), rec, reader)
		if err != nil {
			return nil, err
		}
		base := tlog.StoredHashIndex(0, int64(i))
		for k, h := range hs {
			lg.hashes[base+int64(k)] = h
		}
		lg.events = append(lg.events, ev)
		key := ev.Kind + " " + ev.Subject
		lg.index[key] = append(lg.index[key], i)
	}
	return lg, nil
}

func (lg *bundleLog) root(size int64) (tlog.Hash, error) {
	if size > int64(len(lg.events)) {
		return tlog.Hash{}, fmt.Errorf("size %d beyond the log", size)
	}
	return tlog.TreeHash(size, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = lg.hashes[x]
		}
		return out, nil
	}))
}

func (lg *bundleLog) has(kind, subject string) bool { return len(lg.index[kind+" "+subject]) > 0 }

func (lg *bundleLog) hasDetail(kind, subject, key, value string) bool {
	for _, i := range lg.index[kind+" "+subject] {
		if lg.events[i].Detail[key] == value {
			return true
		}
	}
	return false
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

// first is the time of the first entry of a kind and subject.
func (lg *bundleLog) first(kind, subject string) (time.Time, bool) {
	is := lg.index[kind+" "+subject]
	if len(is) == 0 {
		return time.Time{}, false
	}
	return lg.events[is[0]].Time, true
}

// revokedBefore is the first policy version, made at or before t, that
// revokes the key a decision was signed with (a revocation applies from
// the moment its version exists), or nil.
func revokedBefore(chainOf []*policy.Policy, ch *proposal.Checked, t time.Time) *policy.Policy {
	did := ""
	if ch.Device != nil {
		did = ch.Device.ID
	}
	for _, v := range chainOf {
		if v.Created == 0 || time.Unix(v.Created, 0).After(t) {
			continue
		}
		part, ok := v.Participant(ch.Participant.ID)
		if !ok {
			continue
		}
		if part.Revoked != nil {
			return v
		}
		for _, d := range part.Devices {
			if d.ID == did && d.Revoked != nil {
				return v
			}
		}
	}
	return nil
}
