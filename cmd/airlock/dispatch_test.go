package main

import (
	"bytes"
	"os"
	"regexp"
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
		{[]string{"key"}, "key: want one of backup, bsms, custodian, delegate, executor, new, restore, show, verify-backup"},
		{[]string{"audit", "verfy"}, `audit: unknown subcommand "verfy" (want one of acknowledge, check, check-proof, checkpoint, export, log, prove, report, transfers, verify)`},
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

// TestEveryCommandHasHelp: each command answers -h, --help and "airlock
// help COMMAND" with its usage, an example and the exit codes, on stdout,
// exit 0, without a workspace; and help/commands.txt describes no command
// that does not exist.
func TestEveryCommandHasHelp(t *testing.T) {
	e := &env{}
	table := e.commands()
	secs := helpSections()
	for name := range secs {
		if _, ok := table[name]; !ok {
			t.Errorf("help/commands.txt describes %q, which is not a command", name)
		}
	}
	for name := range table {
		sec, ok := secs[name]
		if !ok {
			t.Errorf("%q has no section in help/commands.txt", name)
			continue
		}
		if !strings.Contains(sec, "usage: airlock "+name) || !strings.Contains(sec, "example:\n") {
			t.Errorf("%q: its help lacks a usage line or an example:\n%s", name, sec)
		}
		words := strings.Fields(name)
		for _, args := range [][]string{append(words, "-h"), append(words, "--help"), append([]string{"help"}, words...)} {
			var out, errb bytes.Buffer
			code := run(append([]string{"-C", t.TempDir()}, args...), strings.NewReader(""), &out, &errb)
			if code != exitOK || !strings.Contains(out.String(), "usage: airlock "+name) || !strings.Contains(out.String(), "exit codes:") {
				t.Errorf("airlock %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out.String(), errb.String())
			}
		}
	}
}

// TestMistypedFlagNamesTheClosest: an unknown flag is a usage error whose
// hint names the flag that was probably meant.
func TestMistypedFlagNamesTheClosest(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"review", "x.proposal", "--jsn"}, "did you mean --json?"},
		{[]string{"sign", "x", "--aprove"}, "did you mean --approve?"},
		{[]string{"propose", "--vaut", "ops"}, "did you mean --vault?"},
		{[]string{"status", "--zzzzzzzz"}, "run 'airlock help status' for its flags"},
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

// TestVersionNamesTheBuild: --version prints the module version and the
// Go toolchain, exit 0.
func TestVersionNamesTheBuild(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var out, errb bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errb); code != exitOK || !strings.HasPrefix(out.String(), "airlock ") || !strings.Contains(out.String(), "go1.") {
			t.Errorf("%v: exit %d, %q %q", args, code, out.String(), errb.String())
		}
	}
}

// TestExitCodeTableIsTested: every exit code docs/cli.md's table lists is
// exercised by testdata/exitcodes.txt (run by TestScripts), and the file
// exercises no code the table does not list.
func TestExitCodeTableIsTested(t *testing.T) {
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("testdata/exitcodes.txt")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \|`).FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	if len(documented) < 4 {
		t.Fatalf("docs/cli.md lists %d exit codes; the table was not found", len(documented))
	}
	tested := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^exits (\d+) airlock`).FindAllStringSubmatch(string(script), -1) {
		tested[m[1]] = true
	}
	for c := range documented {
		if !tested[c] {
			t.Errorf("exit code %s is documented but exitcodes.txt has no case for it", c)
		}
	}
	for c := range tested {
		if !documented[c] {
			t.Errorf("exitcodes.txt expects exit code %s, which docs/cli.md does not document", c)
		}
	}
}

// TestCrashIsAnErrorNotAUsageMistake: a panic inside a command (here: a
// broken output stream) is recovered into exit 1 with a bug-report hint,
// never Go's own exit 2, which the table keeps for usage.
func TestCrashIsAnErrorNotAUsageMistake(t *testing.T) {
	var errb bytes.Buffer
	code := run([]string{"-C", t.TempDir(), "help"}, strings.NewReader(""), nil, &errb)
	if code != exitError || !strings.Contains(errb.String(), "internal error") || !strings.Contains(errb.String(), "this is a bug") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// TestEveryCommandSpeaksJSON: every command that prints something takes
// --json (the contract of docs/cli.md, "JSON"); help and demo print for
// people only.
func TestEveryCommandSpeaksJSON(t *testing.T) {
	e := &env{}
	for name := range e.commands() {
		if name == "help" || name == "demo" || name == "serve" {
			continue // for people; serve logs JSON lines (log/slog) as it runs
		}
		var out, errb bytes.Buffer
		code := run(append([]string{"-C", t.TempDir()}, append(strings.Fields(name), "--help")...), strings.NewReader(""), &out, &errb)
		if code != exitOK || !strings.Contains(out.String(), "-json") {
			t.Errorf("airlock %s takes no --json", name)
		}
	}
}
