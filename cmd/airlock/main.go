// Command airlock runs multi-signature transactions through air-gapped
// signer stations. See README.md and docs/cli.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

const usage = `Usage: airlock [-C DIR] COMMAND [ARGS]

Workspace (default: $AIRLOCK_WORKSPACE, else the current folder):
    -C DIR                   run as if in workspace DIR

Keys:
    key new [--role station|coordinator] [--name NAME] [--device ID]
            [--network NET] [--passphrase-file F] [--work-factor N] [--drill]
    key show [--yaml]        print the public keys and the policy entry
    key backup --threshold K --shares N (--out DIR --recipient R... | --words)
    key restore --share FILE... [--identity F] [--share-passphrase-file F] --name ID
    key verify-backup --share FILE... [--identity F] [--share-passphrase-file F]
    key bsms --token HEX [--description TEXT] [--out F]   BIP-129 round 1:
                             the station's signed (and encrypted) key record

Devices:
    key new --pkcs11 MODULE --token LABEL [--pin-file F]   keys on a PKCS#11 token
    device check [--json]           sign a fresh challenge with each key, read
                                    the token, record a signed health entry

Policy:
    policy init FILE [--out F]      turn a YAML/JSON policy into version 1
         [--bsms-key-record F... --token HEX]   every Bitcoin signer's key
                                    proven by its BSMS key record
    policy sign FILE                co-sign a policy version (in place)
    policy import FILE              adopt a fully signed policy version
    policy show [FILE] [--json]     show a policy and who has signed it

A round:
    propose --vault NAME --psbt FILE [--lifetime D] [--intent TEXT]
            [--out F] [--force]      coordinator: make a signed proposal
    review FILE [--json]            station: check and show a proposal
    sign FILE --approve [--out F]   station: sign it
    sign FILE --reject --reason R   station: refuse it, with a reason
         [--override-conflict --reason R]
    collect FILE...                 coordinator: verify and store decisions
    status [--json]                 coordinator: every proposal's state
                                    (open, approved, finalized, broadcast,
                                    rejected, withdrawn, expired)
    withdraw ID --reason R [--out F]   coordinator: end a proposal, signed
    release ID [--out F]            coordinator: the signed release of a
                                    withdrawn, rejected or expired proposal
    release FILE                    station: verify it, free the claims
    finalize ID [--out F]           coordinator: assemble, verify, prove
    broadcast ID --rpc URL [--rpc-cert F] [--tx F]   coordinator: send a
                                    finalized Bitcoin transaction to a node

Inspection and audit:
    inspect FILE [--json]           any airlock artifact or PSBT as JSON
    address --vault NAME [--change] [--index N]
    psbt synth --vault NAME [--send SAT] [--to ADDR] [--seed N] --out F
    vault export --vault NAME [--format descriptor|coldcard|bsms] [--token HEX]
    vault import FILE [--network N] [--token HEX]   a descriptor, Coldcard
                                    file or BSMS record, checked (at a
                                    station: its own key must be in it)
    vault key-records FILE... [--token HEX] [--network N]   verify BSMS
                                    key records, print their keys
    psbt build --vault NAME --funding TX.hex... --to ADDR --amount SAT --fee SAT --out F
               [--recovery --rpc URL]   a recovery-path spend, with the
                                    node's proof that the coins are old enough
    audit verify | log | checkpoint | prove N [--out F]
    audit check-proof FILE --identity ed25519:KEY

Across the gap on removable media:
    media allow DIR                 allow exports to a folder
    export ID|FILE --media DIR --to NAME   artifact + signed manifest
    import DIR                      verify manifests, import what is ours
    reconcile                       coordinator: compare transfer records
    audit transfers                 the chain of custody

Across the gap by camera:
    qr show FILE|ID [--format ur|bbqr] [--fragment N]   frames in the terminal
    qr write FILE|ID --out DIR|FILE.gif [--extra N]     PNG frames or a GIF
    qr read IMAGES|DIRS... --out FILE                   frames in any order

Kept outputs and recovery:
    export ID --out F               write again what was made: a finalized
                                    proposal's transaction and proof, a
                                    station's decision, a kept manifest
    store reinit --acknowledge R    replace a missing store (logged, signed;
                                    a station forgets what it approved)
    store accept --acknowledge R    take a restored (rolled-back) store

    demo                            the whole round trip in a temporary folder

Secrets come from --passphrase-file, $AIRLOCK_PASSPHRASE or the terminal;
a token's PIN from --pin-file, $AIRLOCK_PIN or the terminal.
Exit codes: 0 done or may sign, 1 error, 2 usage, 3 refused.
`

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
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
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch {
		case args[0] == "-C" && len(args) > 1:
			e.dir, args = args[1], args[2:]
		case args[0] == "-h" || args[0] == "--help" || args[0] == "-help":
			fmt.Fprint(stdout, usage)
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
	if v := os.Getenv("AIRLOCK_LOCK_WAIT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fmt.Fprintf(stderr, "airlock: error: AIRLOCK_LOCK_WAIT=%q is not a positive duration\n", v)
			return exitUsage
		}
		e.lockWait = d
	}
	err := dispatch(e, args[0], args[1:])
	return report(stderr, err)
}

// reg is every chain airlock speaks (package chain/all): the CLI names
// no chain itself.
var reg = all.Registry()

func dispatch(e *env, cmd string, args []string) error {
	switch cmd {
	case "key":
		return e.key(args)
	case "policy":
		return e.policy(args)
	case "propose":
		return e.propose(args)
	case "review":
		return e.review(args)
	case "sign":
		return e.sign(args)
	case "collect":
		return e.collect(args)
	case "status":
		return e.status(args)
	case "finalize":
		return e.finalize(args)
	case "inspect":
		return e.inspect(args)
	case "address":
		return e.address(args)
	case "psbt":
		return e.psbt(args)
	case "audit":
		return e.audit(args)
	case "device":
		return e.device(args)
	case "broadcast":
		return e.broadcast(args)
	case "vault":
		return e.vault(args)
	case "qr":
		return e.qr(args)
	case "media":
		return e.media(args)
	case "export":
		return e.export(args)
	case "import":
		return e.importMedia(args)
	case "reconcile":
		return e.reconcile(args)
	case "demo":
		return e.demo(args)
	case "store":
		return e.store(args)
	case "withdraw":
		return e.withdraw(args)
	case "release":
		return e.release(args)
	case "help":
		fmt.Fprint(e.stdout, usage)
		return nil
	}
	return usagef("unknown command %q", cmd)
}

func report(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "airlock: error: %s\nairlock: hint: run 'airlock help' for usage\n", ue.msg)
		return exitUsage
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitUsage
	}
	code := exitError
	var ref *station.Refusal
	if errors.As(err, &ref) {
		code = exitRefused
	}
	var re *refusedError
	if errors.As(err, &re) {
		code = exitRefused
	}
	fmt.Fprintf(stderr, "airlock: error: %s\n", err)
	var he *hintError
	if errors.As(err, &he) {
		fmt.Fprintf(stderr, "airlock: hint: %s\n", he.hint)
	}
	return code
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
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
