// Package inspect describes airlock artifacts and runs the stateless checks
// of a transaction, for a person or an auditor who holds the bytes but no
// workspace and no policy.
//
// [Artifact] renders anything airlock writes — an envelope of every type
// (a policy, a proposal, an approval or external approval, a threshold
// proof of either chain, a transfer manifest, a release), a finalized
// transaction as finalize writes it (hex: a Bitcoin transaction or a
// Safe's execTransaction calldata), an audit-log inclusion proof — or a
// bare PSBT, as JSON-ready values. It
// decodes untrusted bytes and verifies nothing: the signatures on an
// envelope are listed by key id, not checked, and the description says so
// in its "note" field. A proof's transaction is decoded so that a proof
// carrying bytes that are not a Bitcoin transaction is refused rather than
// shown.
//
// [PSBT] and [Safe] are the checks a signing station makes, without the
// station: a PSBT is reviewed against a vault described by its output
// descriptor, its signers' xpubs and threshold, or a BIP-388 wallet policy
// ([VaultSpec]), a Safe transaction against the Safe's address, chain id
// and contract version. Each returns a [Result] carrying the review's
// JSON fields, its lines for a person and its flags; a caller refuses the
// transaction when [Result.Blocking] is not empty.
//
// For example, a Safe transaction that delegatecalls a contract nobody
// pinned (the February 2025 Bybit loss) comes back with one blocking flag:
//
//	res, err := inspect.Safe(inspect.SafeRequest{ChainID: 1, Safe: addr, Version: "1.1.1", Tx: tx})
//	// err == nil; res.Blocking()[0].Code == "delegatecall-untrusted"
//
// Error messages keep the wording the airlock command has always printed.
package inspect

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/transport/media"
)

// MaxSize bounds the bytes any function of this package reads: the largest
// envelope airlock writes.
const MaxSize = envelope.MaxSize

var (
	// ErrUnknownType is an envelope of a type this package does not
	// describe (a manifest, a release, an external approval).
	ErrUnknownType = errors.New("unknown envelope type")
	// ErrMalformedTransaction is a threshold proof whose transaction does
	// not decode as a Bitcoin transaction.
	ErrMalformedTransaction = errors.New("proof carries a malformed transaction")
)

// UnknownFormatError reports bytes that are neither an airlock envelope nor
// a PSBT, with the reason each decoder gave.
type UnknownFormatError struct {
	Envelope error
	PSBT     error
}

func (e *UnknownFormatError) Error() string {
	return fmt.Sprintf("neither an airlock envelope (%v) nor a PSBT (%v)", e.Envelope, e.PSBT)
}

// Artifact describes raw, an airlock envelope or a bare PSBT (binary or
// base64), as values that marshal to the JSON `airlock inspect` prints.
//
// network names the Bitcoin network whose addresses the description of a
// PSBT or a transaction renders. It is called only when raw holds a PSBT
// (bare, or in a Bitcoin proposal) or a bare transaction, so that a caller
// may look it up lazily; nil, or a
// name that is empty or not a Bitcoin network, leaves addresses out.
func Artifact(raw []byte, network func() string) (map[string]any, error) {
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("inspect: %d bytes exceeds %d", len(raw), MaxSize)
	}
	env, envErr := envelope.Decode(raw)
	if envErr != nil {
		if audit.IsProof(raw) {
			return auditProof(raw)
		}
		if out, ok := finalTransaction(raw, network); ok {
			return out, nil
		}
		desc, psbtErr := bitcoin.DescribePSBT(raw, addressNetwork(network))
		if psbtErr != nil {
			return nil, &UnknownFormatError{Envelope: envErr, PSBT: psbtErr}
		}
		return map[string]any{"kind": "psbt", "psbt": desc}, nil
	}
	return describe(env, network)
}

// addressNetwork returns the parameters for rendering addresses, or nil.
// The network only decides whether addresses are shown, never what is
// accepted, so an unknown name is not an error.
func addressNetwork(network func() string) *chaincfg.Params {
	if network == nil {
		return nil
	}
	net, err := bitcoin.Network(network())
	if err != nil {
		return nil
	}
	return net
}

func describe(env *envelope.Envelope, network func() string) (map[string]any, error) {
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
		out["policy"] = Policy(&policy.Status{Policy: p, ID: env.IDHex()})
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
			d, err := bitcoin.DescribePSBT(p.Payload, addressNetwork(network))
			if err != nil {
				return nil, err
			}
			body["psbt"] = d
		}
		if h := p.History; h != nil {
			// The coordinator's spend history: what it claims, unverified.
			body["history"] = map[string]any{"from": h.From, "entries": len(h.Records), "to": h.From + int64(len(h.Records)), "missing": h.Missing}
		}
		out["proposal"] = body
	case envelope.TypeApproval, envelope.TypeExternal:
		a, err := proposal.DecodeApproval(env)
		if err != nil {
			return nil, err
		}
		var sigs []map[string]any
		for _, s := range a.Signatures {
			sigs = append(sigs, map[string]any{"input": s.Input, "pubkey": hex.EncodeToString(s.PubKey), "signature": hex.EncodeToString(s.Sig)})
		}
		if env.Type == envelope.TypeExternal {
			out["note"] = "an external device's signatures, recorded and signed by the coordinator; listed, not verified: collect verifies them"
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
		// No addresses: the network is looked up for a PSBT or a bare
		// transaction only.
		decoded, err := proofTransaction(p.Chain, p.Transaction, nil)
		if err != nil {
			return nil, err
		}
		var ens []map[string]any
		for _, a := range p.Endorsements {
			ens = append(ens, map[string]any{"participant": a.Participant, "approval": hex.EncodeToString(a.Approval)})
		}
		out["proof"] = map[string]any{"proposal": hex.EncodeToString(p.Proposal), "chain": p.Chain, "vault": p.Vault,
			"policy": hex.EncodeToString(p.Policy), "policyVersion": p.PolicyVersion, "threshold": p.Threshold,
			"txid": p.TxID, "transaction": hex.EncodeToString(p.Transaction), "decoded": decoded, "approvals": aps,
			"endorsements": orEmpty(ens), "time": time.Unix(p.Time, 0).UTC().Format(time.RFC3339)}
		out["note"] = "signatures are listed, not verified: 'airlock verify' checks a threshold proof end to end"
		if p.Rule != "" {
			out["proof"].(map[string]any)["rule"] = p.Rule
		}
		if p.Path != "" {
			out["proof"].(map[string]any)["path"] = p.Path
		}
	case envelope.TypeManifest:
		var m media.Manifest
		if err := envelope.Unmarshal(env.Payload, &m); err != nil {
			return nil, fmt.Errorf("inspect: malformed manifest: %v", err)
		}
		out["manifest"] = map[string]any{"origin": m.Origin, "destination": m.Destination, "purpose": m.Purpose,
			"kind": m.Kind, "artifact": hex.EncodeToString(m.Artifact), "digest": hex.EncodeToString(m.Digest),
			"sequence": m.Sequence, "txid": m.TxID, "requiredApprovals": m.Required, "policy": hex.EncodeToString(m.Policy),
			"time": time.Unix(m.Time, 0).UTC().Format(time.RFC3339), "checkpoint": string(m.Checkpoint), "consistencyProofs": len(m.Proofs)}
		out["note"] = "signatures are listed, not verified: 'airlock import' verifies a manifest against the policy"
	case envelope.TypeRelease:
		var r proposal.Release
		if err := envelope.Unmarshal(env.Payload, &r); err != nil {
			return nil, fmt.Errorf("inspect: malformed release: %v", err)
		}
		out["release"] = map[string]any{"proposal": hex.EncodeToString(r.Proposal), "state": r.State, "reason": r.Reason,
			"coordinator": r.Coordinator, "policy": hex.EncodeToString(r.Policy), "policyVersion": r.PolicyVersion,
			"time": r.TimeOf().Format(time.RFC3339)}
		out["note"] = "signatures are listed, not verified: 'airlock release FILE' at a station verifies it"
	default:
		return nil, fmt.Errorf("%w %q", ErrUnknownType, env.Type)
	}
	return out, nil
}

// proofTransaction decodes a threshold proof's final transaction by its
// chain: a Bitcoin transaction, or a Safe's execTransaction calldata.
func proofTransaction(chainName string, raw []byte, network func() string) (map[string]any, error) {
	switch chainName {
	case "bitcoin":
		d, err := bitcoinTx(raw, network)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformedTransaction, err)
		}
		return d, nil
	case "ethereum":
		d, err := safeExec(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformedTransaction, err)
		}
		return d, nil
	}
	return nil, fmt.Errorf("%w: unknown chain %q", ErrMalformedTransaction, chainName)
}

// finalTransaction reads what 'airlock finalize' writes: a transaction in
// hex (a Bitcoin transaction, or a Safe's execTransaction calldata).
func finalTransaction(raw []byte, network func() string) (map[string]any, bool) {
	b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(raw)), "0x"))
	if err != nil || len(b) == 0 {
		return nil, false
	}
	if d, err := safeExec(b); err == nil {
		return map[string]any{"kind": "safe-exec-transaction", "transaction": d,
			"note": "execTransaction calldata as finalize wrote it; 'airlock verify' checks its threshold proof"}, true
	}
	if d, err := bitcoinTx(b, network); err == nil {
		return map[string]any{"kind": "bitcoin-transaction", "transaction": d,
			"note": "a transaction as finalize wrote it; 'airlock verify' checks its threshold proof"}, true
	}
	return nil, false
}

func bitcoinTx(raw []byte, network func() string) (map[string]any, error) {
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	var ins, outs []map[string]any
	for _, in := range tx.TxIn {
		ins = append(ins, map[string]any{"prevout": in.PreviousOutPoint.String(), "sequence": in.Sequence, "witnessItems": len(in.Witness)})
	}
	net := addressNetwork(network)
	for _, o := range tx.TxOut {
		out := map[string]any{"value": o.Value, "script": hex.EncodeToString(o.PkScript)}
		if net != nil {
			if a, err := bitcoin.ScriptAddress(o.PkScript, net); err == nil {
				out["address"] = a
			}
		}
		outs = append(outs, out)
	}
	return map[string]any{"txid": tx.TxHash().String(), "version": tx.Version, "locktime": tx.LockTime,
		"inputs": orEmpty(ins), "outputs": orEmpty(outs)}, nil
}

func safeExec(raw []byte) (map[string]any, error) {
	tx, sigs, err := safe.DecodeExecCalldata(raw)
	if err != nil {
		return nil, err
	}
	return map[string]any{"call": "execTransaction", "to": tx.To.Hex(), "value": tx.Value.String(),
		"data": "0x" + hex.EncodeToString(tx.Data), "operation": tx.Operation, "safeTxGas": tx.SafeTxGas.String(),
		"baseGas": tx.BaseGas.String(), "gasPrice": tx.GasPrice.String(), "gasToken": tx.GasToken.Hex(),
		"refundReceiver": tx.RefundReceiver.Hex(), "signatures": len(sigs) / 65, "signatureBytes": "0x" + hex.EncodeToString(sigs)}, nil
}

// auditProof describes an inclusion proof of an audit log entry.
func auditProof(raw []byte) (map[string]any, error) {
	info, err := audit.DescribeProof(raw)
	if err != nil {
		return nil, err
	}
	return map[string]any{"kind": "audit-proof", "origin": info.Origin, "index": info.Index,
		"entry": map[string]any{"time": info.Entry.Time.UTC().Format(time.RFC3339), "kind": info.Entry.Kind,
			"subject": info.Entry.Subject, "detail": info.Entry.Detail},
		"hashes": info.Hashes, "checkpointSize": info.CheckpointSize, "checkpoint": info.Checkpoint,
		"note": "read, not verified: 'airlock audit check-proof FILE --identity KEY' verifies it"}, nil
}

// DecodePSBTText accepts a PSBT in binary (it starts with the BIP-174 magic
// "psbt\xff") or in base64, surrounding white space ignored. It checks
// the encoding only, not the packet.
func DecodePSBTText(raw []byte) ([]byte, error) {
	if bytes.HasPrefix(raw, []byte("psbt\xff")) {
		return raw, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("not a PSBT (binary or base64): %v", err)
	}
	return b, nil
}

// orEmpty makes a nil list marshal as [] rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
