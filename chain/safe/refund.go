package safe

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain"
)

// checkRefundReceiver blocks a gas refund that pays a stranger. A Safe
// pays a refund only when gasPrice is not 0, to refundReceiver or, when
// that is zero, to tx.origin, whoever executes; in a gas token the
// payment is (gas used + baseGas) × gasPrice with no tie to the real
// price of gas, so a large baseGas or gasPrice hands a named receiver as
// much of the token as the owners signed for. A refund to a receiver that
// is neither zero nor on the policy's address book for the vault is
// therefore raised to block, with the reason in the message; the executor
// and a known relayer keep the warning. A policy that sets gas-refund's
// severity itself (safe.severities) has chosen for both cases.
func (a *analysis) checkRefundReceiver(tx *Tx, worst *big.Int) {
	if worst == nil || worst.Sign() == 0 || tx.RefundReceiver == (common.Address{}) || a.v.known[tx.RefundReceiver] {
		return
	}
	if _, chosen := a.v.severities[FlagGasRefund]; chosen {
		return
	}
	for i := range a.flags {
		if f := &a.flags[i]; f.Code == FlagGasRefund {
			f.Severity = chain.Block
			f.Message += fmt.Sprintf("; the refund receiver %s is neither zero (the executor) nor on the policy's address book: blocked", tx.RefundReceiver.Hex())
		}
	}
}

// addressBook parses the vault's address-book entries into a set. The
// policy wrote them canonical; one that is not an address is refused.
func addressBook(vault string, book []string) (map[common.Address]bool, error) {
	known := make(map[common.Address]bool, len(book))
	for _, s := range book {
		a, err := address("address book entry", s)
		if err != nil {
			return nil, fmt.Errorf("safe: vault %q: %v", vault, err)
		}
		known[a] = true
	}
	return known, nil
}
