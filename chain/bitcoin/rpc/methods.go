package rpc

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
)

// maxGenerate bounds Generate and GenerateToAddress.
const maxGenerate = 10000

// SendRawTransaction broadcasts a serialized transaction and returns its
// txid as the node reports it. A rejected transaction is an *Error, e.g.
// code CodeVerifyRejected (-26) for a script verification failure.
func (c *Client) SendRawTransaction(ctx context.Context, raw []byte) (string, error) {
	if len(raw) == 0 {
		return "", errors.New("rpc: sendrawtransaction: empty transaction")
	}
	var txid string
	if err := c.Call(ctx, "sendrawtransaction", []any{hex.EncodeToString(raw)}, &txid); err != nil {
		return "", err
	}
	if err := checkHash(txid); err != nil {
		return "", fmt.Errorf("rpc: sendrawtransaction: txid: %w", err)
	}
	return txid, nil
}

// GetRawTransaction returns the serialized transaction. The node must
// know it: in its mempool, or in a block with a transaction index
// (btcd --txindex, bitcoind -txindex) or a wallet that has it.
func (c *Client) GetRawTransaction(ctx context.Context, txid string) ([]byte, error) {
	var s string
	if err := c.Call(ctx, "getrawtransaction", []any{txid, 0}, &s); err != nil {
		return nil, err
	}
	return decodeHex("getrawtransaction", s)
}

// RawTransaction is the part of getrawtransaction's verbose result that
// airlock uses. BlockHash is empty and Confirmations 0 while the
// transaction is in the mempool.
type RawTransaction struct {
	TxID          string `json:"txid"`
	Hash          string `json:"hash"` // the wtxid
	Hex           string `json:"hex"`
	BlockHash     string `json:"blockhash"`
	Confirmations int64  `json:"confirmations"`
	Time          int64  `json:"time"`
	BlockTime     int64  `json:"blocktime"`
}

// GetRawTransactionVerbose returns the transaction with its confirmation
// status.
func (c *Client) GetRawTransactionVerbose(ctx context.Context, txid string) (*RawTransaction, error) {
	var r RawTransaction
	if err := c.Call(ctx, "getrawtransaction", []any{txid, 1}, &r); err != nil {
		return nil, err
	}
	if err := checkHash(r.TxID); err != nil {
		return nil, fmt.Errorf("rpc: getrawtransaction: txid: %w", err)
	}
	return &r, nil
}

// GetBlockCount returns the height of the best chain.
func (c *Client) GetBlockCount(ctx context.Context) (int64, error) {
	var n int64
	if err := c.Call(ctx, "getblockcount", nil, &n); err != nil {
		return 0, err
	}
	return n, nil
}

// GetBlockHash returns the hash of the best-chain block at height.
func (c *Client) GetBlockHash(ctx context.Context, height int64) (string, error) {
	var h string
	if err := c.Call(ctx, "getblockhash", []any{height}, &h); err != nil {
		return "", err
	}
	if err := checkHash(h); err != nil {
		return "", fmt.Errorf("rpc: getblockhash: %w", err)
	}
	return h, nil
}

// GetBestBlockHash returns the hash of the best-chain tip.
func (c *Client) GetBestBlockHash(ctx context.Context) (string, error) {
	var h string
	if err := c.Call(ctx, "getbestblockhash", nil, &h); err != nil {
		return "", err
	}
	if err := checkHash(h); err != nil {
		return "", fmt.Errorf("rpc: getbestblockhash: %w", err)
	}
	return h, nil
}

// GetBlock returns the serialized block (getblock with verbosity 0).
func (c *Client) GetBlock(ctx context.Context, hash string) ([]byte, error) {
	var s string
	if err := c.Call(ctx, "getblock", []any{hash, 0}, &s); err != nil {
		return nil, err
	}
	return decodeHex("getblock", s)
}

// Generate mines n blocks with btcd's `generate` (regtest and simnet),
// paying the coinbases to the node's --miningaddr addresses, and returns
// their hashes. Bitcoin Core removed `generate`: use GenerateToAddress.
func (c *Client) Generate(ctx context.Context, n int) ([]string, error) {
	return c.generate(ctx, "generate", n, []any{n})
}

// GenerateToAddress mines n blocks paying to addr (Bitcoin Core, regtest).
// btcd does not have it and answers CodeMethodNotFound.
func (c *Client) GenerateToAddress(ctx context.Context, n int, addr string) ([]string, error) {
	return c.generate(ctx, "generatetoaddress", n, []any{n, addr})
}

func (c *Client) generate(ctx context.Context, method string, n int, params []any) ([]string, error) {
	if n <= 0 || n > maxGenerate {
		return nil, fmt.Errorf("rpc: %s: block count %d out of range 1..%d", method, n, maxGenerate)
	}
	var hashes []string
	if err := c.Call(ctx, method, params, &hashes); err != nil {
		return nil, err
	}
	if len(hashes) != n {
		return nil, fmt.Errorf("rpc: %s: asked for %d blocks, got %d", method, n, len(hashes))
	}
	for _, h := range hashes {
		if err := checkHash(h); err != nil {
			return nil, fmt.Errorf("rpc: %s: %w", method, err)
		}
	}
	return hashes, nil
}

// checkHash checks a txid or block hash as the node prints it: 64 hex
// digits.
func checkHash(h string) error {
	if len(h) != 64 {
		return fmt.Errorf("malformed hash %q", clean(h, 80))
	}
	if _, err := hex.DecodeString(h); err != nil {
		return fmt.Errorf("malformed hash %q", clean(h, 80))
	}
	return nil
}

func decodeHex(method, s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("rpc: %s: result is not hex: %w", method, err)
	}
	return b, nil
}

// GetBlockHeader returns the 80-byte serialized header of a block
// (getblockheader with verbose false).
func (c *Client) GetBlockHeader(ctx context.Context, hash string) ([]byte, error) {
	if err := checkHash(hash); err != nil {
		return nil, fmt.Errorf("rpc: getblockheader: %w", err)
	}
	var s string
	if err := c.Call(ctx, "getblockheader", []any{hash, false}, &s); err != nil {
		return nil, err
	}
	b, err := decodeHex("getblockheader", s)
	if err != nil {
		return nil, err
	}
	if len(b) != 80 {
		return nil, fmt.Errorf("rpc: getblockheader: %d bytes, want 80", len(b))
	}
	return b, nil
}
