package inspect

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/safe"
)

// SafeVersions returns the Safe contract versions [Safe] knows.
func SafeVersions() []string { return slices.Clone(safe.Versions) }

// Result is a stateless check of one transaction.
type Result struct {
	// Review is the chain's review: its details, lines and flags.
	Review *chain.Review
	// Body is the check as JSON fields, "flags" included (an empty list,
	// never null).
	Body map[string]any
	// Lines is the check for a person: the review's lines, then one line
	// per flag.
	Lines []string
}

// Blocking returns the flags that forbid signing, in the review's order.
func (r *Result) Blocking() []chain.Flag {
	if r.Review == nil {
		return nil
	}
	return r.Review.Blocking()
}

// result completes body with the review's flags.
func result(r *chain.Review, body map[string]any) *Result {
	body["flags"] = orEmpty(r.Flags)
	lines := append([]string(nil), r.Lines...)
	for _, f := range r.Flags {
		lines = append(lines, fmt.Sprintf("flag %-5s %s: %s", f.Severity, f.Code, f.Message))
	}
	return &Result{Review: r, Body: body, Lines: lines}
}

// SafeRequest is a Safe transaction (or message) to check, and the Safe it
// is for.
type SafeRequest struct {
	ChainID uint64
	Safe    string // the Safe's address
	Version string // the Safe's contract version, one of [SafeVersions]
	// Trusted are the contracts a delegatecall may target, each pinned by
	// address and code hash; see [ParseTrusted].
	Trusted []chain.Trusted
	// Tx is the transaction or message JSON, with the field names of the
	// Safe Transaction Service.
	Tx []byte
	// AddressBook are the addresses a policy's address book would list
	// for the Safe: a gas refund paid to one of them only warns, to any
	// other non-zero receiver it blocks.
	AddressBook []string
}

// TrustedSyntaxError reports a trusted contract that is not written
// NAME=ADDRESS:CODEHASH.
type TrustedSyntaxError struct {
	Spec string
}

func (e *TrustedSyntaxError) Error() string {
	return fmt.Sprintf("inspect: trusted contract %q: want NAME=ADDRESS:CODEHASH", e.Spec)
}

// ParseTrusted reads a contract a delegatecall may target, written
// NAME=ADDRESS:CODEHASH. It checks the shape only: [Safe] judges the
// address and the hash.
func ParseTrusted(spec string) (chain.Trusted, error) {
	name, rest, ok1 := strings.Cut(spec, "=")
	addr, hash, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return chain.Trusted{}, &TrustedSyntaxError{Spec: spec}
	}
	return chain.Trusted{Name: name, Address: addr, CodeHash: hash}, nil
}

// Safe checks a Safe transaction or message as a station would, without its
// owners or a policy: the EIP-712 hashes, the decoded calls and the flags.
func Safe(req SafeRequest) (*Result, error) {
	if len(req.Tx) > MaxSize {
		return nil, fmt.Errorf("inspect: %d bytes exceeds %d", len(req.Tx), MaxSize)
	}
	acc := chain.Account{Address: req.Safe, ChainID: req.ChainID, Version: req.Version, Trusted: req.Trusted, AddressBook: req.AddressBook}
	r, err := safe.Inspect(acc, req.Tx)
	if err != nil {
		return nil, err
	}
	d, ok := r.Details.(safe.Details)
	if !ok {
		return nil, fmt.Errorf("inspect: the Safe review holds %T, not safe.Details", r.Details)
	}
	return result(r, map[string]any{
		"domainHash": d.Hashes.Domain, "messageHash": d.Hashes.Message, "safeTxHash": d.Hashes.SafeTx,
		"safe": d.Safe, "chainId": d.ChainID, "version": d.Version, "kind": d.Kind, "nonce": d.Nonce,
		"calls": d.Calls, "refund": d.Refund,
	}), nil
}

// RefusedError is a descriptor refused before any review: its keys are for
// another network than the one asked for, or two of its keys share a master
// fingerprint.
type RefusedError struct {
	Err error
}

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// DefaultNetwork is the network [PSBT] checks against when none is named:
// mainnet when the descriptor holds xpubs, regtest otherwise (test keys do
// not say which test network they are for).
func DefaultNetwork(descriptor string) string {
	if strings.Contains(descriptor, "xpub") {
		return "mainnet"
	}
	return "regtest"
}

// PSBT checks a PSBT (binary or base64) as a station would, against the
// vault the descriptor describes on network ("" for [DefaultNetwork]):
// which inputs and change outputs are the vault's, the fee, the spend path
// of a vault with a recovery path, and the flags. A descriptor for another
// network, or with two keys under one master fingerprint, is a
// *[RefusedError].
func PSBT(ctx context.Context, raw []byte, descriptor, network string) (*Result, error) {
	return PSBTFor(ctx, raw, VaultSpec{Descriptor: descriptor}, network)
}

// PSBTFor is [PSBT] for a vault named in any form of [VaultSpec]; the
// result's "descriptor" is the one the spec resolved to.
func PSBTFor(ctx context.Context, raw []byte, spec VaultSpec, network string) (*Result, error) {
	if len(raw) > MaxSize {
		return nil, fmt.Errorf("inspect: %d bytes exceeds %d", len(raw), MaxSize)
	}
	descriptor, err := spec.Resolve()
	if err != nil {
		return nil, err
	}
	if network == "" {
		network = DefaultNetwork(descriptor)
	}
	payload, err := DecodePSBTText(raw)
	if err != nil {
		return nil, err
	}
	v, err := bitcoin.VaultFromDescriptor(descriptor, network)
	if err != nil {
		if strings.Contains(err.Error(), bitcoin.FlagNetworkMismatch) || strings.Contains(err.Error(), bitcoin.FlagDuplicateFingerprint) {
			return nil, &RefusedError{Err: err}
		}
		return nil, err
	}
	r, err := bitcoin.Adapter{}.Review(ctx, v, payload)
	if err != nil {
		return nil, err
	}
	d, ok := r.Details.(bitcoin.Details)
	if !ok {
		return nil, fmt.Errorf("inspect: the Bitcoin review holds %T, not bitcoin.Details", r.Details)
	}
	body := map[string]any{
		"txid": d.TxID, "network": d.Network, "fee": d.Fee, "feeRate": d.FeeRate, "vsize": d.VSize,
		"inputs": d.Inputs, "outputs": d.Outputs, "descriptor": v.Descriptor,
		"feeKnown": d.FeeKnown, "in": d.In, "sending": d.Sending,
		"feePercentOfSending": d.FeePercentOfSending, "feePercentOfInputs": d.FeePercentOfInputs,
		"feeCapPercent": d.FeeCapPercent, "feeCapBasis": d.FeeCapBasis,
	}
	if d.Path != "" {
		body["spendPath"], body["lockBlocks"] = d.Path, d.Lock
		if d.Tip != "" {
			body["proofTip"] = d.Tip
		}
	}
	return result(r, body), nil
}
