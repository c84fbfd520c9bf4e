package coordinator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
	"golang.org/x/mod/semver"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/workspace"
)

// Errors of BroadcastSafe, beside ErrNotFinalized and Refusal.
var (
	// ErrNotSafe: BroadcastSafe executes Safe transactions only.
	ErrNotSafe = errors.New("not a Safe transaction")
	// ErrWrongChain: the node is not on the vault's chain.
	ErrWrongChain = errors.New("the node is on another chain")
	// ErrSafeNonce: the Safe's nonce on chain is not the proposal's.
	ErrSafeNonce = errors.New("the Safe's nonce is not the proposal's")
	// ErrCodeMismatch: a delegatecall target's code on chain is not the
	// code the policy pins (or the official deployment's).
	ErrCodeMismatch = errors.New("a delegatecall target's code is not the pinned code")
	// ErrReverted: execTransaction reverts (before sending: nothing was
	// sent) or reverted (mined with status 0). Nothing was recorded.
	ErrReverted = errors.New("execTransaction reverts")
	// ErrExecutionFailure: execTransaction was mined and the Safe marked
	// its transaction executed (its nonce is spent), but the inner call
	// failed (the ExecutionFailure event). Nothing was recorded.
	ErrExecutionFailure = errors.New("the Safe transaction's call failed (ExecutionFailure)")
	// ErrNoReceipt: the transaction was sent but no receipt came within
	// the time allowed. Nothing was recorded.
	ErrNoReceipt = errors.New("no receipt in time")
)

// Bounds of a Safe broadcast.
const (
	// DefaultReceiptTimeout bounds the wait for the receipt.
	DefaultReceiptTimeout = 3 * time.Minute
	// DefaultMaxGas bounds the gas limit: EIP-7825's per-transaction cap.
	DefaultMaxGas = params.MaxTxGas
)

// EthNode is the Ethereum node a Safe's execTransaction is sent through.
type EthNode struct {
	// URL is the node's JSON-RPC URL (http, https, ws or wss). Only its
	// scheme and host are recorded: a provider's key in the path stays
	// out of the audit log.
	URL string
	// ReceiptTimeout bounds the wait for the receipt (default
	// DefaultReceiptTimeout).
	ReceiptTimeout time.Duration
	// MaxGas bounds the gas limit (default DefaultMaxGas).
	MaxGas uint64
	// MaxFeePerGas, when set, bounds the fee cap in wei per gas: a
	// base fee that needs more is refused, not paid.
	MaxFeePerGas *big.Int
}

// SafeSent is an executed Safe transaction.
type SafeSent struct {
	Safe       string `json:"safe"` // checksummed (EIP-55)
	ChainID    string `json:"chainId"`
	Nonce      string `json:"nonce"`
	SafeTxHash string `json:"safeTxHash"`
	TxHash     string `json:"txHash"`
	Block      uint64 `json:"block"`
	BlockHash  string `json:"blockHash"`
	GasUsed    uint64 `json:"gasUsed"`
	Executor   string `json:"executor"`
	Node       string `json:"node"`
	// Checked lists what was verified against the node before sending.
	Checked []string `json:"checked"`
}

// SafeRevert is a revert of execTransaction with the Safe's error code
// decoded (GS026: "Invalid owner provided"). TxHash is zero when the
// revert was found before sending (the estimate), so nothing was sent.
type SafeRevert struct {
	Code    string // "GS026", or "" when the reason is no Safe code
	Meaning string
	Reason  string // the raw revert reason or the node's message
	// Inner is set when the revert is the Safe transaction's own call's,
	// passed on by Safe 1.5.0 and later where earlier versions say GS013
	// (safeTxGas and gasPrice 0); Reason is then the call's reason, if any.
	Inner  bool
	TxHash common.Hash
	Block  uint64
}

func (e *SafeRevert) Error() string {
	what := "execTransaction reverts"
	if e.TxHash != (common.Hash{}) {
		what = fmt.Sprintf("execTransaction %s reverted in block %d", e.TxHash.Hex(), e.Block)
	} else {
		what += " (found before sending: nothing was sent)"
	}
	if e.Code != "" {
		return fmt.Sprintf("coordinator: %s: %s %q", what, e.Code, e.Meaning)
	}
	if e.Inner {
		return fmt.Sprintf("coordinator: %s: %s (reason: %s)", what, e.Meaning, e.Reason)
	}
	return fmt.Sprintf("coordinator: %s: %s", what, e.Reason)
}

func (e *SafeRevert) Unwrap() error { return ErrReverted }

// SafeExecutionFailure is an execTransaction mined with the Safe's
// ExecutionFailure event: the nonce is spent, the call did not happen.
type SafeExecutionFailure struct {
	TxHash common.Hash
	Block  uint64
}

func (e *SafeExecutionFailure) Error() string {
	return fmt.Sprintf("coordinator: execTransaction %s in block %d: the Safe emitted ExecutionFailure: the transaction's call failed and the Safe's nonce is spent; nothing was recorded as broadcast", e.TxHash.Hex(), e.Block)
}

func (e *SafeExecutionFailure) Unwrap() error { return ErrExecutionFailure }

var (
	selNonce          = crypto.Keccak256([]byte("nonce()"))[:4]
	topicExecSuccess  = crypto.Keccak256Hash([]byte("ExecutionSuccess(bytes32,uint256)"))
	topicExecFailure  = crypto.Keccak256Hash([]byte("ExecutionFailure(bytes32,uint256)"))
	receiptPollPeriod = 200 * time.Millisecond
)

// safeBroadcast is what a finalized Safe proposal sends.
type safeBroadcast struct {
	pe      *envelope.Envelope
	vault   chain.Vault
	safe    common.Address
	chainID *big.Int
	tx      *safe.Tx
	hash    common.Hash // safeTxHash
	raw     []byte      // execTransaction calldata
	details safe.Details
}

// loadSafe reads a finalized Safe proposal: the threshold proof's
// execTransaction calldata must carry exactly the proposal's transaction
// and its safeTxHash must be the proof's.
func (c *Coordinator) loadSafe(ctx context.Context, ref string, raw []byte) (*safeBroadcast, error) {
	pe, err := c.WS.Proposal(ref)
	if err != nil {
		return nil, err
	}
	fe, err := c.WS.Final(pe.ID())
	if errors.Is(err, workspace.ErrNotFound) {
		return nil, fmt.Errorf("coordinator: proposal %s is %w", pe.IDHex()[:16], ErrNotFinalized)
	}
	if err != nil {
		return nil, err
	}
	proof, err := proposal.DecodeProof(fe)
	if err != nil {
		return nil, err
	}
	if proof.Chain != "ethereum" {
		return nil, fmt.Errorf("coordinator: proposal %s is a %s transaction, %w", pe.IDHex()[:16], proof.Chain, ErrNotSafe)
	}
	p, pol, _, err := c.open(pe)
	if err != nil {
		return nil, err
	}
	pv, ok := pol.Vault(p.Vault)
	if !ok {
		return nil, fmt.Errorf("coordinator: the proposal's policy has no vault %q", p.Vault)
	}
	cv, err := pol.ChainVault(pv)
	if err != nil {
		return nil, err
	}
	if cv.Account == nil {
		return nil, fmt.Errorf("coordinator: vault %q has no Safe", p.Vault)
	}
	pl, err := safe.Parse(p.Payload)
	if err != nil {
		return nil, err
	}
	if pl.Tx == nil {
		return nil, fmt.Errorf("coordinator: proposal %s is a Safe message, %w: its signatures are the result, nothing is executed", pe.IDHex()[:16], ErrNotSafe)
	}
	if raw == nil {
		raw = proof.Transaction
	} else if !bytes.Equal(raw, proof.Transaction) {
		return nil, &Refusal{Reason: fmt.Sprintf("the calldata offered is not the execTransaction the threshold proof records (safeTxHash %s): refusing to send it", proof.TxID)}
	}
	dtx, sigs, err := safe.DecodeExecCalldata(raw)
	if err != nil {
		return nil, &Refusal{Reason: err.Error()}
	}
	again, err := safe.ExecCalldata(pl.Tx, sigs)
	if err != nil || !bytes.Equal(again, raw) || dtx.To != pl.Tx.To {
		return nil, &Refusal{Reason: "the threshold proof's execTransaction does not carry the proposal's transaction: refusing to send it"}
	}
	rv, err := safe.Adapter{}.Review(ctx, cv, p.Payload)
	if err != nil {
		return nil, err
	}
	if rv.TxID != proof.TxID {
		return nil, &Refusal{Reason: fmt.Sprintf("the proposal's safeTxHash is %s, the threshold proof's %s: refusing to send it", rv.TxID, proof.TxID)}
	}
	b := &safeBroadcast{pe: pe, vault: cv, safe: common.HexToAddress(cv.Account.Address),
		chainID: new(big.Int).SetUint64(cv.Account.ChainID), tx: pl.Tx, hash: common.HexToHash(rv.TxID), raw: raw}
	switch d := rv.Details.(type) {
	case safe.Details:
		b.details = d
	case *safe.Details:
		b.details = *d
	default:
		return nil, fmt.Errorf("coordinator: the Safe review has no details (%T)", rv.Details)
	}
	return b, nil
}

// BroadcastSafe executes the finalized Safe transaction of proposal ref
// through an Ethereum node: execTransaction with the threshold
// signatures, sent from executor (which pays the gas; the Safe does not
// care who relays). When raw is given (a file a person holds) it must be
// exactly the calldata the threshold proof records.
//
// Before sending it checks, against the node: the chain id is the
// vault's; the Safe has code; the Safe's nonce is the proposal's; every
// delegatecall target's runtime code hashes (keccak256) to the hash the
// policy pins, or to the official deployment's for a default-trusted
// library; the executor can pay; and execTransaction does not revert
// (eth_estimateGas; a revert is reported with its Safe error code and
// nothing is sent). It sends an EIP-1559 transaction with the estimate
// plus a margin (at most node.MaxGas), waits for the receipt (at most
// node.ReceiptTimeout), and requires the Safe's ExecutionSuccess event
// for this safeTxHash. Only then is the proposal recorded as broadcast,
// in one store transaction with its audit entry (the transaction hash,
// the block, the node's scheme and host). On any failure nothing is
// recorded.
func (c *Coordinator) BroadcastSafe(ctx context.Context, ref string, raw []byte, node EthNode, executor Executor) (*SafeSent, error) {
	x, err := c.PrepareSafe(ctx, ref, raw)
	if err != nil {
		return nil, err
	}
	sent, err := x.Execute(ctx, node, executor)
	if err != nil {
		return nil, err
	}
	if err := c.RecordSafeExecution(ctx, x, sent); err != nil {
		return nil, err
	}
	return sent, nil
}

// SafeExecution is a finalized Safe proposal, checked and ready to
// execute: BroadcastSafe's three steps apart, for a caller that must not
// hold the workspace while the node mines (the service): PrepareSafe
// and RecordSafeExecution use the workspace, Execute only the node.
type SafeExecution struct{ b *safeBroadcast }

// PrepareSafe reads and checks what proposal ref's threshold proof
// executes (raw, when given, must be its calldata), as BroadcastSafe
// does first.
func (c *Coordinator) PrepareSafe(ctx context.Context, ref string, raw []byte) (*SafeExecution, error) {
	b, err := c.loadSafe(ctx, ref, raw)
	if err != nil {
		return nil, err
	}
	return &SafeExecution{b: b}, nil
}

// Proposal is the id of the proposal x executes.
func (x *SafeExecution) Proposal() [32]byte { return x.b.pe.ID() }

// RecordSafeExecution records an execution Execute reported, in one
// store transaction with its audit entry.
func (c *Coordinator) RecordSafeExecution(ctx context.Context, x *SafeExecution, sent *SafeSent) error {
	return c.markSafeBroadcast(ctx, x.b.pe, sent)
}

// Execute checks the chain, sends execTransaction and waits for its
// receipt, as BroadcastSafe does (see there); it uses the node alone and
// records nothing.
func (x *SafeExecution) Execute(ctx context.Context, node EthNode, executor Executor) (*SafeSent, error) {
	if executor == nil {
		return nil, errors.New("coordinator: no executor key")
	}
	b := x.b
	if node.ReceiptTimeout <= 0 {
		node.ReceiptTimeout = DefaultReceiptTimeout
	}
	if node.MaxGas == 0 {
		node.MaxGas = DefaultMaxGas
	}
	host, err := redactURL(node.URL)
	if err != nil {
		return nil, err
	}
	rc, err := rpc.DialContext(ctx, node.URL)
	if err != nil {
		return nil, fmt.Errorf("coordinator: node %s: %w", host, err)
	}
	defer rc.Close()
	client := ethclient.NewClient(rc)
	from := executor.Address()
	sent := &SafeSent{Safe: b.safe.Hex(), ChainID: b.chainID.String(), Nonce: b.tx.Nonce.String(), SafeTxHash: b.hash.Hex(), Executor: from.Hex(), Node: host}

	// The chain.
	id, err := client.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("coordinator: node %s: chain id: %w", host, err)
	}
	if id.Cmp(b.chainID) != 0 {
		return nil, &Refusal{Kind: ErrWrongChain, Reason: fmt.Sprintf("the node %s is on chain %s; vault %q's Safe is on chain %s: refusing to send", host, id, b.vault.Name, b.chainID)}
	}
	sent.Checked = append(sent.Checked, "chain id "+id.String())
	// The Safe and its nonce.
	code, err := client.CodeAt(ctx, b.safe, nil)
	if err != nil {
		return nil, fmt.Errorf("coordinator: node %s: code of the Safe: %w", host, err)
	}
	if len(code) == 0 {
		return nil, &Refusal{Reason: fmt.Sprintf("there is no contract at %s on chain %s: not the vault's Safe, or the node is not synced", b.safe.Hex(), id)}
	}
	out, err := client.CallContract(ctx, ethereum.CallMsg{To: &b.safe, Data: selNonce}, nil)
	if err != nil {
		return nil, fmt.Errorf("coordinator: node %s: the Safe's nonce: %w", host, err)
	}
	if len(out) != 32 {
		return nil, &Refusal{Reason: fmt.Sprintf("%s answers nonce() with %d bytes: not a Safe", b.safe.Hex(), len(out))}
	}
	onChain := new(big.Int).SetBytes(out)
	switch onChain.Cmp(b.tx.Nonce) {
	case 1:
		return nil, &Refusal{Kind: ErrSafeNonce, Reason: fmt.Sprintf("the Safe's nonce on chain is %s: the proposal's transaction (nonce %s) was executed, or another transaction used its nonce (if an earlier broadcast timed out, look up the transaction it printed)", onChain, b.tx.Nonce)}
	case -1:
		return nil, &Refusal{Kind: ErrSafeNonce, Reason: fmt.Sprintf("the Safe's nonce on chain is %s: the transactions at nonces %s to %s must execute before this one (nonce %s)", onChain, onChain, new(big.Int).Sub(b.tx.Nonce, big.NewInt(1)), b.tx.Nonce)}
	}
	sent.Checked = append(sent.Checked, "Safe nonce "+onChain.String())
	// Delegatecall targets: the code on chain is the code trusted.
	checked, err := checkDelegateTargets(ctx, client, b)
	if err != nil {
		return nil, err
	}
	sent.Checked = append(sent.Checked, checked...)

	// Gas and fees.
	msg := ethereum.CallMsg{From: from, To: &b.safe, Data: b.raw}
	est, err := client.EstimateGas(ctx, msg)
	if err != nil {
		if rev := safeRevert(err); rev != nil {
			b.innerRevert(rev)
			return nil, rev
		}
		return nil, fmt.Errorf("coordinator: node %s: estimating gas: %w", host, err)
	}
	gas := est + est/4 + 20_000 // the Safe forwards gasleft()-based amounts: no bare minimum
	if gas > node.MaxGas {
		if est > node.MaxGas {
			return nil, &Refusal{Reason: fmt.Sprintf("execTransaction needs %d gas, more than the bound %d: refusing to send", est, node.MaxGas)}
		}
		gas = node.MaxGas
	}
	head, err := client.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("coordinator: node %s: head: %w", host, err)
	}
	if head.BaseFee == nil {
		return nil, &Refusal{Reason: "the node's chain has no base fee (pre-London): airlock sends EIP-1559 transactions only"}
	}
	tip, err := client.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, fmt.Errorf("coordinator: node %s: tip: %w", host, err)
	}
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	if max := node.MaxFeePerGas; max != nil && feeCap.Cmp(max) > 0 {
		if min := new(big.Int).Add(head.BaseFee, tip); min.Cmp(max) > 0 {
			return nil, &Refusal{Reason: fmt.Sprintf("the base fee %s wei plus tip %s wei exceeds the fee bound %s wei per gas: refusing to send", head.BaseFee, tip, max)}
		}
		feeCap = new(big.Int).Set(max)
	}
	if tip.Cmp(feeCap) > 0 {
		tip = new(big.Int).Set(feeCap)
	}
	cost := new(big.Int).Mul(feeCap, new(big.Int).SetUint64(gas))
	bal, err := client.BalanceAt(ctx, from, nil)
	if err != nil {
		return nil, fmt.Errorf("coordinator: node %s: executor balance: %w", host, err)
	}
	if bal.Cmp(cost) < 0 {
		return nil, &Refusal{Reason: fmt.Sprintf("the executor %s holds %s wei; the transaction may cost up to %s wei (%d gas at %s wei): fund it first", from.Hex(), bal, cost, gas, feeCap)}
	}
	nonce, err := client.PendingNonceAt(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("coordinator: node %s: executor nonce: %w", host, err)
	}
	signer := types.LatestSignerForChainID(b.chainID)
	unsigned := types.NewTx(&types.DynamicFeeTx{
		ChainID: b.chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas, To: &b.safe, Data: b.raw,
	})
	sig, err := executor.SignRecoverable(signer.Hash(unsigned).Bytes())
	if err != nil {
		return nil, fmt.Errorf("coordinator: signing as the executor %s: %w", from.Hex(), err)
	}
	tx, err := unsigned.WithSignature(signer, sig)
	if err != nil {
		return nil, err
	}
	if got, err := types.Sender(signer, tx); err != nil || got != from {
		return nil, fmt.Errorf("coordinator: the executor's signature is not %s's", from.Hex())
	}
	if err := client.SendTransaction(ctx, tx); err != nil {
		return nil, fmt.Errorf("coordinator: %w: %w", ErrNodeRejected, err)
	}
	sent.TxHash = tx.Hash().Hex()

	// The receipt.
	rcpt, err := waitReceipt(ctx, client, tx.Hash(), node.ReceiptTimeout)
	if err != nil {
		return nil, fmt.Errorf("coordinator: execTransaction %s was sent from %s: %w; nothing was recorded: look it up, then run broadcast again: %v", tx.Hash().Hex(), from.Hex(), ErrNoReceipt, err)
	}
	block := rcpt.BlockNumber.Uint64()
	if rcpt.Status != types.ReceiptStatusSuccessful {
		rev := &SafeRevert{TxHash: tx.Hash(), Block: block, Reason: "reverted (no reason available)"}
		// Replay on the parent block for the reason: the state may have
		// moved between the estimate and the block.
		msg.Gas = gas
		if _, cerr := client.CallContract(ctx, msg, new(big.Int).Sub(rcpt.BlockNumber, big.NewInt(1))); cerr != nil {
			if r := safeRevert(cerr); r != nil {
				b.innerRevert(r)
				rev.Code, rev.Meaning, rev.Reason, rev.Inner = r.Code, r.Meaning, r.Reason, r.Inner
			}
		}
		return nil, rev
	}
	success, failure := false, false
	for _, l := range rcpt.Logs {
		if l.Address != b.safe || len(l.Topics) == 0 {
			continue
		}
		var h common.Hash
		switch {
		case len(l.Topics) >= 2: // txHash indexed (1.4.0 and later)
			h = l.Topics[1]
		case len(l.Data) >= 32:
			h = common.BytesToHash(l.Data[:32])
		}
		if h != b.hash {
			continue
		}
		switch l.Topics[0] {
		case topicExecSuccess:
			success = true
		case topicExecFailure:
			failure = true
		}
	}
	if failure || !success {
		if failure {
			return nil, &SafeExecutionFailure{TxHash: tx.Hash(), Block: block}
		}
		return nil, fmt.Errorf("coordinator: execTransaction %s in block %d: no ExecutionSuccess event of the Safe for safeTxHash %s; nothing was recorded", tx.Hash().Hex(), block, b.hash.Hex())
	}
	sent.Block, sent.BlockHash, sent.GasUsed = block, rcpt.BlockHash.Hex(), rcpt.GasUsed
	return sent, nil
}

// innerRevert marks a revert without a Safe code as the transaction's
// own call's where the Safe passes that on: from 1.5.0, with safeTxGas
// and gasPrice 0, a failing call reverts execTransaction with the call's
// revert data instead of GS013.
func (b *safeBroadcast) innerRevert(r *SafeRevert) {
	if r.Code != "" || b.tx.SafeTxGas.Sign() != 0 || b.tx.GasPrice.Sign() != 0 ||
		semver.Compare("v"+b.vault.Account.Version, "v1.5.0") < 0 {
		return
	}
	r.Inner = true
	r.Meaning = fmt.Sprintf("the Safe transaction's own call reverted (Safe %s passes on its revert where earlier versions say GS013 %q)", b.vault.Account.Version, safeErrors["GS013"])
	if r.Reason == "" || strings.HasPrefix(r.Reason, "execution reverted") {
		r.Reason = "none given"
	}
}

// checkDelegateTargets compares the runtime code of every delegatecall
// target of the transaction (batch entries included) with the code hash
// the policy pins for it, or the official deployment's for a library
// trusted by default. A target neither pins is refused: stations block
// it, so a proposal holding one was forced through.
func checkDelegateTargets(ctx context.Context, client *ethclient.Client, b *safeBroadcast) ([]string, error) {
	var checked []string
	var walk func(cs []safe.Call) error
	walk = func(cs []safe.Call) error {
		for _, c := range cs {
			if c.Operation == "delegatecall" {
				to := common.HexToAddress(c.To)
				want, name := "", ""
				for _, tr := range b.vault.Account.Trusted {
					if common.HexToAddress(tr.Address) == to {
						want, name = tr.CodeHash, tr.Name+" (pinned in the policy)"
					}
				}
				if want == "" {
					if d, ok := safe.OfficialDeployment(b.chainID, to); ok && (d.Contract == "MultiSendCallOnly" || d.Contract == "MultiSend") {
						want, name = d.CodeHash, d.Name()
					}
				}
				if want == "" {
					return &Refusal{Kind: ErrCodeMismatch, Reason: fmt.Sprintf("call %s delegatecalls %s, which the policy does not pin and which is no official Safe batch library: refusing to send", c.Path, to.Hex())}
				}
				code, err := client.CodeAt(ctx, to, nil)
				if err != nil {
					return fmt.Errorf("coordinator: code of %s: %w", to.Hex(), err)
				}
				got := crypto.Keccak256Hash(code)
				if len(code) == 0 || !strings.EqualFold(got.Hex(), want) {
					what := "code hashing to " + got.Hex()
					if len(code) == 0 {
						what = "no code"
					}
					return &Refusal{Kind: ErrCodeMismatch, Reason: fmt.Sprintf("call %s delegatecalls %s, %s, which must have code hash %s; the node shows %s there: refusing to send", c.Path, to.Hex(), name, want, what)}
				}
				checked = append(checked, fmt.Sprintf("code of %s at %s (%s)", name, to.Hex(), got.Hex()))
			}
			if err := walk(c.Calls); err != nil {
				return err
			}
		}
		return nil
	}
	return checked, walk(b.details.Calls)
}

// markSafeBroadcast records an executed Safe transaction as MarkBroadcast
// records a Bitcoin one: the proposal moves to broadcast with its audit
// entry, in one store transaction.
func (c *Coordinator) markSafeBroadcast(ctx context.Context, pe *envelope.Envelope, s *SafeSent) error {
	detail := map[string]string{
		"txid": s.TxHash, "node": s.Node, "block": strconv.FormatUint(s.Block, 10), "blockHash": s.BlockHash,
		"safeTxHash": s.SafeTxHash, "executor": s.Executor, "gasUsed": strconv.FormatUint(s.GasUsed, 10),
	}
	return c.update(ctx, nil, func(tx Tx) error {
		p, err := tx.Proposal(pe.ID())
		if err != nil {
			return err
		}
		if proposal.State(p.State) == proposal.StateBroadcast {
			detail["again"] = "true"
			_, err := tx.Log(c.WS.Event("transaction.broadcast", pe.IDHex(), detail))
			return err
		}
		_, err = c.advance(tx, pe, proposal.StepBroadcast, detail)
		return err
	})
}

// safeRevert reads a Safe revert out of a node's error: the revert data
// (Error(string)) or the message's "execution reverted: GS0xx".
func safeRevert(err error) *SafeRevert {
	reason := ""
	var de rpc.DataError
	if errors.As(err, &de) {
		if s, ok := de.ErrorData().(string); ok {
			if raw, derr := hexutil.Decode(s); derr == nil {
				if r, uerr := abi.UnpackRevert(raw); uerr == nil {
					reason = r
				}
			}
		}
	}
	msg := err.Error()
	if reason == "" {
		if i := strings.Index(msg, "execution reverted"); i >= 0 {
			reason = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(msg[i:], "execution reverted"), ":"))
		} else {
			return nil // not a revert: a transport or node error
		}
	}
	rev := &SafeRevert{Reason: reason}
	if reason == "" {
		rev.Reason = msg
	}
	if len(reason) == 5 && strings.HasPrefix(reason, "GS") {
		if m, ok := safeErrors[reason]; ok {
			rev.Code, rev.Meaning = reason, m
		}
	}
	return rev
}

// waitReceipt polls for hash's receipt, at most timeout.
func waitReceipt(ctx context.Context, c *ethclient.Client, hash common.Hash, timeout time.Duration) (*types.Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		r, err := c.TransactionReceipt(ctx, hash)
		if err == nil {
			return r, nil
		}
		// geth answers "transaction indexing is in progress" while it
		// indexes (after a start): not an answer yet either.
		if !errors.Is(err, ethereum.NotFound) && !strings.Contains(err.Error(), "indexing is in progress") {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("not mined within %v", timeout)
			}
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("not mined within %v", timeout)
		case <-time.After(receiptPollPeriod):
		}
	}
}

// redactURL keeps a node URL's scheme and host: credentials in the user
// part and a provider's key in the path or query stay out of records.
func redactURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("coordinator: node URL %q: want http(s)://host[:port][/path] or ws(s)://…", redactBad(s))
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return "", fmt.Errorf("coordinator: node URL scheme %q: want http, https, ws or wss", u.Scheme)
	}
	return u.Scheme + "://" + u.Host, nil
}

// redactBad shows a malformed URL without what may be a secret.
func redactBad(s string) string {
	if i := strings.IndexAny(s, "@/?"); i > 0 && i < len(s) {
		if j := strings.Index(s, "://"); j >= 0 && j+3 < len(s) {
			return s[:j+3] + "…"
		}
	}
	return s
}
