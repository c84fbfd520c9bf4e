package safe

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain"
)

// Flag codes (docs/flags.md).
const (
	FlagDelegatecallUntrusted = "delegatecall-untrusted"
	FlagOwnerChange           = "owner-change"
	FlagThresholdChange       = "threshold-change"
	FlagModuleChange          = "module-change"
	FlagGuardChange           = "guard-change"
	FlagFallbackHandlerChange = "fallback-handler-change"
	FlagImplementationChange  = "implementation-change"
	FlagOwnershipTransfer     = "ownership-transfer"
	FlagUpgradeCall           = "upgrade-call"
	FlagGasRefund             = "gas-refund"
	FlagHashMismatch          = "hash-mismatch"
	FlagNonceConflict         = "nonce-conflict"
	FlagUnknownSelector       = "unknown-selector"
	FlagEthSignRequested      = "eth-sign-requested"
	FlagWrongSafe             = "wrong-safe"
	FlagTokenApproval         = "token-approval"
	FlagMessageSignature      = "message-signature"
)

// DefaultSeverity is each flag's severity unless a vault's policy says
// otherwise: every flag that can move control of the Safe blocks.
var DefaultSeverity = map[string]chain.Severity{
	FlagDelegatecallUntrusted:    chain.Block,
	FlagOwnerChange:              chain.Block,
	FlagThresholdChange:          chain.Block,
	FlagModuleChange:             chain.Block,
	FlagGuardChange:              chain.Block,
	FlagFallbackHandlerChange:    chain.Block,
	FlagImplementationChange:     chain.Block,
	FlagOwnershipTransfer:        chain.Block,
	FlagUpgradeCall:              chain.Block,
	FlagGasRefund:                chain.Warn,
	FlagHashMismatch:             chain.Block,
	FlagNonceConflict:            chain.Warn,
	FlagUnknownSelector:          chain.Warn,
	FlagEthSignRequested:         chain.Block,
	FlagWrongSafe:                chain.Block,
	FlagTokenApproval:            chain.Warn,
	FlagMessageSignature:         chain.Info,
	FlagRotation:                 chain.Info,
	FlagOwnerChangeOutsidePolicy: chain.Block,
	FlagDelayQueued:              chain.Warn,
	FlagDelayUnlisted:            chain.Block,
	FlagModuleTransaction:        chain.Warn,
	FlagOnChainRejection:         chain.Info,
}

// hardFlags can never be lowered by a policy: they mean the station is not
// looking at what it would sign.
var hardFlags = map[string]bool{FlagHashMismatch: true, FlagWrongSafe: true, FlagOwnerChangeOutsidePolicy: true, FlagDelayUnlisted: true}

// Details is a Safe review for auditors (the JSON of review --json and
// inspect safe).
type Details struct {
	Safe    string `json:"safe"`
	ChainID string `json:"chainId"`
	Version string `json:"version"`
	Kind    string `json:"kind"` // transaction or message
	Nonce   string `json:"nonce,omitempty"`
	// Cancels is the nonce an on-chain rejection cancels (cancel.go):
	// set only when the transaction is exactly one.
	Cancels   string   `json:"cancels,omitempty"`
	Hashes    Hashes   `json:"hashes"`
	Calls     []Call   `json:"calls,omitempty"`
	Refund    *Refund  `json:"refund,omitempty"`
	Message   string   `json:"message,omitempty"`
	SignedAs  string   `json:"signedAs"` // eip712 or eth_sign
	Owners    []string `json:"owners"`
	Threshold int      `json:"threshold"`
	// Delayed is the transaction queued in a Delay modifier, if any.
	Delayed *Delayed `json:"delayed,omitempty"`
	// State is the on-chain state the proposal attests, as its proofs
	// show it (state.go); nil when none was attested or it did not
	// verify.
	State *StateDetails `json:"state,omitempty"`
}

// Refund is the worst case a gas refund pays out of the Safe.
type Refund struct {
	Token     string `json:"token"` // "ETH" or the token address
	Receiver  string `json:"receiver"`
	WorstCase string `json:"worstCase"` // (safeTxGas + baseGas + refundCallGas) × gasPrice, smallest unit
}

// analysis is one payload reviewed against one vault.
type analysis struct {
	v       *vaultInfo
	payload *Payload
	hashes  Hashes
	details Details
	flags   []chain.Flag
	lines   []string
	// rot is what the transaction does to the Safe's owners (rotation.go).
	rot rotation
	// queued is what the transaction queues in the vault's Delay
	// modifier, as its avatar will run it (delay.go); nil for none.
	queued *queued
}

func (a *analysis) flag(code, format string, args ...any) {
	sev := DefaultSeverity[code]
	if s, ok := a.v.severities[code]; ok && !hardFlags[code] {
		sev = s
	}
	msg := fmt.Sprintf(format, args...)
	for _, f := range a.flags {
		if f.Code == code && f.Message == msg {
			return
		}
	}
	a.flags = append(a.flags, chain.Flag{Code: code, Severity: sev, Message: msg})
}

// analyse parses and reviews a payload for vault v.
func analyse(v *vaultInfo, raw []byte) (*analysis, error) {
	p, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	a := &analysis{v: v, payload: p}
	d := Domain{Version: v.version, ChainID: v.chainID, Safe: v.safe}
	a.details = Details{Safe: v.safe.Hex(), ChainID: v.chainID.String(), Version: v.version, SignedAs: "eip712", Threshold: v.threshold}
	for _, o := range v.owners {
		a.details.Owners = append(a.details.Owners, o.Address.Hex())
	}
	if p.Safe != nil && *p.Safe != v.safe {
		a.flag(FlagWrongSafe, "the payload names Safe %s, but this vault is %s", p.Safe.Hex(), v.safe.Hex())
	}
	if p.Tx != nil {
		a.details.Kind, a.details.Nonce = "transaction", p.Tx.Nonce.String()
		if a.hashes, err = TxHashes(d, p.Tx); err != nil {
			return nil, err
		}
		a.reviewTx(p.Tx)
	} else {
		a.details.Kind = "message"
		if a.hashes, err = MessageHashes(d, p.Message.Digest); err != nil {
			return nil, err
		}
		a.reviewMessage(p.Message)
	}
	a.details.Hashes = a.hashes
	if p.ClaimedHash != nil && *p.ClaimedHash != a.hashes.SafeTx {
		a.flag(FlagHashMismatch, "the payload claims hash %s, but this station computes %s: do not sign", p.ClaimedHash.Hex(), a.hashes.SafeTx.Hex())
	}
	a.render()
	return a, nil
}

func (a *analysis) reviewMessage(m *Message) {
	switch {
	case m.Bare != nil:
		a.details.Message = "bare hash " + m.Bare.Hex()
		a.flag(FlagEthSignRequested, "a request to sign a bare hash %s: nobody can tell what it authorises", m.Bare.Hex())
	case m.Typed != nil:
		a.details.Message = "EIP-712 digest " + m.Typed.Hex()
		a.flag(FlagMessageSignature, "an off-chain EIP-712 message signed as this Safe (EIP-1271): the station sees only its digest")
	default:
		a.details.Message = *m.Text
		a.flag(FlagMessageSignature, "an off-chain text message signed as this Safe (EIP-1271)")
	}
}

func (a *analysis) reviewTx(tx *Tx) {
	top := decodeCall("0", tx.Operation, tx.To, tx.Value, tx.Data, 0)
	a.rot = a.planRotation(&top)
	a.flagRotation()
	a.inspect(&top, nil)
	a.reviewDelay(&top)
	a.reviewRejection(tx)
	a.details.Calls = []Call{top}
	if tx.GasPrice.Sign() > 0 || tx.BaseGas.Sign() > 0 || tx.GasToken != (common.Address{}) || tx.RefundReceiver != (common.Address{}) {
		worst := maxRefund(tx)
		if worst == nil {
			worst = new(big.Int) // gasPrice 0: nothing is paid
		}
		token := "ETH"
		if tx.GasToken != (common.Address{}) {
			token = tx.GasToken.Hex()
		}
		receiver := "the executor (tx.origin)"
		if tx.RefundReceiver != (common.Address{}) {
			receiver = tx.RefundReceiver.Hex()
		}
		a.details.Refund = &Refund{Token: token, Receiver: receiver, WorstCase: worst.String()}
		a.flag(FlagGasRefund, "gas refund: up to %s (smallest unit) of %s paid from the Safe to %s ((safeTxGas %s + baseGas %s + %d for the call itself) × gasPrice %s)", worst, token, receiver, tx.SafeTxGas, tx.BaseGas, refundCallGas, tx.GasPrice)
		a.checkRefundReceiver(tx, worst)
	}
}

// inspect raises the flags of one call and its batch entries. parent is
// the batch call c belongs to, if any.
func (a *analysis) inspect(c *Call, parent *Call) {
	name, pinned, trusted := a.v.trust(c.to)
	switch {
	case c.to == a.v.safe:
		c.Target = "this Safe"
	case pinned:
		c.Target = name + " (pinned in the policy)"
	case trusted:
		c.Target = name
	}
	where := "call " + c.Path
	if c.op == OpDelegateCall && !trusted {
		a.flag(FlagDelegatecallUntrusted, "%s: delegatecall to %s, which is neither an official Safe batch library on this chain nor a contract pinned in the policy: it would run with the Safe's storage and funds", where, c.To)
	}
	if c.problem != "" {
		if c.to == a.v.safe {
			a.flag(FlagUnknownSelector, "%s: a call to this Safe that airlock cannot decode (%s); it may change the Safe's configuration", where, c.problem)
			a.flags[len(a.flags)-1].Severity = a.severe(FlagOwnerChange)
		} else {
			a.flag(FlagUnknownSelector, "%s to %s: %s; shown raw", where, c.To, c.problem)
		}
		return
	}
	if c.method == nil {
		return
	}
	m := c.method
	self := c.to == a.v.safe || (c.op == OpDelegateCall && trusted)
	switch m.kind {
	case kindSelf:
		if !self {
			// A Safe management call on another contract: another Safe
			// this one owns, say.
			a.flag(FlagOwnerChange, "%s: %s on %s, another contract's configuration", where, m.sig, c.To)
			return
		}
		a.selfCall(c, where)
	case kindBatch:
		if c.op != OpDelegateCall || !trusted {
			if c.op == OpCall {
				a.flag(FlagUnknownSelector, "%s: multiSend called (not delegatecalled) on %s", where, c.To)
			}
		}
		for i := range c.Calls {
			a.inspect(&c.Calls[i], c)
		}
	case kindOwnership:
		a.flag(FlagOwnershipTransfer, "%s: %s on %s (%s)", where, m.sig, c.To, argList(c))
	case kindModuleTx:
		// The emergency vault's top-level call is reviewDelay's.
		if a.v.delay == nil || parent != nil {
			a.flag(FlagModuleTransaction, "%s: %s on %s (%s): if this Safe is one of its modules, %s runs the call at once, as itself", where, m.sig, c.To, argList(c), c.To)
		}
	case kindUpgrade:
		a.flag(FlagUpgradeCall, "%s: %s on %s (%s)", where, m.sig, c.To, argList(c))
	case kindMigration:
		a.flag(FlagImplementationChange, "%s: %s on %s changes this Safe's implementation", where, m.sig, c.To)
	case kindToken:
		if strings.HasPrefix(m.sig, "approve(") || strings.HasPrefix(m.sig, "increaseAllowance(") || strings.HasPrefix(m.sig, "setApprovalForAll(") {
			a.flag(FlagTokenApproval, "%s: %s lets %s spend the Safe's tokens of %s", where, m.what, c.Args[0].Value, c.To)
		}
	}
	_ = parent
}

func (a *analysis) severe(code string) chain.Severity {
	if s, ok := a.v.severities[code]; ok {
		return s
	}
	return DefaultSeverity[code]
}

func (a *analysis) selfCall(c *Call, where string) {
	m := c.method
	if ownerMethods[m.sig] && a.rot.ok {
		return // a rotation toward the policy: flagged once, FlagRotation
	}
	switch m.sig {
	case "addOwnerWithThreshold(address,uint256)":
		a.flag(FlagOwnerChange, "%s: adds owner %s", where, c.Args[0].Value)
		a.thresholdTo(c.Args[1].Value, where)
	case "removeOwner(address,address,uint256)":
		a.flag(FlagOwnerChange, "%s: removes owner %s", where, c.Args[1].Value)
		a.thresholdTo(c.Args[2].Value, where)
	case "swapOwner(address,address,address)":
		a.flag(FlagOwnerChange, "%s: replaces owner %s with %s", where, c.Args[1].Value, c.Args[2].Value)
	case "changeThreshold(uint256)":
		a.thresholdTo(c.Args[0].Value, where)
	case "enableModule(address)":
		a.flag(FlagModuleChange, "%s: enables module %s, which could then move funds without the owners", where, c.Args[0].Value)
	case "disableModule(address,address)":
		a.flag(FlagModuleChange, "%s: disables module %s", where, c.Args[1].Value)
	case "setGuard(address)", "setModuleGuard(address)":
		a.flag(FlagGuardChange, "%s: %s to %s", where, m.what, c.Args[0].Value)
	case "setFallbackHandler(address)":
		a.flag(FlagFallbackHandlerChange, "%s: sets the fallback handler to %s", where, c.Args[0].Value)
	case "changeMasterCopy(address)":
		a.flag(FlagImplementationChange, "%s: changes the Safe's implementation to %s", where, c.Args[0].Value)
	}
}

func (a *analysis) thresholdTo(v, where string) {
	if a.v.threshold == 0 {
		a.flag(FlagThresholdChange, "%s: threshold → %s", where, v)
	} else if v != fmt.Sprint(a.v.threshold) {
		a.flag(FlagThresholdChange, "%s: threshold %d → %s", where, a.v.threshold, v)
	}
}

func argList(c *Call) string {
	var parts []string
	for _, a := range c.Args {
		parts = append(parts, a.Name+"="+a.Value)
	}
	return strings.Join(parts, ", ")
}

// render writes the review for a person: the hashes as a hardware wallet
// shows them, then each call.
func (a *analysis) render() {
	d := a.details
	l := []string{fmt.Sprintf("Safe %s on chain %s (Safe %s), %s", d.Safe, d.ChainID, d.Version, d.Kind)}
	if d.Nonce != "" {
		l[0] += ", nonce " + d.Nonce
	}
	if d.Cancels != "" {
		l = append(l, "ON-CHAIN REJECTION: cancels nonce "+d.Cancels+": moves nothing")
	}
	l = append(l,
		"domain hash   "+a.hashes.Domain.Hex(),
		"message hash  "+a.hashes.Message.Hex(),
		"safeTxHash    "+a.hashes.SafeTx.Hex(),
	)
	if d.Message != "" {
		l = append(l, fmt.Sprintf("message       %q", d.Message))
	}
	var walk func(c Call, indent string)
	walk = func(c Call, indent string) {
		target := ""
		if c.Target != "" {
			target = " (" + c.Target + ")"
		}
		l = append(l, fmt.Sprintf("%s%s %s %s%s value %s wei", indent, c.Path, strings.ToUpper(c.Operation), c.To, target, c.Value))
		switch {
		case c.Method != "" && len(c.Calls) == 0:
			l = append(l, fmt.Sprintf("%s    %s  [%s]", indent, withArgs(c), c.What))
		case c.Method != "":
			l = append(l, fmt.Sprintf("%s    %s: %d entries", indent, c.Method, len(c.Calls)))
		case c.Data != "":
			raw := c.Data
			if len(raw) > 138 {
				raw = raw[:138] + fmt.Sprintf("… (%d bytes)", (len(c.Data)-2)/2)
			}
			l = append(l, fmt.Sprintf("%s    raw calldata %s", indent, raw))
		}
		for _, in := range c.Calls {
			walk(in, indent+"    ")
		}
	}
	for _, c := range d.Calls {
		walk(c, "")
	}
	if q := d.Delayed; q != nil {
		l = append(l, fmt.Sprintf("QUEUED in Delay modifier %s, to run as Safe %s after its cooldown (its owners may veto):", q.Delay, q.Avatar))
		walk(q.Call, "    ")
	}
	if d.Refund != nil {
		l = append(l, fmt.Sprintf("gas refund: up to %s of %s to %s", d.Refund.WorstCase, d.Refund.Token, d.Refund.Receiver))
	}
	a.lines = l
}

func withArgs(c Call) string {
	name := c.Method[:strings.IndexByte(c.Method, '(')]
	var parts []string
	for _, a := range c.Args {
		parts = append(parts, a.Name+"="+a.Value)
	}
	return name + "(" + strings.Join(parts, ", ") + ")"
}
