package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/airlock-vault/airlock/keys/pkcs11"
	"github.com/airlock-vault/airlock/keys/pkcs11/softhsmtest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"airlock": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI workflows in testdata/*.txt end to end, each in
// its own folder, against the real binary (this test binary, as airlock).
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(env *testscript.Env) error {
			// Keystores in tests use the lowest scrypt work factor.
			env.Setenv("AIRLOCK_TEST_WORK_FACTOR", "10")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":    cmdExits,
			"concat":   cmdConcat,
			"flipbyte": cmdFlipByte,
			"quorum":   cmdQuorum,
			"globcp":   cmdGlobCp,
			"globrm":   cmdGlobRm,
			"agekey":   cmdAgeKey,
			"softhsm":  cmdSoftHSM,
			"hsmdel":   cmdHSMDelete,
			"replace":  cmdReplace,
		},
	})
}

// exits CODE PROG ARGS... runs PROG and requires exit code CODE.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}

// concat OUT IN... writes the concatenation of the IN files to OUT.
func cmdConcat(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: concat OUT IN...")
	}
	var b strings.Builder
	for _, in := range args[1:] {
		b.WriteString(ts.ReadFile(in))
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(b.String()), 0o644))
}

// flipbyte FILE [OFFSET] flips the low bit of one byte (default: the middle).
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: flipbyte FILE [OFFSET]")
	}
	path := ts.MkAbs(args[0])
	if m, _ := filepath.Glob(path); len(m) == 1 {
		path = m[0]
	}
	b, err := os.ReadFile(path)
	ts.Check(err)
	off := len(b) / 2
	if len(args) == 2 {
		off, err = strconv.Atoi(args[1])
		ts.Check(err)
	}
	b[off] ^= 1
	ts.Check(os.WriteFile(path, b, 0o644))
}

// globcp PATTERN DEST copies the one file matching PATTERN to DEST.
func cmdGlobCp(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: globcp PATTERN DEST")
	}
	m, err := filepath.Glob(ts.MkAbs(args[0]))
	ts.Check(err)
	if len(m) != 1 {
		ts.Fatalf("globcp: %d files match %s", len(m), args[0])
	}
	b, err := os.ReadFile(m[0])
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b, 0o644))
}

// globrm PATTERN removes the files matching PATTERN (at least one).
func cmdGlobRm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: globrm PATTERN")
	}
	m, err := filepath.Glob(ts.MkAbs(args[0]))
	ts.Check(err)
	if len(m) == 0 {
		ts.Fatalf("globrm: nothing matches %s", args[0])
	}
	for _, p := range m {
		ts.Check(os.Remove(p))
	}
}

// agekey NAME writes a fresh age X25519 identity to NAME.key and its
// recipient to NAME.pub: a backup custodian.
func cmdAgeKey(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: agekey NAME")
	}
	id, err := age.GenerateX25519Identity()
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]+".key"), []byte(id.String()+"\n"), 0o600))
	ts.Check(os.WriteFile(ts.MkAbs(args[0]+".pub"), []byte(id.Recipient().String()+"\n"), 0o644))
}

// quorum sets up, through the real CLI, the quorum most scripts start
// from: a coordinator "coord" and stations alice, bob and carol (folders of
// the same names), passphrase file "pass", and a genesis policy signed by
// all and imported everywhere, with vaults ops (2 of 3) and cold (3 of 3).
// roundtrip.txt performs the same steps one by one.
func cmdQuorum(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: quorum")
	}
	ts.Check(os.WriteFile(ts.MkAbs("pass"), []byte("correct horse battery\n"), 0o600))
	run := func(args ...string) {
		if err := ts.Exec("airlock", args...); err != nil {
			ts.Fatalf("airlock %s: %v", strings.Join(args, " "), err)
		}
	}
	wf := ts.Getenv("AIRLOCK_TEST_WORK_FACTOR")
	run("-C", "coord", "key", "new", "--role", "coordinator", "--name", "coord", "--passphrase-file", "pass", "--work-factor", wf)
	run("-C", "coord", "key", "show", "--yaml")
	entries := map[string]string{"coord": ts.ReadFile("stdout")}
	for _, who := range []string{"alice", "bob", "carol"} {
		run("-C", who, "key", "new", "--name", who, "--passphrase-file", "pass", "--work-factor", wf)
		run("-C", who, "key", "show", "--yaml")
		entries[who] = ts.ReadFile("stdout")
	}
	yaml := "name: treasury\nnetwork: regtest\nmax_proposal_lifetime: 24h\npolicy_threshold: 2\ncoordinators:\n" + entries["coord"] +
		"participants:\n" + entries["alice"] + entries["bob"] + entries["carol"] +
		"vaults:\n" +
		"  - name: ops\n    chain: bitcoin\n    threshold: 2\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n" +
		"  - name: cold\n    chain: bitcoin\n    threshold: 3\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n"
	ts.Check(os.WriteFile(ts.MkAbs("policy.yaml"), []byte(yaml), 0o644))
	run("-C", "coord", "policy", "init", "policy.yaml", "--out", "treasury.policy")
	for _, who := range []string{"alice", "bob", "carol"} {
		run("-C", who, "policy", "sign", "treasury.policy", "--passphrase-file", "pass")
	}
	for _, who := range []string{"coord", "alice", "bob", "carol"} {
		run("-C", who, "policy", "import", "treasury.policy")
	}
}

// softhsm LABEL PIN initialises a fresh SoftHSM2 token in $WORK/softhsm
// (one configuration for every token of the script) and sets $SOFTHSM2_CONF
// and $PKCS11_MODULE for the commands that follow. A machine without
// softhsm2 fails the script loudly: the test command installs it.
func cmdSoftHSM(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: softhsm LABEL PIN")
	}
	module, err := softhsmtest.Module()
	if err != nil {
		ts.Fatalf("softhsm: %v (install the Debian package softhsm2; ./scripts/test does)", err)
	}
	dir := ts.MkAbs("softhsm")
	conf := filepath.Join(dir, "softhsm2.conf")
	if _, err := os.Stat(conf); err != nil {
		ts.Check(os.MkdirAll(filepath.Join(dir, "tokens"), 0o700))
		ts.Check(os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = true\n"), 0o600))
	}
	ts.Setenv("SOFTHSM2_CONF", conf)
	ts.Setenv("PKCS11_MODULE", module)
	cmd := exec.Command("softhsm2-util", "--init-token", "--free", "--label", args[0], "--pin", args[1], "--so-pin", "87654321")
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		ts.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
}

// hsmdel TOKEN PIN KEYLABEL deletes a key from a token, as a faulty or
// tampered device would lose it.
func cmdHSMDelete(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: hsmdel TOKEN PIN KEYLABEL")
	}
	os.Setenv("SOFTHSM2_CONF", ts.Getenv("SOFTHSM2_CONF"))
	tok, err := pkcs11.Open(ts.Getenv("PKCS11_MODULE"), args[0], []byte(args[1]))
	ts.Check(err)
	defer tok.Close()
	n, err := tok.Destroy(args[2])
	ts.Check(err)
	if n == 0 {
		ts.Fatalf("hsmdel: no object labelled %q on token %q", args[2], args[0])
	}
}

// replace FILE OLD NEW replaces every OLD in FILE with NEW.
func cmdReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replace FILE OLD NEW")
	}
	b := ts.ReadFile(args[0])
	if !strings.Contains(b, args[1]) {
		ts.Fatalf("replace: %s does not contain %q", args[0], args[1])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(strings.ReplaceAll(b, args[1], args[2])), 0o600))
}
