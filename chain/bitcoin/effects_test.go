package bitcoin

import (
	"context"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
)

// spendTo builds a PSBT spending the vault's synthetic 1 BTC coin to outs,
// with change back to the vault's change branch when change is not zero.
func spendTo(t *testing.T, v chain.Vault, outs []*wire.TxOut, change int64) []byte {
	t.Helper()
	funding, _, err := Synthetic(v, 11, "", 1_000, 500)
	if err != nil {
		t.Fatal(err)
	}
	coins, err := FindCoins(v, []*wire.MsgTx{funding})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := BuildPSBT(v, Spend{Funding: []*wire.MsgTx{funding}, Coins: coins, Outputs: outs, ChangeIndex: 2, ChangeAmount: change})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func pay(t *testing.T, addr string, sat int64) *wire.TxOut {
	t.Helper()
	script, err := PayTo(addr, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	return wire.NewTxOut(sat, script)
}

func reviewEffects(t *testing.T, v chain.Vault, payload []byte) (*chain.Review, *chain.Effects) {
	t.Helper()
	r, err := Adapter{}.Review(context.Background(), v, payload)
	if err != nil {
		t.Fatal(err)
	}
	if r.Effects == nil {
		t.Fatal("review without effects")
	}
	return r, r.Effects
}

type wantTransfer struct {
	to  string
	sat int64
}

// TestEffectsNameEveryPaymentAndNoChange: every output the station did
// not prove is the vault's is a transfer, in output order, and the fee is
// inputs less outputs; change never counts as money leaving.
func TestEffectsNameEveryPaymentAndNoChange(t *testing.T) {
	f := newFixture(t, 2)
	net := &chaincfg.RegressionNetParams
	dest, _ := DemoDestination("regtest")
	sh, err := address.NewAddressScriptHashFromHash(make([]byte, 20), net)
	if err != nil {
		t.Fatal(err)
	}
	const coin = 100_000_000
	cases := []struct {
		name    string
		payload []byte
		want    []wantTransfer
		fee     int64
	}{
		{"one payment and change", f.payload, []wantTransfer{{dest, 30_000_000}}, 2_000},
		{"two payments and change", spendTo(t, f.vault, []*wire.TxOut{pay(t, dest, 10_000), pay(t, sh.EncodeAddress(), 20_000)}, coin-30_000-1_500),
			[]wantTransfer{{dest, 10_000}, {sh.EncodeAddress(), 20_000}}, 1_500},
		{"no change", spendTo(t, f.vault, []*wire.TxOut{pay(t, sh.EncodeAddress(), coin-4_000)}, 0),
			[]wantTransfer{{sh.EncodeAddress(), coin - 4_000}}, 4_000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, e := reviewEffects(t, f.vault, c.payload)
			if len(r.Blocking()) != 0 {
				t.Fatalf("blocking flags %v", r.Flags)
			}
			if len(e.Transfers) != len(c.want) {
				t.Fatalf("transfers %+v, want %v", e.Transfers, c.want)
			}
			for i, w := range c.want {
				got := e.Transfers[i]
				if got.Asset != "BTC" || got.To != w.to || got.Amount.Cmp(big.NewInt(w.sat)) != 0 {
					t.Errorf("transfer %d: %s %s to %s, want %d sat to %s", i, got.Amount, got.Asset, got.To, w.sat, w.to)
				}
			}
			d := r.Details.(Details)
			if e.Fee == nil || e.Fee.Int64() != c.fee || e.Fee.Int64() != d.In-d.Out {
				t.Fatalf("fee %v, want %d = inputs %d - outputs %d", e.Fee, c.fee, d.In, d.Out)
			}
			if e.Totals()["BTC"].Int64() != d.Sending || len(e.Actions) != 0 {
				t.Fatalf("totals %v, sending %d, actions %v", e.Totals(), d.Sending, e.Actions)
			}
		})
	}
}

// TestEffectsScriptWithoutAddressNeverMatchesAnAddress: an OP_RETURN, a
// bare multisig or a pay-to-pubkey output is still a transfer, named by
// its script in a form no address (of any network) can equal, so no
// address book entry lets it through. P2PK in particular is not named by
// the P2PKH address of its key, which pays another script.
func TestEffectsScriptWithoutAddressNeverMatchesAnAddress(t *testing.T) {
	f := newFixture(t, 2)
	opReturn, err := txscript.NullDataScript([]byte("airlock"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := f.signers[0].PublicKey(nil)
	p2pk, err := txscript.NewScriptBuilder().AddData(pub).AddOp(txscript.OP_CHECKSIG).Script()
	if err != nil {
		t.Fatal(err)
	}
	bare, err := txscript.NewScriptBuilder().AddOp(txscript.OP_1).AddData(pub).AddOp(txscript.OP_1).AddOp(txscript.OP_CHECKMULTISIG).Script()
	if err != nil {
		t.Fatal(err)
	}
	for name, script := range map[string][]byte{"op_return": opReturn, "p2pk": p2pk, "bare multisig": bare} {
		t.Run(name, func(t *testing.T) {
			payload := spendTo(t, f.vault, []*wire.TxOut{wire.NewTxOut(1_000, script)}, 100_000_000-1_000-3_000)
			_, e := reviewEffects(t, f.vault, payload)
			if len(e.Transfers) != 1 || e.Transfers[0].Amount.Int64() != 1_000 {
				t.Fatalf("transfers %+v", e.Transfers)
			}
			to := e.Transfers[0].To
			if want := "script:" + hex.EncodeToString(script); to != want {
				t.Fatalf("to %q, want %q", to, want)
			}
			for _, net := range []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.TestNet3Params, &chaincfg.RegressionNetParams, &chaincfg.SigNetParams} {
				if _, err := address.DecodeAddress(to, net); err == nil {
					t.Fatalf("%q decodes as an address on %s", to, net.Name)
				}
			}
		})
	}
}

// TestEffectsRecoveryPathIsAnAction: a transaction that can spend through
// the time-locked recovery path says so in its effects, whatever else
// blocks it; one that cannot does not.
func TestEffectsRecoveryPathIsAnAction(t *testing.T) {
	v, _ := recoveryVault(t, ScriptP2WSH, 10)
	funding, _, err := Synthetic(v, 7, "", 1_000, 500)
	if err != nil {
		t.Fatal(err)
	}
	_, e := reviewEffects(t, v, recoveryPSBT(t, v, funding, true, mineProof(t, funding, 12)))
	if !e.Has(chain.ActionRecoveryPath) || len(e.Actions) != 1 {
		t.Fatalf("recovery spend: actions %v", e.Actions)
	}
	if len(e.Transfers) != 1 || e.Transfers[0].Amount.Int64() != 20_000_000 || e.Fee == nil || e.Fee.Int64() != 5_000 {
		t.Fatalf("recovery spend: transfers %+v fee %v", e.Transfers, e.Fee)
	}
	// Immature coins block the spend; the action is still there.
	r, e := reviewEffects(t, v, recoveryPSBT(t, v, funding, true, nil))
	if !hasFlag(r, FlagRecoveryImmature, chain.Block) || !e.Has(chain.ActionRecoveryPath) {
		t.Fatalf("immature recovery spend: flags %v actions %v", r.Flags, e.Actions)
	}
	if _, e := reviewEffects(t, v, recoveryPSBT(t, v, funding, false, nil)); e.Has(chain.ActionRecoveryPath) {
		t.Fatalf("primary spend: actions %v", e.Actions)
	}
}

// TestEffectsFeeUnknownWithoutEveryInputAmount: with an input's amount
// missing the fee is not guessed; a blocking flag covers its absence.
func TestEffectsFeeUnknownWithoutEveryInputAmount(t *testing.T) {
	f := newFixture(t, 2)
	bad := f.edit(t, func(p *psbt.Packet) {
		p.Inputs[0].WitnessUtxo, p.Inputs[0].NonWitnessUtxo = nil, nil
	})
	r, e := reviewEffects(t, f.vault, bad)
	if e.Fee != nil || len(r.Blocking()) == 0 {
		t.Fatalf("fee %v with flags %v", e.Fee, r.Flags)
	}
	if len(e.Transfers) != 1 || e.Transfers[0].Amount.Int64() != 30_000_000 {
		t.Fatalf("transfers %+v", e.Transfers)
	}
}

// TestReviewRefusesInputsOverTheMoneySupply: input amounts a PSBT claims
// can sum past what int64 holds; the review refuses them before.
func TestReviewRefusesInputsOverTheMoneySupply(t *testing.T) {
	f := newFixture(t, 2)
	bad := f.edit(t, func(p *psbt.Packet) {
		in := p.UnsignedTx.TxIn[0]
		for i := 1; i < 5; i++ {
			op := in.PreviousOutPoint
			op.Index = uint32(i)
			p.UnsignedTx.AddTxIn(wire.NewTxIn(&op, nil, nil))
			p.Inputs = append(p.Inputs, psbt.Input{WitnessUtxo: wire.NewTxOut(2_100_000_000_000_000, p.Inputs[0].WitnessUtxo.PkScript)})
		}
	})
	if _, err := (Adapter{}).Review(context.Background(), f.vault, bad); err == nil || !strings.Contains(err.Error(), "more than can exist") {
		t.Fatalf("got %v", err)
	}
}
