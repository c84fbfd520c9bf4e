package safe

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain"
)

// effects states what the payload does, in chain-neutral terms, read
// from the station's own decoding of every call (the top-level call and
// each MultiSend entry, at any depth):
//
//   - a call with value sends ETH to its target (a delegatecall sends
//     none: the Safe's Executor and MultiSend pass no value with it);
//   - transfer(to, amount) on a token sends the token to to, and so does
//     transferFrom(from, to, amount) when from is the Safe (from another
//     account, on its allowance, it is a contract call); approve,
//     increaseAllowance and setApprovalForAll are token approvals; an
//     ERC-721 safeTransferFrom, which moves no ERC-20 amount, is a
//     contract call;
//   - every delegatecall is a delegatecall, to a pinned library too;
//   - a Safe management function called on the Safe itself (or
//     delegatecalled on a pinned library, as the flags read it) is the
//     owner, threshold, module, guard or handler change it makes, every
//     version alike; any other call to the Safe is a contract call;
//   - signMessage(bytes), SignMessageLib's, signs a message as the Safe:
//     sign-message, and a contract call;
//   - any other call with data — an unknown or undecodable selector, a
//     known function on a contract that is not a token, a token function
//     run by delegatecall — is a contract call;
//   - a gas refund (gasPrice > 0) in ETH is the fee, the most the
//     signed fields let the Safe pay (see refundCallGas); in a token it
//     is a transfer of that token to the refund's receiver.
//
// Value the Safe sends to itself does not leave it and is no transfer.
//
// A message the Safe signs moves nothing: its one action is sign-message.
func (a *analysis) effects() *chain.Effects {
	e := &chain.Effects{Transfers: []chain.Transfer{}, Actions: []chain.Action{}}
	tx := a.payload.Tx
	if tx == nil {
		e.AddAction(chain.ActionSignMessage)
		return e
	}
	if a.queued != nil {
		// What the Delay modifier will run, as its avatar: the call to
		// the modifier itself moves nothing of this Safe's.
		e.AddAction(chain.ActionDelayed)
		a.queued.sub.callEffects(e, &a.queued.call)
	} else {
		for i := range a.details.Calls {
			a.callEffects(e, &a.details.Calls[i])
		}
		a.rejectionEffects(e)
	}
	if worst := maxRefund(tx); worst != nil {
		if tx.GasToken == (common.Address{}) {
			e.Fee = worst
		} else {
			e.Transfers = append(e.Transfers, chain.Transfer{Asset: erc20(tx.GasToken), To: refundReceiver(tx), Amount: worst})
		}
	}
	return e
}

func erc20(token common.Address) string { return "erc20:" + token.Hex() }

// transfer records amount of asset leaving the Safe for to.
func (a *analysis) transfer(e *chain.Effects, asset string, to common.Address, amount *big.Int) {
	if to == a.v.safe {
		return
	}
	e.Transfers = append(e.Transfers, chain.Transfer{Asset: asset, To: to.Hex(), Amount: new(big.Int).Set(amount)})
}

// callEffects adds the effects of call c and of the calls in it.
func (a *analysis) callEffects(e *chain.Effects, c *Call) {
	_, _, trusted := a.v.trust(c.to)
	if c.op == OpDelegateCall {
		e.AddAction(chain.ActionDelegateCall)
	} else if c.value.Sign() > 0 {
		a.transfer(e, "ETH", c.to, c.value)
	}
	switch {
	case c.method == nil && c.problem == "":
		return // no data
	case c.problem != "":
		// Undecodable data, or a batch that does not unpack: what it
		// does is unknown.
		e.AddAction(chain.ActionContractCall)
		return
	}
	m := c.method
	self := c.to == a.v.safe || (c.op == OpDelegateCall && trusted)
	switch {
	case m.kind == kindBatch:
		// A batch delegatecalled on a pinned MultiSend is its entries;
		// anywhere else it is also code of another contract.
		if c.op != OpDelegateCall || !trusted {
			e.AddAction(chain.ActionContractCall)
		}
		for i := range c.Calls {
			a.callEffects(e, &c.Calls[i])
		}
	case m.kind == kindSignMessage:
		// SignMessageLib, pinned or not: the Safe signs a message.
		e.AddAction(chain.ActionSignMessage, chain.ActionContractCall)
	case self && ownerMethods[m.sig] && a.rot.ok:
		e.AddAction(chain.ActionRotation)
	case self:
		as, ok := selfActions[m.sig]
		if !ok {
			as = []chain.Action{chain.ActionContractCall}
		}
		e.AddAction(as...)
	case m.kind == kindToken && c.op == OpCall:
		a.tokenEffects(e, c)
	default:
		e.AddAction(chain.ActionContractCall)
	}
}

// selfActions are the actions of the Safe's management functions called
// on the Safe; any other function (changeMasterCopy among them) is a
// contract call.
var selfActions = map[string][]chain.Action{
	"addOwnerWithThreshold(address,uint256)": {chain.ActionOwnerChange, chain.ActionThresholdChange},
	"removeOwner(address,address,uint256)":   {chain.ActionOwnerChange, chain.ActionThresholdChange},
	"swapOwner(address,address,address)":     {chain.ActionOwnerChange},
	"changeThreshold(uint256)":               {chain.ActionThresholdChange},
	"enableModule(address)":                  {chain.ActionModuleChange},
	"disableModule(address,address)":         {chain.ActionModuleChange},
	"setGuard(address)":                      {chain.ActionGuardChange},
	"setModuleGuard(address)":                {chain.ActionGuardChange},
	"setFallbackHandler(address)":            {chain.ActionHandlerChange},
}

// tokenEffects reads a token function called (not delegatecalled) on
// contract c.to.
func (a *analysis) tokenEffects(e *chain.Effects, c *Call) {
	switch c.method.sig {
	case "transfer(address,uint256)":
		a.transfer(e, erc20(c.to), c.values[0].(common.Address), c.values[1].(*big.Int))
	case "transferFrom(address,address,uint256)":
		if c.values[0].(common.Address) != a.v.safe {
			// Tokens of another account, moved on its allowance.
			e.AddAction(chain.ActionContractCall)
			return
		}
		a.transfer(e, erc20(c.to), c.values[1].(common.Address), c.values[2].(*big.Int))
	case "approve(address,uint256)", "increaseAllowance(address,uint256)", "setApprovalForAll(address,bool)":
		e.AddAction(chain.ActionTokenApproval)
	default:
		// ERC-721 safeTransferFrom: not an amount of an ERC-20.
		e.AddAction(chain.ActionContractCall)
	}
}

// refundCallGas bounds the gas the Safe refunds beyond safeTxGas.
// execTransaction measures gasleft() around the inner call (gasUsed
// before execute, less gasleft() after), so the refund also pays the
// call's own cost: accessing a cold account (2,600, and 2,600 more for
// an EIP-7702 delegation), sending value (9,000), creating the account
// the value goes to (25,000), copying the calldata into memory and the
// code around the call. An executor who grows the Safe's memory before
// the call (with a long signatures argument) makes the copy dearer at
// his own cost of gas; nothing signed bounds that, which is one reason
// a refund is always flagged gas-refund.
const refundCallGas = 50_000

// maxRefund is the most a transaction's gas refund pays, in the gas
// token's smallest unit: (safeTxGas + refundCallGas + baseGas) ×
// gasPrice, as handlePayment computes (gasUsed + baseGas) × gasPrice
// (for ETH, with gasPrice capped by tx.gasprice), and nil when gasPrice
// is 0 and nothing is paid. The fields are up to 2^256-1 each; big.Int
// computes the product exactly (the contract would revert past 2^256).
func maxRefund(tx *Tx) *big.Int {
	if tx.GasPrice.Sign() == 0 {
		return nil
	}
	gas := new(big.Int).Add(tx.SafeTxGas, tx.BaseGas)
	gas.Add(gas, big.NewInt(refundCallGas))
	return gas.Mul(gas, tx.GasPrice)
}

// refundReceiver names who a refund pays: the refundReceiver, or
// whoever executes the transaction (tx.origin) when it is zero.
func refundReceiver(tx *Tx) string {
	if tx.RefundReceiver == (common.Address{}) {
		return "tx.origin"
	}
	return tx.RefundReceiver.Hex()
}
