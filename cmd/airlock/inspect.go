package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/workspace"
)

func (e *env) inspect(args []string) error {
	if len(args) > 0 && args[0] == "safe" {
		return e.inspectSafe(args[1:])
	}
	if len(args) > 0 && args[0] == "psbt" {
		return e.inspectPSBT(args[1:])
	}
	fs := e.flags("inspect")
	fs.Bool("json", true, "print JSON (the only format)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("inspect: want one file")
	}
	raw, err := readArtifact(pos[0])
	if err != nil {
		return err
	}
	env, envErr := envelope.Decode(raw)
	if envErr != nil {
		desc, psbtErr := bitcoin.DescribePSBT(raw, e.network())
		if psbtErr != nil {
			return fmt.Errorf("%s is neither an airlock envelope (%v) nor a PSBT (%v)", pos[0], envErr, psbtErr)
		}
		return printJSON(e.stdout, map[string]any{"kind": "psbt", "psbt": desc})
	}
	out, err := e.describe(env)
	if err != nil {
		return err
	}
	return printJSON(e.stdout, out)
}

// network is the workspace's network, for rendering addresses; nil outside
// a workspace.
func (e *env) network() *bitcoinNet {
	ws, err := workspace.Open(e.dir, e.wsOptions())
	if err != nil {
		return nil
	}
	defer ws.Close()
	net, err := bitcoin.Network(ws.Config.Network)
	if err != nil {
		return nil
	}
	return net
}

func (e *env) describe(env *envelope.Envelope) (map[string]any, error) {
	var sigs []string
	for _, s := range env.Signatures {
		sigs = append(sigs, s.KeyID)
	}
	out := map[string]any{"kind": env.Type, "id": env.IDHex(), "signedBy": orEmpty(sigs),
		"note": "signatures are listed, not verified: review, collect and policy show verify them"}
	switch env.Type {
	case envelope.TypePolicy:
		p, err := policy.Open(env)
		if err != nil {
			return nil, err
		}
		out["policy"] = policyJSON(&policy.Status{Policy: p, ID: env.IDHex()})
	case envelope.TypeProposal:
		p, err := proposal.Decode(env)
		if err != nil {
			return nil, err
		}
		body := map[string]any{"chain": p.Chain, "vault": p.Vault, "policy": hex.EncodeToString(p.Policy),
			"policyVersion": p.PolicyVersion, "coordinator": p.Coordinator, "intent": p.Intent,
			"created": p.CreatedTime().Format(time.RFC3339), "expires": p.ExpiresTime().Format(time.RFC3339),
			"nonce": hex.EncodeToString(p.Nonce)}
		if p.Chain == "bitcoin" {
			d, err := bitcoin.DescribePSBT(p.Payload, e.network())
			if err != nil {
				return nil, err
			}
			body["psbt"] = d
		}
		out["proposal"] = body
	case envelope.TypeApproval:
		a, err := proposal.DecodeApproval(env)
		if err != nil {
			return nil, err
		}
		var sigs []map[string]any
		for _, s := range a.Signatures {
			sigs = append(sigs, map[string]any{"input": s.Input, "pubkey": hex.EncodeToString(s.PubKey), "signature": hex.EncodeToString(s.Sig)})
		}
		out["approval"] = map[string]any{"proposal": hex.EncodeToString(a.Proposal), "decision": a.Decision, "reason": a.Reason,
			"participant": a.Participant, "device": a.Device, "policy": hex.EncodeToString(a.Policy), "policyVersion": a.PolicyVersion,
			"time": time.Unix(a.Time, 0).UTC().Format(time.RFC3339), "review": hex.EncodeToString(a.Review),
			"override": a.Override, "flagsSeen": orEmpty(a.Flags), "signatures": sigs}
	case envelope.TypeProof:
		p, err := proposal.DecodeProof(env)
		if err != nil {
			return nil, err
		}
		var aps []map[string]any
		for _, a := range p.Approvals {
			aps = append(aps, map[string]any{"participant": a.Participant, "device": a.Device, "approval": hex.EncodeToString(a.Approval), "verified": a.Verified})
		}
		var tx wire.MsgTx
		if err := tx.Deserialize(bytesReader(p.Transaction)); err != nil {
			return nil, fmt.Errorf("proof carries a malformed transaction: %v", err)
		}
		out["proof"] = map[string]any{"proposal": hex.EncodeToString(p.Proposal), "chain": p.Chain, "vault": p.Vault,
			"policy": hex.EncodeToString(p.Policy), "policyVersion": p.PolicyVersion, "threshold": p.Threshold,
			"txid": p.TxID, "transaction": hex.EncodeToString(p.Transaction), "approvals": aps,
			"time": time.Unix(p.Time, 0).UTC().Format(time.RFC3339)}
	default:
		return nil, errors.New("unknown envelope type")
	}
	return out, nil
}

// inspectSafe is the stateless check of a Safe transaction: hashes,
// decoded calls and flags, without a workspace or a policy. Exit 3 when a
// flag blocks.
func (e *env) inspectSafe(args []string) error {
	fs := e.flags("inspect safe")
	chainID := fs.Uint64("chain-id", 0, "the chain id")
	addr := fs.String("safe", "", "the Safe's address")
	version := fs.String("version", "", "the Safe's contract version: "+strings.Join(safe.Versions, ", "))
	txFile := fs.String("tx", "", "the transaction (or message) JSON, Safe Transaction Service field names")
	asJSON := fs.Bool("json", false, "print JSON")
	var trusted multi
	fs.Var(&trusted, "trusted", "a contract delegatecalls may target: NAME=ADDRESS:CODEHASH (repeatable)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || *chainID == 0 || *addr == "" || *version == "" || *txFile == "" {
		return usagef("inspect safe: want --chain-id N --safe ADDR --version V --tx FILE")
	}
	acc := chain.Account{Address: *addr, ChainID: *chainID, Version: *version}
	for _, t := range trusted {
		name, rest, ok1 := strings.Cut(t, "=")
		a, h, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 {
			return usagef("inspect safe: --trusted %q: want NAME=ADDRESS:CODEHASH", t)
		}
		acc.Trusted = append(acc.Trusted, chain.Trusted{Name: name, Address: a, CodeHash: h})
	}
	raw, err := readArtifact(*txFile)
	if err != nil {
		return err
	}
	r, err := safe.Inspect(acc, raw)
	if err != nil {
		return err
	}
	d := r.Details.(safe.Details)
	return e.reportReview(r, *asJSON, map[string]any{
		"domainHash": d.Hashes.Domain, "messageHash": d.Hashes.Message, "safeTxHash": d.Hashes.SafeTx,
		"safe": d.Safe, "chainId": d.ChainID, "version": d.Version, "kind": d.Kind, "nonce": d.Nonce,
		"calls": d.Calls, "refund": d.Refund,
	})
}

// reportReview prints a stateless check — the fields of body plus the flags
// as JSON, or the review's lines and flags for a person — and exits 3 when
// a flag blocks.
func (e *env) reportReview(r *chain.Review, asJSON bool, body map[string]any) error {
	if asJSON {
		body["flags"] = flagsOrEmpty(r.Flags)
		if err := printJSON(e.stdout, body); err != nil {
			return err
		}
	} else {
		for _, l := range r.Lines {
			fmt.Fprintln(e.stdout, l)
		}
		for _, f := range r.Flags {
			fmt.Fprintf(e.stdout, "flag %-5s %s: %s\n", f.Severity, f.Code, f.Message)
		}
	}
	if b := r.Blocking(); len(b) > 0 {
		return &refusedError{fmt.Sprintf("%d blocking flags (first: %s)", len(b), b[0].Code)}
	}
	return nil
}

func flagsOrEmpty(f []chain.Flag) []chain.Flag {
	if f == nil {
		return []chain.Flag{}
	}
	return f
}

// inspectPSBT is the stateless signer-side check of a PSBT against a
// descriptor: what a station would compute, without a workspace or a
// policy. Exit 3 when a flag blocks.
func (e *env) inspectPSBT(args []string) error {
	fs := e.flags("inspect psbt")
	desc := fs.String("descriptor", "", "the vault's descriptor, with its checksum")
	network := fs.String("network", "", "mainnet, testnet3, testnet4, signet or regtest (default: the descriptor's keys say mainnet or a test network; regtest when they are test keys)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *desc == "" {
		return usagef("inspect psbt: want FILE --descriptor D [--network N] [--json]")
	}
	if *network == "" {
		*network = "regtest"
		if strings.Contains(*desc, "xpub") {
			*network = "mainnet"
		}
	}
	raw, err := readArtifact(pos[0])
	if err != nil {
		return err
	}
	payload, err := decodePSBTText(raw)
	if err != nil {
		return err
	}
	v, err := bitcoin.VaultFromDescriptor(*desc, *network)
	if err != nil {
		if strings.Contains(err.Error(), bitcoin.FlagNetworkMismatch) || strings.Contains(err.Error(), bitcoin.FlagDuplicateFingerprint) {
			return &refusedError{err.Error()}
		}
		return err
	}
	r, err := bitcoin.Adapter{}.Review(context.Background(), v, payload)
	if err != nil {
		return err
	}
	d := r.Details.(bitcoin.Details)
	out := map[string]any{
		"txid": d.TxID, "network": d.Network, "fee": d.Fee, "feeRate": d.FeeRate, "vsize": d.VSize,
		"inputs": d.Inputs, "outputs": d.Outputs,
	}
	if d.Path != "" {
		out["spendPath"], out["lockBlocks"] = d.Path, d.Lock
		if d.Tip != "" {
			out["proofTip"] = d.Tip
		}
	}
	return e.reportReview(r, *asJSON, out)
}

// decodePSBTText accepts a PSBT in binary or base64.
func decodePSBTText(raw []byte) ([]byte, error) {
	if bytes.HasPrefix(raw, []byte("psbt\xff")) {
		return raw, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("not a PSBT (binary or base64): %v", err)
	}
	return b, nil
}
