// Package inspect describes airlock artifacts and runs the stateless checks
// of a transaction, for a person or an auditor who holds the bytes but no
// workspace and no policy.
//
// [Artifact] renders any airlock envelope (a policy, a proposal, an
// approval, a threshold proof) or a bare PSBT as JSON-ready values. It
// decodes untrusted bytes and verifies nothing: the signatures on an
// envelope are listed by key id, not checked, and the description says so
// in its "note" field. A proof's transaction is decoded so that a proof
// carrying bytes that are not a Bitcoin transaction is refused rather than
// shown.
//
// [PSBT] and [Safe] are the checks a signing station makes, without the
// station: a PSBT is reviewed against a vault described by its output
// descriptor alone, a Safe transaction against the Safe's address, chain
// id and contract version. Each returns a [Result] carrying the review's
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

	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
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
// PSBT renders. It is called only when raw holds a PSBT (bare, or in a
// Bitcoin proposal), so that a caller may look it up lazily; nil, or a
// name that is empty or not a Bitcoin network, leaves addresses out.
func Artifact(raw []byte, network func() string) (map[string]any, error) {
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("inspect: %d bytes exceeds %d", len(raw), MaxSize)
	}
	env, envErr := envelope.Decode(raw)
	if envErr != nil {
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
		if err := tx.Deserialize(bytes.NewReader(p.Transaction)); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformedTransaction, err)
		}
		out["proof"] = map[string]any{"proposal": hex.EncodeToString(p.Proposal), "chain": p.Chain, "vault": p.Vault,
			"policy": hex.EncodeToString(p.Policy), "policyVersion": p.PolicyVersion, "threshold": p.Threshold,
			"txid": p.TxID, "transaction": hex.EncodeToString(p.Transaction), "approvals": aps,
			"time": time.Unix(p.Time, 0).UTC().Format(time.RFC3339)}
		if p.Rule != "" {
			out["proof"].(map[string]any)["rule"] = p.Rule
		}
		if p.Path != "" {
			out["proof"].(map[string]any)["path"] = p.Path
		}
	default:
		return nil, ErrUnknownType
	}
	return out, nil
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
