package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestEveryCommandOfTheSummaryRuns: each command and subcommand the
// summary (help/airlock.txt) names reaches its handler (it answers with
// something other than "unknown command"), and a mistyped one is a usage
// error (exit 2) that lists what exists.
func TestEveryCommandOfTheSummaryRuns(t *testing.T) {
	e := &env{}
	table := e.commands()
	for name := range table {
		if !strings.Contains(usage, name) {
			t.Errorf("%q runs but the command summary does not mention it", name)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"key"}, "key: want one of backup, bsms, new, restore, show, verify-backup"},
		{[]string{"audit", "verfy"}, `audit: unknown subcommand "verfy" (want one of check-proof, checkpoint, log, prove, transfers, verify)`},
		{[]string{"sing"}, `unknown command "sing"`},
	} {
		var out, errb bytes.Buffer
		if code := run(append([]string{"-C", t.TempDir()}, c.args...), strings.NewReader(""), &out, &errb); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", c.args, code, exitUsage)
		}
		if !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: %s, want %q", c.args, errb.String(), c.want)
		}
	}
}
