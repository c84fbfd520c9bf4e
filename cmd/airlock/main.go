// Command airlock runs multi-signature transactions through air-gapped
// signer stations. See README.md and docs/cli.md.
package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain/all"
	"github.com/airlock-vault/airlock/station"
)

// Exit codes (docs/cli.md).
const (
	exitOK      = 0
	exitError   = 1
	exitUsage   = 2
	exitRefused = 3
)

// usage is the command summary (help/airlock.txt).
//
//go:embed help/airlock.txt
var usage string

// usageError is a mistake in the command line; hint, when set, replaces
// the default "run 'airlock help'".
type usageError struct{ msg, hint string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// hintError carries a hint printed after the error.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

func withHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &hintError{err, hint}
}

// env is what a command runs with.
type env struct {
	dir    string
	stdout io.Writer
	stderr io.Writer
	stdin  io.Reader
	now    func() time.Time
	// clockSet: AIRLOCK_NOW overrides the clock (drill workspaces only).
	clockSet bool
	// lockWait bounds the wait for another command in the workspace.
	lockWait time.Duration
	// database (AIRLOCK_DATABASE) keeps a coordinator's store in
	// PostgreSQL, as "serve --database" does.
	database string
	// rehearsal: commands run by the demo, in throwaway workspaces (no
	// seed-backup reminder).
	rehearsal bool
	// service is the URL of an "airlock serve" the round's commands talk
	// to instead of a local coordinator store (--coordinator, or
	// $AIRLOCK_COORDINATOR); insecureHTTP allows http:// beyond loopback.
	service      string
	insecureHTTP bool
}

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	// A bug must not pass for a usage error (Go's own crash exits 2): it
	// is reported and exits 1. Any store transaction it interrupted was
	// not committed, so state and log still agree.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "airlock: error: internal error: %v\nairlock: hint: this is a bug; no transaction it interrupted was committed. Please report it with the command that caused it.\n", r)
			code = exitError
		}
	}()
	e := &env{stdout: stdout, stderr: stderr, stdin: stdin, now: time.Now}
	e.dir = os.Getenv("AIRLOCK_WORKSPACE")
	e.service = os.Getenv("AIRLOCK_COORDINATOR")
	serviceFlag := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch {
		case args[0] == "-C" && len(args) > 1:
			e.dir, args = args[1], args[2:]
		case (args[0] == "--coordinator" || args[0] == "-coordinator") && len(args) > 1:
			e.service, serviceFlag, args = args[1], true, args[2:]
		case strings.HasPrefix(args[0], "--coordinator="):
			e.service, serviceFlag, args = strings.TrimPrefix(args[0], "--coordinator="), true, args[1:]
		case args[0] == "--insecure-http" || args[0] == "-insecure-http":
			e.insecureHTTP, args = true, args[1:]
		case args[0] == "-h" || args[0] == "--help" || args[0] == "-help":
			fmt.Fprint(stdout, usage)
			return exitOK
		case args[0] == "--version" || args[0] == "-version":
			fmt.Fprint(stdout, version())
			return exitOK
		default:
			fmt.Fprintf(stderr, "airlock: error: unknown option %s\n%s", args[0], usage)
			return exitUsage
		}
	}
	if e.dir == "" {
		e.dir = "."
	}
	if abs, err := filepath.Abs(e.dir); err == nil {
		e.dir = abs
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	if serviceFlag && !remoteCommands[args[0]] {
		fmt.Fprintf(stderr, "airlock: error: --coordinator applies to %s, not %s\nairlock: hint: stations never talk to the service; run other commands without it\n", remoteList(), args[0])
		return exitUsage
	}
	if !remoteCommands[args[0]] || args[0] == "help" {
		// $AIRLOCK_COORDINATOR concerns the round's commands only.
		e.service = ""
	}
	if v := os.Getenv("AIRLOCK_NOW"); v != "" {
		// Tests and drills pin the clock; documented in docs/cli.md.
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			fmt.Fprintf(stderr, "airlock: error: AIRLOCK_NOW=%q is not an RFC 3339 time\n", v)
			return exitUsage
		}
		e.now = func() time.Time { return t }
		e.clockSet = true
	}
	e.database = os.Getenv("AIRLOCK_DATABASE")
	if v := os.Getenv("AIRLOCK_LOCK_WAIT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fmt.Fprintf(stderr, "airlock: error: AIRLOCK_LOCK_WAIT=%q is not a positive duration\n", v)
			return exitUsage
		}
		e.lockWait = d
	}
	err := dispatch(e, args[0], args[1:])
	var help *helpRequested
	if errors.As(err, &help) {
		printHelp(stdout, help.fs)
		return exitOK
	}
	if wantsJSON(args) {
		return reportJSON(stderr, err)
	}
	return report(stderr, err)
}

// reg is every chain airlock speaks (package chain/all): the CLI names
// no chain itself.
var reg = all.Registry()

// commands maps each command, and each subcommand as "command sub", to
// what runs it.
func (e *env) commands() map[string]func([]string) error {
	return map[string]func([]string) error{
		"key new": e.keyNew, "key show": e.keyShow, "key backup": e.keyBackup, "key restore": e.keyRestore,
		"key verify-backup": e.keyVerifyBackup, "key bsms": e.keyBSMS, "key custodian": e.keyCustodian,
		"key delegate": e.keyDelegate, "key executor": e.keyExecutor, "policy init": e.policyInit, "policy sign": e.policySign, "policy import": e.policyImport, "policy show": e.policyShow,
		"policy propose": e.policyPropose, "policy revoke": e.policyRevoke,
		"propose": e.propose, "review": e.review, "sign": e.sign, "collect": e.collect, "status": e.status,
		"finalize": e.finalize, "withdraw": e.withdraw, "release": e.release, "broadcast": e.broadcast, "readopt": e.readopt,
		"inspect": e.inspect, "verify": e.verify, "inspect safe": e.inspectSafe, "inspect psbt": e.inspectPSBT, "address": e.address,
		"psbt synth": e.psbtSynth, "psbt build": e.psbtBuild, "psbt export": e.psbtExport,
		"vault export": e.vaultExport, "vault import": e.vaultImport, "vault key-records": e.vaultKeyRecords,
		"audit verify": e.auditVerify, "audit log": e.auditLog, "audit checkpoint": e.auditCheckpoint,
		"audit prove": e.auditProve, "audit check-proof": e.auditCheckProof, "audit transfers": e.auditTransfers,
		"audit export": e.auditExport, "audit check": e.auditCheck, "audit report": e.auditReport,
		"audit acknowledge": e.auditAcknowledge,
		"device check":      e.deviceCheck, "media allow": e.mediaAllow, "export": e.export, "import": e.importMedia,
		"reconcile": e.reconcile, "store": e.store, "demo": e.demo, "station auto": e.stationAuto,
		"serve": e.serve, "drill run": e.drillRun, "drill tabletop": e.drillTabletop,
		"qr show":  func(a []string) error { return e.qrOut("show", a) },
		"qr write": func(a []string) error { return e.qrOut("write", a) },
		"qr read":  e.qrRead,
		"help":     e.help,
		"version":  e.versionCmd,
	}
}

func dispatch(e *env, cmd string, args []string) error {
	table := e.commands()
	if len(args) > 0 {
		if run, ok := table[cmd+" "+args[0]]; ok {
			return run(args[1:])
		}
	}
	if run, ok := table[cmd]; ok {
		return run(args)
	}
	var subs []string
	for name := range table {
		if sub, ok := strings.CutPrefix(name, cmd+" "); ok {
			subs = append(subs, sub)
		}
	}
	if len(subs) == 0 {
		return usagef("unknown command %q", cmd)
	}
	sort.Strings(subs)
	if len(args) == 0 {
		return usagef("%s: want one of %s", cmd, strings.Join(subs, ", "))
	}
	return usagef("%s: unknown subcommand %q (want one of %s)", cmd, args[0], strings.Join(subs, ", "))
}

func report(stderr io.Writer, err error) int {
	code, msg, hint := classify(err)
	if code == exitOK {
		return code
	}
	fmt.Fprintf(stderr, "airlock: error: %s\n", msg)
	if hint != "" {
		fmt.Fprintf(stderr, "airlock: hint: %s\n", hint)
	}
	return code
}

// classify gives an error's exit code (docs/cli.md), message and hint.
func classify(err error) (code int, msg, hint string) {
	if err == nil {
		return exitOK, "", ""
	}
	var ue *usageError
	if errors.As(err, &ue) {
		hint := ue.hint
		if hint == "" {
			hint = "run 'airlock help' for usage, 'airlock help COMMAND' for a command's"
		}
		return exitUsage, ue.msg, hint
	}
	code = exitError
	var ref *station.Refusal
	if errors.As(err, &ref) {
		code = exitRefused
	}
	var re *refusedError
	if errors.As(err, &re) {
		code = exitRefused
	}
	var he *hintError
	if errors.As(err, &he) {
		hint = he.hint
	}
	return code, err.Error(), hint
}

// refusedError is a verdict, not a failure: exit code 3.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

// flags returns a FlagSet that reports usage errors as *usageError.
func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args, allowing flags after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &helpRequested{fs}
			}
			return nil, &usageError{fmt.Sprintf("%s: %v", fs.Name(), err), flagHint(fs, err)}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
