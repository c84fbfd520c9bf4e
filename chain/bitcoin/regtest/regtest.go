// Package regtest starts a real btcd node in regression-test mode for
// tests: private data directory, 127.0.0.1 only, free ports, random RPC
// credentials, a transaction index, and blocks mined on demand.
//
// btcd must be installed: run chain/bitcoin/regtest/install.sh. A test
// that needs a node fails (never skips) when btcd is missing.
//
// btcd mines only to the addresses given with --miningaddr (it has no
// generatetoaddress), so the coinbase recipient is fixed when the node
// starts: Options.MiningAddr. With several Options.MiningAddrs btcd picks
// one at random per block; prefer one.
//
// Regtest coinbases mature after 100 blocks: mine 101 before spending the
// first one.
package regtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/internal/devnode"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain/bitcoin/rpc"
)

const (
	// DefaultStartTimeout bounds waiting for the node's RPC to answer.
	DefaultStartTimeout = 60 * time.Second
	stopTimeout         = 10 * time.Second
	callTimeout         = 60 * time.Second
	maxLogTail          = 64 << 10
	startAttempts       = 3
)

// Options configure Start. The zero value is valid.
type Options struct {
	// MiningAddr receives the coinbase of every mined block: a regtest
	// address (bcrt1…, m…/n…, 2…). Empty, and with no MiningAddrs, a
	// throwaway P2WPKH address is used and the coinbases are unspendable
	// by the test.
	MiningAddr string
	// MiningAddrs adds further --miningaddr addresses; btcd picks one at
	// random for each block.
	MiningAddrs []string
	// NoTLS serves RPC over plain http (btcd allows it on 127.0.0.1).
	// By default RPC is https with btcd's self-generated certificate.
	NoTLS bool
	// StartTimeout bounds the wait for RPC (default DefaultStartTimeout).
	StartTimeout time.Duration
	// Args are extra btcd flags, e.g. "--debuglevel=debug".
	Args []string
}

// Node is a running btcd regtest node, stopped by the test's cleanup.
type Node struct {
	// RPC is a client for the node, with its credentials and certificate.
	RPC *rpc.Client
	// URL is the RPC endpoint with credentials,
	// https://user:pass@127.0.0.1:port, for the CLI's --rpc flag. It is a
	// secret of this test only; do not log it.
	URL string
	// CertFile is btcd's rpc.cert, to trust for URL; empty with NoTLS.
	CertFile string
	// RPCAddr and P2PAddr are the 127.0.0.1:port the node listens on.
	RPCAddr string
	P2PAddr string
	// Dir is the node's private directory (data, logs, config, cert).
	Dir string
	// MiningAddrs are the addresses coinbases pay to.
	MiningAddrs []string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	logs *devnode.Tail
	// logged is set once the output was printed with a failure.
	logged bool
	// ready is set once RPC answered.
	ready bool
}

// Start starts btcd --regtest and waits until its RPC answers. The node is
// stopped when the test ends. It fails the test when btcd is not
// installed, or when it cannot start.
func Start(t testing.TB, opts Options) *Node {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	addrs := append([]string(nil), opts.MiningAddrs...)
	if opts.MiningAddr != "" {
		addrs = append([]string{opts.MiningAddr}, addrs...)
	}
	if len(addrs) == 0 {
		addrs = []string{throwawayAddr(t)}
	}
	for _, a := range addrs {
		ad, err := address.DecodeAddress(a, &chaincfg.RegressionNetParams)
		if err != nil {
			t.Fatalf("regtest: mining address %q: %v", a, err)
		}
		if !ad.IsForNet(&chaincfg.RegressionNetParams) {
			t.Fatalf("regtest: mining address %q is not a regtest address", a)
		}
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	for attempt := 1; ; attempt++ {
		n, retry := start(t, bin, addrs, opts, timeout)
		if n != nil {
			return n
		}
		if !retry || attempt == startAttempts {
			t.Fatalf("regtest: btcd could not bind free ports in %d attempts", attempt)
		}
		t.Logf("regtest: a port was taken; retrying with new ports")
	}
}

// start makes one attempt. It returns retry when the node failed because a
// port was taken between choosing and binding it.
func start(t testing.TB, bin string, addrs []string, opts Options, timeout time.Duration) (n *Node, retry bool) {
	t.Helper()
	dir, err := os.MkdirTemp(t.TempDir(), "btcd")
	if err != nil {
		t.Fatalf("regtest: %v", err)
	}
	ports := devnode.FreePorts(t, 2)
	n = &Node{
		RPCAddr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		P2PAddr:     net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
		Dir:         dir,
		MiningAddrs: addrs,
		done:        make(chan struct{}),
		logs:        &devnode.Tail{Max: maxLogTail},
	}
	user, pass := randomHex(t, 12), randomHex(t, 24)
	// Credentials go in a private config file, not on the command line
	// where other local users could read them. An explicit config file
	// also keeps the user's ~/.btcd/btcd.conf out of the test.
	conf := fmt.Sprintf("[Application Options]\nrpcuser=%s\nrpcpass=%s\n", user, pass)
	confFile := filepath.Join(dir, "btcd.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatalf("regtest: %v", err)
	}
	args := []string{
		"--regtest",
		"--configfile=" + confFile,
		"--datadir=" + filepath.Join(dir, "data"),
		"--logdir=" + filepath.Join(dir, "logs"),
		"--listen=" + n.P2PAddr,
		"--rpclisten=" + n.RPCAddr,
		"--txindex",
		"--nodnsseed",
		"--noonion",
		// Small caches: btcd pre-allocates its UTXO cache (250 MiB by
		// default), which makes starting slow on a loaded machine.
		"--utxocachemaxsize=8",
		"--sigcachemaxsize=1000",
		"--nocfilters",
	}
	scheme := "https"
	if opts.NoTLS {
		scheme = "http"
		args = append(args, "--notls")
	} else {
		n.CertFile = filepath.Join(dir, "rpc.cert")
		args = append(args, "--rpccert="+n.CertFile, "--rpckey="+filepath.Join(dir, "rpc.key"))
	}
	for _, a := range addrs {
		args = append(args, "--miningaddr="+a)
	}
	args = append(args, opts.Args...)
	n.URL = scheme + "://" + user + ":" + pass + "@" + n.RPCAddr

	n.cmd = exec.Command(bin, args...)
	n.cmd.Dir = dir
	n.cmd.Stdout = n.logs
	n.cmd.Stderr = n.logs
	n.cmd.Env = append(os.Environ(), "HOME="+dir)
	devnode.SetProcAttr(n.cmd)
	started := make(chan error, 1)
	go func() {
		// On Linux the child gets SIGKILL when the thread that started it
		// ends (setProcAttr), so that thread is held, locked to this
		// goroutine, until btcd exits; then the goroutine ends and the
		// locked thread with it.
		runtime.LockOSThread()
		if err := n.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = n.cmd.Wait()
		close(n.done)
	}()
	if err := <-started; err != nil {
		t.Fatalf("regtest: starting %s: %v", bin, err)
	}
	t.Cleanup(func() { n.stop(t) })

	if err := n.waitReady(timeout); err != nil {
		select {
		case <-n.done:
			if strings.Contains(n.logs.String(), "address already in use") {
				return nil, true
			}
		default:
		}
		n.logged = true
		t.Fatalf("regtest: %v\n--- btcd output (last %d bytes) ---\n%s", err, maxLogTail, n.logs.String())
	}
	n.ready = true
	return n, false
}

// waitReady polls the RPC until it answers or the node exits.
func (n *Node) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error = errors.New("no answer yet")
	for {
		select {
		case <-n.done:
			return fmt.Errorf("btcd exited while starting: %v", n.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("btcd RPC did not answer within %v: %v", timeout, last)
		}
		if n.RPC == nil {
			var opts []rpc.Option
			if n.CertFile != "" {
				// btcd writes its certificate before serving RPC; until
				// then the file is missing or partial.
				opts = append(opts, rpc.WithCAFile(n.CertFile))
			}
			c, err := rpc.New(n.URL, append(opts, rpc.WithTimeout(callTimeout))...)
			if err != nil {
				last = err
			} else {
				n.RPC = c
			}
		}
		if n.RPC != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := n.RPC.GetBlockCount(ctx)
			cancel()
			if err == nil {
				return nil
			}
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop interrupts the node, kills it after stopTimeout, and prints its
// output when the test failed.
func (n *Node) stop(t testing.TB) {
	if n.RPC != nil {
		n.RPC.Close()
	}
	select {
	case <-n.done:
		if n.ready {
			// Nothing but this cleanup should stop a node that started.
			t.Errorf("regtest: btcd at %s exited before the test ended: %v", n.RPCAddr, n.cmd.ProcessState)
		}
	default:
		_ = n.cmd.Process.Signal(os.Interrupt)
		select {
		case <-n.done:
		case <-time.After(stopTimeout):
			t.Logf("regtest: btcd did not stop within %v of SIGINT; killing it", stopTimeout)
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	}
	if t.Failed() && !n.logged {
		t.Logf("regtest: btcd at %s, output (last %d bytes):\n%s", n.RPCAddr, maxLogTail, n.logs.String())
	}
}

func (n *Node) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

// Mine mines count blocks (btcd's generate) paying to the mining
// address(es) and returns their hashes, oldest first.
func (n *Node) Mine(t testing.TB, count int) []chainhash.Hash {
	t.Helper()
	ctx, cancel := n.ctx()
	defer cancel()
	strs, err := n.RPC.Generate(ctx, count)
	if err != nil {
		t.Fatalf("regtest: mining %d blocks: %v", count, err)
	}
	hashes := make([]chainhash.Hash, len(strs))
	for i, s := range strs {
		h, err := chainhash.NewHashFromStrStrict(s)
		if err != nil {
			t.Fatalf("regtest: mined block hash %q: %v", s, err)
		}
		hashes[i] = *h
	}
	return hashes
}

// Confirmations returns the confirmations of a transaction the node
// knows: 0 in the mempool, 1 in the tip block. It fails the test when the
// node does not know the transaction.
func (n *Node) Confirmations(t testing.TB, txid chainhash.Hash) int {
	t.Helper()
	ctx, cancel := n.ctx()
	defer cancel()
	r, err := n.RPC.GetRawTransactionVerbose(ctx, txid.String())
	if err != nil {
		t.Fatalf("regtest: transaction %s: %v", txid, err)
	}
	return int(r.Confirmations)
}

// Block returns the block with the given hash.
func (n *Node) Block(t testing.TB, hash chainhash.Hash) *wire.MsgBlock {
	t.Helper()
	ctx, cancel := n.ctx()
	defer cancel()
	raw, err := n.RPC.GetBlock(ctx, hash.String())
	if err != nil {
		t.Fatalf("regtest: block %s: %v", hash, err)
	}
	var b wire.MsgBlock
	if err := b.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatalf("regtest: block %s: decoding: %v", hash, err)
	}
	if got := b.BlockHash(); got != hash {
		t.Fatalf("regtest: asked for block %s, got %s", hash, got)
	}
	if len(b.Transactions) == 0 {
		t.Fatalf("regtest: block %s has no transactions", hash)
	}
	return &b
}

// Coinbase returns the coinbase transaction of the block with the given
// hash; its output 0 pays the mining address.
func (n *Node) Coinbase(t testing.TB, blockHash chainhash.Hash) *wire.MsgTx {
	t.Helper()
	return n.Block(t, blockHash).Transactions[0]
}

// Send broadcasts tx and returns its txid; a rejection fails the test.
// To check a rejection, call n.RPC.SendRawTransaction and inspect the
// *rpc.Error.
func (n *Node) Send(t testing.TB, tx *wire.MsgTx) chainhash.Hash {
	t.Helper()
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		t.Fatalf("regtest: serializing transaction: %v", err)
	}
	ctx, cancel := n.ctx()
	defer cancel()
	txid, err := n.RPC.SendRawTransaction(ctx, buf.Bytes())
	if err != nil {
		t.Fatalf("regtest: sending %s: %v", tx.TxHash(), err)
	}
	if want := tx.TxHash().String(); txid != want {
		t.Fatalf("regtest: node reports txid %s for %s", txid, want)
	}
	return tx.TxHash()
}

// Logs returns the end of the node's output.
func (n *Node) Logs() string { return n.logs.String() }

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the btcd executable: from $PATH, else $GOBIN, else
// $(go env GOPATH)/bin. Its error names install.sh.
func Binary() (string, error) {
	binOnce.Do(func() { binPath, binErr = findBinary() })
	return binPath, binErr
}

func findBinary() (string, error) {
	return devnode.FindBinary("regtest", "btcd", "a real btcd node", "chain/bitcoin/regtest/install.sh")
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("regtest: %v", err)
	}
	return hex.EncodeToString(b)
}

// throwawayAddr is a P2WPKH regtest address of a key nobody keeps.
func throwawayAddr(t testing.TB) string {
	k, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatalf("regtest: %v", err)
	}
	a, err := address.NewAddressWitnessPubKeyHash(address.Hash160(k.PubKey().SerializeCompressed()), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatalf("regtest: %v", err)
	}
	return a.EncodeAddress()
}
