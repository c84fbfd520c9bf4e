package vault

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/bitcoin/rpc"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/workspace"
)

// SyntheticRequest asks for a rehearsal spend of a synthetic coin.
type SyntheticRequest struct {
	// Seed picks the synthetic coin: distinct seeds, distinct funding
	// transactions.
	Seed uint64
	// To is the destination address; empty is a fixed address outside
	// any vault.
	To     string
	Amount int64 // satoshi to To
	Fee    int64 // satoshi
}

// Synthetic is a rehearsal: a funding transaction that pays the vault
// 1 BTC, which spends an outpoint that exists on no chain and so can never
// be broadcast, and an unsigned PSBT spending it.
type Synthetic struct {
	FundingTxID string
	Funding     []byte // the funding transaction, serialized
	PSBT        []byte
}

// Synthetic writes a rehearsal PSBT: r.Amount to r.To, the rest less
// r.Fee back to the vault's change branch.
func (v *Vault) Synthetic(r SyntheticRequest) (*Synthetic, error) {
	funding, raw, err := bitcoin.Synthetic(v.cv, r.Seed, r.To, r.Amount, r.Fee)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := funding.Serialize(&b); err != nil {
		return nil, err
	}
	return &Synthetic{FundingTxID: funding.TxHash().String(), Funding: b.Bytes(), PSBT: raw}, nil
}

// BuildRequest asks for an unsigned PSBT spending every vault output of
// some funding transactions.
type BuildRequest struct {
	// Funding are the funding transactions, raw hex as a node returns
	// them.
	Funding [][]byte
	To      string // the destination address
	Amount  int64  // satoshi to To
	Fee     int64  // satoshi
	// ChangeIndex is the change address's index on branch 1.
	ChangeIndex uint32
	// Recovery spends through the vault's recovery path: every input
	// waits the lock (nSequence), and the node at RPC, a JSON-RPC URL,
	// proves the coins' depth. RPCCert names the node's TLS certificate
	// file (btcd's rpc.cert), if it needs one.
	Recovery bool
	RPC      string
	RPCCert  string
}

// Built is an unsigned PSBT and what it spends.
type Built struct {
	PSBT          []byte
	Coins         int   // how many vault outputs it spends
	Total, Change int64 // satoshi in, satoshi back to the vault
	// Lock is the vault's recovery lock, in blocks.
	Lock uint32
	// Depths are, for a recovery spend, each funding transaction's depth
	// as the node proved it, by transaction id.
	Depths []Depth
}

// Depth is how deep a funding transaction is, and how many more blocks
// its coins wait for the recovery lock (0 once matured).
type Depth struct {
	TxID      string
	Blocks    int
	Remaining uint32
}

// Build writes an unsigned PSBT spending every vault output of r.Funding:
// r.Amount to r.To, the rest less r.Fee back to the vault's change branch
// at r.ChangeIndex. A request whose amount and fee exceed the coins is
// refused. For a recovery spend it asks the node for a maturity proof,
// verifies it and carries it in the PSBT for the stations to check.
func (v *Vault) Build(ctx context.Context, r BuildRequest) (*Built, error) {
	req := bitcoin.BuildRequest{Funding: r.Funding, To: r.To, Amount: r.Amount, Fee: r.Fee, ChangeIndex: r.ChangeIndex, Recovery: r.Recovery}
	if r.Recovery && r.RPC != "" {
		var opts []rpc.Option
		if r.RPCCert != "" {
			opts = append(opts, rpc.WithCAFile(r.RPCCert))
		}
		client, err := rpc.New(r.RPC, opts...)
		if err != nil {
			return nil, err
		}
		defer client.Close()
		req.Node = client
	}
	b, err := bitcoin.Build(ctx, v.cv, req)
	if err != nil {
		return nil, err
	}
	out := &Built{PSBT: b.PSBT, Coins: b.Coins, Total: b.Total, Change: b.Change, Lock: b.Lock}
	for id, blocks := range b.Depth {
		d := Depth{TxID: id.String(), Blocks: blocks}
		if uint32(blocks) < b.Lock {
			d.Remaining = b.Lock - uint32(blocks)
		}
		out.Depths = append(out.Depths, d)
	}
	slices.SortFunc(out.Depths, func(a, b Depth) int { return strings.Compare(a.TxID, b.TxID) })
	return out, nil
}

// ExternalPSBT is a proposal's PSBT for an external signing device
// (Coldcard, Sparrow, Keystone).
type ExternalPSBT struct {
	ProposalID string // hex
	PSBT       []byte
}

// ProposalPSBT gives the PSBT of the workspace's proposal ref (an id or a
// unique prefix) exactly as the coordinator proposed it. The signed PSBT
// the device returns is checked like any approval when it is collected.
func ProposalPSBT(ws *workspace.Workspace, ref string) (*ExternalPSBT, error) {
	pe, err := ws.Proposal(ref)
	if err != nil {
		return nil, err
	}
	p, err := proposal.Decode(pe)
	if err != nil {
		return nil, err
	}
	if p.Chain != "bitcoin" {
		return nil, fmt.Errorf("proposal %s is a %s proposal, not a PSBT", pe.IDHex()[:16], p.Chain)
	}
	return &ExternalPSBT{ProposalID: pe.IDHex(), PSBT: p.Payload}, nil
}
