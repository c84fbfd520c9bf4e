package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestDemoTranscriptPastes: every command the demo prints, given to a
// shell, is the argument list the demo ran (a multi-word reason or intent
// stays one argument), and the demo finishes its round.
func TestDemoTranscriptPastes(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"demo"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "final transaction") {
		t.Fatalf("demo did not finish:\n%s", out.String())
	}
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		if cmd, ok := strings.CutPrefix(l, "$ airlock "); ok {
			lines = append(lines, cmd)
		}
	}
	if len(lines) < 20 {
		t.Fatalf("only %d commands in the transcript", len(lines))
	}
	for _, args := range [][]string{{"sign", "p", "--reason", "invoice 42 was already paid by wire"}, {"it's", "$HOME", "a;b", ""}} {
		sh := exec.Command("sh", "-c", "printf '%s\\0' "+shellJoin(args))
		b, err := sh.Output()
		if err != nil {
			t.Fatal(err)
		}
		if split := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00"); strings.Join(split, "|") != strings.Join(args, "|") {
			t.Errorf("%q pastes as %q", args, split)
		}
	}
	for _, l := range lines {
		if strings.Contains(l, "--reason invoice") || strings.Contains(l, "--intent pay") {
			t.Errorf("a multi-word argument is printed unquoted: %s", l)
		}
	}
}
