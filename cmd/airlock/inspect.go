package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/inspect"
	"github.com/airlock-vault/airlock/workspace"
)

func (e *env) inspect(args []string) error {
	fs := e.flags("inspect")
	fs.Bool("json", true, "print JSON (the only format)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("inspect: want one file")
	}
	raw, err := envelope.ReadArtifact(pos[0])
	if err != nil {
		return err
	}
	out, err := inspect.Artifact(raw, e.network)
	if uf, ok := errors.AsType[*inspect.UnknownFormatError](err); ok {
		return fmt.Errorf("%s is %v", pos[0], uf)
	}
	if err != nil {
		return err
	}
	return printJSON(e.stdout, out)
}

// network is the workspace's network, for rendering addresses; empty
// outside a workspace.
func (e *env) network() string {
	ws, err := workspace.Open(e.dir, e.wsOptions())
	if err != nil {
		return ""
	}
	defer ws.Close()
	return ws.Config.Network
}

// inspectSafe is the stateless check of a Safe transaction: hashes,
// decoded calls and flags, without a workspace or a policy. Exit 3 when a
// flag blocks.
func (e *env) inspectSafe(args []string) error {
	fs := e.flags("inspect safe")
	chainID := fs.Uint64("chain-id", 0, "the chain id")
	addr := fs.String("safe", "", "the Safe's address")
	version := fs.String("version", "", "the Safe's contract version: "+strings.Join(inspect.SafeVersions(), ", "))
	txFile := fs.String("tx", "", "the transaction (or message) JSON, Safe Transaction Service field names")
	asJSON := fs.Bool("json", false, "print JSON")
	var trusted multi
	fs.Var(&trusted, "trusted", "a contract delegatecalls may target: NAME=ADDRESS:CODEHASH (repeatable)")
	var book multi
	fs.Var(&book, "address-book", "an address a gas refund may pay without blocking, as a policy's address book lists it (repeatable)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || *chainID == 0 || *addr == "" || *version == "" || *txFile == "" {
		return usagef("inspect safe: want --chain-id N --safe ADDR --version V --tx FILE")
	}
	req := inspect.SafeRequest{ChainID: *chainID, Safe: *addr, Version: *version, AddressBook: book}
	for _, t := range trusted {
		c, err := inspect.ParseTrusted(t)
		if err != nil {
			return usagef("inspect safe: --trusted %q: want NAME=ADDRESS:CODEHASH", t)
		}
		req.Trusted = append(req.Trusted, c)
	}
	var err error
	if req.Tx, err = envelope.ReadArtifact(*txFile); err != nil {
		return err
	}
	res, err := inspect.Safe(req)
	if err != nil {
		return err
	}
	return e.report(res, *asJSON)
}

// report prints a stateless check, as JSON or as lines for a person, and
// exits 3 when a flag blocks.
func (e *env) report(res *inspect.Result, asJSON bool) error {
	if asJSON {
		if err := printJSON(e.stdout, res.Body); err != nil {
			return err
		}
	} else {
		for _, l := range res.Lines {
			fmt.Fprintln(e.stdout, l)
		}
	}
	if b := res.Blocking(); len(b) > 0 {
		return &refusedError{fmt.Sprintf("%d blocking flags (first: %s)", len(b), b[0].Code)}
	}
	return nil
}

// inspectPSBT is the stateless signer-side check of a PSBT against a
// vault named by its descriptor, its signers' xpubs and threshold, or a
// BIP-388 wallet policy: what a station would compute, without a
// workspace or a policy. Exit 3 when a flag blocks.
func (e *env) inspectPSBT(args []string) error {
	fs := e.flags("inspect psbt")
	var spec inspect.VaultSpec
	fs.StringVar(&spec.Descriptor, "descriptor", "", "the vault's descriptor, with its checksum")
	var xpubs, keys multi
	fs.Var(&xpubs, "xpub", "a signer's account key, [fingerprint/path]xpub (repeatable; with --threshold)")
	fs.IntVar(&spec.Threshold, "threshold", 0, "with --xpub: how many signatures the vault needs")
	fs.StringVar(&spec.Script, "script-type", "", "with --xpub: p2wsh (default), p2sh-p2wsh, p2sh or tr")
	fs.StringVar(&spec.WalletPolicy, "wallet-policy", "", "a BIP-388 wallet policy template, e.g. wsh(sortedmulti(2,@0/**,@1/**)) (with --key)")
	fs.Var(&keys, "key", "with --wallet-policy: the key @i stands for, [fingerprint/path]xpub (repeatable, in order)")
	network := fs.String("network", "", "mainnet, testnet3, testnet4, signet or regtest (default: the descriptor's keys say mainnet or a test network; regtest when they are test keys)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	spec.XPubs, spec.PolicyKeys = xpubs, keys
	const want = "inspect psbt: want FILE and one of --descriptor D, --xpub K... --threshold N [--script-type T], --wallet-policy P --key K... [--network N] [--json]"
	if len(pos) != 1 {
		return usagef("%s", want)
	}
	if _, err := spec.Resolve(); errors.Is(err, inspect.ErrVaultForm) {
		return usagef("%s", want)
	}
	raw, err := envelope.ReadArtifact(pos[0])
	if err != nil {
		return err
	}
	res, err := inspect.PSBTFor(context.Background(), raw, spec, *network)
	if errors.Is(err, inspect.ErrVaultForm) {
		return usagef("%s", want)
	}
	if re, ok := errors.AsType[*inspect.RefusedError](err); ok {
		return &refusedError{re.Error()}
	}
	if err != nil {
		return err
	}
	return e.report(res, *asJSON)
}
