package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// demo plays every role of a 2-of-3 round in a temporary folder: a
// coordinator and three stations, a genesis policy signed by all, a
// synthetic funding transaction and a PSBT spending it, one rejection with
// a reason, two approvals, the final transaction verified by btcd's script
// engine, and both sides' audit logs verified.
func (e *env) demo(args []string) error {
	fs := e.flags("demo")
	keep := fs.Bool("keep", false, "keep the temporary folder")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("demo: unexpected argument %q", pos[0])
	}
	start := time.Now()
	dir, err := os.MkdirTemp("", "airlock-demo-")
	if err != nil {
		return err
	}
	if *keep {
		fmt.Fprintf(e.stdout, "working in %s (kept)\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	pass := filepath.Join(dir, "passphrase")
	if err := os.WriteFile(pass, []byte("demo passphrase, not a secret\n"), 0o600); err != nil {
		return err
	}
	ws := func(name string) string { return filepath.Join(dir, name) }
	step := 0
	var last bytes.Buffer
	do := func(title string, args ...string) error {
		step++
		fmt.Fprintf(e.stdout, "\n== %d. %s\n$ airlock %s\n", step, title, strings.Join(args, " "))
		last.Reset()
		sub := &env{dir: e.dir, stdout: &last, stderr: e.stderr, stdin: e.stdin, now: e.now}
		if args[0] == "-C" {
			sub.dir = args[1]
			args = args[2:]
		}
		err := dispatch(sub, args[0], args[1:])
		indent(e.stdout, last.String())
		return err
	}
	// A low scrypt work factor keeps the demo fast; real keystores use 18.
	keyFlags := []string{"--passphrase-file", pass, "--work-factor", "12"}
	if err := do("the coordinator creates its identity", append([]string{"-C", ws("coordinator"), "key", "new", "--role", "coordinator", "--name", "coord"}, keyFlags...)...); err != nil {
		return err
	}
	entries := map[string]string{}
	entries["coord"] = yamlEntry(last.String())
	for _, who := range []string{"alice", "bob", "carol"} {
		if err := do(who+"'s station creates a seed and an identity", append([]string{"-C", ws(who), "key", "new", "--name", who}, keyFlags...)...); err != nil {
			return err
		}
		entries[who] = yamlEntry(last.String())
	}
	policyYAML := "name: treasury\nnetwork: regtest\nmax_proposal_lifetime: 72h\npolicy_threshold: 2\ncoordinators:\n" + entries["coord"] +
		"participants:\n" + entries["alice"] + entries["bob"] + entries["carol"] +
		"vaults:\n  - name: ops\n    chain: bitcoin\n    threshold: 2\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n    limits:\n      max_fee_rate: 100\n"
	if err := os.WriteFile(ws("policy.yaml"), []byte(policyYAML), 0o644); err != nil {
		return err
	}
	polFile := ws("treasury.policy")
	if err := do("the coordinator turns policy.yaml into the genesis policy", "-C", ws("coordinator"), "policy", "init", ws("policy.yaml"), "--out", polFile); err != nil {
		return err
	}
	for _, who := range []string{"alice", "bob", "carol"} {
		if err := do(who+" checks the policy and co-signs it", "-C", ws(who), "policy", "sign", polFile, "--passphrase-file", pass); err != nil {
			return err
		}
	}
	for _, who := range []string{"coordinator", "alice", "bob", "carol"} {
		if err := do(who+" adopts the fully signed policy", "-C", ws(who), "policy", "import", polFile); err != nil {
			return err
		}
	}
	if err := do("the vault's first receive address", "-C", ws("coordinator"), "address", "--vault", "ops", "--index", "1"); err != nil {
		return err
	}
	spend := ws("spend.psbt")
	if err := do("a synthetic coin funds the vault; a PSBT spends 0.3 BTC of it", "-C", ws("coordinator"), "psbt", "synth", "--vault", "ops", "--seed", "1", "--out", spend); err != nil {
		return err
	}
	prop := ws("spend.proposal")
	if err := do("the coordinator wraps the PSBT in a signed proposal", "-C", ws("coordinator"), "propose", "--vault", "ops", "--psbt", spend, "--intent", "pay supplier invoice 42", "--out", prop, "--passphrase-file", pass); err != nil {
		return err
	}
	if err := do("alice's station reviews it offline, trusting nothing", "-C", ws("alice"), "review", prop); err != nil {
		return err
	}
	approvals := []string{}
	for _, who := range []string{"alice", "carol"} {
		out := ws(who + ".approval")
		if err := do(who+" approves and signs", "-C", ws(who), "sign", prop, "--approve", "--out", out, "--passphrase-file", pass); err != nil {
			return err
		}
		approvals = append(approvals, out)
	}
	bobOut := ws("bob.approval")
	if err := do("bob rejects, with a reason", "-C", ws("bob"), "sign", prop, "--reject", "--reason", "invoice 42 was already paid by wire", "--out", bobOut, "--passphrase-file", pass); err != nil {
		return err
	}
	if err := do("the coordinator verifies and collects the decisions", append([]string{"-C", ws("coordinator"), "collect", bobOut}, approvals...)...); err != nil {
		return err
	}
	if err := do("status", "-C", ws("coordinator"), "status"); err != nil {
		return err
	}
	id := regexp.MustCompile(`[0-9a-f]{16}`).FindString(last.String())
	txFile := ws("final.tx")
	if err := do("the threshold is met: assemble, verify every input with btcd's script engine, prove", "-C", ws("coordinator"), "finalize", id, "--out", txFile, "--passphrase-file", pass); err != nil {
		return err
	}
	txid := regexp.MustCompile(`txid ([0-9a-f]{64})`).FindStringSubmatch(last.String())
	for _, who := range []string{"coordinator", "alice"} {
		if err := do(who+"'s audit log: recompute the tree, check the signed checkpoint", "-C", ws(who), "audit", "verify"); err != nil {
			return err
		}
	}
	if err := do("an inclusion proof of the coordinator's first entry, checkable offline", "-C", ws("coordinator"), "audit", "prove", "0", "--out", ws("entry0.proof")); err != nil {
		return err
	}
	if err := do("anyone checks that proof with only the coordinator's public identity", "audit", "check-proof", ws("entry0.proof"), "--identity-file", ws("coordinator/airlock.json")); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\ndone in %v: final transaction %s\n", time.Since(start).Round(time.Millisecond), txid[1])
	return nil
}

// yamlEntry picks the policy entry out of 'key new' output.
func yamlEntry(out string) string {
	_, entry, _ := strings.Cut(out, ":\n  - id:")
	return "  - id:" + entry
}

func indent(w interface{ Write([]byte) (int, error) }, s string) {
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l != "" {
			fmt.Fprintf(w, "   %s\n", l)
		}
	}
}
