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
		fmt.Fprintf(e.stdout, "\n== %d. %s\n$ airlock %s\n", step, title, shellJoin(args))
		last.Reset()
		sub := &env{dir: e.dir, stdout: &last, stderr: e.stderr, stdin: e.stdin, now: e.now, rehearsal: true}
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
	entries := map[string]string{}
	for _, who := range []string{"coord", "alice", "bob", "carol"} {
		args, title := []string{"-C", ws(who), "key", "new", "--name", who}, who+"'s station creates a seed and an identity"
		if who == "coord" {
			args, title = append(args, "--role", "coordinator"), "the coordinator creates its identity"
		}
		if err := do(title, append(args, keyFlags...)...); err != nil {
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
	polFile, spend, prop := ws("treasury.policy"), ws("spend.psbt"), ws("spend.proposal")
	steps := [][]string{
		{"the coordinator turns policy.yaml into the genesis policy", "-C", ws("coord"), "policy", "init", ws("policy.yaml"), "--out", polFile},
		{"alice checks the policy and co-signs it", "-C", ws("alice"), "policy", "sign", polFile, "--passphrase-file", pass},
		{"bob checks the policy and co-signs it", "-C", ws("bob"), "policy", "sign", polFile, "--passphrase-file", pass},
		{"carol checks the policy and co-signs it", "-C", ws("carol"), "policy", "sign", polFile, "--passphrase-file", pass},
		{"the coordinator adopts the fully signed policy", "-C", ws("coord"), "policy", "import", polFile},
		{"alice adopts the fully signed policy", "-C", ws("alice"), "policy", "import", polFile},
		{"bob adopts the fully signed policy", "-C", ws("bob"), "policy", "import", polFile},
		{"carol adopts the fully signed policy", "-C", ws("carol"), "policy", "import", polFile},
		{"the vault's first receive address", "-C", ws("coord"), "address", "--vault", "ops", "--index", "1"},
		{"a synthetic coin funds the vault; a PSBT spends 0.3 BTC of it", "-C", ws("coord"), "psbt", "synth", "--vault", "ops", "--seed", "1", "--out", spend},
		{"the coordinator wraps the PSBT in a signed proposal", "-C", ws("coord"), "propose", "--vault", "ops", "--psbt", spend, "--intent", "pay supplier invoice 42", "--out", prop, "--passphrase-file", pass},
		{"alice's station reviews it offline, trusting nothing", "-C", ws("alice"), "review", prop},
		{"alice approves and signs", "-C", ws("alice"), "sign", prop, "--approve", "--out", ws("alice.approval"), "--passphrase-file", pass},
		{"carol approves and signs", "-C", ws("carol"), "sign", prop, "--approve", "--out", ws("carol.approval"), "--passphrase-file", pass},
		{"bob rejects, with a reason", "-C", ws("bob"), "sign", prop, "--reject", "--reason", "invoice 42 was already paid by wire", "--out", ws("bob.approval"), "--passphrase-file", pass},
		{"the coordinator verifies and collects the decisions", "-C", ws("coord"), "collect", ws("bob.approval"), ws("alice.approval"), ws("carol.approval")},
		{"status", "-C", ws("coord"), "status"},
	}
	for _, s := range steps {
		if err := do(s[0], s[1:]...); err != nil {
			return err
		}
	}
	id := regexp.MustCompile(`[0-9a-f]{16}`).FindString(last.String())
	steps = [][]string{
		{"the threshold is met: assemble, verify every input with btcd's script engine, prove", "-C", ws("coord"), "finalize", id, "--out", ws("final.tx"), "--passphrase-file", pass},
		{"the coordinator's audit log: recompute the tree, check the signed checkpoint", "-C", ws("coord"), "audit", "verify"},
		{"alice's audit log: recompute the tree, check the signed checkpoint", "-C", ws("alice"), "audit", "verify"},
		{"an inclusion proof of the coordinator's first entry, checkable offline", "-C", ws("coord"), "audit", "prove", "0", "--out", ws("entry0.proof")},
		{"anyone checks that proof with only the coordinator's public identity", "audit", "check-proof", ws("entry0.proof"), "--identity-file", ws("coord/airlock.json")},
	}
	var txid []string
	for i, s := range steps {
		if err := do(s[0], s[1:]...); err != nil {
			return err
		}
		if i == 0 {
			txid = regexp.MustCompile(`txid ([0-9a-f]{64})`).FindStringSubmatch(last.String())
		}
	}
	fmt.Fprintf(e.stdout, "\ndone in %v: final transaction %s\n", time.Since(start).Round(time.Millisecond), txid[1])
	return nil
}

// yamlEntry picks the policy entry out of 'key new' output.
func yamlEntry(out string) string {
	_, entry, _ := strings.Cut(out, ":\n  - id:")
	return "  - id:" + entry
}

// shellJoin quotes what a shell would split, so the transcript can be
// pasted.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`;&|<>()*?[]#~") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

func indent(w interface{ Write([]byte) (int, error) }, s string) {
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if l != "" {
			fmt.Fprintf(w, "   %s\n", l)
		}
	}
}
