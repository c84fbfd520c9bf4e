package bitcoin

import (
	"math/big"

	"github.com/airlock-vault/airlock/chain"
)

// effects states what the reviewed transaction does in chain-neutral
// terms, from the station's own analysis: every output the station did
// not prove is change is a transfer of BTC to its address (or, for a
// script with no address, to "script:<hex>"); the fee is inputs less
// outputs when every input's amount is known; a transaction that can
// take a recovery vault's time-locked path uses it.
func (a *analysis) effects() *chain.Effects {
	e := &chain.Effects{Transfers: []chain.Transfer{}, Actions: []chain.Action{}}
	for _, o := range a.details.Outputs {
		if o.Change {
			continue
		}
		e.Transfers = append(e.Transfers, chain.Transfer{Asset: "BTC", To: o.Address, Amount: big.NewInt(o.Amount)})
	}
	if a.feeKnown {
		e.Fee = big.NewInt(a.details.Fee)
	}
	if a.details.Path == PathRecovery {
		e.AddAction(chain.ActionRecoveryPath)
	}
	return e
}
