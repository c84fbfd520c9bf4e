package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/airlock-vault/airlock/chain/bitcoin/rpc"
)

// Balance is what a node sees a Bitcoin vault hold.
type Balance struct {
	// Sat is the sum of the unspent outputs (mempool included) paying the
	// vault's addresses; Outputs their count.
	Sat     int64
	Outputs int
	// Scanned is how many addresses were asked about; Used how many had
	// any transaction.
	Scanned, Used int
}

// DefaultGap is how many unused addresses in a row end the scan of a
// branch (BIP-44's gap limit).
const DefaultGap = 20

// maxScan bounds the addresses of one branch a scan asks about.
const maxScan = 1000

// Balance asks node for the vault's unspent outputs: the receive and
// change branches, address by address, until gap unused addresses in a
// row. The node must index addresses (btcd --addrindex): it is asked
// searchrawtransactions for each address, then gettxout for each output
// paying it. What it says is the node's word, shown for information; no
// decision rests on it.
func (v *Vault) Balance(ctx context.Context, node *rpc.Client, gap int) (*Balance, error) {
	if v.cv.Chain != "bitcoin" {
		return nil, fmt.Errorf("vault %q is a %s vault: its balance is not read from a Bitcoin node", v.cv.Name, v.cv.Chain)
	}
	if gap <= 0 {
		gap = DefaultGap
	}
	b := &Balance{}
	seen := map[string]bool{}
	for branch := 0; branch < 2; branch++ {
		unused := 0
		for i := uint32(0); unused < gap; i++ {
			if i >= maxScan {
				return nil, fmt.Errorf("vault %q: branch %d has more than %d used addresses; the scan stops there", v.cv.Name, branch, maxScan)
			}
			addr, err := v.Address(branch, i)
			if err != nil {
				return nil, err
			}
			b.Scanned++
			txs, err := search(ctx, node, addr)
			if err != nil {
				return nil, err
			}
			if len(txs) == 0 {
				unused++
				continue
			}
			unused = 0
			b.Used++
			for _, tx := range txs {
				for _, out := range tx.Vout {
					if !pays(out.ScriptPubKey, addr) {
						continue
					}
					op := fmt.Sprintf("%s:%d", tx.TxID, out.N)
					if seen[op] {
						continue
					}
					seen[op] = true
					var unspent *struct {
						Value float64 `json:"value"`
					}
					if err := node.Call(ctx, "gettxout", []any{tx.TxID, out.N, true}, &unspent); err != nil {
						return nil, err
					}
					if unspent == nil {
						continue
					}
					sat := int64(math.Round(unspent.Value * 1e8))
					if sat < 0 || b.Sat > math.MaxInt64-sat {
						return nil, fmt.Errorf("vault %q: the node reports an impossible amount", v.cv.Name)
					}
					b.Sat += sat
					b.Outputs++
				}
			}
		}
	}
	return b, nil
}

type searched struct {
	TxID string `json:"txid"`
	Vout []struct {
		N            int `json:"n"`
		ScriptPubKey struct {
			Address   string   `json:"address"`
			Addresses []string `json:"addresses"`
		} `json:"scriptPubKey"`
	} `json:"vout"`
}

func pays(spk struct {
	Address   string   `json:"address"`
	Addresses []string `json:"addresses"`
}, addr string) bool {
	if spk.Address == addr {
		return true
	}
	for _, a := range spk.Addresses {
		if a == addr {
			return true
		}
	}
	return false
}

// search pages through searchrawtransactions for addr.
func search(ctx context.Context, node *rpc.Client, addr string) ([]searched, error) {
	const page = 100
	var out []searched
	for skip := 0; ; skip += page {
		var raw json.RawMessage
		err := node.Call(ctx, "searchrawtransactions", []any{addr, 1, skip, page}, &raw)
		var re *rpc.Error
		if errors.As(err, &re) && re.Code == -5 {
			return out, nil // no transaction (left) for the address
		}
		if err != nil {
			return nil, fmt.Errorf("searchrawtransactions (the node must index addresses: btcd --addrindex): %w", err)
		}
		var txs []searched
		if err := json.Unmarshal(raw, &txs); err != nil {
			return nil, fmt.Errorf("searchrawtransactions: %v", err)
		}
		out = append(out, txs...)
		if len(txs) < page || len(out) > 100*page {
			return out, nil
		}
	}
}
