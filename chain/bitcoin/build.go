package bitcoin

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/maturity"
)

// BuildRequest is what a coordinator asks of Build.
type BuildRequest struct {
	// Funding are the funding transactions, raw hex as a node returns them.
	Funding [][]byte
	To      string // the destination address
	Amount  int64  // satoshi to To
	Fee     int64  // satoshi
	// ChangeIndex is the change address's index on branch 1.
	ChangeIndex uint32
	// Recovery spends through the vault's recovery path: every input
	// waits the lock, and Node gives the maturity proof the stations check.
	Recovery bool
	Node     maturity.Node
}

// Built is an unsigned PSBT and what it does.
type Built struct {
	PSBT          []byte
	Coins         int
	Total, Change int64
	Lock          uint32                 // the recovery lock, in blocks
	Depth         map[chainhash.Hash]int // with Recovery: each coin's depth
}

// Build makes an unsigned PSBT spending every vault output of the funding
// transactions: Amount to To, the rest less Fee back to the vault's change
// branch, with full UTXO information, witness scripts and every signer's
// derivation. With Recovery it carries the node's maturity proof, verified
// here first.
func Build(ctx context.Context, cv chain.Vault, r BuildRequest) (*Built, error) {
	if r.Amount <= 0 || r.Fee <= 0 {
		return nil, fmt.Errorf("bitcoin: amount %d and fee %d must be positive", r.Amount, r.Fee)
	}
	lock, hasRecovery := RecoveryLock(cv)
	if r.Recovery && !hasRecovery {
		return nil, fmt.Errorf("bitcoin: vault %q has no recovery path", cv.Name)
	}
	if r.Recovery && r.Node == nil {
		return nil, fmt.Errorf("bitcoin: a recovery spend needs a node for its maturity proof")
	}
	var txs []*wire.MsgTx
	for i, f := range r.Funding {
		b, err := hex.DecodeString(strings.TrimSpace(string(f)))
		if err != nil {
			return nil, fmt.Errorf("bitcoin: funding transaction %d is not raw hex: %v", i+1, err)
		}
		tx := wire.NewMsgTx(2)
		if err := tx.Deserialize(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("bitcoin: funding transaction %d: %v", i+1, err)
		}
		txs = append(txs, tx)
	}
	coins, err := FindCoins(cv, txs)
	if err != nil {
		return nil, err
	}
	out := &Built{Coins: len(coins), Lock: lock}
	for _, c := range coins {
		out.Total += txs[c.Tx].TxOut[c.Vout].Value
	}
	out.Change = out.Total - r.Amount - r.Fee
	if out.Change < 0 {
		return nil, fmt.Errorf("bitcoin: the vault's coins hold %d sat, less than %d + %d fee", out.Total, r.Amount, r.Fee)
	}
	net, err := Network(cv.Network)
	if err != nil {
		return nil, err
	}
	script, err := PayTo(r.To, net)
	if err != nil {
		return nil, err
	}
	spend := Spend{Funding: txs, Coins: coins, Outputs: []*wire.TxOut{wire.NewTxOut(r.Amount, script)},
		ChangeIndex: r.ChangeIndex, ChangeAmount: out.Change, Recovery: r.Recovery}
	if r.Recovery {
		var ids []chainhash.Hash
		for _, c := range coins {
			ids = append(ids, txs[c.Tx].TxHash())
		}
		if spend.Maturity, err = maturity.Build(ctx, r.Node, ids); err != nil {
			return nil, err
		}
		v, err := spend.Maturity.Verify(net)
		if err != nil {
			return nil, fmt.Errorf("bitcoin: the node's own maturity proof does not verify: %v", err)
		}
		out.Depth = v.Depth
	}
	if out.PSBT, err = BuildPSBT(cv, spend); err != nil {
		return nil, err
	}
	return out, nil
}
