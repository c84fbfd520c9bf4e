package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/transport/media"
	"github.com/airlock-vault/airlock/workspace"
)

func (e *env) media(args []string) error {
	if len(args) == 0 || args[0] != "allow" {
		return usagef("media: want allow DIR")
	}
	pos, err := parse(e.flags("media allow"), args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("media allow: want one folder")
	}
	dir, err := realDir(pos[0])
	if err != nil {
		return err
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	if err := ws.AllowMedia(dir); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "exports may now write to %s\n", dir)
	return nil
}

func realDir(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("%s is not a folder", p)
	}
	return real, nil
}

func allowed(ws *workspace.Workspace, dir string) bool {
	for _, a := range ws.Config.MediaAllow {
		if dir == a || strings.HasPrefix(dir, a+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// peerOrigin names the workspace of a policy member: "station/alice" for
// a participant, "coordinator/coord" for a coordinator.
func peerOrigin(pol *policy.Policy, name string) (string, error) {
	if _, ok := pol.Coordinator(name); ok {
		return "coordinator/" + name, nil
	}
	if _, ok := pol.Participant(name); ok {
		return "station/" + name, nil
	}
	return "", fmt.Errorf("%q is neither a coordinator nor a participant of policy %s", name, pol.Name)
}

func (e *env) export(args []string) error {
	fs := e.flags("export")
	dir := fs.String("media", "", "the removable media folder (on the allowlist)")
	to := fs.String("to", "", "the receiving station (participant id) or coordinator")
	purpose := fs.String("purpose", "", "why it travels (default: by kind)")
	out := fs.String("out", "", "write a kept output (decision, proof, final transaction, manifest) to this file")
	passFile := e.secretFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 1 && *out != "" && *dir == "" && *to == "" {
		return e.exportStored(pos[0], *out)
	}
	if len(pos) != 1 || *dir == "" || *to == "" {
		return usagef("export: want ID|FILE --media DIR --to NAME")
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	real, err := realDir(*dir)
	if err != nil {
		return err
	}
	if !allowed(ws, real) {
		list := "none"
		if len(ws.Config.MediaAllow) > 0 {
			list = strings.Join(ws.Config.MediaAllow, ", ")
		}
		return withHint(fmt.Errorf("%w: %s (allowlist: %s); nothing written", media.ErrNotListed, real, list), "add it with 'airlock media allow DIR' if this medium is meant for transfers")
	}
	pol, polID, err := ws.Policy(e.reg)
	if err != nil {
		return err
	}
	dest, err := peerOrigin(pol, *to)
	if err != nil {
		return err
	}
	a, err := e.artifactEnvelope(ws, pos[0])
	if err != nil {
		return err
	}
	destRole, _, _ := strings.Cut(dest, "/")
	if !media.Accepts(destRole, a.Type) {
		return fmt.Errorf("%w: a %s does not go to a %s", media.ErrDirection, a.Type, destRole)
	}
	raw, err := a.Encode()
	if err != nil {
		return err
	}
	ks, err := e.unlock(ws, passFile)
	if err != nil {
		return err
	}
	defer ks.Close()
	digest := sha256.Sum256(raw)
	id := a.ID()
	m := &media.Manifest{Format: 1, Digest: digest[:], Kind: a.Type, Artifact: id[:], Origin: ws.Config.Origin(),
		Destination: dest, Purpose: *purpose, Time: e.now().UTC().Unix(), Policy: polID[:]}
	if m.Purpose == "" {
		m.Purpose = map[string]string{envelope.TypeProposal: "review and sign", envelope.TypePolicy: "adopt policy version", envelope.TypeApproval: "collect",
			envelope.TypeRelease: "free the claims of an ended proposal"}[a.Type]
	}
	if a.Type == envelope.TypeProposal {
		if p, err := proposal.Decode(a); err == nil {
			if v, ok := pol.Vault(p.Vault); ok {
				m.Required = v.Threshold
			}
			if r, err := e.reviewPayload(pol, p); err == nil {
				m.TxID = r
			}
		}
	}
	// The sequence number, the checkpoint, the signed manifest and the
	// entry that records them are one transaction; the manifest is kept,
	// so a failed write to the media can be redone with 'export ID --out'.
	var menv *envelope.Envelope
	var base string
	err = ws.Update(context.Background(), func(tx store.Tx) error {
		last, err := tx.Sequence("out:" + dest)
		if err != nil {
			return err
		}
		m.Sequence = last + 1
		if ws.Config.Role == workspace.Coordinator {
			// Carry the latest checkpoint and a proof that it extends the
			// last one this station witnessed.
			if err := attachCheckpoint(ws, tx, ks, m, *to); err != nil {
				return err
			}
		}
		if menv, err = media.Seal(m, ks.identity); err != nil {
			return err
		}
		mraw, err := menv.Encode()
		if err != nil {
			return err
		}
		base = fmt.Sprintf("%04d-%s-%s.%s-to-%s", m.Sequence, media.ShortKind(a.Type), a.IDHex()[:16], ws.Config.Name, *to)
		if _, err := tx.Log(ws.Event("transfer.exported", a.IDHex(), map[string]string{"peer": dest, "sequence": strconv.FormatUint(m.Sequence, 10),
			"kind": a.Type, "digest": hex.EncodeToString(digest[:]), "file": base + ".airlock", "purpose": m.Purpose, "manifest": menv.IDHex()})); err != nil {
			return err
		}
		if err := tx.SetSequence("out:"+dest, m.Sequence); err != nil {
			return err
		}
		if ws.Config.Role == workspace.Coordinator {
			if err := tx.PutWitness(fmt.Sprintf("sent:%s:%012d", *to, mustSize(tx)-1), []byte{1}); err != nil {
				return err
			}
		}
		return tx.PutArtifact(store.Artifact{ID: menv.ID(), Kind: "manifest", Name: base + ".manifest", Data: mraw})
	})
	if err != nil {
		return err
	}
	if err := e.checkpoint(ws, ks); err != nil {
		return err
	}
	hint := fmt.Sprintf("the transfer is recorded; write it again with 'airlock export %s --out FILE' (the manifest) and 'airlock export %s --out FILE' (the artifact)", menv.IDHex()[:16], a.IDHex()[:16])
	if err := workspace.WriteFileAtomic(filepath.Join(real, base+".airlock"), raw, 0o644); err != nil {
		return withHint(err, hint)
	}
	if err := writeEnvelope(filepath.Join(real, base+".manifest"), menv); err != nil {
		os.Remove(filepath.Join(real, base+".airlock"))
		return withHint(err, hint)
	}
	fmt.Fprintf(e.stdout, "exported %s %s to %s as transfer %d on %s\n", media.ShortKind(a.Type), a.IDHex()[:16], dest, m.Sequence, real)
	return nil
}

// artifactEnvelope loads an envelope from a file, a proposal id, or (at a
// station) the station's own decision on a proposal id.
func (e *env) artifactEnvelope(ws *workspace.Workspace, ref string) (*envelope.Envelope, error) {
	if fi, err := os.Stat(ref); err == nil && fi.Mode().IsRegular() {
		return readEnvelope(ref)
	}
	pe, err := ws.Proposal(ref)
	if errors.Is(err, workspace.ErrNotFound) {
		// A kept output: a release, a decision, a proof.
		var found []store.Artifact
		if verr := ws.View(context.Background(), func(r store.Reader) (err error) {
			found, err = r.FindArtifacts(ref)
			return err
		}); verr != nil {
			return nil, verr
		}
		if len(found) == 1 && found[0].Kind != "final" {
			return envelope.Decode(found[0].Data)
		}
	}
	if err != nil {
		return nil, err
	}
	if ws.Config.Role == workspace.Station {
		return ws.Decision(pe.ID())
	}
	return pe, nil
}

func (e *env) reviewPayload(pol *policy.Policy, p *proposal.Proposal) (string, error) {
	a, err := e.reg.Lookup(p.Chain)
	if err != nil {
		return "", err
	}
	cv, err := proposal.ChainVault(p, pol)
	if err != nil {
		return "", err
	}
	rv, err := a.Review(nil, cv, p.Payload)
	if err != nil {
		return "", err
	}
	return rv.TxID, nil
}

func mustSize(tx store.Tx) int64 {
	n, _ := tx.Audit().Size()
	return n
}

// attachCheckpoint signs a checkpoint of the log as it stands before the
// export's own entry, and proves it extends each one sent to the station.
func attachCheckpoint(ws *workspace.Workspace, tx store.Tx, ks *keyring, m *media.Manifest, station string) error {
	l, err := audit.New(tx.AuditWriter(), ws.Config.LogOrigin(), ks.identity)
	if err != nil {
		return err
	}
	cp, err := l.Checkpoint()
	if err != nil {
		return err
	}
	m.Checkpoint = cp
	// Prove consistency from every checkpoint recently sent to this station:
	// whichever it last saw, one proof starts there.
	var froms []int64
	sent, err := tx.Witnesses("sent:" + station + ":")
	if err != nil {
		return err
	}
	for k := range sent {
		n, _ := strconv.ParseInt(k[strings.LastIndexByte(k, ':')+1:], 10, 64)
		froms = append(froms, n)
	}
	sort.Slice(froms, func(i, j int) bool { return froms[i] > froms[j] })
	for _, from := range froms {
		if len(m.Proofs) == media.MaxProofs {
			break
		}
		if from < 1 || from >= l.Size() {
			continue
		}
		proof, err := l.ConsistencyProof(from, l.Size())
		if err != nil {
			return err
		}
		p := media.Proof{From: from}
		for _, h := range proof {
			p.Hashes = append(p.Hashes, append([]byte{}, h[:]...))
		}
		m.Proofs = append(m.Proofs, p)
	}
	return nil
}

func (e *env) importMedia(args []string) error {
	pos, err := parse(e.flags("import"), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("import: want the media folder")
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	pol, _, err := ws.Policy(e.reg)
	if err != nil {
		return err
	}
	names, err := filepath.Glob(filepath.Join(pos[0], "*.manifest"))
	if err != nil {
		return err
	}
	type item struct {
		path string
		env  *envelope.Envelope
		m    *media.Manifest
	}
	var mine []item
	others := 0
	for _, n := range names {
		menv, err := readEnvelope(n)
		if err != nil {
			return fmt.Errorf("%s: %w; nothing imported", filepath.Base(n), err)
		}
		m, err := media.Open(menv, pol)
		if err != nil {
			return fmt.Errorf("%s: %w; nothing imported", filepath.Base(n), err)
		}
		if m.Destination != ws.Config.Origin() {
			others++
			continue
		}
		mine = append(mine, item{n, menv, m})
	}
	sort.Slice(mine, func(i, j int) bool {
		if mine[i].m.Origin != mine[j].m.Origin {
			return mine[i].m.Origin < mine[j].m.Origin
		}
		return mine[i].m.Sequence < mine[j].m.Sequence
	})
	imported, refused := 0, 0
	for _, it := range mine {
		if err := e.importOne(ws, pol, it.path, it.m); err != nil {
			refused++
			fmt.Fprintf(e.stderr, "airlock: refused %s: %v\n", filepath.Base(it.path), err)
			e.logger(ws, nil)("transfer.refused", hex.EncodeToString(it.m.Artifact), map[string]string{"peer": it.m.Origin,
				"sequence": strconv.FormatUint(it.m.Sequence, 10), "reason": err.Error()})
			continue
		}
		imported++
	}
	fmt.Fprintf(e.stdout, "imported %d, refused %d, %d for other workspaces left alone\n", imported, refused, others)
	if refused > 0 {
		return &refusedError{fmt.Sprintf("import: %d transfers refused", refused)}
	}
	return nil
}

func (e *env) importOne(ws *workspace.Workspace, pol *policy.Policy, manifestPath string, m *media.Manifest) error {
	if !media.Accepts(ws.Config.Role, m.Kind) {
		return fmt.Errorf("%w: a %s does not come to a %s", media.ErrDirection, m.Kind, ws.Config.Role)
	}
	raw, err := readArtifact(strings.TrimSuffix(manifestPath, ".manifest") + ".airlock")
	if err != nil {
		return err
	}
	a, err := m.CheckArtifact(raw)
	if err != nil {
		return err
	}
	last := ws.LastReceived(m.Origin)
	if m.Sequence <= last {
		return fmt.Errorf("%w: transfer %d from %s, %d already received", media.ErrReplay, m.Sequence, m.Origin, last)
	}
	gap := ""
	if m.Sequence > last+1 {
		gap = fmt.Sprintf("%d..%d", last+1, m.Sequence-1)
		fmt.Fprintf(e.stderr, "airlock: warning: transfers %s from %s never arrived (a gap)\n", gap, m.Origin)
	}
	detail := map[string]string{"peer": m.Origin, "sequence": strconv.FormatUint(m.Sequence, 10), "kind": m.Kind,
		"digest": hex.EncodeToString(m.Digest), "purpose": m.Purpose}
	if gap != "" {
		detail["gap"] = gap
	}
	// What the import changes, its sequence number, the sender's checkpoint
	// it witnessed and its entry commit together.
	record := func(tx store.Tx) error {
		n, err := tx.Sequence("in:" + m.Origin)
		if err != nil {
			return err
		}
		if m.Sequence <= n {
			return fmt.Errorf("%w: transfer %d from %s, %d already received", media.ErrReplay, m.Sequence, m.Origin, n)
		}
		if err := tx.SetSequence("in:"+m.Origin, m.Sequence); err != nil {
			return err
		}
		if len(m.Checkpoint) > 0 {
			return witness(tx, pol, m)
		}
		return nil
	}
	ctx := context.Background()
	switch a.Type {
	case envelope.TypeProposal:
		err = ws.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.Log(ws.Event("transfer.imported", a.IDHex(), detail)); err != nil {
				return err
			}
			if _, err := tx.Proposal(a.ID()); err != nil {
				if err := tx.PutProposal(store.Proposal{ID: a.ID(), Envelope: raw, State: "held"}); err != nil {
					return err
				}
			}
			return record(tx)
		})
	case envelope.TypePolicy:
		_, err = ws.AddPolicy(a, e.reg, func(*policy.Policy) (string, map[string]string) { return "transfer.imported", detail }, record)
	case envelope.TypeRelease:
		_, err = e.station(ws).ApplyRelease(ctx, raw, func(tx store.Tx) error {
			if _, err := tx.Log(ws.Event("transfer.imported", a.IDHex(), detail)); err != nil {
				return err
			}
			return record(tx)
		})
	case envelope.TypeApproval:
		_, err = e.coordinator(ws).Collect(ctx, raw, func(tx store.Tx) error {
			if _, err := tx.Log(ws.Event("transfer.imported", a.IDHex(), detail)); err != nil {
				return err
			}
			return record(tx)
		})
	default:
		err = fmt.Errorf("%w: a %s does not come to a %s", media.ErrDirection, m.Kind, ws.Config.Role)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "imported %s %s from %s (transfer %d, %s)\n", media.ShortKind(a.Type), a.IDHex()[:16], m.Origin, m.Sequence, m.Purpose)
	return nil
}

// witness checks the sender's checkpoint against the last one this station
// saw and keeps it: a log that shrank or forked stops the import. A stored
// checkpoint that cannot be read stops it too (never taken as "none").
func witness(tx store.Tx, pol *policy.Policy, m *media.Manifest) error {
	pub, err := media.SenderKey(pol, m.Origin)
	if err != nil {
		return err
	}
	origin := "airlock/" + m.Origin
	cp, err := audit.OpenCheckpoint(m.Checkpoint, origin, ed25519.PublicKey(pub))
	if err != nil {
		return err
	}
	prev, err := tx.Witness("seen:" + m.Origin)
	if err != nil {
		return err
	}
	if prev != nil {
		old, err := audit.OpenCheckpoint(prev, origin, ed25519.PublicKey(pub))
		if err != nil {
			return err
		}
		var proof []tlogHash
		if cp.Size > old.Size {
			found := false
			for _, p := range m.Proofs {
				if p.From != old.Size {
					continue
				}
				for _, h := range p.Hashes {
					if len(h) != 32 {
						return errors.New("media: malformed consistency proof")
					}
					proof = append(proof, tlogHash(h))
				}
				found = true
			}
			if !found {
				return fmt.Errorf("%s's audit log: %w: nothing proves it extends the %d-entry checkpoint this station last saw: it forked or was rewritten; refusing to go on", m.Origin, audit.ErrTampered, old.Size)
			}
		}
		if err := audit.CheckConsistency(old, cp, proof); err != nil {
			return fmt.Errorf("%s's audit log: %w; refusing to go on", m.Origin, err)
		}
	}
	return tx.PutWitness("seen:"+m.Origin, m.Checkpoint)
}

// custody gives a station's transfer record and its cosignature of the
// latest coordinator checkpoint it checked.
func (e *env) custody(ws *workspace.Workspace) func(keys.Identity) ([]proposal.Transfer, *proposal.Witness, error) {
	return func(id keys.Identity) ([]proposal.Transfer, *proposal.Witness, error) {
		ts, err := e.transfers(ws)
		if err != nil {
			return nil, nil, err
		}
		var w *proposal.Witness
		for origin, cp := range ws.Witnesses("seen:") {
			pol, _, err := ws.Policy(e.reg)
			if err != nil {
				return nil, nil, err
			}
			peer := strings.TrimPrefix(origin, "seen:")
			pub, err := media.SenderKey(pol, peer)
			if err != nil {
				return nil, nil, err
			}
			c, err := audit.OpenCheckpoint(cp, "airlock/"+peer, ed25519.PublicKey(pub))
			if err != nil {
				return nil, nil, err
			}
			cs, err := audit.Cosign(id, c.Body, e.now().UTC().Unix())
			if err != nil {
				return nil, nil, err
			}
			w = &proposal.Witness{Checkpoint: cp, Time: cs.Time, Signature: cs.Signature}
		}
		if len(ts) > proposal.MaxTransfers {
			ts = ts[len(ts)-proposal.MaxTransfers:]
		}
		return ts, w, nil
	}
}

// transfers reads the workspace's transfer record from its audit log.
func (e *env) transfers(ws *workspace.Workspace) ([]proposal.Transfer, error) {
	entries, err := logEntries(ws)
	if err != nil {
		return nil, err
	}
	var out []proposal.Transfer
	for _, en := range entries {
		dir := map[string]string{"transfer.exported": "out", "transfer.imported": "in"}[en.Event.Kind]
		if dir == "" {
			continue
		}
		d := en.Event.Detail
		seq, _ := strconv.ParseUint(d["sequence"], 10, 64)
		dg, _ := hex.DecodeString(d["digest"])
		out = append(out, proposal.Transfer{Direction: dir, Peer: d["peer"], Sequence: seq, Kind: d["kind"], Digest: dg})
	}
	return out, nil
}

func (e *env) auditTransfers(args []string) error {
	if _, err := parse(e.flags("audit transfers"), args); err != nil {
		return err
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	entries, err := logEntries(ws)
	if err != nil {
		return err
	}
	n := 0
	for _, en := range entries {
		if !strings.HasPrefix(en.Event.Kind, "transfer.") {
			continue
		}
		n++
		d := en.Event.Detail
		arrow := map[string]string{"transfer.exported": "->", "transfer.imported": "<-", "transfer.refused": "x-"}[en.Event.Kind]
		fmt.Fprintf(e.stdout, "%4d  %s  %s %-22s #%-4s %-10s %s", en.Index, en.Event.Time.Format(time.RFC3339), arrow, d["peer"], d["sequence"], media.ShortKind(d["kind"]), short16(en.Event.Subject))
		if d["gap"] != "" {
			fmt.Fprintf(e.stdout, "  gap %s", d["gap"])
		}
		if d["reason"] != "" {
			fmt.Fprintf(e.stdout, "  refused: %s", d["reason"])
		}
		fmt.Fprintln(e.stdout)
	}
	if n == 0 {
		fmt.Fprintln(e.stdout, "no transfers")
	}
	return nil
}

func short16(s string) string {
	if len(s) > 16 {
		return s[:16]
	}
	return s
}

// reconcile compares each station's transfer record, signed inside its
// latest approval, with the coordinator's own.
func (e *env) reconcile(args []string) error {
	if _, err := parse(e.flags("reconcile"), args); err != nil {
		return err
	}
	ws, err := e.openRole(workspace.Coordinator)
	if err != nil {
		return err
	}
	defer ws.Close()
	mine, err := e.transfers(ws)
	if err != nil {
		return err
	}
	// The latest approval of each participant carries its record.
	latest := map[string]*proposal.Approval{}
	props, err := ws.Proposals()
	if err != nil {
		return err
	}
	for _, pe := range props {
		aps, err := ws.Approvals(pe.ID())
		if err != nil {
			return err
		}
		for who, ae := range aps {
			a, err := proposal.DecodeApproval(ae)
			if err != nil {
				return err
			}
			if prev, ok := latest[who]; !ok || a.Time > prev.Time || (a.Time == prev.Time && len(a.Transfers) > len(prev.Transfers)) {
				latest[who] = a
			}
		}
	}
	alarms, pending := 0, 0
	for _, who := range workspace.SortedKeys(latest) {
		station := "station/" + who
		theirs := latest[who].Transfers
		key := func(dir string, seq uint64) string { return dir + ":" + strconv.FormatUint(seq, 10) }
		have := map[string][]byte{}
		maxIn, maxOut := uint64(0), uint64(0)
		for _, t := range theirs {
			if t.Peer != ws.Config.Origin() {
				continue
			}
			have[key(t.Direction, t.Sequence)] = t.Digest
			if t.Direction == "in" {
				maxIn = max(maxIn, t.Sequence)
			} else {
				maxOut = max(maxOut, t.Sequence)
			}
		}
		seen := map[string]bool{}
		for _, t := range mine {
			if t.Peer != station {
				continue
			}
			// My "out" is their "in", and the reverse.
			k := key(map[string]string{"out": "in", "in": "out"}[t.Direction], t.Sequence)
			seen[k] = true
			d, ok := have[k]
			switch {
			case ok && string(d) != string(t.Digest):
				alarms++
				fmt.Fprintf(e.stdout, "DIFFERS  %s transfer %d (%s): coordinator %x, %s %x\n", who, t.Sequence, media.ShortKind(t.Kind), t.Digest[:8], who, d[:8])
			case !ok && t.Direction == "out" && t.Sequence <= maxIn:
				alarms++
				fmt.Fprintf(e.stdout, "MISSING  %s never received transfer %d (%s) the coordinator sent\n", who, t.Sequence, media.ShortKind(t.Kind))
			case !ok && t.Direction == "in" && t.Sequence <= maxOut:
				alarms++
				fmt.Fprintf(e.stdout, "FOREIGN  the coordinator received transfer %d (%s) that %s never sent\n", t.Sequence, media.ShortKind(t.Kind), who)
			case !ok:
				pending++
				fmt.Fprintf(e.stdout, "pending  transfer %d (%s) after %s's latest record\n", t.Sequence, media.ShortKind(t.Kind), who)
			}
		}
		for k := range have {
			if !seen[k] {
				alarms++
				dir, seq, _ := strings.Cut(k, ":")
				what := map[string]string{"in": "received from the coordinator a transfer it never sent", "out": "sent a transfer the coordinator never received"}[dir]
				fmt.Fprintf(e.stdout, "UNKNOWN  %s %s: #%s\n", who, what, seq)
			}
		}
	}
	fmt.Fprintf(e.stdout, "reconciled %d stations: %d discrepancies, %d pending\n", len(latest), alarms, pending)
	if alarms > 0 {
		return &refusedError{fmt.Sprintf("reconcile: %d discrepancies", alarms)}
	}
	return nil
}

// logEntries reads every entry of ws's audit log.
func logEntries(ws *workspace.Workspace) ([]audit.Entry, error) {
	var out []audit.Entry
	err := ws.AuditLog(context.Background(), func(l *audit.Log) (err error) {
		out, err = l.Entries()
		return err
	})
	return out, err
}
