package safe

import (
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain"
)

// Delay flags (docs/flags.md).
const (
	// FlagDelayQueued (warn) says the transaction queues a call in the
	// policy's Delay modifier: it runs as the modifier's avatar after the
	// cooldown, unless the avatar's owners veto it.
	FlagDelayQueued = "delay-queued"
	// FlagDelayUnlisted (block, always) is a module transaction sent to a
	// contract other than the Delay modifier the policy lists.
	FlagDelayUnlisted = "delay-unlisted"
	// FlagModuleTransaction (warn) is any other module transaction: the
	// contract called runs it at once if this Safe is its module.
	FlagModuleTransaction = "module-transaction"
)

// delayInfo is the vault's Delay modifier and the Safe it runs as.
type delayInfo struct {
	address, avatar common.Address
}

func parseDelay(d *chain.Delay, safe common.Address) (*delayInfo, error) {
	addr, err := address("delay modifier", d.Address)
	if err != nil {
		return nil, err
	}
	avatar, err := address("delay avatar", d.Avatar)
	if err != nil {
		return nil, err
	}
	if addr == safe || avatar == safe || addr == avatar {
		return nil, fmt.Errorf("the Delay modifier %s, its avatar %s and this Safe %s must be three accounts", addr.Hex(), avatar.Hex(), safe.Hex())
	}
	return &delayInfo{address: addr, avatar: avatar}, nil
}

// Delayed is a transaction queued in a Delay modifier, for auditors.
type Delayed struct {
	Delay  string `json:"delay"`
	Avatar string `json:"avatar"`
	Call   Call   `json:"call"` // as the avatar will make it
}

// queued is the queued call, decoded as its avatar will make it.
type queued struct {
	sub  *analysis
	call Call
}

// reviewDelay reads a module transaction of an emergency Safe (one whose
// vault names a Delay modifier). Only the top-level call counts, and only
// a plain call without value to the listed modifier is a queued
// transaction; its effects are those of the queued call made by the
// avatar (the Safe whose funds move). A module transaction to any other
// contract blocks: it would run at once, or through a modifier nobody
// reviewed.
func (a *analysis) reviewDelay(top *Call) {
	if a.v.delay == nil || top.method == nil || top.method.kind != kindModuleTx {
		return
	}
	d := a.v.delay
	if top.to != d.address || top.op != OpCall {
		a.flag(FlagDelayUnlisted, "call 0: %s on %s, which is not the Delay modifier %s the policy lists", top.method.sig, top.To, d.address.Hex())
		return
	}
	if top.value.Sign() != 0 {
		a.flag(FlagDelayUnlisted, "call 0: the module transaction sends %s wei to the Delay modifier itself", top.value)
		return
	}
	to, value, data, op := top.values[0].(common.Address), top.values[1].(*big.Int), top.values[2].([]byte), top.values[3].(uint8)
	if op > OpDelegateCall {
		a.flag(FlagDelayUnlisted, "call 0: queued operation %d", op)
		return
	}
	// The avatar's view: it is the Safe, it pins nothing, it lists no
	// owners (a change of them is never a rotation here).
	sub := &analysis{v: &vaultInfo{name: "avatar " + d.avatar.Hex(), safe: d.avatar, chainID: a.v.chainID, version: a.v.version,
		trusted: map[common.Address]string{}, severities: a.v.severities}, payload: a.payload}
	q := &queued{sub: sub, call: decodeCall("0.queued", op, to, value, data, 1)}
	sub.inspect(&q.call, nil)
	for _, f := range sub.flags {
		// A threshold change of the avatar is the emergency "pause": the
		// policy's emergency actions decide it. Anything else keeps its
		// severity.
		if f.Code == FlagThresholdChange && f.Severity == chain.Block {
			f.Severity = chain.Warn
		}
		f.Message = "queued for Safe " + d.avatar.Hex() + ": " + f.Message
		a.flags = append(a.flags, f)
	}
	a.flag(FlagDelayQueued, "queued through Delay modifier %s: executable by anyone after its cooldown, as Safe %s; vetoable until then by that Safe's owners (setTxNonce)", d.address.Hex(), d.avatar.Hex())
	a.queued = q
	a.details.Delayed = &Delayed{Delay: d.address.Hex(), Avatar: d.avatar.Hex(), Call: q.call}
}
