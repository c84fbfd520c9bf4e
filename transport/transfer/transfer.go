// Package transfer carries artifacts across the air gap on removable
// media and keeps the chain of custody: the checks that guard the
// boundary live here, not in the command line.
//
// Export writes an artifact and its signed manifest (package media) to an
// allowlisted folder, for one named peer, only in the directions the
// workflow allows (proposals, policies and releases toward stations,
// decisions toward the coordinator). A coordinator's manifest carries its
// latest checkpoint and proofs that it extends each one it sent that
// station. The sequence number, the checkpoint, the manifest and the entry
// that records them are one store transaction; the manifest is kept, so a
// failed write to the media loses nothing.
//
// Import takes the transfers addressed to this workspace, in sequence
// order per sender, and refuses, each with its reason: a manifest that
// does not verify under the policy, a direction the workflow does not
// allow, an artifact whose digest is not the manifest's, a sequence number
// already received (a replay), and a sender's checkpoint that does not
// extend the last one seen (a forked or rewritten log; a stored checkpoint
// that cannot be read stops the import, never read as "none"). What an
// import changes, its sequence number and the checkpoint it witnessed
// commit together with its entry.
package transfer

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/transport/media"
	"github.com/airlock-vault/airlock/workspace"
)

// Gap is one workspace's side of the air gap.
type Gap struct {
	WS  *workspace.Workspace
	Reg *chain.Registry
	// AcceptRestored, when set, is why a peer's restored log is taken:
	// a transfer refused only because its sender's log no longer extends
	// the checkpoint kept here, made after the medium that brought it, is
	// imported and the acceptance logged (restored.go).
	AcceptRestored string
}

// RealDir resolves a media folder to its absolute path with symbolic
// links followed, and checks it is a folder.
func RealDir(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("transfer: %s is not a folder", p)
	}
	return real, nil
}

// Allowed reports whether exports may write to dir (a resolved path).
func Allowed(ws *workspace.Workspace, dir string) bool {
	for _, a := range ws.Config.MediaAllow {
		if dir == a || strings.HasPrefix(dir, a+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// PeerOrigin names the workspace of a policy member: "station/alice" for
// a participant, "coordinator/coord" for a coordinator.
func PeerOrigin(pol *policy.Policy, name string) (string, error) {
	if _, ok := pol.Coordinator(name); ok {
		return "coordinator/" + name, nil
	}
	if _, ok := pol.Participant(name); ok {
		return "station/" + name, nil
	}
	return "", fmt.Errorf("transfer: %q is neither a coordinator nor a participant of policy %s", name, pol.Name)
}

// Exported is what Export wrote.
type Exported struct {
	Artifact *envelope.Envelope
	Manifest *envelope.Envelope
	Dest     string // the peer's origin
	Sequence uint64
	Dir      string
	Base     string // file name without extension
	// WriteErr is set when the transfer was recorded but its files could
	// not be written: nothing is lost (the manifest and artifact are kept).
	WriteErr error
}

// Export hands a to the peer named to, through the allowlisted folder dir.
func (g *Gap) Export(ctx context.Context, a *envelope.Envelope, dir, to, purpose string, id keys.Identity) (*Exported, error) {
	ws := g.WS
	real, err := RealDir(dir)
	if err != nil {
		return nil, err
	}
	if !Allowed(ws, real) {
		list := "none"
		if len(ws.Config.MediaAllow) > 0 {
			list = strings.Join(ws.Config.MediaAllow, ", ")
		}
		return nil, fmt.Errorf("%w: %s (allowlist: %s); nothing written", media.ErrNotListed, real, list)
	}
	pol, polID, err := ws.Policy(g.Reg)
	if err != nil {
		return nil, err
	}
	dest, err := PeerOrigin(pol, to)
	if err != nil {
		return nil, err
	}
	destRole, _, _ := strings.Cut(dest, "/")
	if !media.Accepts(destRole, a.Type) {
		return nil, fmt.Errorf("%w: a %s does not go to a %s", media.ErrDirection, a.Type, destRole)
	}
	raw, err := a.Encode()
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(raw)
	aid := a.ID()
	m := &media.Manifest{Format: 1, Digest: digest[:], Kind: a.Type, Artifact: aid[:], Origin: ws.Config.Origin(),
		Destination: dest, Purpose: purpose, Time: ws.Now().UTC().Unix(), Policy: polID[:]}
	if m.Purpose == "" {
		m.Purpose = map[string]string{envelope.TypeProposal: "review and sign", envelope.TypePolicy: "adopt policy version", envelope.TypeApproval: "collect",
			envelope.TypeRelease: "free the claims of an ended proposal"}[a.Type]
	}
	if a.Type == envelope.TypeProposal {
		if p, err := proposal.Decode(a); err == nil {
			if v, ok := pol.Vault(p.Vault); ok {
				m.Required = v.Threshold
			}
			if rv, err := proposal.Review(ctx, g.Reg, p, pol); err == nil {
				m.TxID = rv.TxID
			}
		}
	}
	out := &Exported{Artifact: a, Dest: dest, Dir: real}
	err = ws.Update(ctx, func(tx store.Tx) error {
		last, err := tx.Sequence("out:" + dest)
		if err != nil {
			return err
		}
		m.Sequence = last + 1
		if ws.Config.Role == workspace.Coordinator {
			if err := attachCheckpoint(ws, tx, id, m, to); err != nil {
				return err
			}
		}
		if out.Manifest, err = media.Seal(m, id); err != nil {
			return err
		}
		mraw, err := out.Manifest.Encode()
		if err != nil {
			return err
		}
		out.Base = fmt.Sprintf("%04d-%s-%s.%s-to-%s", m.Sequence, media.ShortKind(a.Type), a.IDHex()[:16], ws.Config.Name, to)
		if _, err := tx.Log(ws.Event("transfer.exported", a.IDHex(), map[string]string{"peer": dest, "sequence": strconv.FormatUint(m.Sequence, 10),
			"kind": a.Type, "digest": hex.EncodeToString(digest[:]), "file": out.Base + ".airlock", "purpose": m.Purpose, "manifest": out.Manifest.IDHex()})); err != nil {
			return err
		}
		if err := tx.SetSequence("out:"+dest, m.Sequence); err != nil {
			return err
		}
		if ws.Config.Role == workspace.Coordinator {
			n, err := tx.Audit().Size()
			if err != nil {
				return err
			}
			if err := tx.PutWitness(fmt.Sprintf("sent:%s:%012d", to, n-1), []byte{1}); err != nil {
				return err
			}
		}
		return tx.PutArtifact(store.Artifact{ID: out.Manifest.ID(), Kind: "manifest", Name: out.Base + ".manifest", Data: mraw})
	})
	if err != nil {
		return nil, err
	}
	out.Sequence = m.Sequence
	mraw, _ := out.Manifest.Encode()
	if err := workspace.WriteFileAtomic(filepath.Join(real, out.Base+".airlock"), raw, 0o644); err != nil {
		out.WriteErr = err
	} else if err := workspace.WriteFileAtomic(filepath.Join(real, out.Base+".manifest"), mraw, 0o644); err != nil {
		os.Remove(filepath.Join(real, out.Base+".airlock"))
		out.WriteErr = err
	}
	return out, nil
}

// attachCheckpoint signs a checkpoint of the log as it stands before the
// export's own entry, and proves it extends each one sent to the station.
func attachCheckpoint(ws *workspace.Workspace, tx store.Tx, id keys.Identity, m *media.Manifest, station string) error {
	l, err := audit.New(tx.AuditWriter(), ws.Config.LogOrigin(), id)
	if err != nil {
		return err
	}
	cp, err := l.Checkpoint()
	if err != nil {
		return err
	}
	m.Checkpoint = cp
	// Prove consistency from every checkpoint recently sent to this
	// station: whichever it last saw, one proof starts there.
	sent, err := tx.Witnesses("sent:" + station + ":")
	if err != nil {
		return err
	}
	var froms []int64
	for k := range sent {
		n, err := strconv.ParseInt(k[strings.LastIndexByte(k, ':')+1:], 10, 64)
		if err != nil {
			return fmt.Errorf("%w: witness record %q", store.ErrCorrupt, k)
		}
		froms = append(froms, n)
	}
	sort.Slice(froms, func(i, j int) bool { return froms[i] > froms[j] })
	size := l.Size()
	for _, from := range froms {
		if len(m.Proofs) == media.MaxProofs {
			break
		}
		if from < 1 || from >= size {
			continue
		}
		proof, err := l.ConsistencyProof(from, size)
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

// Item is one transfer addressed to this workspace.
type Item struct {
	Path     string // the manifest's file
	Manifest *media.Manifest
	Artifact *envelope.Envelope // set once imported
	Gap      string             // sequence numbers from the sender that never arrived
	Err      error              // why it was refused (logged as transfer.refused)
	// Restored: the sender's restored log was taken with this transfer
	// (Gap.AcceptRestored; its transfer.imported entry says so).
	Restored bool
}

// Report is what Import found.
type Report struct {
	Items  []Item
	Others int // transfers for other workspaces, left alone
}

// Refused counts the refused items.
func (r *Report) Refused() int {
	n := 0
	for _, it := range r.Items {
		if it.Err != nil {
			n++
		}
	}
	return n
}

// Import takes the transfers in dir addressed to this workspace. A
// manifest that does not verify stops the whole import, nothing imported;
// a transfer refused for its own reason is logged and skipped.
func (g *Gap) Import(ctx context.Context, dir string) (*Report, error) {
	ws := g.WS
	pol, _, err := ws.Policy(g.Reg)
	if err != nil {
		return nil, err
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.manifest"))
	if err != nil {
		return nil, err
	}
	rep := &Report{}
	for _, n := range names {
		raw, err := readBounded(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w; nothing imported", filepath.Base(n), err)
		}
		menv, err := envelope.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w; nothing imported", filepath.Base(n), err)
		}
		m, err := media.Open(menv, pol)
		if err != nil {
			return nil, fmt.Errorf("%s: %w; nothing imported", filepath.Base(n), err)
		}
		if m.Destination != ws.Config.Origin() {
			rep.Others++
			continue
		}
		rep.Items = append(rep.Items, Item{Path: n, Manifest: m})
	}
	sort.Slice(rep.Items, func(i, j int) bool {
		a, b := rep.Items[i].Manifest, rep.Items[j].Manifest
		if a.Origin != b.Origin {
			return a.Origin < b.Origin
		}
		return a.Sequence < b.Sequence
	})
	for i := range rep.Items {
		it := &rep.Items[i]
		if it.Err = g.importOne(ctx, pol, it); it.Err != nil {
			if err := ws.Log(ctx, "transfer.refused", hex.EncodeToString(it.Manifest.Artifact), map[string]string{"peer": it.Manifest.Origin,
				"sequence": strconv.FormatUint(it.Manifest.Sequence, 10), "reason": it.Err.Error()}); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// readBounded reads a file of at most envelope.MaxSize bytes.
func readBounded(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > envelope.MaxSize {
		return nil, fmt.Errorf("transfer: %s holds %d bytes, more than an artifact may", filepath.Base(path), fi.Size())
	}
	return os.ReadFile(path)
}

func (g *Gap) importOne(ctx context.Context, pol *policy.Policy, it *Item) error {
	ws, m := g.WS, it.Manifest
	if !media.Accepts(ws.Config.Role, m.Kind) {
		return fmt.Errorf("%w: a %s does not come to a %s", media.ErrDirection, m.Kind, ws.Config.Role)
	}
	raw, err := readBounded(strings.TrimSuffix(it.Path, ".manifest") + ".airlock")
	if err != nil {
		return err
	}
	a, err := m.CheckArtifact(raw)
	if err != nil {
		return err
	}
	var restored *restoreInfo
	if g.AcceptRestored != "" {
		// Only a transfer of the peer's restored log; any other goes
		// through the usual checks below.
		ws.View(ctx, func(r store.Reader) error {
			restored, _ = restoreCheck(r, pol, m)
			return nil
		})
	}
	last := ws.LastReceived(m.Origin)
	if m.Sequence <= last && restored == nil {
		return fmt.Errorf("%w: transfer %d from %s, %d already received", media.ErrReplay, m.Sequence, m.Origin, last)
	}
	if m.Sequence > last+1 && restored == nil {
		it.Gap = fmt.Sprintf("%d..%d", last+1, m.Sequence-1)
	}
	detail := map[string]string{"peer": m.Origin, "sequence": strconv.FormatUint(m.Sequence, 10), "kind": m.Kind,
		"digest": hex.EncodeToString(m.Digest), "purpose": m.Purpose}
	if it.Gap != "" {
		detail["gap"] = it.Gap
	}
	if restored != nil {
		restoreDetail(detail, restored, g.AcceptRestored, last)
	}
	record := func(tx store.Tx) error {
		if restored != nil {
			// Checked again inside the transaction: the kept checkpoint
			// must be the one the entry names.
			if err := acceptRestored(tx, pol, m, restored); err != nil {
				return err
			}
			it.Restored = true
			return nil
		}
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
	logged := func(tx store.Tx) error {
		if _, err := tx.Log(ws.Event("transfer.imported", a.IDHex(), detail)); err != nil {
			return err
		}
		return record(tx)
	}
	switch a.Type {
	case envelope.TypeProposal:
		if err := historyArrives(pol, a, m); err != nil {
			return err
		}
		err = ws.Update(ctx, func(tx store.Tx) error {
			if err := logged(tx); err != nil {
				return err
			}
			if _, err := tx.Proposal(a.ID()); err == nil {
				return nil
			}
			return tx.PutProposal(store.Proposal{ID: a.ID(), Envelope: raw, State: "held"})
		})
	case envelope.TypePolicy:
		_, err = ws.AddPolicy(a, g.Reg, func(*policy.Policy) (string, map[string]string) { return "transfer.imported", detail }, record)
	case envelope.TypeRelease:
		_, err = (&station.Station{WS: ws, Reg: g.Reg}).ApplyRelease(ctx, raw, logged)
	case envelope.TypeApproval:
		_, err = (&coordinator.Coordinator{WS: ws, Reg: g.Reg}).Collect(ctx, raw, logged)
	default:
		err = fmt.Errorf("%w: a %s does not come to a %s", media.ErrDirection, m.Kind, ws.Config.Role)
	}
	if err != nil {
		return err
	}
	it.Artifact = a
	return nil
}

// witness checks the sender's checkpoint against the last one this
// workspace saw and keeps it: a log that shrank or forked stops the
// import. A stored checkpoint that cannot be read stops it too.
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
			return fmt.Errorf("transfer: the checkpoint of %s this workspace kept does not verify: %w; refusing to go on", m.Origin, err)
		}
		var proof tlog.TreeProof
		if cp.Size > old.Size {
			var found bool
			if proof, found, err = proofFrom(m, old.Size); err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("%s's audit log: %w: nothing proves it extends the %d-entry checkpoint this station last saw: it forked or was rewritten; refusing to go on", m.Origin, audit.ErrTampered, old.Size)
			}
		}
		if err := audit.CheckConsistency(old, cp, proof); err != nil {
			return fmt.Errorf("%s's audit log: %w; refusing to go on", m.Origin, err)
		}
	}
	if err := tx.PutWitness("seen:"+m.Origin, m.Checkpoint); err != nil {
		return err
	}
	return putSeenAt(tx, m)
}

// Custody gives a station's transfer record and its cosignature of the
// latest coordinator checkpoint it checked, to be signed into a decision.
func (g *Gap) Custody(id keys.Identity) ([]proposal.Transfer, *proposal.Witness, error) {
	ws := g.WS
	ts, err := Transfers(ws)
	if err != nil {
		return nil, nil, err
	}
	var seen map[string][]byte
	if err := ws.View(context.Background(), func(r store.Reader) (err error) {
		seen, err = r.Witnesses("seen:")
		return err
	}); err != nil {
		return nil, nil, err
	}
	var w *proposal.Witness
	if len(seen) > 0 {
		pol, _, err := ws.Policy(g.Reg)
		if err != nil {
			return nil, nil, err
		}
		for _, key := range workspace.SortedKeys(seen) {
			peer := strings.TrimPrefix(key, "seen:")
			pub, err := media.SenderKey(pol, peer)
			if err != nil {
				return nil, nil, err
			}
			c, err := audit.OpenCheckpoint(seen[key], "airlock/"+peer, ed25519.PublicKey(pub))
			if err != nil {
				return nil, nil, err
			}
			cs, err := audit.Cosign(id, c.Body, ws.Now().UTC().Unix())
			if err != nil {
				return nil, nil, err
			}
			w = &proposal.Witness{Checkpoint: seen[key], Time: cs.Time, Signature: cs.Signature}
		}
	}
	if len(ts) > proposal.MaxTransfers {
		ts = ts[len(ts)-proposal.MaxTransfers:]
	}
	return ts, w, nil
}

// Transfers reads a workspace's transfer record from its audit log.
func Transfers(ws *workspace.Workspace) ([]proposal.Transfer, error) {
	var entries []audit.Entry
	err := ws.View(context.Background(), func(r store.Reader) (err error) {
		entries, err = ws.EventsOf(r, "transfer.exported", "transfer.imported")
		return err
	})
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
		seq, err := strconv.ParseUint(d["sequence"], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: bad sequence %q", audit.ErrTampered, en.Index, d["sequence"])
		}
		dg, err := hex.DecodeString(d["digest"])
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: bad digest", audit.ErrTampered, en.Index)
		}
		out = append(out, proposal.Transfer{Direction: dir, Peer: d["peer"], Sequence: seq, Kind: d["kind"], Digest: dg})
	}
	return out, nil
}
