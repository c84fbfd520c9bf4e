package maturity

import (
	"bytes"
	"context"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain/bitcoin/rpc"
)

// Node is what Build asks of a node: *rpc.Client has it.
type Node interface {
	GetRawTransactionVerbose(ctx context.Context, txid string) (*rpc.RawTransaction, error)
	GetBlock(ctx context.Context, hash string) ([]byte, error)
	GetBlockHeader(ctx context.Context, hash string) ([]byte, error)
	GetBestBlockHash(ctx context.Context) (string, error)
}

// Build asks node for a proof covering txids: the header run from the
// oldest block holding one of them to the node's tip, walked back from the
// tip so that it is one chain, and each transaction's merkle branch. A
// transaction the node has not confirmed, or that is more than MaxHeaders
// deep, is an error.
func Build(ctx context.Context, node Node, txids []chainhash.Hash) (*Proof, error) {
	if len(txids) == 0 || len(txids) > MaxInclusions {
		return nil, fmt.Errorf("maturity: %d transactions, want 1..%d", len(txids), MaxInclusions)
	}
	want := map[chainhash.Hash][]chainhash.Hash{} // block -> txids in it
	var uniq []chainhash.Hash
	seen := map[chainhash.Hash]bool{}
	for _, id := range txids {
		if seen[id] {
			continue
		}
		seen[id] = true
		uniq = append(uniq, id)
		rt, err := node.GetRawTransactionVerbose(ctx, id.String())
		if err != nil {
			return nil, fmt.Errorf("maturity: transaction %s: %w", id, err)
		}
		if rt.BlockHash == "" || rt.Confirmations <= 0 {
			return nil, fmt.Errorf("maturity: transaction %s is not confirmed", id)
		}
		bh, err := chainhash.NewHashFromStr(rt.BlockHash)
		if err != nil {
			return nil, fmt.Errorf("maturity: transaction %s: block hash: %v", id, err)
		}
		want[*bh] = append(want[*bh], id)
	}
	tipStr, err := node.GetBestBlockHash(ctx)
	if err != nil {
		return nil, fmt.Errorf("maturity: %w", err)
	}
	cur, err := chainhash.NewHashFromStr(tipStr)
	if err != nil {
		return nil, fmt.Errorf("maturity: tip: %v", err)
	}
	var rev []wire.BlockHeader
	found := 0
	blockAt := map[chainhash.Hash]int{} // block -> index in rev
	for found < len(want) {
		if len(rev) == MaxHeaders {
			return nil, fmt.Errorf("maturity: a spent transaction is more than %d blocks deep, or not on the node's best chain", MaxHeaders)
		}
		raw, err := node.GetBlockHeader(ctx, cur.String())
		if err != nil {
			return nil, fmt.Errorf("maturity: header %s: %w", cur, err)
		}
		var h wire.BlockHeader
		if err := h.Deserialize(bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("maturity: header %s: %v", cur, err)
		}
		if h.BlockHash() != *cur {
			return nil, fmt.Errorf("maturity: the node's header for %s hashes to %s", cur, h.BlockHash())
		}
		if _, ok := want[*cur]; ok {
			blockAt[*cur] = len(rev)
			found++
		}
		rev = append(rev, h)
		if h.PrevBlock == (chainhash.Hash{}) && found < len(want) {
			return nil, fmt.Errorf("maturity: reached the genesis block without finding every spent transaction's block")
		}
		cur = &h.PrevBlock
	}
	p := &Proof{Headers: make([]wire.BlockHeader, len(rev))}
	for i, h := range rev {
		p.Headers[len(rev)-1-i] = h
	}
	for block, ids := range want {
		raw, err := node.GetBlock(ctx, block.String())
		if err != nil {
			return nil, fmt.Errorf("maturity: block %s: %w", block, err)
		}
		var b wire.MsgBlock
		if err := b.Deserialize(bytes.NewReader(raw)); err != nil {
			return nil, fmt.Errorf("maturity: block %s: %v", block, err)
		}
		hashes := make([]chainhash.Hash, len(b.Transactions))
		for i, tx := range b.Transactions {
			hashes[i] = tx.TxHash()
		}
		for _, id := range ids {
			pos := -1
			for i, h := range hashes {
				if h == id {
					pos = i
				}
			}
			if pos < 0 {
				return nil, fmt.Errorf("maturity: the node says %s is in block %s, but it is not", id, block)
			}
			p.Inclusions = append(p.Inclusions, Inclusion{TxID: id, Block: len(rev) - 1 - blockAt[block], Position: uint32(pos), Count: uint32(len(hashes)), Branch: Branch(hashes, pos)})
		}
	}
	// Inclusions in the order the caller named the transactions.
	order := map[chainhash.Hash]int{}
	for i, id := range uniq {
		order[id] = i
	}
	sorted := make([]Inclusion, len(p.Inclusions))
	for _, in := range p.Inclusions {
		sorted[order[in.TxID]] = in
	}
	p.Inclusions = sorted
	return p, nil
}
