package bitcoin

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
	"github.com/airlock-vault/airlock/keys"
)

// Flag codes (documented in docs/flags.md).
const (
	FlagForeignInput       = "foreign-input"
	FlagForeignChange      = "foreign-change"
	FlagUTXOMismatch       = "utxo-mismatch"
	FlagMissingUTXO        = "missing-utxo"
	FlagMissingPrevTx      = "missing-prev-tx"
	FlagFeeHigh            = "fee-high"
	FlagSighashNonstandard = "sighash-nonstandard"
	FlagNonstandardSize    = "nonstandard-size"
	FlagReceiveBranch      = "change-on-receive-branch"
	FlagNoChangeBranch     = "no-change-branch"
)

// Default caps when a vault's policy sets none.
const (
	DefaultMaxFeeRate    = 1000.0 // sat/vB
	DefaultMaxFeePercent = 10.0   // of the amount leaving the vault
	MaxStandardVSize     = 100_000
)

// Input is a reviewed input.
type Input struct {
	Outpoint string `json:"outpoint"`
	Amount   int64  `json:"amount"`
	Address  string `json:"address,omitempty"`
	Path     string `json:"path,omitempty"` // descriptor branch/index, e.g. "0/5"
	Vault    bool   `json:"vault"`
	// AmountFrom says where Amount comes from: "previous-tx" (the
	// previous transaction, its txid checked) or "witness-utxo" (the
	// witness UTXO alone); empty when the amount is unknown.
	AmountFrom string `json:"amountFrom,omitempty"`
	// Depth is how many blocks deep the spent transaction is by the
	// PSBT's maturity proof (a recovery spend only; 0 when unproven).
	Depth int `json:"depth,omitempty"`
}

// Output is a reviewed output.
type Output struct {
	Index   int    `json:"index"`
	Address string `json:"address"`
	Amount  int64  `json:"amount"`
	Change  bool   `json:"change"`
	Path    string `json:"path,omitempty"`
}

// Details is the adapter's account of a PSBT, as the station computed it.
type Details struct {
	TxID    string   `json:"txid"`
	Network string   `json:"network"`
	Inputs  []Input  `json:"inputs"`
	Outputs []Output `json:"outputs"`
	In      int64    `json:"in"`
	Out     int64    `json:"out"`
	Fee     int64    `json:"fee"`
	VSize   int64    `json:"vsize"`
	FeeRate float64  `json:"feeRate"` // sat/vB, of the finalized transaction's estimated size
	Sending int64    `json:"sending"` // to outputs that are not change
	// FeeKnown says every input's amount is known, so Fee is the
	// transaction's fee; otherwise In, Fee and FeeRate are 0.
	FeeKnown bool `json:"feeKnown"`
	// The fee as a percentage of Sending and of In (0 when the base is
	// 0), and the percentage cap with what it measures the fee against:
	// FeeCapBasis is always "sending", the amount leaving the vault.
	FeePercentOfSending float64 `json:"feePercentOfSending"`
	FeePercentOfInputs  float64 `json:"feePercentOfInputs"`
	FeeCapPercent       float64 `json:"feeCapPercent"`
	FeeCapBasis         string  `json:"feeCapBasis"`
	// For a vault with a recovery path: the path the transaction can
	// take ("primary" or "recovery"), the lock in blocks, and the tip of
	// the maturity proof.
	Path string `json:"spendPath,omitempty"`
	Lock uint32 `json:"lockBlocks,omitempty"`
	Tip  string `json:"proofTip,omitempty"`
}

// inputInfo is what the station proved about one input.
type inputInfo struct {
	prevOut *wire.TxOut
	derived *descriptor.Derived // nil when the input is not the vault's
	branch  int
	index   uint32
}

// analysis is a decoded and checked PSBT.
type analysis struct {
	pkt     *psbt.Packet
	vi      *vaultInfo
	inputs  []inputInfo
	details Details
	flags   []chain.Flag
	// pathLine shows a recovery vault's spend path in the review.
	pathLine string
	// feeKnown says every input's amount is known, so details.Fee is
	// the transaction's fee.
	feeKnown bool
}

func (a *analysis) flag(code string, sev chain.Severity, format string, args ...any) {
	a.flags = append(a.flags, chain.Flag{Code: code, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

// Review decodes the PSBT itself and reports what it does.
func (ad Adapter) Review(ctx context.Context, v chain.Vault, payload []byte) (*chain.Review, error) {
	a, err := analyse(v, payload)
	if err != nil {
		return nil, err
	}
	r := &chain.Review{
		Chain: ad.Chain(), Vault: v.Name, TxID: a.details.TxID,
		Details: a.details, Flags: a.flags, Lines: a.lines(v), Effects: a.effects(),
	}
	for _, in := range a.pkt.UnsignedTx.TxIn {
		r.Spends = append(r.Spends, fmt.Sprintf("bitcoin:%s:%s", a.vi.net.Name, in.PreviousOutPoint))
	}
	return r, nil
}

func analyse(v chain.Vault, payload []byte) (*analysis, error) {
	vi, err := parseVault(v)
	if err != nil {
		return nil, err
	}
	pkt, err := psbt.Decode(payload)
	if err != nil {
		return nil, fmt.Errorf("bitcoin: %v", err)
	}
	a := &analysis{pkt: pkt, vi: vi}
	a.checkGlobalXPubs()
	a.checkDerivationFingerprints()
	tx := pkt.UnsignedTx
	a.details.TxID = tx.TxHash().String()
	a.details.Network = vi.net.Name
	if len(tx.TxIn) == 0 || len(tx.TxOut) == 0 {
		return nil, errors.New("bitcoin: transaction has no inputs or no outputs")
	}
	allKnown := true
	for i := range tx.TxIn {
		info, known := a.reviewInput(i)
		a.inputs = append(a.inputs, info)
		allKnown = allKnown && known
	}
	for i := range tx.TxOut {
		a.reviewOutput(i)
	}
	a.checkRecovery()
	a.checkChangeBranch()
	var out int64
	for _, o := range tx.TxOut {
		out += o.Value
	}
	a.details.Out = out
	a.details.VSize = estimateVSize(tx, a.inputs, vi)
	a.details.FeeCapPercent, a.details.FeeCapBasis = feeCapPercent(v.Limits), FeeCapBasisSending
	if a.details.VSize > MaxStandardVSize {
		a.flag(FlagNonstandardSize, chain.Block, "the signed transaction would be about %d vbytes, over the %d standardness limit", a.details.VSize, MaxStandardVSize)
	}
	if !allKnown {
		return a, nil
	}
	var in int64
	for i, info := range a.inputs {
		// Each amount is at most MaxSatoshi (psbt.PrevOut), so the sum is
		// checked before it could overflow.
		in += info.prevOut.Value
		if in > btcutil.MaxSatoshi {
			return nil, fmt.Errorf("bitcoin: inputs 0 to %d claim more than %d sat, more than can exist", i, int64(btcutil.MaxSatoshi))
		}
	}
	a.details.In = in
	a.details.Fee = in - out
	if a.details.Fee < 0 {
		return nil, fmt.Errorf("bitcoin: outputs (%d sat) exceed inputs (%d sat)", out, in)
	}
	a.feeKnown, a.details.FeeKnown = true, true
	a.details.FeeRate = round2(float64(a.details.Fee) / float64(a.details.VSize))
	if a.details.Sending > 0 {
		a.details.FeePercentOfSending = round4(float64(a.details.Fee) * 100 / float64(a.details.Sending))
	}
	if in > 0 {
		a.details.FeePercentOfInputs = round4(float64(a.details.Fee) * 100 / float64(in))
	}
	a.checkFee(v.Limits)
	return a, nil
}

// reviewInput proves input i belongs to the vault; it reports false when
// the spent amount is unknown.
func (a *analysis) reviewInput(i int) (inputInfo, bool) {
	txIn := a.pkt.UnsignedTx.TxIn[i]
	pin := &a.pkt.Inputs[i]
	row := Input{Outpoint: txIn.PreviousOutPoint.String()}
	info := inputInfo{}
	prev, err := a.pkt.PrevOut(i)
	switch {
	case errors.Is(err, psbt.ErrUTXOMismatch):
		// The previous transaction, once its txid is checked, is what
		// exists on chain: its amount is the true one, and the review
		// goes on with it (the flag still blocks) so that the fee shown
		// is the fee the transaction would pay.
		msg := err.Error()
		if p, perr := a.pkt.PrevTxOut(i); perr == nil {
			prev, err = p, nil
			msg += fmt.Sprintf("; shown with the previous transaction's %d sat (its txid checks out)", p.Value)
		}
		a.flag(FlagUTXOMismatch, chain.Block, "input %d: %s", i, msg)
	case err != nil:
		a.flag(FlagMissingUTXO, chain.Block, "input %d: the spent output is not in the PSBT: %v", i, err)
	}
	if err != nil {
		a.details.Inputs = append(a.details.Inputs, row)
		return info, false
	}
	row.AmountFrom = "previous-tx"
	if pin.NonWitnessUtxo == nil {
		row.AmountFrom = "witness-utxo"
		if !isTaprootScript(prev.PkScript) {
			a.flag(FlagMissingPrevTx, chain.Warn, "input %d: no previous transaction; its amount rests on witness_utxo alone", i)
		}
	}
	info.prevOut = prev
	row.Amount = prev.Value
	row.Address = addressOf(prev.PkScript, a.vi)
	if pin.HasSighashType && pin.SighashType != uint32(txscript.SigHashAll) {
		a.flag(FlagSighashNonstandard, chain.Block, "input %d asks for sighash type %#x; stations sign SIGHASH_ALL only", i, pin.SighashType)
	}
	branch, index, d, ok := a.derive(claims(pin.Bip32Derivations, pin.TaprootBip32Derivations))
	if !ok || !bytes.Equal(d.ScriptPubKey, prev.PkScript) {
		a.flag(FlagForeignInput, chain.Block, "input %d (%s) does not derive from the vault's descriptor", i, row.Outpoint)
		a.details.Inputs = append(a.details.Inputs, row)
		return info, true
	}
	if len(pin.WitnessScript) > 0 && !bytes.Equal(pin.WitnessScript, d.WitnessScript) {
		a.flag(FlagForeignInput, chain.Block, "input %d: the PSBT's witness script is not the vault's", i)
		a.details.Inputs = append(a.details.Inputs, row)
		return info, true
	}
	if len(pin.RedeemScript) > 0 && !bytes.Equal(pin.RedeemScript, d.RedeemScript) {
		a.flag(FlagForeignInput, chain.Block, "input %d: the PSBT's redeem script is not the vault's", i)
		a.details.Inputs = append(a.details.Inputs, row)
		return info, true
	}
	info.derived, info.branch, info.index = d, branch, index
	row.Vault, row.Path = true, fmt.Sprintf("%d/%d", branch, index)
	a.details.Inputs = append(a.details.Inputs, row)
	return info, true
}

// derive finds the descriptor branch and index that a PSBT's derivations
// point to and derives the vault's scripts there. Every derivation that
// names a vault key must point to the same place and carry the pubkey the
// descriptor gives; the claim is only a hint, the derivation is the proof.
func (a *analysis) derive(ds []psbt.Bip32Derivation) (int, uint32, *descriptor.Derived, bool) {
	found := false
	var branch int
	var index uint32
	for _, d := range ds {
		b, i, ok := a.vi.desc.Match(d.Fingerprint, d.Path)
		if !ok {
			continue
		}
		if found && (b != branch || i != index) {
			return 0, 0, nil, false
		}
		found, branch, index = true, b, i
	}
	if !found {
		return 0, 0, nil, false
	}
	derived, err := a.vi.desc.Derive(branch, index)
	if err != nil {
		return 0, 0, nil, false
	}
	for _, d := range ds {
		if _, _, ok := a.vi.desc.Match(d.Fingerprint, d.Path); !ok {
			continue
		}
		match := false
		for _, k := range derived.Keys {
			if k.Fingerprint == d.Fingerprint && sameKey(k, d.PubKey) && equalPath(k.Path, d.Path) {
				match = true
			}
		}
		if !match {
			return 0, 0, nil, false
		}
	}
	return branch, index, derived, true
}

func equalPath(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (a *analysis) reviewOutput(i int) {
	txOut := a.pkt.UnsignedTx.TxOut[i]
	row := Output{Index: i, Address: addressOf(txOut.PkScript, a.vi), Amount: txOut.Value}
	pout := &a.pkt.Outputs[i]
	claimed := false
	ds := claims(pout.Bip32Derivations, pout.TaprootBip32Derivations)
	for _, d := range ds {
		if _, _, ok := a.vi.desc.Match(d.Fingerprint, d.Path); ok {
			claimed = true
		}
	}
	if claimed {
		branch, index, d, ok := a.derive(ds)
		if ok && bytes.Equal(d.ScriptPubKey, txOut.PkScript) {
			row.Change, row.Path = true, fmt.Sprintf("%d/%d", branch, index)
			if branch != 1 {
				a.flag(FlagReceiveBranch, chain.Info, "output %d returns to the vault on branch %d, not the change branch", i, branch)
			}
		} else {
			a.flag(FlagForeignChange, chain.Block, "output %d (%s, %d sat) is claimed as change but does not derive from the vault", i, row.Address, row.Amount)
		}
	}
	if !row.Change {
		a.details.Sending += txOut.Value
	}
	a.details.Outputs = append(a.details.Outputs, row)
}

func (a *analysis) checkFee(l chain.Limits) {
	d := &a.details
	rate, pct := l.MaxFeeRate, feeCapPercent(l)
	if rate == 0 {
		rate = DefaultMaxFeeRate
	}
	if l.MaxFee > 0 && d.Fee > l.MaxFee {
		a.flag(FlagFeeHigh, chain.Block, "fee %d sat exceeds the vault's cap of %d sat", d.Fee, l.MaxFee)
	}
	if d.FeeRate > rate {
		a.flag(FlagFeeHigh, chain.Block, "fee rate %.2f sat/vB exceeds the cap of %.2f sat/vB", d.FeeRate, rate)
	}
	if d.Sending > 0 && float64(d.Fee)*100 > pct*float64(d.Sending) {
		a.flag(FlagFeeHigh, chain.Block, "fee %d sat is %.2f%% of the %d sat sent (%.2f%% of the %d sat of inputs), over the cap of %.2f%% of the amount sent", d.Fee, float64(d.Fee)*100/float64(d.Sending), d.Sending, d.FeePercentOfInputs, d.In, pct)
	}
}

// addressOf names an output script by its address on the vault's network
// when paying that address gives back exactly this script, and otherwise
// as "script:<hex>" (OP_RETURN, bare multisig, P2PK, a witness version
// without an address): a name no address can equal, so an address book
// never matches an output it does not name.
func addressOf(script []byte, vi *vaultInfo) string {
	_, addrs, _, err := txscript.ExtractPkScriptAddrs(script, vi.net)
	if err == nil && len(addrs) == 1 {
		enc := addrs[0].EncodeAddress()
		a, err := address.DecodeAddress(enc, vi.net)
		if err == nil && a.IsForNet(vi.net) {
			if s, err := txscript.PayToAddrScript(a); err == nil && bytes.Equal(s, script) {
				return enc
			}
		}
	}
	return fmt.Sprintf("script:%x", script)
}

// estimateVSize estimates the finalized transaction's virtual size: the
// unsigned transaction plus, for each vault input, one empty item, k
// signatures of at most 73 bytes and the script — in the witness (P2WSH),
// the witness and a scriptSig pushing the redeem script (P2SH-P2WSH), or
// the scriptSig alone (legacy P2SH).
func estimateVSize(tx *wire.MsgTx, inputs []inputInfo, vi *vaultInfo) int64 {
	base := int64(tx.SerializeSizeStripped())
	witness := int64(2) // marker and flag
	k, n := vi.threshold()
	for _, in := range inputs {
		if in.derived == nil {
			witness++
			continue
		}
		if isTaproot(in.derived) {
			// The primary path's leaf, the larger witness.
			l := in.derived.Leaves[0]
			if vi.rpath != nil {
				l = in.derived.Leaves[vi.rpath.PrimaryLeaf]
			}
			ls, cb := int64(len(l.Script)), int64(len(l.ControlBlock))
			witness += varIntLen(int64(n+2)) + int64(k)*(1+64) + int64(n-k) + varIntLen(ls) + ls + varIntLen(cb) + cb
			continue
		}
		ws, rs := int64(len(in.derived.WitnessScript)), int64(len(in.derived.RedeemScript))
		sigs := 1 + int64(k)*(1+73)
		switch {
		case ws > 0:
			witness += varIntLen(int64(k+2)) + sigs + varIntLen(ws) + ws
			if rs > 0 {
				base += 1 + rs // the scriptSig pushes the redeem script
			}
		default:
			witness++
			push := rs + 2 // OP_PUSHDATA1 and its length
			base += varIntLen(sigs+push) + sigs + push - 1
		}
	}
	weight := base*4 + witness
	return (weight + 3) / 4
}

func varIntLen(n int64) int64 {
	return int64(wire.VarIntSerializeSize(uint64(n)))
}

func (a *analysis) lines(v chain.Vault) []string {
	d := a.details
	out := []string{fmt.Sprintf("transaction %s on %s, vault %q", d.TxID, d.Network, v.Name)}
	for i, in := range d.Inputs {
		owner := "NOT THE VAULT'S"
		if in.Vault {
			owner = "vault " + in.Path
		}
		if in.Depth > 0 {
			owner += fmt.Sprintf(", %d blocks deep", in.Depth)
		}
		out = append(out, fmt.Sprintf("  input  %d  %s  %s  (%s)", i, in.Outpoint, btc(in.Amount), owner))
	}
	for _, o := range d.Outputs {
		kind := "send"
		if o.Change {
			kind = "change " + o.Path
		}
		out = append(out, fmt.Sprintf("  output %d  %s  %s  (%s)", o.Index, o.Address, btc(o.Amount), kind))
	}
	out = append(out, a.feeLines()...)
	if a.pathLine != "" {
		out = append(out, a.pathLine)
	}
	return out
}

func btc(sat int64) string {
	return fmt.Sprintf("%d.%08d BTC", sat/1e8, sat%1e8)
}

// pathFor returns the full BIP-32 path of key k at an input the station
// proved is the vault's, and the pubkey the descriptor gives there.
func pathFor(info inputInfo, k *AccountKey) ([]uint32, []byte, bool) {
	if info.derived == nil {
		return nil, nil, false
	}
	for _, dk := range info.derived.Keys {
		if k.Static != nil {
			if dk.Fingerprint == k.Fingerprint && len(dk.Path) == 0 && bytes.Equal(dk.PubKey, k.Static) {
				return dk.Path, dk.PubKey, true
			}
			continue
		}
		if dk.Fingerprint == k.Fingerprint && len(dk.Path) == len(k.Path)+2 && equalPath(dk.Path[:len(k.Path)], k.Path) {
			return dk.Path, dk.PubKey, true
		}
	}
	return nil, nil, false
}

var _ = keys.FormatPath
