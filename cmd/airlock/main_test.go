package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"
	"github.com/rogpeppe/go-internal/testscript"
	_ "modernc.org/sqlite"

	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
	"github.com/airlock-vault/airlock/chain/bitcoin/regtest"
	"github.com/airlock-vault/airlock/chain/bitcoin/rpc"
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
			"exits":           cmdExits,
			"jsonschema":      cmdJSONSchema,
			"safesim":         cmdSafesim,
			"concat":          cmdConcat,
			"flipbyte":        cmdFlipByte,
			"quorum":          cmdQuorum,
			"globcp":          cmdGlobCp,
			"globrm":          cmdGlobRm,
			"agekey":          cmdAgeKey,
			"softhsm":         cmdSoftHSM,
			"hsmdel":          cmdHSMDelete,
			"replace":         cmdReplace,
			"sql":             cmdSQL,
			"pgschema":        cmdPGSchema,
			"eth-wallet":      cmdEthWallet,
			"eth-wallet-sign": cmdEthWalletSign,
			"truncate":        cmdTruncate,
			"resign":          cmdResign,
			// A real btcd node in regtest (chain/bitcoin/regtest).
			"btcd-start":         cmdBtcdStart,
			"btcd-mine":          cmdBtcdMine,
			"btcd-coinbase":      cmdBtcdCoinbase,
			"btcd-confirmations": cmdBtcdConfirmations,
			"btcd-send":          cmdBtcdSend,
			"tamper-sig":         cmdTamperSig,
			"setenv-match":       cmdSetenvMatch,
			"btcd-coinbase-to":   cmdBtcdCoinbaseTo,
			"ext-device":         cmdExtDevice,
			"ext-sign":           cmdExtSign,
			"psbt-tamper-sig":    cmdPSBTTamperSig,
			"freeport":           cmdFreePort,
			"http":               cmdHTTP,
			"addrfile":           cmdAddrFile,
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
// roundtrip.txt performs the same steps one by one. "quorum rules" adds the
// script's rules.yaml (address book, transaction rules) to the policy.
func cmdQuorum(ts *testscript.TestScript, neg bool, args []string) {
	var drill []string
	if len(args) > 0 && args[len(args)-1] == "drill" {
		// Drill workspaces: the only ones where AIRLOCK_NOW sets the clock.
		drill, args = []string{"--drill"}, args[:len(args)-1]
	}
	if neg || len(args) > 1 || (len(args) == 1 && args[0] != "all" && args[0] != "recovery" && args[0] != "rules" && args[0] != "templates") {
		ts.Fatalf("usage: quorum [all|recovery|rules|templates] [drill]")
	}
	// templates: as rules, and payroll-bot, an automated station (role
	// automation), is a fourth signer of ops (still 2 of its signers) and
	// of "payroll", a 2-of-4 Safe.
	bot := len(args) == 1 && args[0] == "templates"
	if bot {
		args = []string{"rules"}
	}
	// rules: the script's rules.yaml (top-level policy keys: assets,
	// groups, address_book, transaction_rules) goes into the policy.
	rules := ""
	if len(args) == 1 && args[0] == "rules" {
		rules, args = ts.ReadFile("rules.yaml"), nil
	}
	people := []string{"alice", "bob", "carol"}
	if len(args) == 1 && args[0] == "recovery" {
		people = append(people, "dave")
	}
	if bot {
		people = append(people, "payroll-bot")
	}
	ts.Check(os.WriteFile(ts.MkAbs("pass"), []byte("correct horse battery\n"), 0o600))
	run := func(args ...string) {
		if err := ts.Exec("airlock", args...); err != nil {
			ts.Fatalf("airlock %s: %v", strings.Join(args, " "), err)
		}
	}
	wf := ts.Getenv("AIRLOCK_TEST_WORK_FACTOR")
	run(append([]string{"-C", "coord", "key", "new", "--role", "coordinator", "--name", "coord", "--passphrase-file", "pass", "--work-factor", wf}, drill...)...)
	run("-C", "coord", "key", "show", "--yaml")
	entries := map[string]string{"coord": ts.ReadFile("stdout")}
	for _, who := range people {
		run(append([]string{"-C", who, "key", "new", "--name", who, "--passphrase-file", "pass", "--work-factor", wf}, drill...)...)
		run("-C", who, "key", "show", "--yaml")
		entries[who] = ts.ReadFile("stdout")
	}
	opsSigners := "alice/keystore, bob/keystore, carol/keystore"
	if bot {
		entries["payroll-bot"] = strings.Replace(entries["payroll-bot"], "    name: payroll-bot\n", "    name: payroll-bot\n    roles: [automation]\n", 1)
		entries["dave"] += entries["payroll-bot"]
		opsSigners += ", payroll-bot/keystore"
	}
	yaml := "name: treasury\nnetwork: regtest\nmax_proposal_lifetime: 24h\npolicy_threshold: 2\ncoordinators:\n" + entries["coord"] +
		"participants:\n" + entries["alice"] + entries["bob"] + entries["carol"] + entries["dave"] + rules +
		"vaults:\n" +
		"  - name: ops\n    chain: bitcoin\n    threshold: 2\n    signers: [" + opsSigners + "]\n" +
		"  - name: cold\n    chain: bitcoin\n    threshold: 3\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n"
	if bot {
		yaml += "  - name: payroll\n    chain: ethereum\n    threshold: 2\n    signers: [" + opsSigners + "]\n" +
			"    safe: {address: \"0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4\", chain_id: 31337, version: 1.3.0}\n"
	}
	if len(args) == 1 && args[0] == "recovery" {
		yaml += "  - name: vault\n    chain: bitcoin\n    threshold: 2\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n    recovery:\n      signer: dave/keystore\n      after_blocks: 110\n"
	} else if len(args) == 1 {
		yaml += "  - name: nested\n    chain: bitcoin\n    script: p2sh-p2wsh\n    threshold: 2\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n" +
			"  - name: legacy\n    chain: bitcoin\n    script: p2sh\n    threshold: 2\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n" +
			"  - name: taproot\n    chain: bitcoin\n    script: tr\n    threshold: 2\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n"
	}
	ts.Check(os.WriteFile(ts.MkAbs("policy.yaml"), []byte(yaml), 0o644))
	run("-C", "coord", "policy", "init", "policy.yaml", "--out", "treasury.policy")
	for _, who := range people {
		run("-C", who, "policy", "sign", "treasury.policy", "--passphrase-file", "pass")
	}
	for _, who := range append([]string{"coord"}, people...) {
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
		ts.Fatalf("usage: replace FILE OLD NEW (\\n in NEW is a newline)")
	}
	args[2] = strings.ReplaceAll(args[2], `\n`, "\n")
	b := ts.ReadFile(args[0])
	if !strings.Contains(b, args[1]) {
		ts.Fatalf("replace: %s does not contain %q", args[0], args[1])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(strings.ReplaceAll(b, args[1], args[2])), 0o600))
}

// scriptTB lets chain/bitcoin/regtest, written for tests, run inside a
// script: the few testing.TB methods it calls map onto the script.
type scriptTB struct {
	testing.TB // nil: only the methods below are called
	ts         *testscript.TestScript
	failed     bool
}

func (s *scriptTB) Helper()          {}
func (s *scriptTB) Cleanup(f func()) { s.ts.Defer(f) }
func (s *scriptTB) Failed() bool     { return s.failed }
func (s *scriptTB) TempDir() string {
	d, err := os.MkdirTemp(s.ts.MkAbs("."), "btcd-")
	s.ts.Check(err)
	return d
}
func (s *scriptTB) Fatal(a ...any)            { s.failed = true; s.ts.Fatalf("%s", fmt.Sprint(a...)) }
func (s *scriptTB) Fatalf(f string, a ...any) { s.failed = true; s.ts.Fatalf(f, a...) }
func (s *scriptTB) Errorf(f string, a ...any) { s.failed = true; s.ts.Logf(f, a...) }
func (s *scriptTB) Logf(f string, a ...any)   { s.ts.Logf(f, a...) }
func (s *scriptTB) Log(a ...any)              { s.ts.Logf("%s", fmt.Sprint(a...)) }

var (
	nodesMu sync.Mutex
	nodes   = map[*testscript.TestScript]*regtest.Node{}
)

func node(ts *testscript.TestScript) (*regtest.Node, *scriptTB) {
	nodesMu.Lock()
	defer nodesMu.Unlock()
	n := nodes[ts]
	if n == nil {
		ts.Fatalf("no btcd node: run btcd-start first")
	}
	return n, &scriptTB{ts: ts}
}

// btcd-start ADDRFILE... starts btcd in regtest on 127.0.0.1, mining to
// the first address in each ADDRFILE (btcd picks one at random for each
// block), and sets $BTCD_RPC to its RPC URL.
func cmdBtcdStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: btcd-start ADDRFILE...")
	}
	var addrs []string
	for _, a := range args {
		addrs = append(addrs, firstAddress(ts, a))
	}
	n := regtest.Start(&scriptTB{ts: ts}, regtest.Options{MiningAddr: addrs[0], MiningAddrs: addrs[1:], NoTLS: true})
	nodesMu.Lock()
	nodes[ts] = n
	nodesMu.Unlock()
	ts.Defer(func() { nodesMu.Lock(); delete(nodes, ts); nodesMu.Unlock() })
	ts.Setenv("BTCD_RPC", n.URL)
}

// btcd-mine N mines N blocks.
func cmdBtcdMine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: btcd-mine N")
	}
	n, tb := node(ts)
	count, err := strconv.Atoi(args[0])
	ts.Check(err)
	n.Mine(tb, count)
}

// btcd-coinbase HEIGHT FILE writes the coinbase of the block at HEIGHT as
// raw hex.
func cmdBtcdCoinbase(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: btcd-coinbase HEIGHT FILE")
	}
	n, tb := node(ts)
	h, err := strconv.ParseInt(args[0], 10, 64)
	ts.Check(err)
	hash, err := n.RPC.GetBlockHash(context.Background(), h)
	ts.Check(err)
	bh, err := chainhash.NewHashFromStr(hash)
	ts.Check(err)
	var buf bytes.Buffer
	ts.Check(n.Coinbase(tb, *bh).Serialize(&buf))
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(hex.EncodeToString(buf.Bytes())+"\n"), 0o644))
}

// btcd-confirmations TXFILE N checks the transaction in TXFILE (raw hex)
// has N confirmations.
func cmdBtcdConfirmations(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: btcd-confirmations TXFILE N")
	}
	n, tb := node(ts)
	tx := readTx(ts, args[0])
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	if got := n.Confirmations(tb, tx.TxHash()); got != want {
		ts.Fatalf("%s has %d confirmations, want %d", tx.TxHash(), got, want)
	}
}

// [!] btcd-send TXFILE sends a raw transaction straight to the node,
// bypassing airlock; with !, the node must refuse it.
func cmdBtcdSend(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: [!] btcd-send TXFILE")
	}
	n, _ := node(ts)
	tx := readTx(ts, args[0])
	var buf bytes.Buffer
	ts.Check(tx.Serialize(&buf))
	_, err := n.RPC.SendRawTransaction(context.Background(), buf.Bytes())
	switch {
	case neg && err == nil:
		ts.Fatalf("the node accepted %s", tx.TxHash())
	case neg && !rpc.IsTxRejected(err):
		ts.Fatalf("the node failed otherwise than by refusing: %v", err)
	case neg:
		ts.Logf("the node refused it: %v", err)
	case err != nil:
		ts.Fatalf("btcd-send: %v", err)
	}
}

func readTx(ts *testscript.TestScript, file string) *wire.MsgTx {
	b, err := hex.DecodeString(strings.TrimSpace(ts.ReadFile(file)))
	ts.Check(err)
	tx := wire.NewMsgTx(2)
	ts.Check(tx.Deserialize(bytes.NewReader(b)))
	return tx
}

// tamper-sig IN OUT flips one bit in the first signature of input 0's
// witness of the raw transaction IN, writing OUT.
func cmdTamperSig(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: tamper-sig IN OUT")
	}
	tx := readTx(ts, args[0])
	w := tx.TxIn[0].Witness
	for _, item := range w {
		if len(item) > 60 && item[0] == 0x30 {
			item[10] ^= 1
			var buf bytes.Buffer
			ts.Check(tx.Serialize(&buf))
			ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(hex.EncodeToString(buf.Bytes())+"\n"), 0o644))
			return
		}
	}
	ts.Fatalf("tamper-sig: no signature in input 0's witness")
}

// setenv-match FILE REGEXP VAR sets $VAR to the first match of REGEXP in
// FILE (its first group, if it has one).
func cmdSetenvMatch(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: setenv-match FILE REGEXP VAR")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	m := re.FindStringSubmatch(ts.ReadFile(args[0]))
	if m == nil {
		ts.Fatalf("setenv-match: no match of %s in %s", args[1], args[0])
	}
	ts.Setenv(args[2], m[len(m)-1])
}

// firstAddress is the first regtest address in a file.
func firstAddress(ts *testscript.TestScript, file string) string {
	for _, f := range strings.Fields(ts.ReadFile(file)) {
		if strings.HasPrefix(f, "bcrt1") || strings.HasPrefix(f, "2") {
			return f
		}
	}
	ts.Fatalf("no regtest address in %s", file)
	return ""
}

// btcd-coinbase-to ADDRFILE FILE writes, as raw hex, the first mature
// coinbase (blocks 1..100) that pays the address in ADDRFILE.
func cmdBtcdCoinbaseTo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: btcd-coinbase-to ADDRFILE FILE")
	}
	n, tb := node(ts)
	addr := firstAddress(ts, args[0])
	a, err := address.DecodeAddress(addr, &chaincfg.RegressionNetParams)
	ts.Check(err)
	script, err := txscript.PayToAddrScript(a)
	ts.Check(err)
	for h := int64(1); h <= 100; h++ {
		hash, err := n.RPC.GetBlockHash(context.Background(), h)
		ts.Check(err)
		bh, err := chainhash.NewHashFromStr(hash)
		ts.Check(err)
		cb := n.Coinbase(tb, *bh)
		if bytes.Equal(cb.TxOut[0].PkScript, script) {
			var buf bytes.Buffer
			ts.Check(cb.Serialize(&buf))
			ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(hex.EncodeToString(buf.Bytes())+"\n"), 0o644))
			return
		}
	}
	ts.Fatalf("no coinbase of blocks 1..100 pays %s", addr)
}

// extMaster is the BIP-32 master of a stand-in external device (a
// Coldcard, say): a fixed test seed, outside airlock's keystore.
func extMaster(ts *testscript.TestScript, seedHex string) (*hdkeychain.ExtendedKey, [4]byte) {
	seed, err := hex.DecodeString(seedHex)
	ts.Check(err)
	m, err := hdkeychain.NewMaster(seed, &chaincfg.RegressionNetParams)
	ts.Check(err)
	pub, err := m.ECPubKey()
	ts.Check(err)
	var fp [4]byte
	copy(fp[:], address.Hash160(pub.SerializeCompressed())[:4])
	return m, fp
}

// ext-device SEEDHEX ID FILE writes the policy entry of an external device
// holding SEEDHEX: kind external, its account key at m/48'/1'/0'/2'.
func cmdExtDevice(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: ext-device SEEDHEX ID FILE")
	}
	m, fp := extMaster(ts, args[0])
	k := m
	for _, i := range []uint32{48, 1, 0, 2} {
		var err error
		k, err = k.Derive(i + hdkeychain.HardenedKeyStart)
		ts.Check(err)
	}
	n, err := k.Neuter()
	ts.Check(err)
	entry := fmt.Sprintf("      - id: %s\n        kind: external\n        vendor: Coinkite\n        model: Coldcard Q\n        key: \"[%x/48'/1'/0'/2']%s\"\n", args[1], fp, n.String())
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(entry), 0o644))
}

// ext-sign SEEDHEX IN OUT signs every input of the PSBT IN (base64) that
// names the device's fingerprint, as the device would, and writes OUT.
func cmdExtSign(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: ext-sign SEEDHEX IN OUT")
	}
	m, fp := extMaster(ts, args[0])
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(ts.ReadFile(args[1])))
	ts.Check(err)
	p, err := psbt.Decode(raw)
	ts.Check(err)
	signed := 0
	for i := range p.Inputs {
		for _, d := range p.Inputs[i].Bip32Derivations {
			if d.Fingerprint != fp {
				continue
			}
			k := m
			for _, step := range d.Path {
				k, err = k.Derive(step)
				ts.Check(err)
			}
			priv, err := k.ECPrivKey()
			ts.Check(err)
			_, err = p.SignInput(i, priv, txscript.SigHashAll)
			ts.Check(err)
			signed++
		}
	}
	if signed == 0 {
		ts.Fatalf("ext-sign: no input names fingerprint %x", fp)
	}
	b64, err := p.B64()
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(b64+"\n"), 0o644))
}

// psbt-tamper-sig IN OUT flips one bit inside the first partial signature
// of the PSBT IN (base64), keeping it well-formed DER, and writes OUT.
func cmdPSBTTamperSig(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: psbt-tamper-sig IN OUT")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(ts.ReadFile(args[0])))
	ts.Check(err)
	p, err := psbt.Decode(raw)
	ts.Check(err)
	for i := range p.Inputs {
		if len(p.Inputs[i].PartialSigs) > 0 {
			sig := p.Inputs[i].PartialSigs[0].Signature
			sig[len(sig)-10] ^= 1 // inside s, away from the DER header and sighash byte
			b64, err := p.B64()
			ts.Check(err)
			ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(b64+"\n"), 0o644))
			return
		}
	}
	ts.Fatalf("psbt-tamper-sig: no partial signature")
}

// sql DB STATEMENT runs one SQL statement on a workspace's state.db, as an
// attacker (or a careless hand) with write access to the disk would.
func cmdSQL(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sql DB STATEMENT")
	}
	db, err := sql.Open("sqlite", ts.MkAbs(args[0]))
	ts.Check(err)
	defer db.Close()
	res, err := db.Exec(args[1])
	ts.Check(err)
	if n, _ := res.RowsAffected(); n == 0 {
		ts.Fatalf("sql: %q changed nothing", args[1])
	}
}

// truncate FILE N cuts FILE to N bytes.
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate FILE N")
	}
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	ts.Check(os.Truncate(ts.MkAbs(args[0]), n))
}
