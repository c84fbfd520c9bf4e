package bitcoin

import (
	"fmt"
	"math"
	"strings"

	"github.com/airlock-vault/airlock/chain"
)

// FeeCapBasisSending names what the percentage fee cap measures the fee
// against: the amount sent, to outputs that are not the vault's change.
// The fee is also shown against the inputs, but the cap does not use
// them: a cap on the inputs would let a large coin pay a fee out of all
// proportion to a small payment (10% of a 10 BTC input is 1 BTC of fee on
// any payment). A transaction that sends nothing (a consolidation, a
// self-transfer) is held by the fee-rate and absolute caps alone.
const FeeCapBasisSending = "sending"

// feeCapPercent is the vault's percentage fee cap, or the default.
func feeCapPercent(l chain.Limits) float64 {
	if l.MaxFeePercent == 0 {
		return DefaultMaxFeePercent
	}
	return l.MaxFeePercent
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// round4 keeps a percentage's four decimals: a fee of 0.002% of the
// inputs is not shown as 0.
func round4(x float64) float64 { return math.Round(x*10_000) / 10_000 }

// feeLines write the fee for a person: the amount sent, the fee and its
// rate, then the fee against the amount sent and against the inputs, and
// what the percentage cap measures. A fee that is not known (an input's
// amount is not proven) is said to be unknown, never shown as 0.
func (a *analysis) feeLines() []string {
	d := a.details
	if !a.feeKnown {
		var unknown []string
		for i, in := range d.Inputs {
			if in.AmountFrom == "" {
				unknown = append(unknown, fmt.Sprint(i))
			}
		}
		return []string{fmt.Sprintf("  sending %s, fee UNKNOWN: the amount spent by input %s is not proven (~%d vB)", btc(d.Sending), strings.Join(unknown, ", "), d.VSize)}
	}
	out := []string{fmt.Sprintf("  sending %s, fee %s (%.2f sat/vB, ~%d vB)", btc(d.Sending), btc(d.Fee), d.FeeRate, d.VSize)}
	if d.Sending > 0 {
		out = append(out, fmt.Sprintf("  fee is %.2f%% of the amount sent and %.2f%% of the inputs (%s); the %.2f%% cap is on the amount sent", d.FeePercentOfSending, d.FeePercentOfInputs, btc(d.In), d.FeeCapPercent))
	} else {
		out = append(out, fmt.Sprintf("  fee is %.2f%% of the inputs (%s); nothing leaves the vault, so the %.2f%% cap on the amount sent does not apply (the rate cap does)", d.FeePercentOfInputs, btc(d.In), d.FeeCapPercent))
	}
	return out
}
