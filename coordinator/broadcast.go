package coordinator

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/bitcoin/rpc"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/workspace"
)

// Errors of Broadcast, for callers that explain what to do next.
var (
	// ErrNotFinalized: the proposal has no threshold proof yet.
	ErrNotFinalized = errors.New("not finalized")
	// ErrNotBitcoin: airlock sends Bitcoin transactions only; a Safe
	// transaction is executed from any account.
	ErrNotBitcoin = errors.New("not a Bitcoin transaction")
	// ErrNotYetFinal: an input waits a relative lock (a recovery spend).
	ErrNotYetFinal = errors.New("an input's relative lock has not matured")
	// ErrNodeRejected: the node refused the transaction; nothing was
	// recorded.
	ErrNodeRejected = errors.New("the node rejected the transaction")
)

// Refusal is a verdict of the coordinator's own checks (not a failure to
// run them): the transaction offered is not the one the threshold proof
// records, or it does not verify.
// Kind, when set, is the sentinel the refusal is an instance of.
type Refusal struct {
	Reason string
	Kind   error
}

func (r *Refusal) Error() string { return r.Reason }
func (r *Refusal) Unwrap() error { return r.Kind }

// Node is the Bitcoin node a finalized transaction is sent to.
type Node struct {
	// URL is the node's JSON-RPC URL, http(s)://user:pass@host:port.
	URL string
	// CAFile is the node's TLS certificate (btcd's rpc.cert), if any.
	CAFile string
}

// Broadcast sends the finalized Bitcoin transaction of proposal ref to a
// node and records it. The transaction is the one the threshold proof
// records; when raw is given (a file a person holds) it must be exactly
// that transaction. Every input is verified by btcd's script engine and
// every relative lock against the node's view of the chain before it is
// sent. It returns the txid and the node's URL (without credentials).
func (c *Coordinator) Broadcast(ctx context.Context, ref string, raw []byte, node Node) (txid, url string, err error) {
	pe, err := c.WS.Proposal(ref)
	if err != nil {
		return "", "", err
	}
	fe, err := c.WS.Final(pe.ID())
	if errors.Is(err, workspace.ErrNotFound) {
		return "", "", fmt.Errorf("coordinator: proposal %s is %w", pe.IDHex()[:16], ErrNotFinalized)
	}
	if err != nil {
		return "", "", err
	}
	proof, err := proposal.DecodeProof(fe)
	if err != nil {
		return "", "", err
	}
	p, err := proposal.Decode(pe)
	if err != nil {
		return "", "", err
	}
	if proof.Chain != "bitcoin" {
		return "", "", fmt.Errorf("coordinator: proposal %s is a %s transaction, %w: airlock broadcasts Bitcoin transactions", pe.IDHex()[:16], proof.Chain, ErrNotBitcoin)
	}
	if raw == nil {
		raw = proof.Transaction
	} else if !bytes.Equal(raw, proof.Transaction) {
		return "", "", &Refusal{Reason: fmt.Sprintf("the transaction offered is not the transaction the threshold proof records (txid %s): refusing to broadcast it", proof.TxID)}
	}
	tx, err := bitcoin.CheckFinal(p.Payload, raw)
	if err != nil {
		return "", "", &Refusal{Reason: err.Error()}
	}
	var opts []rpc.Option
	if node.CAFile != "" {
		opts = append(opts, rpc.WithCAFile(node.CAFile))
	}
	client, err := rpc.New(node.URL, opts...)
	if err != nil {
		return "", "", err
	}
	defer client.Close()
	if err := bitcoin.CheckSequenceLocks(ctx, client, tx); err != nil {
		return "", "", &Refusal{Reason: err.Error(), Kind: ErrNotYetFinal}
	}
	txid, err = client.SendRawTransaction(ctx, raw)
	if err != nil {
		if rpc.IsTxRejected(err) {
			return "", "", fmt.Errorf("coordinator: %w: %w", ErrNodeRejected, err)
		}
		return "", "", err
	}
	if txid != tx.TxHash().String() {
		return "", "", fmt.Errorf("coordinator: the node answered txid %s for transaction %s", txid, tx.TxHash())
	}
	if err := c.MarkBroadcast(ctx, pe.ID(), txid, client.URL()); err != nil {
		return "", "", err
	}
	return txid, client.URL(), nil
}
