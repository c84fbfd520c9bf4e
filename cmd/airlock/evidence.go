package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/evidence"
	"github.com/airlock-vault/airlock/workspace"
)

// parseWhen reads a period's bound: an RFC 3339 time, or a date (the
// day's start for --since, its last second for --until).
func parseWhen(s string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (2006-01-02) nor an RFC 3339 time", s)
	}
	if end {
		t = t.Add(24*time.Hour - time.Second)
	}
	return t, nil
}

// auditExport writes the evidence bundle of a period (package evidence).
func (e *env) auditExport(args []string) error {
	fs := e.flags("audit export")
	since := fs.String("since", "", "the period's start: a date (2006-01-02) or an RFC 3339 time")
	until := fs.String("until", "", "the period's end, inclusive")
	out := fs.String("out", "", "a new folder, or FILE.tar")
	passFile := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || *since == "" || *until == "" || *out == "" {
		return usagef("audit export: want --since T --until T --out DIR|FILE.tar")
	}
	from, err := parseWhen(*since, false)
	if err != nil {
		return usagef("audit export: --since: %v", err)
	}
	to, err := parseWhen(*until, true)
	if err != nil {
		return usagef("audit export: --until: %v", err)
	}
	ws, ks, done, err := e.unlocked(workspace.Coordinator, passFile)
	if err != nil {
		return err
	}
	defer done()
	files, err := evidence.Export(context.Background(), ws, from, to, ks.Identity)
	if err != nil {
		return err
	}
	if err := evidence.Write(*out, files, to); err != nil {
		return err
	}
	genesis := ""
	if vs, err := ws.Policies(); err == nil && len(vs) > 0 {
		genesis = vs[0].IDHex()
	}
	if err := e.logger(ws, ks)("audit.exported", genesis, map[string]string{"since": from.Format(time.RFC3339), "until": to.Format(time.RFC3339), "files": fmt.Sprint(len(files))}); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			Out     string `json:"out"`
			Since   string `json:"since"`
			Until   string `json:"until"`
			Files   int    `json:"files"`
			Genesis string `json:"genesis"`
		}{*out, from.Format(time.RFC3339), to.Format(time.RFC3339), len(files), genesis})
	}
	fmt.Fprintf(e.stdout, "wrote %s: %d files of evidence from %s to %s, under a manifest signed by %s\n", *out, len(files), from.Format(time.RFC3339), to.Format(time.RFC3339), ws.Config.Name)
	fmt.Fprintf(e.stdout, "an auditor checks it alone: airlock audit check %s --genesis %s\n", *out, genesis)
	return nil
}

// auditCheck verifies a bundle with the genesis policy's id alone.
func (e *env) auditCheck(args []string) error {
	fs := e.flags("audit check")
	genesis := fs.String("genesis", "", "the id of policy version 1 (64 hex digits), from a source the auditor trusts")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	g, gerr := hex.DecodeString(*genesis)
	if len(pos) != 1 || gerr != nil || len(g) != 32 {
		return usagef("audit check: want BUNDLE --genesis ID (the 64-hex-digit id of policy version 1)")
	}
	rep, err := evidence.CheckFile(pos[0], [32]byte(g), reg)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(e.stdout, rep); err != nil {
			return err
		}
	} else {
		rep.Text(e.stdout)
	}
	if !rep.OK {
		var what []string
		for _, f := range rep.Failures() {
			what = append(what, f.Check+" at "+f.Where)
		}
		return &refusedError{fmt.Sprintf("audit check: the bundle does not verify: %s", strings.Join(what, "; "))}
	}
	if !*asJSON {
		fmt.Fprintln(e.stdout, rep.Summary())
	}
	return nil
}

// auditReport renders a bundle's check as a self-contained HTML page
// organized by the CCSS aspects (docs/controls.md).
func (e *env) auditReport(args []string) error {
	fs := e.flags("audit report")
	genesis := fs.String("genesis", "", "the id of policy version 1 (64 hex digits)")
	out := fs.String("out", "", "where to write the HTML report")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	g, gerr := hex.DecodeString(*genesis)
	if len(pos) != 1 || gerr != nil || len(g) != 32 || *out == "" {
		return usagef("audit report: want BUNDLE --genesis ID --out FILE.html")
	}
	rep, err := evidence.CheckFile(pos[0], [32]byte(g), reg)
	if err != nil {
		return err
	}
	var page bytes.Buffer
	if err := evidence.WriteReport(&page, rep, [32]byte(g)); err != nil {
		return err
	}
	if err := workspace.WriteFileAtomic(*out, page.Bytes(), 0o644); err != nil {
		return err
	}
	if *asJSON {
		if err := printJSON(e.stdout, struct {
			Out      string `json:"out"`
			Verified bool   `json:"verified"`
			Controls int    `json:"controls"`
		}{*out, rep.OK, len(evidence.Controls)}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "wrote %s: the bundle's evidence under %d CCSS aspects (verified: %v)\n", *out, len(evidence.Controls), rep.OK)
	}
	if !rep.OK {
		return &refusedError{"audit report: the bundle does not verify (the report says where)"}
	}
	return nil
}
