package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	ethkeystore "github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/workspace"
)

// broadcast sends a finalized Bitcoin transaction to a node: the one the
// threshold proof records, or a file that must be exactly it, after
// checking every input with btcd's script engine (coordinator.Broadcast);
// or executes a finalized Safe transaction through an Ethereum node from
// an executor account (broadcastSafe).
func (e *env) broadcast(args []string) error {
	fs := e.flags("broadcast")
	rpcURL := fs.String("rpc", "", "the node's JSON-RPC URL: Bitcoin http(s)://user:pass@host:port (or $AIRLOCK_RPC); Ethereum, for a Safe, http(s)://host[:port][/path] (or $AIRLOCK_ETH_RPC)")
	cert := fs.String("rpc-cert", "", "the Bitcoin node's TLS certificate (btcd's rpc.cert)")
	txFile := fs.String("tx", "", "a raw transaction file (hex) to send; it must be the finalized transaction (for a Safe, the execTransaction calldata)")
	ex := addExecutorFlags(fs)
	maxFee := fs.String("max-fee-per-gas", "", "Safe: the most to pay per gas, in gwei (a decimal such as 30 or 0.5); a base fee that needs more is refused")
	timeout := fs.Duration("timeout", coordinator.DefaultReceiptTimeout, "Safe: how long to wait for the receipt")
	secrets := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("broadcast: want one finalized proposal: its id, a unique prefix, or its file")
	}
	if e.service != "" {
		if *rpcURL != "" || *cert != "" || *txFile != "" || ex.given() || *maxFee != "" {
			return usagef("broadcast: with --coordinator the service sends with its own node and executor: give the proposal alone")
		}
		return e.broadcastRemote(secrets, pos[0], *asJSON)
	}
	ref, err := proposalID(pos[0])
	if err != nil {
		return err
	}
	var raw []byte
	if *txFile != "" {
		b, err := envelope.ReadArtifact(*txFile)
		if err != nil {
			return err
		}
		if raw, err = hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x")); err != nil {
			return fmt.Errorf("%s: not hex: %v", *txFile, err)
		}
	}
	ws, err := e.openRole(workspace.Coordinator)
	if err != nil {
		return err
	}
	defer ws.Close()
	if pe, err := ws.Proposal(ref); err == nil {
		if p, err := proposal.Decode(pe); err == nil && p.Chain == "ethereum" {
			return e.broadcastSafe(ws, ref, raw, *rpcURL, ex, *maxFee, *timeout, *txFile, *asJSON)
		}
	}
	if ex.given() {
		return usagef("broadcast: the executor flags are for a Safe proposal; a Bitcoin transaction needs no executor")
	}
	if *rpcURL == "" {
		*rpcURL = os.Getenv("AIRLOCK_RPC")
	}
	if *rpcURL == "" {
		return usagef("broadcast: want --rpc URL or $AIRLOCK_RPC")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	txid, url, err := e.coordinator(ws).Broadcast(ctx, ref, raw, coordinator.Node{URL: *rpcURL, CAFile: *cert})
	var ref3 *coordinator.Refusal
	switch {
	case err == nil:
	case errors.Is(err, coordinator.ErrNotFinalized):
		return withHint(err, "run 'airlock finalize' once the threshold is met")
	case errors.Is(err, coordinator.ErrNotBitcoin):
		return withHint(err, "a Safe transaction: give --rpc URL --executor-keystore FILE")
	case errors.Is(err, coordinator.ErrNotYetFinal):
		return withHint(&refusedError{err.Error()}, "the transaction waits a relative lock (a recovery spend); broadcast it once the coins are old enough")
	case errors.Is(err, coordinator.ErrNodeRejected):
		return withHint(err, "the node refused it; nothing was recorded")
	case errors.As(err, &ref3) && *txFile != "":
		return &refusedError{*txFile + ": " + err.Error()}
	case errors.As(err, &ref3):
		return &refusedError{err.Error()}
	default:
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			TxID string `json:"txid"`
			Node string `json:"node"`
		}{txid, url})
	}
	fmt.Fprintf(e.stdout, "broadcast %s to %s (every input verified by btcd's script engine first)\n", txid, url)
	return nil
}

// broadcastSafe executes a finalized Safe transaction through an Ethereum
// node (coordinator.BroadcastSafe) from the executor's keystore account.
func (e *env) broadcastSafe(ws *workspace.Workspace, ref string, raw []byte, rpcURL string, ex *executorFlags, maxFee string, timeout time.Duration, txFile string, asJSON bool) error {
	if rpcURL == "" {
		rpcURL = os.Getenv("AIRLOCK_ETH_RPC")
	}
	if rpcURL == "" {
		return usagef("broadcast: a Safe proposal: want --rpc URL or $AIRLOCK_ETH_RPC (an Ethereum node's JSON-RPC)")
	}
	if timeout <= 0 {
		return usagef("broadcast: --timeout must be positive")
	}
	node := coordinator.EthNode{URL: rpcURL, ReceiptTimeout: timeout}
	if maxFee != "" {
		wei, err := safe.ParseGwei(maxFee)
		if err != nil {
			return usagef("broadcast: --max-fee-per-gas %q: %v", maxFee, err)
		}
		node.MaxFeePerGas = wei
	}
	key, closeKey, err := e.openExecutor("broadcast", ex)
	if err != nil {
		return err
	}
	defer closeKey()
	// The estimate, the send and the wait: the receipt's own bound plus
	// time for the checks.
	ctx, cancel := context.WithTimeout(context.Background(), timeout+2*time.Minute)
	defer cancel()
	sent, err := e.coordinator(ws).BroadcastSafe(ctx, ref, raw, node, key)
	var ref3 *coordinator.Refusal
	var rev *coordinator.SafeRevert
	switch {
	case err == nil:
	case errors.Is(err, coordinator.ErrNotFinalized):
		return withHint(err, "run 'airlock finalize' once the threshold is met")
	case errors.As(err, &rev) && rev.TxHash == (common.Hash{}):
		return withHint(&refusedError{err.Error()}, "nothing was sent or recorded; check the Safe's owners and balance against the proposal")
	case errors.As(err, &rev):
		return withHint(err, "the transaction reverted on chain (it paid gas); nothing was recorded")
	case errors.Is(err, coordinator.ErrExecutionFailure):
		return withHint(err, "the Safe's nonce is spent: propose the payment again at the next nonce")
	case errors.Is(err, coordinator.ErrNodeRejected):
		return withHint(err, "the node refused it; nothing was recorded")
	case errors.As(err, &ref3) && txFile != "":
		return &refusedError{txFile + ": " + err.Error()}
	case errors.As(err, &ref3):
		return &refusedError{err.Error()}
	default:
		return err
	}
	return e.printSafeSent(sent, asJSON)
}

// printSafeSent prints an executed Safe transaction.
func (e *env) printSafeSent(sent *coordinator.SafeSent, asJSON bool) error {
	if asJSON {
		return printJSON(e.stdout, struct {
			Chain string `json:"chain"`
			*coordinator.SafeSent
		}{"ethereum", sent})
	}
	fmt.Fprintf(e.stdout, "executed safeTxHash %s on Safe %s (chain %s, nonce %s)\n", sent.SafeTxHash, sent.Safe, sent.ChainID, sent.Nonce)
	fmt.Fprintf(e.stdout, "transaction %s in block %d, %d gas, sent by %s through %s\n", sent.TxHash, sent.Block, sent.GasUsed, sent.Executor, sent.Node)
	fmt.Fprintf(e.stdout, "checked first: %s\n", strings.Join(sent.Checked, "; "))
	return nil
}

// executorKey decrypts the executor's Ethereum V3 keystore file.
func (e *env) executorKey(file, passFile string) (*ecdsa.PrivateKey, error) {
	b, err := envelope.ReadArtifact(file)
	if err != nil {
		return nil, err
	}
	pass, err := e.secret("executor passphrase", "Executor keystore passphrase", passFile, "AIRLOCK_EXECUTOR_PASSPHRASE", "--executor-passphrase-file", false)
	if err != nil {
		return nil, err
	}
	k, err := ethkeystore.DecryptKey(b, string(pass))
	clear(pass)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	return k.PrivateKey, nil
}
