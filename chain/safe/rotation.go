package safe

import (
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// Rotation flags (docs/flags.md).
const (
	// FlagRotation (info) says an owner or threshold change moves the
	// Safe toward the policy's owners and threshold.
	FlagRotation = "rotation"
	// FlagOwnerChangeOutsidePolicy (block, always) is an owner or
	// threshold change of this Safe that is not a rotation toward the
	// policy: the Safe would stop matching the policy the stations read.
	FlagOwnerChangeOutsidePolicy = "owner-change-outside-policy"
)

// ownerMethods are the Safe functions that change its owners or
// threshold.
var ownerMethods = map[string]bool{
	"addOwnerWithThreshold(address,uint256)": true,
	"removeOwner(address,address,uint256)":   true,
	"swapOwner(address,address,address)":     true,
	"changeThreshold(uint256)":               true,
}

// rotation is what a transaction does to the Safe's owners and threshold.
type rotation struct {
	calls int    // owner and threshold changes of this Safe
	ok    bool   // all of them move toward the policy
	why   string // when not ok, the first reason
	steps []string
}

// isSelf says whether call c runs on this Safe: called on it, or
// delegatecalled on a pinned library (as the flags read it).
func (a *analysis) isSelf(c *Call) bool {
	_, _, trusted := a.v.trust(c.to)
	return c.to == a.v.safe || (c.op == OpDelegateCall && trusted)
}

// planRotation reads every owner and threshold change of this Safe in
// the transaction (batch entries included, in the order they run). They
// are a rotation when every owner added (or swapped in) is one of the
// vault's owners in the policy, every owner removed (or swapped out) is
// not, and the last threshold the transaction sets, if any, is the
// policy's. Only the final threshold counts: a batch runs atomically, so
// a lower threshold between its entries is never live.
func (a *analysis) planRotation(top *Call) rotation {
	var r rotation
	listed := map[common.Address]bool{}
	for _, o := range a.v.owners {
		listed[o.Address] = true
	}
	fail := func(format string, args ...any) {
		if r.why == "" {
			r.why = fmt.Sprintf(format, args...)
		}
	}
	var last *big.Int
	var walk func(c *Call)
	walk = func(c *Call) {
		if c.problem != "" || c.method == nil {
			return
		}
		if c.method.kind == kindBatch {
			for i := range c.Calls {
				walk(&c.Calls[i])
			}
			return
		}
		if c.method.kind != kindSelf || !ownerMethods[c.method.sig] || !a.isSelf(c) {
			return
		}
		r.calls++
		in := func(x common.Address) {
			if !listed[x] {
				fail("%s adds %s, which is not an owner of vault %q in the policy", c.method.sig[:strings.IndexByte(c.method.sig, '(')], x.Hex(), a.v.name)
			}
			r.steps = append(r.steps, "+"+x.Hex())
		}
		out := func(x common.Address) {
			if listed[x] {
				fail("%s removes %s, which the policy lists as an owner of vault %q", c.method.sig[:strings.IndexByte(c.method.sig, '(')], x.Hex(), a.v.name)
			}
			r.steps = append(r.steps, "-"+x.Hex())
		}
		switch c.method.sig {
		case "addOwnerWithThreshold(address,uint256)":
			in(c.values[0].(common.Address))
			last = c.values[1].(*big.Int)
		case "removeOwner(address,address,uint256)":
			out(c.values[1].(common.Address))
			last = c.values[2].(*big.Int)
		case "swapOwner(address,address,address)":
			out(c.values[1].(common.Address))
			in(c.values[2].(common.Address))
		case "changeThreshold(uint256)":
			last = c.values[0].(*big.Int)
		}
	}
	walk(top)
	if r.calls == 0 {
		return r
	}
	if len(a.v.owners) == 0 {
		fail("no policy owners to compare with")
	}
	if last != nil {
		r.steps = append(r.steps, "threshold "+last.String())
		if last.Cmp(big.NewInt(int64(a.v.threshold))) != 0 {
			fail("the transaction leaves the threshold at %s, the policy's is %d", last, a.v.threshold)
		}
	}
	r.ok = r.why == ""
	return r
}

// flagRotation raises the transaction's one rotation flag.
func (a *analysis) flagRotation() {
	r := a.rot
	switch {
	case r.calls == 0:
	case r.ok:
		version := "the policy's"
		if a.v.policyVersion > 0 {
			version = fmt.Sprintf("policy version %d's", a.v.policyVersion)
		}
		a.flag(FlagRotation, "rotation toward %s owners of vault %q (%d of %d): %s", version, a.v.name, a.v.threshold, len(a.v.owners), strings.Join(r.steps, ", "))
	default:
		a.flag(FlagOwnerChangeOutsidePolicy, "an owner or threshold change that does not move the Safe toward the policy's owners: %s", r.why)
	}
}

// Sentinel is the head of the Safe's owner (and module) linked list.
var Sentinel = common.HexToAddress("0x0000000000000000000000000000000000000001")

// RotationCalls returns the calls, each on the Safe itself, that take a
// Safe from owners cur with threshold curThreshold to owners next with
// nextThreshold: swapOwner for each replaced owner, then
// addOwnerWithThreshold or removeOwner when the sizes differ (keeping the
// current threshold where the owner count allows it), then
// changeThreshold when the threshold still differs. cur must be in the
// Safe's own order (getOwners; setup order for a Safe no owner change
// has touched), since each call names the owner before the one it
// changes in the Safe's linked list.
func RotationCalls(cur, next []common.Address, curThreshold, nextThreshold int) ([][]byte, error) {
	if err := ownerSet("current", cur, curThreshold); err != nil {
		return nil, err
	}
	if err := ownerSet("new", next, nextThreshold); err != nil {
		return nil, err
	}
	inNext, inCur := map[common.Address]bool{}, map[common.Address]bool{}
	for _, o := range next {
		inNext[o] = true
	}
	for _, o := range cur {
		inCur[o] = true
	}
	var removed, added []common.Address
	for _, o := range cur {
		if !inNext[o] {
			removed = append(removed, o)
		}
	}
	for _, o := range next {
		if !inCur[o] {
			added = append(added, o)
		}
	}
	list := append([]common.Address{}, cur...)
	prev := func(x common.Address) (common.Address, int) {
		for i, o := range list {
			if o == x {
				if i == 0 {
					return Sentinel, i
				}
				return list[i-1], i
			}
		}
		panic("safe: owner not in list")
	}
	var calls [][]byte
	pack := func(sig string, args ...any) error {
		b, err := mustMethod(sig).pack(args...)
		if err == nil {
			calls = append(calls, b)
		}
		return err
	}
	th := curThreshold
	n := min(len(removed), len(added))
	for i := 0; i < n; i++ {
		p, at := prev(removed[i])
		if err := pack("swapOwner(address,address,address)", p, removed[i], added[i]); err != nil {
			return nil, err
		}
		list[at] = added[i]
	}
	for _, o := range added[n:] {
		// addOwner links the new owner first.
		if err := pack("addOwnerWithThreshold(address,uint256)", o, big.NewInt(int64(th))); err != nil {
			return nil, err
		}
		list = append([]common.Address{o}, list...)
	}
	for _, o := range removed[n:] {
		p, at := prev(o)
		th = min(th, len(list)-1)
		if err := pack("removeOwner(address,address,uint256)", p, o, big.NewInt(int64(th))); err != nil {
			return nil, err
		}
		list = append(list[:at], list[at+1:]...)
	}
	if th != nextThreshold {
		if err := pack("changeThreshold(uint256)", big.NewInt(int64(nextThreshold))); err != nil {
			return nil, err
		}
	}
	if len(calls) == 0 {
		return nil, errors.New("safe: the Safe already has these owners and threshold")
	}
	return calls, nil
}

// RotationTx returns the Safe transaction with nonce that performs
// RotationCalls: the one call on the Safe itself, or, for several, one
// MultiSendCallOnly batch delegatecalled on multiSendCallOnly (which the
// vault must pin), so that the Safe never rests between the steps. A
// zero multiSendCallOnly refuses a rotation of several calls.
func RotationTx(safe common.Address, cur, next []common.Address, curThreshold, nextThreshold int, nonce *big.Int, multiSendCallOnly common.Address) (*Tx, error) {
	calls, err := RotationCalls(cur, next, curThreshold, nextThreshold)
	if err != nil {
		return nil, err
	}
	tx := &Tx{To: safe, Value: new(big.Int), Data: calls[0], SafeTxGas: new(big.Int), BaseGas: new(big.Int), GasPrice: new(big.Int), Nonce: new(big.Int).Set(nonce)}
	if len(calls) == 1 {
		return tx, nil
	}
	if multiSendCallOnly == (common.Address{}) {
		return nil, fmt.Errorf("safe: the rotation takes %d calls; give the pinned MultiSendCallOnly to batch them", len(calls))
	}
	var batch []BatchCall
	for _, c := range calls {
		batch = append(batch, BatchCall{Operation: OpCall, To: safe, Value: new(big.Int), Data: c})
	}
	tx.To, tx.Operation, tx.Data = multiSendCallOnly, OpDelegateCall, PackMultiSend(batch)
	return tx, nil
}

func ownerSet(which string, owners []common.Address, threshold int) error {
	if len(owners) == 0 {
		return fmt.Errorf("safe: no %s owners", which)
	}
	if threshold < 1 || threshold > len(owners) {
		return fmt.Errorf("safe: %s threshold %d of %d owners", which, threshold, len(owners))
	}
	seen := map[common.Address]bool{}
	for _, o := range owners {
		if o == (common.Address{}) || o == Sentinel {
			return fmt.Errorf("safe: %s owner %s is not an account", which, o.Hex())
		}
		if seen[o] {
			return fmt.Errorf("safe: %s owner %s twice", which, o.Hex())
		}
		seen[o] = true
	}
	return nil
}
