package rpc_test

// Tests against a real btcd regtest node (chain/bitcoin/regtest).

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain/bitcoin/regtest"
	"github.com/airlock-vault/airlock/chain/bitcoin/rpc"
)

func TestNode(t *testing.T) {
	node := regtest.Start(t, regtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := rpc.New(node.URL, rpc.WithCAFile(node.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	if n, err := c.GetBlockCount(ctx); err != nil || n != 0 {
		t.Fatalf("GetBlockCount = %d, %v; want 0", n, err)
	}
	genesis := chaincfg.RegressionNetParams.GenesisHash.String()
	if h, err := c.GetBlockHash(ctx, 0); err != nil || h != genesis {
		t.Fatalf("GetBlockHash(0) = %s, %v; want %s", h, err, genesis)
	}

	hashes, err := c.Generate(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.GetBlockCount(ctx); err != nil || n != 3 {
		t.Fatalf("GetBlockCount = %d, %v; want 3", n, err)
	}
	if best, err := c.GetBestBlockHash(ctx); err != nil || best != hashes[2] {
		t.Fatalf("GetBestBlockHash = %s, %v; want %s", best, err, hashes[2])
	}
	if h, err := c.GetBlockHash(ctx, 2); err != nil || h != hashes[1] {
		t.Fatalf("GetBlockHash(2) = %s, %v; want %s", h, err, hashes[1])
	}

	raw, err := c.GetBlock(ctx, hashes[0])
	if err != nil {
		t.Fatal(err)
	}
	var block wire.MsgBlock
	if err := block.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if block.BlockHash().String() != hashes[0] {
		t.Fatalf("GetBlock returned block %s", block.BlockHash())
	}
	cb := block.Transactions[0]
	txid := cb.TxHash().String()

	rawTx, err := c.GetRawTransaction(ctx, txid)
	if err != nil {
		t.Fatal(err)
	}
	var got wire.MsgTx
	if err := got.Deserialize(bytes.NewReader(rawTx)); err != nil || got.TxHash() != cb.TxHash() {
		t.Fatalf("GetRawTransaction returned another transaction (%v)", err)
	}
	info, err := c.GetRawTransactionVerbose(ctx, txid)
	if err != nil {
		t.Fatal(err)
	}
	if info.TxID != txid || info.BlockHash != hashes[0] || info.Confirmations != 3 || info.Hex == "" {
		t.Fatalf("GetRawTransactionVerbose = %+v", info)
	}

	// Node errors come back typed.
	_, err = c.GetRawTransaction(ctx, strings.Repeat("ab", 32))
	if !rpc.IsCode(err, rpc.CodeInvalidAddressOrKey) {
		t.Errorf("unknown transaction: got %v, want code %d", err, rpc.CodeInvalidAddressOrKey)
	}
	_, err = c.SendRawTransaction(ctx, []byte{0xde, 0xad, 0xbe, 0xef})
	if !rpc.IsCode(err, rpc.CodeDeserialization) {
		t.Errorf("garbage transaction: got %v, want code %d", err, rpc.CodeDeserialization)
	}
	// The coinbase is already in the chain.
	_, err = c.SendRawTransaction(ctx, rawTx)
	var rerr *rpc.Error
	if !errors.As(err, &rerr) {
		t.Errorf("resending a coinbase: got %v, want *rpc.Error", err)
	} else {
		t.Logf("resending a coinbase: %v", rerr)
	}
	_, err = c.GenerateToAddress(ctx, 1, "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080")
	if !rpc.IsCode(err, rpc.CodeMethodNotFound) {
		t.Errorf("btcd generatetoaddress: got %v, want code %d (btcd lacks it)", err, rpc.CodeMethodNotFound)
	}
	var anything any
	if err := c.Call(ctx, "nosuchmethod", nil, &anything); !rpc.IsCode(err, rpc.CodeMethodNotFound) {
		t.Errorf("unknown method: got %v", err)
	}
	if err := c.Call(ctx, "getblockhash", []any{"x"}, &anything); err == nil {
		t.Error("bad params accepted")
	} else if _, ok := rpc.ErrorCode(err); !ok {
		t.Errorf("bad params: got untyped %v", err)
	}
}

func TestNodeWrongCredentials(t *testing.T) {
	node := regtest.Start(t, regtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := url.Parse(node.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "not-the-password")
	c, err := rpc.New(u.String(), rpc.WithCAFile(node.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBlockCount(ctx)
	var herr *rpc.HTTPError
	if !errors.As(err, &herr) || herr.StatusCode != 401 {
		t.Fatalf("got %v, want HTTP 401", err)
	}
	if strings.Contains(err.Error(), "not-the-password") {
		t.Fatalf("error leaks the password: %v", err)
	}
}

func TestNodeTLSNeedsItsCert(t *testing.T) {
	node := regtest.Start(t, regtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Without btcd's rpc.cert, the self-signed certificate is not trusted.
	c, err := rpc.New(node.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBlockCount(ctx)
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Fatalf("got %v, want an unknown-authority TLS error", err)
	}
	// Plain http to the TLS port fails rather than sending in clear.
	plain := strings.Replace(node.URL, "https://", "http://", 1)
	c, err = rpc.New(plain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBlockCount(ctx); err == nil {
		t.Fatal("plain http to btcd's TLS port succeeded")
	}
}

func TestNodePlainHTTP(t *testing.T) {
	node := regtest.Start(t, regtest.Options{NoTLS: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := rpc.New(node.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Generate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if n, err := c.GetBlockCount(ctx); err != nil || n != 1 {
		t.Fatalf("GetBlockCount = %d, %v; want 1", n, err)
	}
}
