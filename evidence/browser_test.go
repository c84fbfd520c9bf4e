package evidence_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/evidence"
	"github.com/airlock-vault/airlock/internal/browser"
)

// TestReportInChromium: the auditor opens the report of a month's bundle
// in Debian's Chromium (test/browser/report.js, playwright-core): it
// renders with its verdict, a section per CCSS aspect and the audit-log
// control's table, all ok, and makes no request at all beyond its own
// file — an auditor's machine may be offline, and a report that fetched
// anything could be told apart, or changed, by whoever serves it. The
// screenshot is kept in $AIRLOCK_ARTIFACTS (default under the system's
// temporary folder).
func TestReportInChromium(t *testing.T) {
	q, genesis := rounds(t)
	files := export(t, q)
	file := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := evidence.WriteReport(f, mustCheck(t, files, genesis), genesis); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	s := browser.Start(t, "report.js", map[string]any{
		"file": file, "out": browser.Artifacts(t, "evidence"), "headings": evidence.ReportHeadings(),
	})
	s.Expect("DONE", time.Minute)
	s.Wait(30 * time.Second)
}
