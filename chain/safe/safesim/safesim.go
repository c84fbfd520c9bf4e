// Package safesim is test support: it runs the real Safe (formerly Gnosis
// Safe) contracts, compiled by their upstream npm packages, inside
// go-ethereum's simulated backend so that airlock's tests can create Safes
// and execute transactions that airlock signed. Nothing here is a mock; the
// package only deploys bytecode and sends transactions.
//
// Contract artifacts are JSON files {"abi": [...], "bytecode": "0x..."} laid
// out as
//
//	<dir>/<version>/Safe.json                          singleton (GnosisSafe for 1.3.0)
//	<dir>/<version>/SafeProxyFactory.json
//	<dir>/<version>/MultiSendCallOnly.json
//	<dir>/<version>/MultiSend.json
//	<dir>/<version>/SignMessageLib.json
//	<dir>/<version>/CompatibilityFallbackHandler.json
//	<dir>/erc20.json                                   OpenZeppelin ERC20PresetMinterPauser
//
// Upstream names are accepted too: GnosisSafe.json / GnosisSafeProxyFactory.json
// for 1.3.0, or whatever <dir>/index.json (as written by
// test/safe-peers/artifacts.js, with "versions" and "roles" maps) names.
// Use Artifacts to locate (or build) that directory.
//
// Chain configuration: go-ethereum's simulated backend starts on
// params.AllDevChainProtocolChanges, which in v1.17.10 enables the
// not-yet-scheduled "Bogota" fork. Bogota runs the Amsterdam instruction set,
// i.e. EIP-8037 state-gas metering and EIP-8038 state-access repricing, which
// changes the gas charged for SSTORE/SLOAD/CALL/CREATE. The Safe contracts
// (which reason about gasleft() and forward all but 1/64 of the gas) were
// written for today's mainnet schedule, so New disables Bogota and
// Amsterdam and runs the chain on Osaka rules (the current mainnet fork);
// see osakaRules. The chain id stays 1337.
//
// The same Env runs on a real node: OnNode deploys the contracts through
// any JSON-RPC client (an ethclient.Client for geth --dev, see
// chain/safe/gethdev) from a funded key, and waits for each transaction's
// receipt instead of committing blocks. Everything but AdjustTime works
// the same way there.
package safesim

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
)

// Artifact names (file names without .json) of the per-version contracts.
const (
	NameSafe              = "Safe"
	NameProxyFactory      = "SafeProxyFactory"
	NameMultiSendCallOnly = "MultiSendCallOnly"
	NameMultiSend         = "MultiSend"
	NameSignMessageLib    = "SignMessageLib"
	NameFallbackHandler   = "CompatibilityFallbackHandler"
	// NameERC20 is the version-independent OpenZeppelin ERC20PresetMinterPauser
	// artifact (<dir>/erc20.json).
	NameERC20 = "erc20"
	// NameDelay is the version-independent Zodiac Delay modifier
	// (<dir>/delay.json, from @gnosis.pm/zodiac); see DeployDelay.
	NameDelay = "delay"
)

// versionContracts are the artifacts New deploys, in deployment order.
var versionContracts = []string{
	NameSafe, NameProxyFactory, NameMultiSendCallOnly, NameMultiSend, NameSignMessageLib, NameFallbackHandler,
}

// ArtifactsEnv names the environment variable that points Artifacts at a
// prebuilt artifacts directory.
const ArtifactsEnv = "AIRLOCK_SAFE_ARTIFACTS"

const (
	blockGasLimit = 60_000_000
	// txGasCap is the per-transaction cap of EIP-7825 (Osaka).
	txGasCap = params.MaxTxGas
	// revertGas is the gas limit used for a transaction whose estimation
	// failed: it is sent anyway so that the caller gets a status-0 receipt.
	revertGas = 5_000_000
)

// Env is one chain with one Safe version's contracts deployed: a
// simulated chain (New) or a node (OnNode). Its methods may be called
// from several goroutines; its transactions are sent one at a time, each
// mined (on the simulated chain) in its own block.
type Env struct {
	// Backend is the simulated chain; nil on a node (OnNode).
	Backend *simulated.Backend
	// Client reads and sends: the simulated chain's client, or the
	// node's (an *ethclient.Client satisfies simulated.Client).
	Client   simulated.Client
	ChainID  *big.Int
	Deployer *ecdsa.PrivateKey // funded account that deployed everything
	Version  string

	Singleton, Factory, MultiSendCallOnly, MultiSend, SignMessageLib, FallbackHandler common.Address

	dir     string
	mu      sync.Mutex // serialises send+commit
	saltSeq int64      // saltNonce for createProxyWithNonce, guarded by mu

	amu  sync.Mutex
	arts map[string]*artifact // by artifact name
}

type artifact struct {
	abi      abi.ABI
	bytecode []byte
}

// SafeTx mirrors the Safe's transaction fields.
type SafeTx struct {
	To                           common.Address
	Value                        *big.Int
	Data                         []byte
	Operation                    uint8 // 0 call, 1 delegatecall
	SafeTxGas, BaseGas, GasPrice *big.Int
	GasToken, RefundReceiver     common.Address
	Nonce                        *big.Int
}

// osakaRules is a simulated-backend option that keeps the backend's dev
// chain config but switches off the forks after Osaka (see package doc).
func osakaRules(_ *node.Config, ethConf *ethconfig.Config) {
	cfg := *ethConf.Genesis.Config // copy: the default is a shared global
	cfg.AmsterdamTime = nil
	cfg.BogotaTime = nil
	ethConf.Genesis.Config = &cfg
}

// New starts a simulated backend with a funded deployer and deploys the given
// Safe version's singleton, proxy factory, MultiSendCallOnly, MultiSend,
// SignMessageLib and CompatibilityFallbackHandler from artifactsDir/version.
// The backend is closed with t.Cleanup.
func New(t testing.TB, artifactsDir, version string) *Env {
	t.Helper()
	e := prepare(t, artifactsDir, version)
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatalf("safesim: generating deployer key: %v", err)
	}
	e.Deployer = key
	funds := new(big.Int).Mul(big.NewInt(1_000_000), big.NewInt(params.Ether))
	e.Backend = simulated.NewBackend(
		types.GenesisAlloc{crypto.PubkeyToAddress(key.PublicKey): {Balance: funds}},
		simulated.WithBlockGasLimit(blockGasLimit),
		osakaRules,
	)
	t.Cleanup(func() { _ = e.Backend.Close() })
	e.Client = e.Backend.Client()
	e.ChainID, err = e.Client.ChainID(context.Background())
	if err != nil {
		t.Fatalf("safesim: chain id: %v", err)
	}
	e.deployAll(t)
	return e
}

// OnNode deploys the given Safe version's contracts (as New does) on a
// running node through client, e.g. the ethclient of a geth --dev node
// (chain/safe/gethdev), from deployer, a funded key. Every transaction
// waits for its receipt (at most ReceiptTimeout). Nothing else may send
// from deployer while the Env is in use (the Env picks its nonces): fund
// a fresh key for it. The caller keeps and closes the client.
func OnNode(t testing.TB, artifactsDir, version string, client simulated.Client, deployer *ecdsa.PrivateKey) *Env {
	t.Helper()
	e := prepare(t, artifactsDir, version)
	e.Client, e.Deployer = client, deployer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	if e.ChainID, err = client.ChainID(ctx); err != nil {
		t.Fatalf("safesim: the node's chain id: %v", err)
	}
	bal, err := client.BalanceAt(ctx, crypto.PubkeyToAddress(deployer.PublicKey), nil)
	if err != nil {
		t.Fatalf("safesim: the deployer's balance: %v", err)
	}
	if bal.Sign() == 0 {
		t.Fatalf("safesim: the deployer %s holds no ether on the node: fund it first", crypto.PubkeyToAddress(deployer.PublicKey))
	}
	e.deployAll(t)
	return e
}

// ReceiptTimeout bounds the wait for a transaction sent to a node.
const ReceiptTimeout = time.Minute

// prepare checks and parses version's artifacts before any chain starts.
func prepare(t testing.TB, artifactsDir, version string) *Env {
	t.Helper()
	e := &Env{Version: version, dir: artifactsDir, arts: map[string]*artifact{}}
	vdir := filepath.Join(artifactsDir, version)
	if st, err := os.Stat(vdir); err != nil || !st.IsDir() {
		t.Fatalf("safesim: no Safe %s artifacts: directory %s missing (artifacts dir %s)", version, vdir, artifactsDir)
	}
	var missing []string
	for _, name := range versionContracts {
		if _, err := os.Stat(e.artifactPath(name)); err != nil {
			missing = append(missing, e.artifactPath(name))
		}
	}
	if len(missing) > 0 {
		t.Fatalf("safesim: Safe %s artifacts incomplete, missing: %s", version, strings.Join(missing, ", "))
	}
	for _, name := range versionContracts {
		e.artifact(t, name) // parse everything up front: fail before starting a node
	}
	return e
}

// deployAll deploys the version's contracts in order.
func (e *Env) deployAll(t testing.TB) {
	t.Helper()
	addrs := []*common.Address{&e.Singleton, &e.Factory, &e.MultiSendCallOnly, &e.MultiSend, &e.SignMessageLib, &e.FallbackHandler}
	for i, name := range versionContracts {
		*addrs[i] = e.deploy(t, name)
	}
}

// Deploy deploys artifact name (one of the Name* constants, or "erc721")
// with constructor arguments from the deployer and returns its address.
func (e *Env) Deploy(t testing.TB, name string, args ...any) common.Address {
	t.Helper()
	return e.deploy(t, name, args...)
}

// DeployCode deploys runtime code as it is (a minimal init code copies
// it) from the deployer and returns its address: a stand-in contract at
// an address of the test's choosing, e.g. a library with other code.
func (e *Env) DeployCode(t testing.TB, runtime []byte) common.Address {
	t.Helper()
	if len(runtime) == 0 || len(runtime) > 0xffff {
		t.Fatalf("safesim: runtime code of %d bytes", len(runtime))
	}
	// PUSH2 len DUP1 PUSH1 0x0e PUSH1 0 CODECOPY PUSH1 0 RETURN, then the code.
	n := len(runtime)
	init := []byte{0x61, byte(n >> 8), byte(n), 0x80, 0x60, 0x0e, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3}
	init = append(init, 0x00, 0x00) // pad to the offset 0x0e
	rcpt, err := e.send(t, e.Deployer, nil, nil, append(init, runtime...))
	if err != nil || rcpt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("safesim: deploying %d bytes of code: %v", n, err)
	}
	code, err := e.Client.CodeAt(context.Background(), rcpt.ContractAddress, nil)
	if err != nil || !bytes.Equal(code, runtime) {
		t.Fatalf("safesim: deployed code differs (%v)", err)
	}
	return rcpt.ContractAddress
}

// roles maps this package's artifact names to the role keys of index.json.
var roles = map[string]string{
	NameSafe:              "singleton",
	NameProxyFactory:      "proxyFactory",
	NameMultiSendCallOnly: "multiSendCallOnly",
	NameMultiSend:         "multiSend",
	NameSignMessageLib:    "signMessageLib",
	NameFallbackHandler:   "fallbackHandler",
}

// aliases are the upstream artifact names of older releases.
var aliases = map[string][]string{
	NameSafe:         {"GnosisSafe"},
	NameProxyFactory: {"GnosisSafeProxyFactory", "ProxyFactory"},
}

// index is the optional <dir>/index.json written by test/safe-peers/artifacts.js.
type index struct {
	Versions map[string]map[string]string `json:"versions"` // version -> contract -> path
	Roles    map[string]map[string]string `json:"roles"`    // version -> role -> contract
	Tokens   map[string]struct {
		File string `json:"file"`
	} `json:"tokens"`
}

// artifactPath resolves an artifact name to a file. It accepts both the
// plain layout (<dir>/<version>/<Name>.json, <dir>/erc20.json) and
// upstream contract names (GnosisSafe.json, GnosisSafeProxyFactory.json)
// listed in <dir>/index.json. The first candidate is returned if nothing
// exists, for error messages.
func (e *Env) artifactPath(name string) string {
	var cands []string
	if name == NameERC20 || name == "erc721" || name == NameDelay {
		cands = append(cands, filepath.Join(e.dir, name+".json"))
	} else {
		cands = append(cands, filepath.Join(e.dir, e.Version, name+".json"))
	}
	if raw, err := os.ReadFile(filepath.Join(e.dir, "index.json")); err == nil {
		var ix index
		if json.Unmarshal(raw, &ix) == nil {
			contract := name
			if c := ix.Roles[e.Version][roles[name]]; c != "" {
				contract = c
			}
			if rel := ix.Versions[e.Version][contract]; rel != "" {
				cands = append(cands, filepath.Join(e.dir, filepath.FromSlash(rel)))
			}
			if tok, ok := ix.Tokens[name]; ok && tok.File != "" {
				cands = append(cands, filepath.Join(e.dir, filepath.FromSlash(tok.File)))
			}
		}
	}
	for _, a := range aliases[name] {
		cands = append(cands, filepath.Join(e.dir, e.Version, a+".json"))
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return cands[0]
}

// artifact loads and caches one artifact, failing the test if it is missing
// or malformed.
func (e *Env) artifact(t testing.TB, name string) *artifact {
	t.Helper()
	e.amu.Lock()
	defer e.amu.Unlock()
	if a, ok := e.arts[name]; ok {
		return a
	}
	path := e.artifactPath(name)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("safesim: artifact %q for Safe %s: %v", name, e.Version, err)
	}
	var j struct {
		ABI      json.RawMessage `json:"abi"`
		Bytecode string          `json:"bytecode"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatalf("safesim: artifact %s: %v", path, err)
	}
	parsed, err := abi.JSON(bytes.NewReader(j.ABI))
	if err != nil {
		t.Fatalf("safesim: artifact %s: parsing abi: %v", path, err)
	}
	if strings.Contains(j.Bytecode, "__") {
		t.Fatalf("safesim: artifact %s: bytecode has unlinked library references", path)
	}
	code, err := hexutil.Decode(j.Bytecode)
	if err != nil || len(code) == 0 {
		t.Fatalf("safesim: artifact %s: bad or empty bytecode (%v)", path, err)
	}
	a := &artifact{abi: parsed, bytecode: code}
	e.arts[name] = a
	return a
}

// ABI returns the parsed ABI of an artifact: one of the Name* constants
// (Safe, SafeProxyFactory, MultiSendCallOnly, MultiSend, SignMessageLib,
// CompatibilityFallbackHandler, erc20) or "erc721".
func (e *Env) ABI(t testing.TB, name string) abi.ABI {
	t.Helper()
	return e.artifact(t, name).abi
}

// deploy deploys artifact name with constructor arguments and returns its
// address.
func (e *Env) deploy(t testing.TB, name string, args ...any) common.Address {
	t.Helper()
	a := e.artifact(t, name)
	ctor, err := a.abi.Pack("", args...)
	if err != nil {
		t.Fatalf("safesim: packing %s constructor: %v", name, err)
	}
	data := append(append([]byte{}, a.bytecode...), ctor...)
	rcpt, err := e.send(t, e.Deployer, nil, nil, data)
	if err != nil || rcpt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("safesim: deploying %s (Safe %s) failed: status %d, %v", name, e.Version, rcpt.Status, err)
	}
	if code, err := e.Client.CodeAt(context.Background(), rcpt.ContractAddress, nil); err != nil || len(code) == 0 {
		t.Fatalf("safesim: deploying %s: no code at %s (%v)", name, rcpt.ContractAddress, err)
	}
	return rcpt.ContractAddress
}

// CreateSafe deploys a Safe proxy through the factory's createProxyWithNonce
// with setup(owners, threshold, 0, "", FallbackHandler, 0, 0, 0) and returns
// the proxy address taken from the factory's ProxyCreation event.
func (e *Env) CreateSafe(t testing.TB, owners []common.Address, threshold int) common.Address {
	t.Helper()
	setup, err := e.ABI(t, NameSafe).Pack("setup",
		owners, big.NewInt(int64(threshold)), common.Address{}, []byte{},
		e.FallbackHandler, common.Address{}, new(big.Int), common.Address{})
	if err != nil {
		t.Fatalf("safesim: packing setup: %v", err)
	}
	e.mu.Lock()
	e.saltSeq++
	salt := big.NewInt(e.saltSeq)
	e.mu.Unlock()
	call, err := e.ABI(t, NameProxyFactory).Pack("createProxyWithNonce", e.Singleton, setup, salt)
	if err != nil {
		t.Fatalf("safesim: packing createProxyWithNonce: %v", err)
	}
	rcpt, err := e.Send(t, e.Deployer, e.Factory, nil, call)
	if err != nil || rcpt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("safesim: creating Safe %s (owners %v, threshold %d): status %d, %v", e.Version, owners, threshold, rcpt.Status, err)
	}
	evs := e.Events(t, rcpt, e.Factory, NameProxyFactory, "ProxyCreation")
	if len(evs) != 1 {
		t.Fatalf("safesim: creating Safe: want 1 ProxyCreation event, got %d", len(evs))
	}
	proxy, ok := evs[0]["proxy"].(common.Address)
	if !ok {
		t.Fatalf("safesim: ProxyCreation event without proxy address: %v", evs[0])
	}
	return proxy
}

// Events decodes the logs in rcpt that emitter emitted for event eventName
// of artifact contract (e.g. NameSafe, "ExecutionSuccess"). Indexed and
// non-indexed fields are both returned, keyed by their ABI names.
func (e *Env) Events(t testing.TB, rcpt *types.Receipt, emitter common.Address, contract, eventName string) []map[string]any {
	t.Helper()
	a := e.ABI(t, contract)
	ev, ok := a.Events[eventName]
	if !ok {
		t.Fatalf("safesim: %s (Safe %s) has no event %s", contract, e.Version, eventName)
	}
	var indexed abi.Arguments
	for _, in := range ev.Inputs {
		if in.Indexed {
			indexed = append(indexed, in)
		}
	}
	var out []map[string]any
	for _, l := range rcpt.Logs {
		if l.Address != emitter || len(l.Topics) == 0 || l.Topics[0] != ev.ID {
			continue
		}
		m := map[string]any{}
		if err := ev.Inputs.UnpackIntoMap(m, l.Data); err != nil {
			t.Fatalf("safesim: decoding %s data: %v", eventName, err)
		}
		if err := abi.ParseTopicsIntoMap(m, indexed, l.Topics[1:]); err != nil {
			t.Fatalf("safesim: decoding %s topics: %v", eventName, err)
		}
		out = append(out, m)
	}
	return out
}

// Fund sends wei from the deployer to `to` and fails the test unless it
// succeeds.
func (e *Env) Fund(t testing.TB, to common.Address, wei *big.Int) {
	t.Helper()
	rcpt, err := e.Send(t, e.Deployer, to, wei, nil)
	if err != nil || rcpt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("safesim: funding %s with %s wei: status %d, %v", to, wei, rcpt.Status, err)
	}
}

// Balance returns a's ether balance at the latest block.
func (e *Env) Balance(t testing.TB, a common.Address) *big.Int {
	t.Helper()
	b, err := e.Client.BalanceAt(context.Background(), a, nil)
	if err != nil {
		t.Fatalf("safesim: balance of %s: %v", a, err)
	}
	return b
}

// DeployERC20 deploys OpenZeppelin's ERC20PresetMinterPauser("Safesim Token",
// "SST", 18 decimals) from <dir>/erc20.json and mints amount to `to`.
func (e *Env) DeployERC20(t testing.TB, to common.Address, amount *big.Int) common.Address {
	t.Helper()
	token := e.deploy(t, NameERC20, "Safesim Token", "SST")
	call, err := e.ABI(t, NameERC20).Pack("mint", to, amount)
	if err != nil {
		t.Fatalf("safesim: packing mint: %v", err)
	}
	rcpt, err := e.Send(t, e.Deployer, token, nil, call)
	if err != nil || rcpt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("safesim: minting %s to %s: status %d, %v", amount, to, rcpt.Status, err)
	}
	return token
}

// TokenBalance returns token.balanceOf(holder).
func (e *Env) TokenBalance(t testing.TB, token, holder common.Address) *big.Int {
	t.Helper()
	var out *big.Int
	e.read(t, NameERC20, token, "balanceOf", &out, holder)
	return out
}

// Send signs an EIP-1559 transaction from key to `to` carrying value and
// data, mines it in a new block and returns its receipt. A reverted
// transaction is not a test failure: the receipt (status 0) is returned
// together with an error carrying the revert reason, obtained by replaying
// the call with eth_call on the parent block. Failures to get the
// transaction mined at all (e.g. txpool rejection) fail the test.
func (e *Env) Send(t testing.TB, key *ecdsa.PrivateKey, to common.Address, value *big.Int, data []byte) (*types.Receipt, error) {
	t.Helper()
	return e.send(t, key, &to, value, data)
}

func (e *Env) send(t testing.TB, key *ecdsa.PrivateKey, to *common.Address, value *big.Int, data []byte) (*types.Receipt, error) {
	t.Helper()
	if value == nil {
		value = new(big.Int)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	from := crypto.PubkeyToAddress(key.PublicKey)

	e.mu.Lock()
	defer e.mu.Unlock()

	msg := ethereum.CallMsg{From: from, To: to, Value: value, Data: data}
	gas, estErr := e.Client.EstimateGas(ctx, msg)
	if estErr != nil {
		gas = revertGas
	} else {
		// Headroom: the Safe forwards gasleft()-based amounts to inner calls,
		// so the bare minimum found by estimation is fragile.
		gas = min(gas+gas/4+20_000, txGasCap)
	}
	nonce, err := e.Client.PendingNonceAt(ctx, from)
	if err != nil {
		t.Fatalf("safesim: nonce of %s: %v", from, err)
	}
	head, err := e.Client.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatalf("safesim: head header: %v", err)
	}
	tip := big.NewInt(params.GWei)
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	tx, err := types.SignNewTx(key, types.LatestSignerForChainID(e.ChainID), &types.DynamicFeeTx{
		ChainID:   e.ChainID,
		Nonce:     nonce,
		GasTipCap: tip,
		GasFeeCap: feeCap,
		Gas:       gas,
		To:        to,
		Value:     value,
		Data:      data,
	})
	if err != nil {
		t.Fatalf("safesim: signing transaction: %v", err)
	}
	if err := e.Client.SendTransaction(ctx, tx); err != nil {
		t.Fatalf("safesim: submitting transaction from %s (estimate error: %v): %v", from, estErr, err)
	}
	var rcpt *types.Receipt
	if e.Backend != nil {
		e.Backend.Commit()
		rcpt, err = e.Client.TransactionReceipt(ctx, tx.Hash())
	} else {
		rcpt, err = waitReceipt(ctx, e.Client, tx.Hash())
	}
	if err != nil {
		t.Fatalf("safesim: transaction %s not mined: %v", tx.Hash(), err)
	}
	if rcpt.Status == types.ReceiptStatusSuccessful {
		return rcpt, nil
	}
	// Replay on the parent block (one transaction per block, so this is the
	// exact pre-state) to recover the revert reason.
	msg.Gas = gas
	parent := new(big.Int).Sub(rcpt.BlockNumber, big.NewInt(1))
	_, callErr := e.Client.CallContract(ctx, msg, parent)
	return rcpt, revertError(callErr, estErr)
}

// waitReceipt polls a node for the receipt of hash, at most
// ReceiptTimeout.
func waitReceipt(ctx context.Context, c ethereum.TransactionReader, hash common.Hash) (*types.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, ReceiptTimeout)
	defer cancel()
	for {
		r, err := c.TransactionReceipt(ctx, hash)
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ethereum.NotFound) && !strings.Contains(err.Error(), "not found") && !strings.Contains(err.Error(), "indexing is in progress") {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("not mined within %v", ReceiptTimeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// revertError turns an eth_call error into an error mentioning the decoded
// revert reason (e.g. "execution reverted: GS026").
func revertError(errs ...error) error {
	for _, err := range errs {
		if err == nil {
			continue
		}
		var de rpc.DataError
		if errors.As(err, &de) {
			if s, ok := de.ErrorData().(string); ok {
				if raw, derr := hexutil.Decode(s); derr == nil {
					if reason, uerr := abi.UnpackRevert(raw); uerr == nil && !strings.Contains(err.Error(), reason) {
						return fmt.Errorf("%w (reason %q)", err, reason)
					}
				}
			}
		}
		return err
	}
	return errors.New("transaction reverted (no revert reason available)")
}

// Call does an eth_call from the zero address at the latest block and
// returns the raw result; a revert is returned as an error that includes the
// reason.
func (e *Env) Call(t testing.TB, to common.Address, data []byte) ([]byte, error) {
	t.Helper()
	out, err := e.Client.CallContract(context.Background(), ethereum.CallMsg{To: &to, Data: data}, nil)
	if err != nil {
		return out, revertError(err)
	}
	return out, nil
}

// read calls method on contract (artifact name) at addr and unpacks the
// single result into out.
func (e *Env) read(t testing.TB, contract string, addr common.Address, method string, out any, args ...any) {
	t.Helper()
	a := e.ABI(t, contract)
	data, err := a.Pack(method, args...)
	if err != nil {
		t.Fatalf("safesim: packing %s.%s: %v", contract, method, err)
	}
	raw, err := e.Call(t, addr, data)
	if err != nil {
		t.Fatalf("safesim: %s.%s at %s: %v", contract, method, addr, err)
	}
	if err := a.UnpackIntoInterface(out, method, raw); err != nil {
		t.Fatalf("safesim: unpacking %s.%s at %s (%x): %v", contract, method, addr, raw, err)
	}
}

// Nonce returns safe.nonce().
func (e *Env) Nonce(t testing.TB, safe common.Address) *big.Int {
	t.Helper()
	var n *big.Int
	e.read(t, NameSafe, safe, "nonce", &n)
	return n
}

// Threshold returns safe.getThreshold().
func (e *Env) Threshold(t testing.TB, safe common.Address) int {
	t.Helper()
	var n *big.Int
	e.read(t, NameSafe, safe, "getThreshold", &n)
	if !n.IsInt64() {
		t.Fatalf("safesim: threshold %s out of range", n)
	}
	return int(n.Int64())
}

// Owners returns safe.getOwners().
func (e *Env) Owners(t testing.TB, safe common.Address) []common.Address {
	t.Helper()
	var owners []common.Address
	e.read(t, NameSafe, safe, "getOwners", &owners)
	return owners
}

func orZero(b *big.Int) *big.Int {
	if b == nil {
		return new(big.Int)
	}
	return b
}

func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// GetTransactionHash returns safe.getTransactionHash(tx...), the EIP-712
// hash owners sign. Nil big.Int fields are taken as zero.
func (e *Env) GetTransactionHash(t testing.TB, safe common.Address, tx SafeTx) [32]byte {
	t.Helper()
	var h [32]byte
	e.read(t, NameSafe, safe, "getTransactionHash", &h,
		tx.To, orZero(tx.Value), orEmpty(tx.Data), tx.Operation,
		orZero(tx.SafeTxGas), orZero(tx.BaseGas), orZero(tx.GasPrice),
		tx.GasToken, tx.RefundReceiver, orZero(tx.Nonce))
	return h
}

// ExecTransaction sends safe.execTransaction(tx..., signatures) from key.
// Nil big.Int fields are taken as zero; tx.Nonce is not sent (the Safe uses
// its current nonce) but is part of the hash the signatures must cover.
// Like Send, a revert returns the status-0 receipt and the reason.
func (e *Env) ExecTransaction(t testing.TB, key *ecdsa.PrivateKey, safe common.Address, tx SafeTx, signatures []byte) (*types.Receipt, error) {
	t.Helper()
	data, err := e.ABI(t, NameSafe).Pack("execTransaction",
		tx.To, orZero(tx.Value), orEmpty(tx.Data), tx.Operation,
		orZero(tx.SafeTxGas), orZero(tx.BaseGas), orZero(tx.GasPrice),
		tx.GasToken, tx.RefundReceiver, orEmpty(signatures))
	if err != nil {
		t.Fatalf("safesim: packing execTransaction: %v", err)
	}
	return e.Send(t, key, safe, nil, data)
}

var (
	artMu   sync.Mutex
	artDir  string
	artErr  error
	artDone bool
)

// Artifacts returns the Safe artifacts directory: $AIRLOCK_SAFE_ARTIFACTS if
// set, otherwise a temporary directory filled once per process by running
// `node test/safe-peers/artifacts.js <dir>` from the repository root (the
// nearest ancestor of the working directory holding go.mod). It never
// skips: if node or the npm packages are missing the test fails, telling the
// user to run `npm ci` in test/safe-peers.
func Artifacts(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv(ArtifactsEnv); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			t.Fatalf("safesim: $%s=%s is not a directory (%v)", ArtifactsEnv, dir, err)
		}
		return dir
	}
	artMu.Lock()
	defer artMu.Unlock()
	if !artDone {
		artDir, artErr = buildArtifacts()
		artDone = true
	}
	if artErr != nil {
		t.Fatalf("safesim: %v", artErr)
	}
	return artDir
}

func buildArtifacts() (string, error) {
	const hint = "run `npm ci` in test/safe-peers (needs node >= 18), or set " + ArtifactsEnv + " to a prebuilt artifacts directory"
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	peers := filepath.Join(root, "test", "safe-peers")
	script := filepath.Join(peers, "artifacts.js")
	if _, err := os.Stat(script); err != nil {
		return "", fmt.Errorf("Safe artifacts: %s missing (%v); set %s", script, err, ArtifactsEnv)
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("Safe artifacts: node not found in PATH (%v); %s", err, hint)
	}
	if _, err := os.Stat(filepath.Join(peers, "node_modules")); err != nil {
		return "", fmt.Errorf("Safe artifacts: %s/node_modules missing; %s", peers, hint)
	}
	// Per process, deliberately not t.TempDir: the directory outlives the
	// test that first asked for it.
	dir, err := os.MkdirTemp("", "airlock-safe-artifacts-")
	if err != nil {
		return "", err
	}
	cmd := exec.Command(nodeBin, script, dir)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("Safe artifacts: `node test/safe-peers/artifacts.js %s` failed: %v\n%s\n%s", dir, err, out, hint)
	}
	return dir, nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("Safe artifacts: no go.mod above the working directory; set " + ArtifactsEnv)
		}
		dir = parent
	}
}
