package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/workspace"
)

// broadcast sends a finalized Bitcoin transaction to a node: the one the
// threshold proof records, or a file that must be exactly it, after
// checking every input with btcd's script engine (coordinator.Broadcast).
func (e *env) broadcast(args []string) error {
	fs := e.flags("broadcast")
	rpcURL := fs.String("rpc", "", "the node's JSON-RPC URL, http(s)://user:pass@host:port (or $AIRLOCK_RPC)")
	cert := fs.String("rpc-cert", "", "the node's TLS certificate (btcd's rpc.cert)")
	txFile := fs.String("tx", "", "a raw transaction file (hex) to send; it must be the finalized transaction")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("broadcast: want one finalized proposal: its id, a unique prefix, or its file")
	}
	if *rpcURL == "" {
		*rpcURL = os.Getenv("AIRLOCK_RPC")
	}
	if *rpcURL == "" {
		return usagef("broadcast: want --rpc URL or $AIRLOCK_RPC")
	}
	ref, err := proposalID(pos[0])
	if err != nil {
		return err
	}
	var raw []byte
	if *txFile != "" {
		b, err := readArtifact(*txFile)
		if err != nil {
			return err
		}
		if raw, err = hex.DecodeString(strings.TrimSpace(string(b))); err != nil {
			return fmt.Errorf("%s: not hex: %v", *txFile, err)
		}
	}
	ws, err := e.openRole(workspace.Coordinator)
	if err != nil {
		return err
	}
	defer ws.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	txid, url, err := e.coordinator(ws).Broadcast(ctx, ref, raw, coordinator.Node{URL: *rpcURL, CAFile: *cert})
	var ref3 *coordinator.Refusal
	switch {
	case err == nil:
	case errors.Is(err, coordinator.ErrNotFinalized):
		return withHint(err, "run 'airlock finalize' once the threshold is met")
	case errors.Is(err, coordinator.ErrNotBitcoin):
		return withHint(err, "send the unsigned transaction finalize wrote from any account")
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
