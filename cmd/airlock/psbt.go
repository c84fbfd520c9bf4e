package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/vault"
	"github.com/airlock-vault/airlock/workspace"
)

func (e *env) address(args []string) error {
	fs := e.flags("address")
	name := fs.String("vault", "", "vault name")
	change := fs.Bool("change", false, "a change address (branch 1)")
	index := fs.Uint("index", 0, "address index")
	count := fs.Uint("count", 1, "how many addresses")
	asJSON := jsonFlag(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || *name == "" {
		return usagef("address: want --vault NAME")
	}
	v, err := e.resolveVault(*name)
	if err != nil {
		return err
	}
	branch := 0
	if *change {
		branch = 1
	}
	type addr struct {
		Branch  int    `json:"branch"` // 0 receive, 1 change
		Index   uint32 `json:"index"`
		Address string `json:"address"`
	}
	var out []addr
	for i := uint(0); i < *count && i < 1000; i++ {
		a, err := v.Address(branch, uint32(*index+i))
		if err != nil {
			return err
		}
		out = append(out, addr{branch, uint32(*index + i), a})
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			Vault     string `json:"vault"`
			Addresses []addr `json:"addresses"`
		}{*name, out})
	}
	for _, a := range out {
		fmt.Fprintf(e.stdout, "%d/%d  %s\n", a.Branch, a.Index, a.Address)
	}
	return nil
}

func (e *env) psbtSynth(args []string) error {
	fs := e.flags("psbt synth")
	name := fs.String("vault", "", "vault name")
	send := fs.Int64("send", 30_000_000, "amount to send, in satoshi")
	fee := fs.Int64("fee", 2_000, "fee, in satoshi")
	to := fs.String("to", "", "destination address (default: a fixed address outside the vault)")
	seed := fs.Uint64("seed", 1, "which synthetic coin to spend")
	out := fs.String("out", "", "where to write the PSBT (base64)")
	asJSON := jsonFlag(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || *name == "" || *out == "" {
		return usagef("psbt synth: want --vault NAME --out FILE")
	}
	v, err := e.resolveVault(*name)
	if err != nil {
		return err
	}
	s, err := v.Synthetic(vault.SyntheticRequest{Seed: *seed, To: *to, Amount: *send, Fee: *fee})
	if err != nil {
		return err
	}
	if err := workspace.WriteFileAtomic(*out, []byte(b64(s.PSBT)+"\n"), 0o644); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			File        string `json:"file"`
			Vault       string `json:"vault"`
			FundingTxID string `json:"fundingTxid"`
			FundingSat  int64  `json:"fundingSat"`
			SendSat     int64  `json:"sendSat"`
			FeeSat      int64  `json:"feeSat"`
			Synthetic   bool   `json:"synthetic"`
		}{*out, *name, s.FundingTxID, 100_000_000, *send, *fee, true})
	}
	fmt.Fprintf(e.stdout, "synthetic funding tx %s pays vault %s 1 BTC (never broadcastable)\n", s.FundingTxID, *name)
	fmt.Fprintf(e.stdout, "wrote %s: send %s sat, fee %s sat, change to the vault\n", *out, strconv.FormatInt(*send, 10), strconv.FormatInt(*fee, 10))
	return nil
}

// resolveVault resolves a vault of the workspace's current policy.
func (e *env) resolveVault(name string) (*vault.Vault, error) {
	ws, err := e.open()
	if err != nil {
		return nil, err
	}
	defer ws.Close()
	return vault.Resolve(ws, reg, name)
}

// psbtBuild writes an unsigned PSBT spending every vault output of the
// funding transactions (raw hex files, as a node returns them): amount to
// an address, the rest less the fee back to the vault's change branch.
func (e *env) psbtBuild(args []string) error {
	fs := e.flags("psbt build")
	name := fs.String("vault", "", "vault name")
	to := fs.String("to", "", "destination address")
	amount := fs.Int64("amount", 0, "amount to send, in satoshi")
	fee := fs.Int64("fee", 0, "fee, in satoshi")
	changeIndex := fs.Uint("change-index", 0, "index of the change address on branch 1")
	out := fs.String("out", "", "where to write the PSBT (base64)")
	recovery := fs.Bool("recovery", false, "spend through the vault's recovery path: every input waits the lock (nSequence), with a maturity proof from the node")
	rpcURL := fs.String("rpc", "", "with --recovery: the node's JSON-RPC URL (or $AIRLOCK_RPC), for the maturity proof")
	cert := fs.String("rpc-cert", "", "the node's TLS certificate (btcd's rpc.cert)")
	var funding multi
	fs.Var(&funding, "funding", "a funding transaction, raw hex (repeatable)")
	asJSON := jsonFlag(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || *name == "" || *to == "" || *amount <= 0 || *fee <= 0 || *out == "" || len(funding) == 0 {
		return usagef("psbt build: want --vault NAME --funding TX.hex... --to ADDR --amount SAT --fee SAT --out FILE [--recovery --rpc URL]")
	}
	if *rpcURL == "" {
		*rpcURL = os.Getenv("AIRLOCK_RPC")
	}
	if *recovery && *rpcURL == "" {
		return withHint(usagef("psbt build --recovery: want --rpc URL or $AIRLOCK_RPC"), "the stations need a proof from a node that the coins are old enough")
	}
	v, err := e.resolveVault(*name)
	if err != nil {
		return err
	}
	req := vault.BuildRequest{To: *to, Amount: *amount, Fee: *fee, ChangeIndex: uint32(*changeIndex), Recovery: *recovery, RPC: *rpcURL, RPCCert: *cert}
	for _, f := range funding {
		raw, err := envelope.ReadArtifact(f)
		if err != nil {
			return err
		}
		req.Funding = append(req.Funding, raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b, err := v.Build(ctx, req)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := workspace.WriteFileAtomic(*out, []byte(b64(b.PSBT)+"\n"), 0o644); err != nil {
			return err
		}
		type depth struct {
			TxID      string `json:"txid"`
			Blocks    int64  `json:"blocks"`
			Remaining int64  `json:"remaining"`
		}
		ds := []depth{}
		for _, d := range b.Depths {
			ds = append(ds, depth{d.TxID, int64(d.Blocks), int64(d.Remaining)})
		}
		path := "threshold"
		if *recovery {
			path = "recovery"
		}
		return printJSON(e.stdout, struct {
			File      string  `json:"file"`
			Vault     string  `json:"vault"`
			Coins     int     `json:"coins"`
			InputSat  int64   `json:"inputSat"`
			SendSat   int64   `json:"sendSat"`
			To        string  `json:"to"`
			FeeSat    int64   `json:"feeSat"`
			ChangeSat int64   `json:"changeSat"`
			Path      string  `json:"path"`
			Lock      int64   `json:"lockBlocks"`
			Depths    []depth `json:"depths"`
		}{*out, *name, b.Coins, b.Total, *amount, *to, *fee, b.Change, path, int64(b.Lock), ds})
	}
	for _, d := range b.Depths {
		state := "matured"
		if d.Remaining > 0 {
			state = fmt.Sprintf("matures in %d more blocks", d.Remaining)
		}
		fmt.Fprintf(e.stdout, "coin %s: %d blocks deep, the %d-block lock %s\n", d.TxID, d.Blocks, b.Lock, state)
	}
	if err := workspace.WriteFileAtomic(*out, []byte(b64(b.PSBT)+"\n"), 0o644); err != nil {
		return err
	}
	path := ""
	if *recovery {
		path = fmt.Sprintf(", recovery path (nSequence %d)", b.Lock)
	}
	fmt.Fprintf(e.stdout, "wrote %s: %d coins, %d sat in, %d sat to %s, fee %d sat, change %d sat%s\n", *out, b.Coins, b.Total, *amount, *to, *fee, b.Change, path)
	return nil
}

// psbtExport writes a proposal's PSBT, as the coordinator proposed it, for
// an external signing device (Coldcard, Sparrow, Keystone); the signed
// PSBT it returns goes back through 'airlock collect'.
func (e *env) psbtExport(args []string) error {
	fs := e.flags("psbt export")
	out := fs.String("out", "", "where to write the PSBT (base64)")
	binary := fs.Bool("binary", false, "write binary instead of base64")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return usagef("psbt export: want PROPOSAL --out FILE")
	}
	ref := pos[0]
	ref, err = proposalID(ref)
	if err != nil {
		return err
	}
	ws, err := e.openRole(workspace.Coordinator)
	if err != nil {
		return err
	}
	defer ws.Close()
	x, err := vault.ProposalPSBT(ws, ref)
	if err != nil {
		return err
	}
	data := []byte(b64(x.PSBT) + "\n")
	if *binary {
		data = x.PSBT
	}
	if err := workspace.WriteFileAtomic(*out, data, 0o644); err != nil {
		return err
	}
	if err := e.logger(ws, nil)("proposal.exported", x.ProposalID, map[string]string{"file": filepath.Base(*out), "as": "psbt for an external device"}); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			File     string `json:"file"`
			Proposal string `json:"proposal"`
			Binary   bool   `json:"binary"`
		}{*out, x.ProposalID, *binary})
	}
	fmt.Fprintf(e.stdout, "wrote %s: the PSBT of proposal %s for an external device; collect the signed PSBT it returns\n", *out, x.ProposalID[:16])
	return nil
}
