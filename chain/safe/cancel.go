package safe

import (
	"strconv"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain"
)

// FlagOnChainRejection (info) says the transaction is an on-chain
// rejection: it does nothing but use its nonce (docs/flags.md).
const FlagOnChainRejection = "onchain-rejection"

// IsRejection reports whether tx is an on-chain rejection of its nonce
// for Safe safe, exactly as Safe{Wallet} builds one ("reject
// transaction"): a call (not a delegatecall) to the Safe itself, value
// 0, no data, no gas refund (safeTxGas, baseGas and gasPrice 0, no gas
// token, no refund receiver). Executing it moves nothing and changes
// nothing but the Safe's nonce, which leaves every other transaction
// signed for that nonce unexecutable: it fills a nonce a proposal left
// unused, or cancels one signed and not executed.
//
// Anything else — value, data, a delegatecall, another target, a refund
// field — is not one, and is reviewed and decided as any transaction.
func IsRejection(tx *Tx, safe common.Address) bool {
	return tx != nil && tx.To == safe && tx.Value.Sign() == 0 && len(tx.Data) == 0 && tx.Operation == OpCall &&
		tx.SafeTxGas.Sign() == 0 && tx.BaseGas.Sign() == 0 && tx.GasPrice.Sign() == 0 &&
		tx.GasToken == (common.Address{}) && tx.RefundReceiver == (common.Address{})
}

// RejectionJSON is the on-chain rejection of nonce for Safe safe, as the
// JSON "airlock propose --safe-tx" takes.
func RejectionJSON(safe common.Address, nonce uint64) []byte {
	z := "0x0000000000000000000000000000000000000000"
	return []byte(`{"to":"` + safe.Hex() + `","value":"0","data":"0x","operation":0,"safeTxGas":"0","baseGas":"0","gasPrice":"0","gasToken":"` + z +
		`","refundReceiver":"` + z + `","nonce":"` + strconv.FormatUint(nonce, 10) + `"}`)
}

// reviewRejection marks an on-chain rejection: the details say which
// nonce it cancels, a flag (info) says what executing it does.
func (a *analysis) reviewRejection(tx *Tx) {
	if !IsRejection(tx, a.v.safe) {
		return
	}
	n := tx.Nonce.String()
	a.details.Cancels = n
	a.flag(FlagOnChainRejection, "an on-chain rejection: cancels nonce %s: moves nothing (a call to this Safe, value 0, no data, no refund); once it executes, no other transaction signed for nonce %s can", n, n)
}

// rejectionEffects: an on-chain rejection's one action is cancel.
func (a *analysis) rejectionEffects(e *chain.Effects) {
	if a.details.Cancels != "" {
		e.AddAction(chain.ActionCancel)
	}
}
