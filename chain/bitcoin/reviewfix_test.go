package bitcoin

import (
	"context"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
)

func flagOf(r *chain.Review, code string) (chain.Flag, bool) {
	for _, f := range r.Flags {
		if f.Code == code {
			return f, true
		}
	}
	return chain.Flag{}, false
}

// A witness_utxo that disagrees with its previous transaction blocks, and
// the review still shows the amount and fee the transaction would really
// pay, from the previous transaction (its txid checked): never 0, which
// would hide how much a lying witness_utxo is worth to an attacker.
func TestMismatchedUTXOShowsTrueFee(t *testing.T) {
	for _, tc := range []struct {
		name   string
		factor int64 // the witness UTXO's claimed amount, times the true one
	}{
		{"witness utxo inflated", 2},
		{"witness utxo deflated", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 2)
			bad := f.edit(t, func(p *psbt.Packet) {
				w := p.Inputs[0].WitnessUtxo
				p.Inputs[0].WitnessUtxo = wire.NewTxOut(w.Value*tc.factor, w.PkScript)
			})
			r, err := Adapter{}.Review(context.Background(), f.vault, bad)
			if err != nil {
				t.Fatal(err)
			}
			fl, ok := flagOf(r, FlagUTXOMismatch)
			if !ok || fl.Severity != chain.Block {
				t.Fatalf("flags %v, want utxo-mismatch blocking", r.Flags)
			}
			if !strings.Contains(fl.Message, "previous transaction's 100000000 sat") {
				t.Fatalf("the flag does not say which amount is shown: %q", fl.Message)
			}
			d := r.Details.(Details)
			if d.Inputs[0].Amount != 100_000_000 || d.Inputs[0].AmountFrom != "previous-tx" || !d.Inputs[0].Vault {
				t.Fatalf("input shown as %+v, want the previous transaction's 1 BTC, proven the vault's", d.Inputs[0])
			}
			if !d.FeeKnown || d.Fee != 2_000 || d.In != 100_000_000 {
				t.Fatalf("fee %d of inputs %d (known %v), want the true 2000 of 100000000", d.Fee, d.In, d.FeeKnown)
			}
			if r.Effects.Fee == nil || r.Effects.Fee.Int64() != 2_000 {
				t.Fatalf("effects fee %v, want 2000", r.Effects.Fee)
			}
			if _, err := (Adapter{}).Sign(f.vault, bad, f.vault.Keys[0], f.signers[0]); err == nil {
				t.Fatal("signed a PSBT whose witness UTXO lies")
			}
		})
	}
}

// An input whose spent output is not in the PSBT proves no amount: the
// fee is unknown, and the review says so rather than showing a fee of 0.
// (A previous transaction that is not the input's is refused when the
// PSBT is decoded.)
func TestMissingUTXOShowsFeeUnknownNotZero(t *testing.T) {
	f := newFixture(t, 2)
	bad := f.edit(t, func(p *psbt.Packet) {
		p.Inputs[0].WitnessUtxo, p.Inputs[0].NonWitnessUtxo = nil, nil
	})
	r, err := Adapter{}.Review(context.Background(), f.vault, bad)
	if err != nil {
		t.Fatal(err)
	}
	if !hasFlag(r, FlagMissingUTXO, chain.Block) {
		t.Fatalf("flags %v, want missing-utxo", r.Flags)
	}
	d := r.Details.(Details)
	if d.FeeKnown || d.Inputs[0].AmountFrom != "" {
		t.Fatalf("fee known %v, input %+v: a missing UTXO proved an amount", d.FeeKnown, d.Inputs[0])
	}
	text := strings.Join(r.Lines, "\n")
	if !strings.Contains(text, "fee UNKNOWN") || strings.Contains(text, "fee 0.00000000") {
		t.Fatalf("review lines do not say the fee is unknown:\n%s", text)
	}
	if r.Effects.Fee != nil {
		t.Fatalf("effects state a fee %v that nothing proves", r.Effects.Fee)
	}
}

// The fee is shown against the amount sent and against the inputs, and
// the percentage cap names the one it uses (the amount sent), in the
// review's lines, its JSON and the flag's message: a reviewer reading "5%"
// must know of what.
func TestFeeCapNamesItsBasis(t *testing.T) {
	v := newFixture(t, 2).vault
	_, greedy, err := Synthetic(v, 9, "", 1_000_000, 5_000_000)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Adapter{}.Review(context.Background(), v, greedy)
	if err != nil {
		t.Fatal(err)
	}
	d := r.Details.(Details)
	if d.FeeCapBasis != "sending" || d.FeeCapPercent != DefaultMaxFeePercent {
		t.Fatalf("cap %v%% of %q, want %v%% of sending", d.FeeCapPercent, d.FeeCapBasis, DefaultMaxFeePercent)
	}
	if d.FeePercentOfSending != 500 || d.FeePercentOfInputs != 5 {
		t.Fatalf("fee %v%% of sending, %v%% of inputs; want 500 and 5", d.FeePercentOfSending, d.FeePercentOfInputs)
	}
	var msg string
	for _, fl := range r.Flags {
		if fl.Code == FlagFeeHigh && strings.Contains(fl.Message, "%") {
			msg = fl.Message
		}
	}
	if !strings.Contains(msg, "500.00% of the 1000000 sat sent") || !strings.Contains(msg, "5.00% of the 100000000 sat of inputs") || !strings.Contains(msg, "cap of 10.00% of the amount sent") {
		t.Fatalf("fee-high message %q does not name both bases and the cap's", msg)
	}
	text := strings.Join(r.Lines, "\n")
	if !strings.Contains(text, "fee is 500.00% of the amount sent and 5.00% of the inputs") || !strings.Contains(text, "cap is on the amount sent") {
		t.Fatalf("review lines do not show both bases:\n%s", text)
	}
	// A transaction that sends nothing (change only): the percentage cap
	// does not apply, and the review says so.
	f := newFixture(t, 2)
	self := f.edit(t, func(p *psbt.Packet) {
		p.UnsignedTx.TxOut = p.UnsignedTx.TxOut[1:]
		p.Outputs = p.Outputs[1:]
		p.UnsignedTx.TxOut[0].Value = 100_000_000 - 2_000
	})
	r, err = Adapter{}.Review(context.Background(), f.vault, self)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Blocking()) != 0 {
		t.Fatalf("a self-transfer at a normal rate blocks: %v", r.Flags)
	}
	if text := strings.Join(r.Lines, "\n"); !strings.Contains(text, "nothing leaves the vault, so the 10.00% cap on the amount sent does not apply") {
		t.Fatalf("review lines of a self-transfer:\n%s", text)
	}
}

// receiveOnly rewrites a vault's <0;1> descriptor as the receive branch
// alone, /0/*, with a fresh checksum: what a user exports from a wallet's
// "receive descriptor".
func receiveOnly(t *testing.T, v chain.Vault) chain.Vault {
	t.Helper()
	body, _, _ := strings.Cut(v.Descriptor, "#")
	body = strings.ReplaceAll(body, "/<0;1>/*", "/0/*")
	sum, err := descriptor.Checksum(body)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := VaultFromDescriptor(body+"#"+sum, v.Network)
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

// Given a receive-only descriptor, the wallet's change (on /1/*) cannot be
// proven and is shown as a send; the review warns, naming the output whose
// derivations claim a vault key, instead of letting the reviewer believe
// the whole change is being paid away or, worse, learn to ignore sends.
func TestReceiveOnlyDescriptorWarnsChangeLooksLikeSend(t *testing.T) {
	f := newFixture(t, 2)
	r, err := Adapter{}.Review(context.Background(), f.vault, f.payload)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := flagOf(r, FlagNoChangeBranch); ok {
		t.Fatalf("a <0;1> vault warned of no change branch: %v", r.Flags)
	}
	rv := receiveOnly(t, f.vault)
	r, err = Adapter{}.Review(context.Background(), rv, f.payload)
	if err != nil {
		t.Fatal(err)
	}
	d := r.Details.(Details)
	if d.Outputs[1].Change || d.Sending != 100_000_000-2_000 {
		t.Fatalf("outputs %+v, sending %d: want the change shown as a send", d.Outputs, d.Sending)
	}
	fl, ok := flagOf(r, FlagNoChangeBranch)
	if !ok || fl.Severity != chain.Warn {
		t.Fatalf("flags %v, want no-change-branch warn", r.Flags)
	}
	if !strings.Contains(fl.Message, "output 1 (") || strings.Contains(fl.Message, "output 0") {
		t.Fatalf("message %q does not name output 1 alone", fl.Message)
	}
}
