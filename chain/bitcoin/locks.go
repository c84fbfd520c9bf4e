package bitcoin

import (
	"context"
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain/bitcoin/rpc"
)

// DepthNode is what CheckSequenceLocks asks of a node: *rpc.Client has it.
type DepthNode interface {
	GetRawTransactionVerbose(ctx context.Context, txid string) (*rpc.RawTransaction, error)
}

// CheckSequenceLocks refuses a transaction that a node would refuse as
// not yet final under BIP-68: an input whose block-based relative lock
// (nSequence, in a version 2 transaction) is longer than the spent
// transaction's confirmations, the next block included. It is the
// coordinator's check before broadcast; time-based locks are left to the
// node.
func CheckSequenceLocks(ctx context.Context, node DepthNode, tx *wire.MsgTx) error {
	if tx.Version < 2 {
		return nil
	}
	for i, in := range tx.TxIn {
		seq := in.Sequence
		if seq&wire.SequenceLockTimeDisabled != 0 || seq&wire.SequenceLockTimeIsSeconds != 0 {
			continue
		}
		lock := int64(seq & wire.SequenceLockTimeMask)
		if lock == 0 {
			continue
		}
		rt, err := node.GetRawTransactionVerbose(ctx, in.PreviousOutPoint.Hash.String())
		if err != nil {
			return fmt.Errorf("bitcoin: input %d: the spent transaction %s: %w", i, in.PreviousOutPoint.Hash, err)
		}
		// BIP-68: the next block may hold it when the spent transaction's
		// confirmations (its block included) reach the lock.
		if c := rt.Confirmations; c < lock {
			return fmt.Errorf("bitcoin: input %d (%s) has %d confirmations and waits %d blocks (nSequence): the node refuses it for %d more blocks", i, in.PreviousOutPoint, c, lock, lock-c)
		}
	}
	return nil
}
