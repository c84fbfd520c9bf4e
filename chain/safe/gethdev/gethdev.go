// Package gethdev starts a real go-ethereum node (geth --dev) for tests:
// a private data directory, JSON-RPC over http on 127.0.0.1 at a free
// port, no IPC, no peers and no discovery, and a block mined as soon as a
// transaction arrives. Its developer account (DevKey) holds nearly 2^256
// wei and funds everything else.
//
// geth must be installed at the version go.mod pins (Version): run
// chain/safe/gethdev/install.sh. A test that needs a node fails (never
// skips) when geth is missing or another version.
//
// Chain rules. geth --dev builds its genesis from
// params.AllDevChainProtocolChanges, which in v1.17.10 also enables the
// not-yet-scheduled "Bogota" fork (Amsterdam's instruction set: EIP-8037
// state-gas metering, EIP-8038 state-access repricing). The Safe
// contracts reason about gasleft() for today's schedule, so by default
// Start writes the dev genesis with Bogota and Amsterdam switched off and
// runs the chain on Osaka rules, mainnet's current fork, as
// chain/safe/safesim does for the simulated backend (geth init, then
// geth --dev on that data directory). Options.GethForks keeps geth's own
// genesis. The chain id is 1337 either way.
package gethdev

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/internal/devnode"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
)

// Version is the geth release the tests run: the go-ethereum module
// go.mod pins.
const Version = "1.17.10"

// devKeyHex is geth's developer key (cmd/utils.DeveloperKey), a
// well-known test key: geth --dev funds its address at genesis.
const devKeyHex = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"

const (
	// DefaultStartTimeout bounds waiting for the node's RPC to answer.
	DefaultStartTimeout = 60 * time.Second
	// DefaultGasLimit is the dev chain's block gas limit.
	DefaultGasLimit = 60_000_000
	// ReceiptTimeout bounds waiting for a transaction to be mined.
	ReceiptTimeout = 60 * time.Second
	stopTimeout    = 10 * time.Second
	callTimeout    = 60 * time.Second
	maxLogTail     = 64 << 10
	startAttempts  = 3
)

// Options configure Start. The zero value is valid.
type Options struct {
	// Period is --dev.period in seconds: 0 (the default) mines a block
	// as soon as a transaction arrives, N mines one every N seconds.
	Period int
	// GasLimit is the block gas limit (default DefaultGasLimit).
	GasLimit uint64
	// GethForks runs geth's own dev genesis, with the forks after Osaka
	// (see the package documentation). By default the chain runs on
	// Osaka rules.
	GethForks bool
	// StartTimeout bounds the wait for RPC (default DefaultStartTimeout).
	StartTimeout time.Duration
	// Args are extra geth flags, e.g. "--verbosity=4".
	Args []string
}

// Node is a running geth --dev node, stopped by the test's cleanup.
type Node struct {
	// URL is the JSON-RPC endpoint, http://127.0.0.1:port.
	URL string
	// Client is an ethclient for URL; RPC the raw client under it.
	Client *ethclient.Client
	RPC    *rpc.Client
	// ChainID is the node's chain id (1337).
	ChainID *big.Int
	// DevKey is the funded developer account's key, DevAddr its address.
	DevKey  *ecdsa.PrivateKey
	DevAddr common.Address
	// Dir is the node's private directory (data, genesis, logs).
	Dir string

	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	logs   *devnode.Tail
	logged bool // the output was printed with a failure
	ready  bool // RPC answered

	mu sync.Mutex // serialises Send's nonce choice
}

// DevKey returns geth's developer key, the account geth --dev funds.
func DevKey() *ecdsa.PrivateKey {
	k, err := crypto.HexToECDSA(devKeyHex)
	if err != nil {
		panic(err)
	}
	return k
}

// Start starts geth --dev and waits until its RPC answers and the
// developer account is funded. The node is stopped when the test ends.
// It fails the test when geth is not installed at Version, or when it
// cannot start.
func Start(t testing.TB, opts Options) *Node {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	if opts.GasLimit == 0 {
		opts.GasLimit = DefaultGasLimit
	}
	if opts.Period < 0 {
		t.Fatalf("gethdev: period %d", opts.Period)
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	for attempt := 1; ; attempt++ {
		n, retry := start(t, bin, opts, timeout)
		if n != nil {
			return n
		}
		if !retry || attempt == startAttempts {
			t.Fatalf("gethdev: geth could not bind free ports in %d attempts", attempt)
		}
		t.Logf("gethdev: a port was taken; retrying with new ports")
	}
}

// start makes one attempt. It returns retry when the node failed because
// a port was taken between choosing and binding it.
func start(t testing.TB, bin string, opts Options, timeout time.Duration) (n *Node, retry bool) {
	t.Helper()
	dir, err := os.MkdirTemp(t.TempDir(), "geth")
	if err != nil {
		t.Fatalf("gethdev: %v", err)
	}
	key := DevKey()
	n = &Node{
		Dir:     dir,
		DevKey:  key,
		DevAddr: crypto.PubkeyToAddress(key.PublicKey),
		done:    make(chan struct{}),
		logs:    &devnode.Tail{Max: maxLogTail},
	}
	datadir := filepath.Join(dir, "data")
	if !opts.GethForks {
		if err := n.initOsaka(bin, datadir, opts.GasLimit); err != nil {
			t.Fatalf("gethdev: %v\n--- geth init output ---\n%s", err, n.logs.String())
		}
	}
	ports := devnode.FreePorts(t, 2)
	httpAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	n.URL = "http://" + httpAddr
	args := []string{
		"--dev",
		"--dev.period=" + strconv.Itoa(opts.Period),
		"--dev.gaslimit=" + strconv.FormatUint(opts.GasLimit, 10),
		"--datadir=" + datadir,
		"--ipcdisable",
		"--nodiscover",
		"--maxpeers=0",
		"--nat=none",
		"--http",
		"--http.addr=127.0.0.1",
		"--http.port=" + strconv.Itoa(ports[0]),
		"--http.api=eth,net,web3,debug,txpool",
		"--authrpc.addr=127.0.0.1",
		"--authrpc.port=" + strconv.Itoa(ports[1]),
		"--cache=64",
	}
	args = append(args, opts.Args...)
	n.cmd = exec.Command(bin, args...)
	n.cmd.Dir = dir
	n.cmd.Stdout = n.logs
	n.cmd.Stderr = n.logs
	// A private HOME keeps the user's geth configuration out.
	n.cmd.Env = append(os.Environ(), "HOME="+dir)
	devnode.SetProcAttr(n.cmd)
	started := make(chan error, 1)
	go func() {
		// On Linux the child gets SIGKILL when the thread that started it
		// ends (setProcAttr), so that thread is held, locked to this
		// goroutine, until geth exits.
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
		t.Fatalf("gethdev: starting %s: %v", bin, err)
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
		t.Fatalf("gethdev: %v\n--- geth output (last %d bytes) ---\n%s", err, maxLogTail, n.logs.String())
	}
	n.ready = true
	return n, false
}

// initOsaka writes the dev genesis on Osaka rules into datadir with geth
// init; geth --dev then runs the chain it finds there.
func (n *Node) initOsaka(bin, datadir string, gasLimit uint64) error {
	g := core.DeveloperGenesisBlock(gasLimit, &n.DevAddr)
	cfg := *g.Config
	cfg.BogotaTime = nil
	cfg.AmsterdamTime = nil
	g.Config = &cfg
	raw, err := json.Marshal(g)
	if err != nil {
		return err
	}
	file := filepath.Join(n.Dir, "genesis.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "init", "--datadir="+datadir, file)
	cmd.Dir = n.Dir
	cmd.Env = append(os.Environ(), "HOME="+n.Dir)
	cmd.Stdout, cmd.Stderr = n.logs, n.logs
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("geth init (Osaka rules): %v", err)
	}
	return nil
}

// waitReady polls the RPC until it answers with the dev account funded,
// or the node exits.
func (n *Node) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error = errors.New("no answer yet")
	for {
		select {
		case <-n.done:
			return fmt.Errorf("geth exited while starting: %v", n.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("geth RPC did not answer within %v: %v", timeout, last)
		}
		if n.RPC == nil {
			c, err := rpc.DialOptions(context.Background(), n.URL)
			if err != nil {
				last = err
			} else {
				n.RPC = c
				n.Client = ethclient.NewClient(c)
			}
		}
		if n.Client != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			id, err := n.Client.ChainID(ctx)
			var bal *big.Int
			if err == nil {
				bal, err = n.Client.BalanceAt(ctx, n.DevAddr, nil)
			}
			cancel()
			if err == nil && bal.Sign() > 0 {
				n.ChainID = id
				return nil
			}
			if err == nil {
				err = fmt.Errorf("the developer account %s has no ether", n.DevAddr)
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
			t.Errorf("gethdev: geth at %s exited before the test ended: %v", n.URL, n.cmd.ProcessState)
		}
	default:
		_ = n.cmd.Process.Signal(os.Interrupt)
		select {
		case <-n.done:
		case <-time.After(stopTimeout):
			t.Logf("gethdev: geth did not stop within %v of SIGINT; killing it", stopTimeout)
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	}
	if t.Failed() && !n.logged {
		t.Logf("gethdev: geth at %s, output (last %d bytes):\n%s", n.URL, maxLogTail, n.logs.String())
	}
}

// Send signs an EIP-1559 transaction from key carrying value and data to
// `to` (nil: a contract creation), waits until it is mined and returns
// its receipt, whatever its status. The gas is estimated with a margin;
// a call whose estimate fails is sent with gas, so that the caller gets a
// status-0 receipt. Failing to get it mined fails the test.
func (n *Node) Send(t testing.TB, key *ecdsa.PrivateKey, to *common.Address, value *big.Int, data []byte, gas uint64) *types.Receipt {
	t.Helper()
	if value == nil {
		value = new(big.Int)
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	from := crypto.PubkeyToAddress(key.PublicKey)
	n.mu.Lock()
	nonce, err := n.Client.PendingNonceAt(ctx, from)
	if err != nil {
		n.mu.Unlock()
		t.Fatalf("gethdev: nonce of %s: %v", from, err)
	}
	head, err := n.Client.HeaderByNumber(ctx, nil)
	if err != nil {
		n.mu.Unlock()
		t.Fatalf("gethdev: head: %v", err)
	}
	tip := big.NewInt(params.GWei)
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(n.ChainID), &types.DynamicFeeTx{
		ChainID: n.ChainID, Nonce: nonce, GasTipCap: tip,
		GasFeeCap: new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip),
		Gas:       gas, To: to, Value: value, Data: data,
	})
	if err != nil {
		n.mu.Unlock()
		t.Fatalf("gethdev: signing: %v", err)
	}
	err = n.Client.SendTransaction(ctx, tx)
	n.mu.Unlock()
	if err != nil {
		t.Fatalf("gethdev: sending a transaction from %s: %v", from, err)
	}
	rcpt, err := WaitReceipt(ctx, n.Client, tx.Hash(), ReceiptTimeout)
	if err != nil {
		t.Fatalf("gethdev: %v", err)
	}
	return rcpt
}

// Fund sends wei from the developer account to `to` and fails the test
// unless it succeeds.
func (n *Node) Fund(t testing.TB, to common.Address, wei *big.Int) {
	t.Helper()
	if r := n.Send(t, n.DevKey, &to, wei, nil, params.TxGas); r.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("gethdev: funding %s with %s wei failed", to, wei)
	}
}

// Balance returns a's balance at the latest block.
func (n *Node) Balance(t testing.TB, a common.Address) *big.Int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	b, err := n.Client.BalanceAt(ctx, a, nil)
	if err != nil {
		t.Fatalf("gethdev: balance of %s: %v", a, err)
	}
	return b
}

// WaitReceipt polls for the receipt of hash until it is mined, ctx ends
// or timeout passes.
func WaitReceipt(ctx context.Context, c interface {
	TransactionReceipt(context.Context, common.Hash) (*types.Receipt, error)
}, hash common.Hash, timeout time.Duration) (*types.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		r, err := c.TransactionReceipt(ctx, hash)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ethereum.NotFound) && !strings.Contains(err.Error(), "not found") && !strings.Contains(err.Error(), "indexing is in progress") {
			return nil, fmt.Errorf("receipt of %s: %w", hash, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("transaction %s not mined within %v", hash, timeout)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// Logs returns the end of the node's output.
func (n *Node) Logs() string { return n.logs.String() }

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary returns the geth executable (from $PATH, else $GOBIN, else
// $(go env GOPATH)/bin) after checking it is Version. Its error names
// install.sh.
func Binary() (string, error) {
	binOnce.Do(func() {
		binPath, binErr = findBinary()
		if binErr == nil {
			binErr = checkVersion(binPath)
		}
	})
	return binPath, binErr
}

var versionLine = regexp.MustCompile(`(?m)^Version: (\S+)`)

func checkVersion(bin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return fmt.Errorf("gethdev: %s version: %v", bin, err)
	}
	m := versionLine.FindSubmatch(out)
	if m == nil || !strings.HasPrefix(string(m[1]), Version+"-") {
		return fmt.Errorf("gethdev: %s is not geth %s (it says %q): these tests need the version go.mod pins; "+
			"install it with chain/safe/gethdev/install.sh", bin, Version, strings.TrimSpace(string(out)))
	}
	return nil
}

func findBinary() (string, error) {
	return devnode.FindBinary("gethdev", "geth", "a real go-ethereum node", "chain/safe/gethdev/install.sh")
}
