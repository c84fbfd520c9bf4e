package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/transport/media"
	"github.com/airlock-vault/airlock/transport/transfer"
	"github.com/airlock-vault/airlock/workspace"
)

func (e *env) mediaAllow(args []string) error {
	pos, err := parse(e.flags("media allow"), args)
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
	fmt.Fprintf(e.stdout, "exports may now write to %s\n", dir)
	return nil
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
	fmt.Fprintf(e.stdout, "exported %s %s to %s as transfer %d on %s\n", media.ShortKind(a.Type), a.IDHex()[:16], x.Dest, x.Sequence, x.Dir)
	return nil
}

// artifactEnvelope loads an envelope from a file, or what a reference
// names in the workspace (workspace.Find).
func (e *env) artifactEnvelope(ws *workspace.Workspace, ref string) (*envelope.Envelope, error) {
	if fi, err := os.Stat(ref); err == nil && fi.Mode().IsRegular() {
		return readEnvelope(ref)
	}
	k, err := ws.Find(context.Background(), ref)
	if err != nil {
		return nil, err
	}
	return k.Env, nil
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
	rep, err := (&transfer.Gap{WS: ws, Reg: reg}).Import(context.Background(), pos[0])
	if err != nil {
		return err
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
		fmt.Fprintf(e.stdout, "imported %s %s from %s (transfer %d, %s)\n", media.ShortKind(it.Artifact.Type), it.Artifact.IDHex()[:16], m.Origin, m.Sequence, m.Purpose)
	}
	refused := rep.Refused()
	fmt.Fprintf(e.stdout, "imported %d, refused %d, %d for other workspaces left alone\n", len(rep.Items)-refused, refused, rep.Others)
	if refused > 0 {
		return &refusedError{fmt.Sprintf("import: %d transfers refused", refused)}
	}
	return nil
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
	if _, err := parse(e.flags("reconcile"), args); err != nil {
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
	for _, f := range findings {
		if f.Alarm() {
			alarms++
		} else {
			pending++
		}
		fmt.Fprintln(e.stdout, f)
	}
	fmt.Fprintf(e.stdout, "reconciled %d stations: %d discrepancies, %d pending\n", stations, alarms, pending)
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
