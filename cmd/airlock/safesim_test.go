package main

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/airlock-vault/airlock/chain/safe/safesim"
)

var (
	simMu sync.Mutex
	sims  = map[*testscript.TestScript]*safesim.Env{}
)

// safesim runs real Safe bytecode on go-ethereum's simulated chain, for a
// script:
//
//	safesim start                          a chain with Safe 1.4.1 deployed; sets SAFE_CHAIN_ID
//	safesim safe VAR THRESHOLD ADDR...     a Safe with those owners, in that order; sets VAR
//	safesim fund ADDR WEI                  sends ether from the funded deployer
//	safesim exec SAFE FILE                 sends FILE's execTransaction calldata (hex, as finalize writes it) to SAFE
//	safesim owners SAFE                    prints the Safe's owners (getOwners) and threshold
//	safesim balance ADDR                   prints an account's balance in wei
func cmdSafesim(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: safesim start|safe|fund|exec|owners|balance ...")
	}
	tb := &scriptTB{ts: ts} // main_test.go
	simMu.Lock()
	env := sims[ts]
	simMu.Unlock()
	if args[0] != "start" && env == nil {
		ts.Fatalf("safesim: run 'safesim start' first")
	}
	addr := func(s string) common.Address {
		if !common.IsHexAddress(s) {
			ts.Fatalf("safesim: %q is not an address", s)
		}
		return common.HexToAddress(s)
	}
	switch args[0] {
	case "start":
		env = safesim.New(tb, safesim.Artifacts(tb), "1.4.1")
		simMu.Lock()
		sims[ts] = env
		simMu.Unlock()
		ts.Defer(func() {
			simMu.Lock()
			delete(sims, ts)
			simMu.Unlock()
		})
		ts.Setenv("SAFE_CHAIN_ID", env.ChainID.String())
	case "safe":
		if len(args) < 4 {
			ts.Fatalf("usage: safesim safe VAR THRESHOLD ADDR...")
		}
		k, err := strconv.Atoi(args[2])
		ts.Check(err)
		var owners []common.Address
		for _, a := range args[3:] {
			owners = append(owners, addr(a))
		}
		ts.Setenv(args[1], env.CreateSafe(tb, owners, k).Hex())
	case "fund":
		w, ok := new(big.Int).SetString(args[2], 10)
		if !ok {
			ts.Fatalf("safesim fund: %q is not an amount in wei", args[2])
		}
		env.Fund(tb, addr(args[1]), w)
	case "exec":
		data, err := hex.DecodeString(strings.TrimSpace(strings.TrimPrefix(ts.ReadFile(args[2]), "0x")))
		ts.Check(err)
		rcpt, err := env.Send(tb, env.Deployer, addr(args[1]), nil, data)
		if neg {
			if err == nil && rcpt.Status == 1 {
				ts.Fatalf("safesim exec: the transaction executed")
			}
			return
		}
		if err != nil {
			ts.Fatalf("safesim exec: %v", err)
		}
		fmt.Fprintf(ts.Stdout(), "executed in block %s, gas %d\n", rcpt.BlockNumber, rcpt.GasUsed)
	case "owners":
		a := addr(args[1])
		for _, o := range env.Owners(tb, a) {
			fmt.Fprintln(ts.Stdout(), o.Hex())
		}
		fmt.Fprintf(ts.Stdout(), "threshold %d\n", env.Threshold(tb, a))
	case "balance":
		fmt.Fprintln(ts.Stdout(), env.Balance(tb, addr(args[1])))
	default:
		ts.Fatalf("safesim: unknown subcommand %q", args[0])
	}
}
