package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/bitcoin/rpc"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/workspace"
)

// broadcast sends a finalized Bitcoin transaction to a node: the one the
// threshold proof records, or a file that must be exactly it, after
// checking every input with btcd's script engine.
func (e *env) broadcast(args []string) error {
	fs := e.flags("broadcast")
	rpcURL := fs.String("rpc", "", "the node's JSON-RPC URL, http(s)://user:pass@host:port (or $AIRLOCK_RPC)")
	cert := fs.String("rpc-cert", "", "the node's TLS certificate (btcd's rpc.cert)")
	txFile := fs.String("tx", "", "a raw transaction file (hex) to send; it must be the finalized transaction")
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
	ref := pos[0]
	ref, err = proposalID(ref)
	if err != nil {
		return err
	}
	ws, err := e.openRole(workspace.Coordinator)
	if err != nil {
		return err
	}
	defer ws.Close()
	pe, err := ws.Proposal(ref)
	if err != nil {
		return err
	}
	fe, err := ws.Final(pe.ID())
	if errors.Is(err, workspace.ErrNotFound) {
		return withHint(fmt.Errorf("proposal %s is not finalized", pe.IDHex()[:16]), "run 'airlock finalize' once the threshold is met")
	}
	if err != nil {
		return err
	}
	proof, err := proposal.DecodeProof(fe)
	if err != nil {
		return err
	}
	p, err := proposal.Decode(pe)
	if err != nil {
		return err
	}
	if proof.Chain != "bitcoin" {
		return withHint(fmt.Errorf("proposal %s is a %s transaction; airlock broadcasts Bitcoin transactions", pe.IDHex()[:16], proof.Chain), "send the unsigned transaction finalize wrote from any account")
	}
	raw := proof.Transaction
	if *txFile != "" {
		b, err := readArtifact(*txFile)
		if err != nil {
			return err
		}
		if raw, err = hex.DecodeString(strings.TrimSpace(string(b))); err != nil {
			return fmt.Errorf("%s: not hex: %v", *txFile, err)
		}
		if !bytes.Equal(raw, proof.Transaction) {
			return &refusedError{fmt.Sprintf("%s is not the transaction the threshold proof records (txid %s): refusing to broadcast it", *txFile, proof.TxID)}
		}
	}
	tx, err := bitcoin.CheckFinal(p.Payload, raw)
	if err != nil {
		return &refusedError{err.Error()}
	}
	client, err := dialNode(*rpcURL, *cert)
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := bitcoin.CheckSequenceLocks(ctx, client, tx); err != nil {
		return withHint(&refusedError{err.Error()}, "the transaction waits a relative lock (a recovery spend); broadcast it once the coins are old enough")
	}
	txid, err := client.SendRawTransaction(ctx, raw)
	if err != nil {
		if rpc.IsTxRejected(err) {
			return withHint(err, "the node refused it; nothing was recorded")
		}
		return err
	}
	if txid != tx.TxHash().String() {
		return fmt.Errorf("the node answered txid %s for transaction %s", txid, tx.TxHash())
	}
	if err := e.coordinator(ws).MarkBroadcast(context.Background(), pe.ID(), txid, client.URL()); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "broadcast %s to %s (every input verified by btcd's script engine first)\n", txid, client.URL())
	return nil
}

// dialNode is a JSON-RPC client for the node at url, trusting the TLS
// certificate in the file cert when one is named (btcd's rpc.cert).
func dialNode(url, cert string) (*rpc.Client, error) {
	var opts []rpc.Option
	if cert != "" {
		opts = append(opts, rpc.WithCAFile(cert))
	}
	return rpc.New(url, opts...)
}
