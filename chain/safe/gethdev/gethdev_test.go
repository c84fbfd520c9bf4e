package gethdev

import (
	"context"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// TestDevNodeFundsAnAccount: a real geth --dev answers on 127.0.0.1 with
// chain id 1337, runs Osaka rules (not the unscheduled Bogota fork geth's
// own dev genesis enables), and its developer account funds a fresh
// account in a block of its own.
func TestDevNodeFundsAnAccount(t *testing.T) {
	n := Start(t, Options{})
	if !strings.HasPrefix(n.URL, "http://127.0.0.1:") {
		t.Fatalf("the node listens on %s, not 127.0.0.1", n.URL)
	}
	if n.ChainID.Cmp(big.NewInt(1337)) != 0 {
		t.Fatalf("chain id %s, want 1337", n.ChainID)
	}
	if rules(t, n) != "osaka" {
		t.Fatalf("the dev chain does not run Osaka rules")
	}
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	to := crypto.PubkeyToAddress(k.PublicKey)
	before, _ := n.Client.BlockNumber(context.Background())
	n.Fund(t, to, big.NewInt(params.Ether))
	if got := n.Balance(t, to); got.Cmp(big.NewInt(params.Ether)) != 0 {
		t.Fatalf("funded account holds %s wei", got)
	}
	after, _ := n.Client.BlockNumber(context.Background())
	if after <= before {
		t.Fatalf("no block mined for the transfer (%d then %d)", before, after)
	}
	// The funded account spends in turn: the key is the caller's own.
	back := n.Send(t, k, &n.DevAddr, big.NewInt(1), nil, params.TxGas)
	if back.Status != types.ReceiptStatusSuccessful {
		t.Fatal("the funded account could not send")
	}
	// A call that reverts is mined with status 0.
	revert := n.Send(t, n.DevKey, nil, nil, []byte{0x60, 0x00, 0x60, 0x00, 0xfd}, 100_000) // PUSH1 0 PUSH1 0 REVERT
	if revert.Status != types.ReceiptStatusFailed {
		t.Fatal("a reverting creation succeeded")
	}
}

// TestGethForksKeepsGethsGenesis: with GethForks the node runs geth's own
// dev genesis, which schedules the forks after Osaka.
func TestGethForksKeepsGethsGenesis(t *testing.T) {
	n := Start(t, Options{GethForks: true})
	if rules(t, n) != "geth" {
		t.Fatalf("the node does not run geth's own dev genesis")
	}
	n.Fund(t, common.HexToAddress("0x000000000000000000000000000000000000dEaD"), big.NewInt(1))
}

// rules says which genesis the node runs, from the system contracts
// EIP-7910's eth_config reports active (the fork id cannot tell: every
// fork is active from genesis): "osaka" (Bogota and Amsterdam off),
// "geth" (geth's own dev genesis, which adds Bogota's builder contracts),
// or "unknown".
func rules(t *testing.T, n *Node) string {
	t.Helper()
	var resp struct {
		Current struct {
			SystemContracts map[string]common.Address `json:"systemContracts"`
		} `json:"current"`
	}
	if err := n.RPC.CallContext(context.Background(), &resp, "eth_config"); err != nil {
		t.Fatal(err)
	}
	head, err := n.Client.HeaderByNumber(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	geth := *core.DeveloperGenesisBlock(DefaultGasLimit, &n.DevAddr).Config
	osaka := geth
	osaka.BogotaTime, osaka.AmsterdamTime = nil, nil
	got := resp.Current.SystemContracts
	switch {
	case maps.Equal(got, osaka.ActiveSystemContracts(head.Time)):
		return "osaka"
	case maps.Equal(got, geth.ActiveSystemContracts(head.Time)):
		return "geth"
	}
	t.Logf("system contracts: %v", got)
	return "unknown"
}

// TestMissingGethNamesInstallScript: without geth anywhere the error
// names install.sh (tests then fail, never skip), and a geth of another
// version is refused.
func TestMissingGethNamesInstallScript(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	t.Setenv("HOME", dir)
	if _, err := findBinary(); err == nil || !strings.Contains(err.Error(), "chain/safe/gethdev/install.sh") {
		t.Fatalf("no geth: %v", err)
	}
	fake := filepath.Join(dir, "geth")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho Geth\necho 'Version: 1.16.0-stable'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkVersion(fake); err == nil || !strings.Contains(err.Error(), "is not geth "+Version) {
		t.Fatalf("geth 1.16.0 accepted: %v", err)
	}
}
