package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	ethkeystore "github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/airlock-vault/airlock/chain/safe/gethdev"
	"github.com/airlock-vault/airlock/chain/safe/safesim"
)

var (
	simMu sync.Mutex
	sims  = map[*testscript.TestScript]*safesim.Env{}
)

// safesim runs real Safe bytecode on go-ethereum's simulated chain, for a
// script:
//
//	safesim start [--geth]                 a chain with Safe 1.4.1 deployed; sets SAFE_CHAIN_ID, MSCO and
//	                                       MSCO_CODEHASH (MultiSendCallOnly); --geth: a real geth --dev node
//	                                       (chain/safe/gethdev) instead of the simulated chain, and sets ETH_RPC
//	safesim keystore FILE PASSFILE WEI     writes a new account's Ethereum V3 keystore (passphrase PASSFILE's
//	                                       first line), funds it with WEI; sets EXECUTOR to its address
//	safesim safe VAR THRESHOLD ADDR...     a Safe with those owners, in that order; sets VAR
//	safesim fund ADDR WEI                  sends ether from the funded deployer
//	safesim exec SAFE FILE                 sends FILE's execTransaction calldata (hex, as finalize writes it) to SAFE
//	safesim owners SAFE                    prints the Safe's owners (getOwners) and threshold
//	safesim balance ADDR                   prints an account's balance in wei
//	safesim delay VAR AVATAR COOLDOWN       deploys a Zodiac Delay modifier (owner, avatar and target AVATAR; cooldown in seconds); sets VAR
//	safesim calldata VAR SIG ARGS...       ABI-encodes a call, sig such as "enableModule(address)"; sets VAR to its hex
//	safesim send ADDR SIG ARGS...          sends that call from the funded deployer (! expects a revert)
//	safesim time SECONDS                   moves the chain's clock forward
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
		if len(args) > 1 && args[1] == "--geth" {
			node := gethdev.Start(tb, gethdev.Options{})
			deployer, err := crypto.GenerateKey()
			ts.Check(err)
			node.Fund(tb, crypto.PubkeyToAddress(deployer.PublicKey), new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18)))
			env = safesim.OnNode(tb, safesim.Artifacts(tb), "1.4.1", node.Client, deployer)
			ts.Setenv("ETH_RPC", node.URL)
		} else {
			env = safesim.New(tb, safesim.Artifacts(tb), "1.4.1")
		}
		code, err := env.Client.CodeAt(context.Background(), env.MultiSendCallOnly, nil)
		ts.Check(err)
		ts.Setenv("MSCO", env.MultiSendCallOnly.Hex())
		ts.Setenv("MSCO_CODEHASH", crypto.Keccak256Hash(code).Hex())
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
	case "delay":
		cd, err := strconv.ParseUint(args[3], 10, 64)
		ts.Check(err)
		a := addr(args[2])
		ts.Setenv(args[1], env.DeployDelay(tb, a, a, a, cd, 0).Hex())
	case "calldata":
		ts.Setenv(args[1], "0x"+hex.EncodeToString(packCall(ts, args[2], args[3:])))
	case "send":
		rcpt, err := env.Send(tb, env.Deployer, addr(args[1]), nil, packCall(ts, args[2], args[3:]))
		if neg {
			if err == nil && rcpt.Status == 1 {
				ts.Fatalf("safesim send: %s did not revert", args[2])
			}
			fmt.Fprintf(ts.Stdout(), "reverted: %v\n", err)
			return
		}
		if err != nil {
			ts.Fatalf("safesim send %s: %v", args[2], err)
		}
	case "keystore":
		if len(args) != 4 {
			ts.Fatalf("usage: safesim keystore FILE PASSFILE WEI")
		}
		k, err := crypto.GenerateKey()
		ts.Check(err)
		pass, _, _ := strings.Cut(ts.ReadFile(args[2]), "\n")
		b, err := ethkeystore.EncryptKey(&ethkeystore.Key{Address: crypto.PubkeyToAddress(k.PublicKey), PrivateKey: k}, pass, ethkeystore.LightScryptN, ethkeystore.LightScryptP)
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(args[1]), b, 0o600))
		w, ok := new(big.Int).SetString(args[3], 10)
		if !ok {
			ts.Fatalf("safesim keystore: %q is not an amount in wei", args[3])
		}
		env.Fund(tb, crypto.PubkeyToAddress(k.PublicKey), w)
		ts.Setenv("EXECUTOR", crypto.PubkeyToAddress(k.PublicKey).Hex())
	case "time":
		n, err := strconv.ParseInt(args[1], 10, 64)
		ts.Check(err)
		env.AdjustTime(tb, time.Duration(n)*time.Second)
	default:
		ts.Fatalf("safesim: unknown subcommand %q", args[0])
	}
}

// packCall ABI-encodes sig ("name(type,...)") with args written as text:
// addresses, decimal integers, 0x-hex bytes, true/false.
func packCall(ts *testscript.TestScript, sig string, args []string) []byte {
	open := strings.IndexByte(sig, '(')
	if open < 0 || !strings.HasSuffix(sig, ")") {
		ts.Fatalf("safesim: %q is not a function signature", sig)
	}
	var types []string
	if inner := sig[open+1 : len(sig)-1]; inner != "" {
		types = strings.Split(inner, ",")
	}
	if len(types) != len(args) {
		ts.Fatalf("safesim: %s takes %d arguments, %d given", sig, len(types), len(args))
	}
	var argsABI abi.Arguments
	var vals []any
	for i, t := range types {
		typ, err := abi.NewType(t, "", nil)
		ts.Check(err)
		argsABI = append(argsABI, abi.Argument{Type: typ})
		switch {
		case t == "address":
			vals = append(vals, common.HexToAddress(args[i]))
		case t == "bool":
			vals = append(vals, args[i] == "true")
		case t == "bytes":
			b, err := hex.DecodeString(strings.TrimPrefix(args[i], "0x"))
			ts.Check(err)
			vals = append(vals, b)
		case t == "uint8":
			n, err := strconv.ParseUint(args[i], 10, 8)
			ts.Check(err)
			vals = append(vals, uint8(n))
		case strings.HasPrefix(t, "uint") || strings.HasPrefix(t, "int"):
			n, ok := new(big.Int).SetString(args[i], 10)
			if !ok {
				ts.Fatalf("safesim: %q is not an integer", args[i])
			}
			vals = append(vals, n)
		default:
			ts.Fatalf("safesim: type %s is not supported", t)
		}
	}
	b, err := argsABI.Pack(vals...)
	ts.Check(err)
	return append(crypto.Keccak256([]byte(sig))[:4], b...)
}
