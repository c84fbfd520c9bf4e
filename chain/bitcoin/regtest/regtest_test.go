package regtest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain/bitcoin/regtest"
	"github.com/airlock-vault/airlock/chain/bitcoin/rpc"
)

// wallet is a single P2WPKH key.
type wallet struct {
	key    *btcec.PrivateKey
	addr   address.Address
	script []byte
}

func newWallet(t *testing.T) *wallet {
	t.Helper()
	key, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	addr, err := address.NewAddressWitnessPubKeyHash(
		address.Hash160(key.PubKey().SerializeCompressed()), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	script, err := txscript.PayToAddrScript(addr)
	if err != nil {
		t.Fatal(err)
	}
	return &wallet{key: key, addr: addr, script: script}
}

// spend builds and signs a transaction spending the coinbase output that
// pays w, back to w less a fee, and checks it with the script engine.
func (w *wallet) spend(t *testing.T, coinbase *wire.MsgTx) *wire.MsgTx {
	t.Helper()
	idx := -1
	for i, out := range coinbase.TxOut {
		if bytes.Equal(out.PkScript, w.script) {
			idx = i
			break
		}
	}
	if idx < 0 {
		t.Fatalf("coinbase %s does not pay %s", coinbase.TxHash(), w.addr)
	}
	amt := coinbase.TxOut[idx].Value
	const fee = 10_000

	tx := wire.NewMsgTx(2)
	cbHash := coinbase.TxHash()
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&cbHash, uint32(idx)), nil, nil))
	tx.AddTxOut(wire.NewTxOut(amt-fee, w.script))

	fetcher := txscript.NewCannedPrevOutputFetcher(w.script, amt)
	sigHashes := txscript.NewTxSigHashes(tx, fetcher)
	wit, err := txscript.WitnessSignature(tx, sigHashes, 0, amt, w.script, txscript.SigHashAll, w.key, true)
	if err != nil {
		t.Fatal(err)
	}
	tx.TxIn[0].Witness = wit

	vm, err := txscript.NewEngine(w.script, tx, 0, txscript.StandardVerifyFlags, nil, sigHashes, amt, fetcher)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.Execute(); err != nil {
		t.Fatalf("our own spend does not verify: %v", err)
	}
	return tx
}

func serialize(t *testing.T, tx *wire.MsgTx) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSpendCoinbase mines to a P2WPKH key, spends a mature coinbase with a
// signature made here, sees it confirm, and sees a tampered signature
// rejected by the node with a script error.
func TestSpendCoinbase(t *testing.T) {
	start := time.Now()
	w := newWallet(t)
	node := regtest.Start(t, regtest.Options{MiningAddr: w.addr.EncodeAddress()})
	t.Logf("node up in %v", time.Since(start))

	mined := time.Now()
	blocks := node.Mine(t, 101)
	if len(blocks) != 101 {
		t.Fatalf("mined %d blocks, want 101", len(blocks))
	}
	t.Logf("101 blocks in %v", time.Since(mined))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if h, err := node.RPC.GetBlockCount(ctx); err != nil || h != 101 {
		t.Fatalf("block count = %d, %v; want 101", h, err)
	}

	// The first coinbase is mature: spend it.
	tx := w.spend(t, node.Coinbase(t, blocks[0]))
	txid := node.Send(t, tx)
	if got := node.Confirmations(t, txid); got != 0 {
		t.Fatalf("confirmations in the mempool = %d, want 0", got)
	}
	tip := node.Mine(t, 1)[0]
	if got := node.Confirmations(t, txid); got != 1 {
		t.Fatalf("confirmations after one block = %d, want 1", got)
	}
	info, err := node.RPC.GetRawTransactionVerbose(ctx, txid.String())
	if err != nil {
		t.Fatal(err)
	}
	if info.BlockHash != tip.String() {
		t.Fatalf("transaction in block %s, want the new tip %s", info.BlockHash, tip)
	}
	block := node.Block(t, tip)
	if len(block.Transactions) != 2 || block.Transactions[1].TxHash() != txid {
		t.Fatalf("tip block does not hold our transaction")
	}
	raw, err := node.RPC.GetRawTransaction(ctx, txid.String())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, serialize(t, tx)) {
		t.Fatal("getrawtransaction returned other bytes than we sent")
	}

	// A tampered signature on a spend of the second coinbase (the first
	// is spent, so a copy of that spend would fail for a missing input
	// before any script runs).
	good := w.spend(t, node.Coinbase(t, blocks[1]))
	bad := good.Copy()
	sig := bad.TxIn[0].Witness[0]
	sig[len(sig)/2] ^= 0x01 // inside S: still DER, no longer valid
	_, err = node.RPC.SendRawTransaction(ctx, serialize(t, bad))
	var rerr *rpc.Error
	if !errors.As(err, &rerr) {
		t.Fatalf("tampered spend: got %v, want an *rpc.Error", err)
	}
	t.Logf("tampered spend rejected: %v", rerr)
	// btcd answers a script failure with -25 (Bitcoin Core with -26).
	if rerr.Code != rpc.CodeVerify || !rpc.IsTxRejected(err) {
		t.Errorf("code = %d, want %d", rerr.Code, rpc.CodeVerify)
	}
	if rerr.Method != "sendrawtransaction" {
		t.Errorf("method = %q", rerr.Method)
	}
	// btcd: "TX rejected: failed to validate input …: signature not
	// empty on failed checksig …"
	if !strings.Contains(rerr.Message, "failed to validate input") || !strings.Contains(rerr.Message, "checksig") {
		t.Errorf("message does not name the script failure: %q", rerr.Message)
	}
	if !strings.Contains(err.Error(), rerr.Message) || !strings.Contains(err.Error(), strconv.Itoa(rerr.Code)) {
		t.Errorf("error text %q does not show the node's code and message", err)
	}

	// The same spend untampered is accepted: the signature was the only
	// fault.
	id2 := node.Send(t, good)
	node.Mine(t, 1)
	if got := node.Confirmations(t, id2); got != 1 {
		t.Fatalf("confirmations = %d, want 1", got)
	}
	if got := node.Confirmations(t, txid); got != 2 {
		t.Fatalf("first spend confirmations = %d, want 2", got)
	}
	t.Logf("whole test in %v", time.Since(start))
}

// TestTwoNodes starts two independent nodes in one process, one with TLS
// and one without.
func TestTwoNodes(t *testing.T) {
	a := regtest.Start(t, regtest.Options{})
	b := regtest.Start(t, regtest.Options{NoTLS: true})

	ports := map[string]bool{}
	for _, addr := range []string{a.RPCAddr, a.P2PAddr, b.RPCAddr, b.P2PAddr} {
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("address %s is not on 127.0.0.1", addr)
		}
		if ports[addr] {
			t.Errorf("address %s used twice", addr)
		}
		ports[addr] = true
	}
	if !strings.HasPrefix(a.URL, "https://") || a.CertFile == "" {
		t.Errorf("TLS node: URL scheme or CertFile wrong (CertFile %q)", a.CertFile)
	}
	if !strings.HasPrefix(b.URL, "http://") || b.CertFile != "" {
		t.Errorf("plain node: URL scheme or CertFile wrong (CertFile %q)", b.CertFile)
	}
	if a.URL == b.URL {
		t.Error("both nodes have the same URL and credentials")
	}

	// Mining on one does not reach the other: they are not peers.
	a.Mine(t, 3)
	b.Mine(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ha, err := a.RPC.GetBlockCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := b.RPC.GetBlockCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ha != 3 || hb != 1 {
		t.Fatalf("heights %d and %d, want 3 and 1", ha, hb)
	}

	// Both serve the regtest genesis block.
	for _, n := range []*regtest.Node{a, b} {
		h, err := n.RPC.GetBlockHash(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if h != chaincfg.RegressionNetParams.GenesisHash.String() {
			t.Fatalf("genesis %s is not regtest's", h)
		}
	}
}

// TestURLForCLI checks that Node.URL and CertFile alone are enough for a
// new client, as the CLI would build it from --rpc.
func TestURLForCLI(t *testing.T) {
	w := newWallet(t)
	n := regtest.Start(t, regtest.Options{MiningAddr: w.addr.EncodeAddress()})
	c, err := rpc.New(n.URL, rpc.WithCAFile(n.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if strings.Contains(c.URL(), "@") {
		t.Fatalf("client URL() carries credentials")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hashes := n.Mine(t, 2)
	best, err := c.GetBestBlockHash(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if best != hashes[1].String() {
		t.Fatalf("best block %s, want %s", best, hashes[1])
	}
	cb := n.Coinbase(t, hashes[0])
	if len(cb.TxIn) != 1 || cb.TxIn[0].PreviousOutPoint.Index != wire.MaxPrevOutIndex ||
		cb.TxIn[0].PreviousOutPoint.Hash != (chainhash.Hash{}) {
		t.Fatal("Coinbase returned a non-coinbase transaction")
	}
	var paid bool
	for _, out := range cb.TxOut {
		paid = paid || bytes.Equal(out.PkScript, w.script)
	}
	if !paid {
		t.Fatal("coinbase does not pay the mining address")
	}
	// The coinbase is in the transaction index.
	if got := n.Confirmations(t, cb.TxHash()); got != 2 {
		t.Fatalf("coinbase confirmations = %d, want 2", got)
	}
	if h := hashes[0]; n.Block(t, h).BlockHash() != h {
		t.Fatal("Block returned another block")
	}
}

// TestMissingBinaryNamesInstallScript runs this test binary with an empty
// PATH and GOPATH so that btcd cannot be found, and checks that the
// subtest fails (not skips) naming install.sh.
func TestMissingBinaryNamesInstallScript(t *testing.T) {
	if os.Getenv("REGTEST_HIDE_BTCD") == "1" {
		regtest.Start(t, regtest.Options{})
		return
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not in PATH: %v", err)
	}
	// Not t.TempDir: the go command the child runs may leave a telemetry
	// writer behind for a moment, and a cleanup that races it fails the
	// test for nothing; the folder is removed as well as can be.
	empty, err := os.MkdirTemp("", "regtest-nobtcd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(empty) })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	goroot, err := exec.CommandContext(ctx, goBin, "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	// A PATH holding only a link to go, in case btcd sits beside go.
	pathDir := filepath.Join(empty, "bin")
	if err := os.Mkdir(pathDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(goBin, filepath.Join(pathDir, "go")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestMissingBinaryNamesInstallScript$", "-test.v")
	cmd.Env = append(os.Environ(),
		"REGTEST_HIDE_BTCD=1",
		"PATH="+pathDir,
		"GOROOT="+strings.TrimSpace(string(goroot)),
		"GOPATH="+empty,
		"GOBIN=",
		"HOME="+empty,
		"GOTELEMETRY=off",
	)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the test passed without btcd:\n%s", out)
	}
	if bytes.Contains(out, []byte("SKIP")) {
		t.Fatalf("the test skipped without btcd:\n%s", out)
	}
	if !bytes.Contains(out, []byte("--- FAIL")) || !bytes.Contains(out, []byte("chain/bitcoin/regtest/install.sh")) {
		t.Fatalf("the failure does not name install.sh:\n%s", out)
	}
}
