package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/transport/media"
	"github.com/airlock-vault/airlock/transport/transfer"
	"github.com/airlock-vault/airlock/workspace"
)

func (e *env) mediaAllow(args []string) error {
	fs := e.flags("media allow")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("media allow: want one folder")
	}
	dir, err := transfer.RealDir(pos[0])
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
	if *asJSON {
		return printJSON(e.stdout, struct {
			Allowed string `json:"allowed"`
		}{dir})
	}
	fmt.Fprintf(e.stdout, "exports may now write to %s\n", dir)
	return nil
}

func (e *env) export(args []string) error {
	fs := e.flags("export")
	dir := fs.String("media", "", "the removable media folder (on the allowlist)")
	to := fs.String("to", "", "the receiving station (participant id) or coordinator")
	purpose := fs.String("purpose", "", "why it travels (default: by kind)")
	out := fs.String("out", "", "write a kept output (decision, proof, final transaction, manifest) to this file")
	kept := fs.Bool("proposal", false, "with --out: write the kept proposal itself (at a station, the one it decided on: for 'airlock readopt')")
	passFile := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 1 && *out != "" && *dir == "" && *to == "" {
		if *asJSON {
			return usagef("export --out: --json is for transfers to media; the output written is the file itself")
		}
		if *kept {
			return e.exportProposal(pos[0], *out)
		}
		return e.exportStored(pos[0], *out)
	}
	if *kept {
		return usagef("export --proposal: want ID --out F")
	}
	if len(pos) != 1 || *dir == "" || *to == "" {
		return usagef("export: want ID|FILE --media DIR --to NAME")
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	a, err := e.artifactEnvelope(ws, pos[0])
	if err != nil {
		return err
	}
	ks, err := e.unlock(ws, passFile)
	if err != nil {
		return err
	}
	defer ks.Close()
	x, err := (&transfer.Gap{WS: ws, Reg: reg}).Export(context.Background(), a, *dir, *to, *purpose, ks.Identity)
	if errors.Is(err, media.ErrNotListed) {
		return withHint(err, "add it with 'airlock media allow DIR' if this medium is meant for transfers")
	}
	if err != nil {
		return err
	}
	if err := e.checkpoint(ws, ks); err != nil {
		return err
	}
	if x.WriteErr != nil {
		return withHint(x.WriteErr, fmt.Sprintf("the transfer is recorded; write it again with 'airlock export %s --out FILE' (the manifest) and 'airlock export %s --out FILE' (the artifact)", x.Manifest.IDHex()[:16], a.IDHex()[:16]))
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			Kind        string `json:"kind"`
			Artifact    string `json:"artifact"`
			Destination string `json:"destination"`
			Sequence    uint64 `json:"sequence"`
			Media       string `json:"media"`
			Manifest    string `json:"manifest"`
		}{a.Type, a.IDHex(), x.Dest, x.Sequence, x.Dir, x.Manifest.IDHex()})
	}
	fmt.Fprintf(e.stdout, "exported %s %s to %s as transfer %d on %s\n", media.ShortKind(a.Type), a.IDHex()[:16], x.Dest, x.Sequence, x.Dir)
	return nil
}

// artifactEnvelope loads an envelope from a file, or what a reference
// names in the workspace (workspace.Find).
func (e *env) artifactEnvelope(ws *workspace.Workspace, ref string) (*envelope.Envelope, error) {
	if fi, err := os.Stat(ref); err == nil && fi.Mode().IsRegular() {
		return envelope.ReadFile(ref)
	}
	k, err := ws.Find(context.Background(), ref)
	if err != nil {
		return nil, err
	}
	return k.Env, nil
}

func (e *env) importMedia(args []string) error {
	fs := e.flags("import")
	acceptRestored := fs.String("accept-restored", "", "take a peer's restored log, for this reason (confirm the restore with its operator first)")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
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
	rep, err := (&transfer.Gap{WS: ws, Reg: reg, AcceptRestored: *acceptRestored}).Import(context.Background(), pos[0])
	if err != nil {
		return err
	}
	refused := rep.Refused()
	if *asJSON {
		type item struct {
			File     string `json:"file"`
			Result   string `json:"result"` // imported, refused
			Reason   string `json:"reason,omitempty"`
			Kind     string `json:"kind,omitempty"`
			Artifact string `json:"artifact,omitempty"`
			Origin   string `json:"origin,omitempty"`
			Sequence uint64 `json:"sequence,omitempty"`
			Gap      string `json:"gap,omitempty"`
			Restored bool   `json:"restoredLogAccepted,omitempty"`
		}
		items := []item{}
		for _, it := range rep.Items {
			if it.Err != nil {
				items = append(items, item{File: filepath.Base(it.Path), Result: "refused", Reason: it.Err.Error()})
				continue
			}
			items = append(items, item{filepath.Base(it.Path), "imported", "", it.Artifact.Type, it.Artifact.IDHex(), it.Manifest.Origin, it.Manifest.Sequence, it.Gap, it.Restored})
		}
		if err := printJSON(e.stdout, struct {
			Items    []item `json:"items"`
			Imported int    `json:"imported"`
			Refused  int    `json:"refused"`
			Others   int    `json:"forOthers"`
		}{items, len(rep.Items) - refused, refused, rep.Others}); err != nil {
			return err
		}
		if refused > 0 {
			return &refusedError{fmt.Sprintf("import: %d transfers refused", refused)}
		}
		return nil
	}
	for _, it := range rep.Items {
		m := it.Manifest
		if it.Err != nil {
			fmt.Fprintf(e.stderr, "airlock: refused %s: %v\n", filepath.Base(it.Path), it.Err)
			continue
		}
		if it.Gap != "" {
			fmt.Fprintf(e.stderr, "airlock: warning: transfers %s from %s never arrived (a gap)\n", it.Gap, m.Origin)
		}
		if it.Restored {
			fmt.Fprintf(e.stdout, "accepted %s's restored log (its checkpoint and sequence numbers start again here; logged)\n", m.Origin)
		}
		fmt.Fprintf(e.stdout, "imported %s %s from %s (transfer %d, %s)\n", media.ShortKind(it.Artifact.Type), it.Artifact.IDHex()[:16], m.Origin, m.Sequence, m.Purpose)
	}
	fmt.Fprintf(e.stdout, "imported %d, refused %d, %d for other workspaces left alone\n", len(rep.Items)-refused, refused, rep.Others)
	if refused > 0 {
		return &refusedError{fmt.Sprintf("import: %d transfers refused", refused)}
	}
	return nil
}

func (e *env) auditTransfers(args []string) error {
	fs := e.flags("audit transfers")
	asJSON := jsonFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	entries, err := ws.AuditEntries(context.Background())
	if err != nil {
		return err
	}
	if *asJSON {
		type tr struct {
			Index    int64             `json:"index"`
			Time     string            `json:"time"`
			Kind     string            `json:"kind"`
			Artifact string            `json:"artifact"`
			Detail   map[string]string `json:"detail"`
		}
		out := []tr{}
		for _, en := range entries {
			if strings.HasPrefix(en.Event.Kind, "transfer.") {
				d := en.Event.Detail
				if d == nil {
					d = map[string]string{}
				}
				out = append(out, tr{en.Index, en.Event.Time.UTC().Format(time.RFC3339), en.Event.Kind, en.Event.Subject, d})
			}
		}
		return printJSON(e.stdout, struct {
			Transfers []tr `json:"transfers"`
		}{out})
	}
	n := 0
	for _, en := range entries {
		if !strings.HasPrefix(en.Event.Kind, "transfer.") {
			continue
		}
		n++
		d := en.Event.Detail
		arrow := map[string]string{"transfer.exported": "->", "transfer.imported": "<-", "transfer.refused": "x-", "transfer.qr-out": "->", "transfer.qr-in": "<-"}[en.Event.Kind]
		fmt.Fprintf(e.stdout, "%4d  %s  %s %-22s #%-4s %-10s %s", en.Index, en.Event.Time.Format(time.RFC3339), arrow, d["peer"], d["sequence"], media.ShortKind(d["kind"]), short16(en.Event.Subject))
		if d["format"] != "" {
			fmt.Fprintf(e.stdout, "  by camera: %s frames of %s", d["frames"], d["format"])
		}
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
	fs := e.flags("reconcile")
	asJSON := jsonFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	ws, err := e.openRole(workspace.Coordinator)
	if err != nil {
		return err
	}
	defer ws.Close()
	stations, findings, err := transfer.Reconcile(ws)
	if err != nil {
		return err
	}
	alarms, pending := 0, 0
	type finding struct {
		Alarm   bool   `json:"alarm"`
		Finding string `json:"finding"`
	}
	fs2 := []finding{}
	for _, f := range findings {
		if f.Alarm() {
			alarms++
		} else {
			pending++
		}
		fs2 = append(fs2, finding{f.Alarm(), fmt.Sprint(f)})
		if !*asJSON {
			fmt.Fprintln(e.stdout, f)
		}
	}
	if *asJSON {
		if err := printJSON(e.stdout, struct {
			Stations      int       `json:"stations"`
			Discrepancies int       `json:"discrepancies"`
			Pending       int       `json:"pending"`
			Findings      []finding `json:"findings"`
		}{stations, alarms, pending, fs2}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "reconciled %d stations: %d discrepancies, %d pending\n", stations, alarms, pending)
	}
	if alarms > 0 {
		return &refusedError{fmt.Sprintf("reconcile: %d discrepancies", alarms)}
	}
	return nil
}
