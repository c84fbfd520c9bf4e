package drill

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain/bitcoin/rpc"
)

// BlockInterval is the simulated chain's block time.
const BlockInterval = 10 * time.Minute

// simChain is a regtest chain the drill mines on its clock, one block
// every BlockInterval from the scenario's start: real headers with real
// (regtest) proof of work and merkle roots, holding the rehearsal coins'
// funding transactions. It answers what the maturity proof asks of a node
// (maturity.Node), so a recovery spend's proof is built and checked by the
// real code; it never relays anything.
type simChain struct {
	start   time.Time
	now     func() time.Time
	headers []wire.BlockHeader
	blocks  map[chainhash.Hash]*wire.MsgBlock
	height  map[chainhash.Hash]int
	// pending are transactions for the next block mined; where says the
	// block each confirmed transaction is in.
	pending []*wire.MsgTx
	where   map[chainhash.Hash]chainhash.Hash
}

func newSimChain(start time.Time, now func() time.Time) *simChain {
	return &simChain{start: start, now: now, blocks: map[chainhash.Hash]*wire.MsgBlock{}, height: map[chainhash.Hash]int{}, where: map[chainhash.Hash]chainhash.Hash{}}
}

// confirm puts tx in the next block.
func (c *simChain) confirm(tx *wire.MsgTx) { c.pending = append(c.pending, tx) }

// tip mines every block due by now (block 0 at the start) and returns the
// height of the best block.
func (c *simChain) tip() int {
	due := int(c.now().Sub(c.start) / BlockInterval)
	for len(c.headers) <= due {
		c.mine(c.start.Add(time.Duration(len(c.headers)) * BlockInterval))
	}
	return len(c.headers) - 1
}

// mine adds one block at time at: a coinbase-like first transaction
// (its height, so every block differs) and the pending transactions.
func (c *simChain) mine(at time.Time) {
	n := len(c.headers)
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&chainhash.Hash{}, 0xffffffff), []byte(fmt.Sprintf("drill block %d", n)), nil))
	cb.AddTxOut(wire.NewTxOut(0, []byte{0x6a}))
	txs := append([]*wire.MsgTx{cb}, c.pending...)
	c.pending = nil
	ids := make([]chainhash.Hash, len(txs))
	for i, tx := range txs {
		ids[i] = tx.TxHash()
	}
	var prev chainhash.Hash
	if n > 0 {
		prev = c.headers[n-1].BlockHash()
	}
	params := &chaincfg.RegressionNetParams
	h := wire.BlockHeader{Version: 4, PrevBlock: prev, MerkleRoot: merkleRoot(ids), Timestamp: at, Bits: params.PowLimitBits}
	target := compactTarget(params.PowLimitBits)
	for {
		hash := h.BlockHash()
		if hashBig(hash).Cmp(target) <= 0 {
			break
		}
		h.Nonce++
	}
	b := &wire.MsgBlock{Header: h, Transactions: txs}
	hash := h.BlockHash()
	c.headers = append(c.headers, h)
	c.blocks[hash], c.height[hash] = b, n
	for _, id := range ids[1:] {
		c.where[id] = hash
	}
}

// merkleRoot is Bitcoin's merkle root of txids.
func merkleRoot(ids []chainhash.Hash) chainhash.Hash {
	level := append([]chainhash.Hash(nil), ids...)
	for len(level) > 1 {
		if len(level)%2 == 1 {
			level = append(level, level[len(level)-1])
		}
		next := make([]chainhash.Hash, 0, len(level)/2)
		for i := 0; i < len(level); i += 2 {
			next = append(next, chainhash.DoubleHashH(append(level[i][:], level[i+1][:]...)))
		}
		level = next
	}
	return level[0]
}

func compactTarget(bits uint32) *big.Int {
	mant := int64(bits & 0x007fffff)
	exp := uint(bits >> 24)
	t := big.NewInt(mant)
	if exp <= 3 {
		return t.Rsh(t, 8*(3-exp))
	}
	return t.Lsh(t, 8*(exp-3))
}

func hashBig(h chainhash.Hash) *big.Int {
	var rev [32]byte
	for i := range h {
		rev[31-i] = h[i]
	}
	return new(big.Int).SetBytes(rev[:])
}

// GetRawTransactionVerbose says which block holds a transaction.
func (c *simChain) GetRawTransactionVerbose(_ context.Context, txid string) (*rpc.RawTransaction, error) {
	tip := c.tip()
	id, err := chainhash.NewHashFromStr(txid)
	if err != nil {
		return nil, err
	}
	bh, ok := c.where[*id]
	if !ok {
		return &rpc.RawTransaction{TxID: txid}, nil
	}
	return &rpc.RawTransaction{TxID: txid, BlockHash: bh.String(), Confirmations: int64(tip - c.height[bh] + 1)}, nil
}

// GetBlock is a block, serialized.
func (c *simChain) GetBlock(_ context.Context, hash string) ([]byte, error) {
	h, err := chainhash.NewHashFromStr(hash)
	if err != nil {
		return nil, err
	}
	b, ok := c.blocks[*h]
	if !ok {
		return nil, fmt.Errorf("drill chain: no block %s", hash)
	}
	var buf bytes.Buffer
	err = b.Serialize(&buf)
	return buf.Bytes(), err
}

// GetBlockHeader is a block's header, serialized.
func (c *simChain) GetBlockHeader(_ context.Context, hash string) ([]byte, error) {
	h, err := chainhash.NewHashFromStr(hash)
	if err != nil {
		return nil, err
	}
	b, ok := c.blocks[*h]
	if !ok {
		return nil, fmt.Errorf("drill chain: no block %s", hash)
	}
	var buf bytes.Buffer
	err = b.Header.Serialize(&buf)
	return buf.Bytes(), err
}

// GetBestBlockHash is the tip's hash, once every block due is mined.
func (c *simChain) GetBestBlockHash(context.Context) (string, error) {
	tip := c.tip()
	return c.headers[tip].BlockHash().String(), nil
}
