package bitcoin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/maturity"
	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
)

// recoveryVault is a 2-of-3 vault of seed signers 1..3 with seed signer 4
// as its recovery key after lock blocks.
func recoveryVault(t *testing.T, script string, lock uint32) (chain.Vault, []*seedSigner) {
	t.Helper()
	v := chain.Vault{Name: "ops", Chain: "bitcoin", Network: "regtest", Threshold: 2, Script: script}
	var signers []*seedSigner
	for i := byte(1); i <= 4; i++ {
		s := newSeedSigner(t, i)
		signers = append(signers, s)
		if i < 4 {
			v.Keys = append(v.Keys, s.keyExpr())
		}
	}
	v.Recovery = &chain.Recovery{Key: signers[3].keyExpr(), After: lock}
	v, err := Adapter{}.PrepareVault(v)
	if err != nil {
		t.Fatal(err)
	}
	return v, signers
}

// mineProof makes a regtest header run in which the funding transaction
// is depth blocks deep, as a node would report it.
func mineProof(t *testing.T, funding *wire.MsgTx, depth int) *maturity.Proof {
	t.Helper()
	ids := []chainhash.Hash{chainhash.DoubleHashH([]byte("coinbase")), funding.TxHash()}
	root := maturity.MerkleRoot(ids[1], 1, maturity.Branch(ids, 1))
	p := &maturity.Proof{Inclusions: []maturity.Inclusion{{TxID: ids[1], Block: 0, Position: 1, Count: 2, Branch: maturity.Branch(ids, 1)}}}
	prev := *chaincfg.RegressionNetParams.GenesisHash
	for j := range depth {
		h := wire.BlockHeader{Version: 4, PrevBlock: prev, MerkleRoot: root, Timestamp: time.Unix(1_700_000_000+int64(j), 0), Bits: 0x207fffff}
		if j > 0 {
			h.MerkleRoot = chainhash.DoubleHashH([]byte{byte(j)})
		}
		for !powOK(h) {
			h.Nonce++
		}
		p.Headers = append(p.Headers, h)
		prev = h.BlockHash()
	}
	return p
}

// powOK: a regtest header (target 0x7fffff << 232) meets its target when
// its hash's top bit, the hash read little-endian, is clear.
func powOK(h wire.BlockHeader) bool {
	hash := h.BlockHash()
	return hash[31]&0x80 == 0
}

func recoveryPSBT(t *testing.T, v chain.Vault, funding *wire.MsgTx, recovery bool, proof *maturity.Proof) []byte {
	t.Helper()
	coins, err := FindCoins(v, []*wire.MsgTx{funding})
	if err != nil || len(coins) != 1 {
		t.Fatalf("coins %v %v", coins, err)
	}
	dest, _ := DemoDestination("regtest")
	script, _ := PayTo(dest, &chaincfg.RegressionNetParams)
	raw, err := BuildPSBT(v, Spend{Funding: []*wire.MsgTx{funding}, Coins: coins, Outputs: []*wire.TxOut{wire.NewTxOut(20_000_000, script)},
		ChangeIndex: 3, ChangeAmount: funding.TxOut[0].Value - 20_000_000 - 5_000, Recovery: recovery, Maturity: proof})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func sign(t *testing.T, v chain.Vault, payload []byte, key string, s *seedSigner) []chain.Signature {
	t.Helper()
	sigs, err := Adapter{}.Sign(v, payload, key, s)
	if err != nil {
		t.Fatalf("sign by %s: %v", s.keyExpr()[:10], err)
	}
	return sigs
}

// TestRecoveryPath: for each script type, the primary path needs two
// signers and the recovery key cannot sign it; a recovery spend is
// reviewed as such, refused by the station until the maturity proof
// shows the lock has matured, then signed by the recovery key alone and
// finalized through btcd's script engine.
func TestRecoveryPath(t *testing.T) {
	const lock = 10
	for _, c := range []struct{ script, prefix string }{
		{ScriptP2WSH, "wsh(or_d(multi(2,"},
		{ScriptP2SHP2WSH, "sh(wsh(or_d(multi(2,"},
		{ScriptTaproot, "tr(" + "50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0,{sortedmulti_a(2,"},
	} {
		t.Run(c.script, func(t *testing.T) {
			v, s := recoveryVault(t, c.script, lock)
			if !strings.HasPrefix(v.Descriptor, c.prefix) || !strings.Contains(v.Descriptor, "older(10)") {
				t.Fatalf("descriptor %s", v.Descriptor)
			}
			rkey := v.Recovery.Key
			funding, _, err := Synthetic(v, 7, "", 1_000, 500)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()

			// The primary path.
			primary := recoveryPSBT(t, v, funding, false, nil)
			r, err := Adapter{}.Review(ctx, v, primary)
			if err != nil {
				t.Fatal(err)
			}
			if d := r.Details.(Details); d.Path != PathPrimary || len(r.Blocking()) != 0 || !strings.Contains(strings.Join(r.Lines, "\n"), "path: primary, 2 of 3") {
				t.Fatalf("primary review: %+v %v %v", d, r.Flags, r.Lines)
			}
			if _, err := (Adapter{}).Sign(v, primary, rkey, s[3]); err == nil || !strings.Contains(err.Error(), "recovery key") {
				t.Fatalf("recovery key signed a primary spend: %v", err)
			}
			one := map[string][]chain.Signature{v.Keys[0]: sign(t, v, primary, v.Keys[0], s[0])}
			if _, err := (Adapter{}).Assemble(v, primary, one); err == nil || !strings.Contains(err.Error(), "neither path") {
				t.Fatalf("one signer assembled: %v", err)
			}
			one[v.Keys[2]] = sign(t, v, primary, v.Keys[2], s[2])
			fin, err := Adapter{}.Assemble(v, primary, one)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := CheckFinal(primary, fin.Raw); err != nil {
				t.Fatal(err)
			}

			// A recovery spend without a proof, and too young.
			for _, tc := range []struct {
				name  string
				proof *maturity.Proof
				want  string
			}{
				{"no proof", nil, "no maturity proof"},
				{"nine blocks", mineProof(t, funding, lock-1), "is 9 blocks deep"},
				{"another transaction", mineProof(t, wire.NewMsgTx(2), lock), "does not show its transaction"},
			} {
				young := recoveryPSBT(t, v, funding, true, tc.proof)
				r, err := Adapter{}.Review(ctx, v, young)
				if err != nil {
					t.Fatal(err)
				}
				if !hasFlag(r, FlagRecoveryPath, chain.Warn) || !hasFlag(r, FlagRecoveryImmature, chain.Block) || !strings.Contains(flagText(r), tc.want) {
					t.Fatalf("%s: flags %v", tc.name, r.Flags)
				}
				if _, err := (Adapter{}).Sign(v, young, rkey, s[3]); err == nil || !strings.Contains(err.Error(), FlagRecoveryImmature) {
					t.Fatalf("%s: signed: %v", tc.name, err)
				}
			}

			// Mature: the recovery key alone.
			mature := recoveryPSBT(t, v, funding, true, mineProof(t, funding, lock))
			r, err = Adapter{}.Review(ctx, v, mature)
			if err != nil {
				t.Fatal(err)
			}
			d := r.Details.(Details)
			if d.Path != PathRecovery || d.Lock != lock || d.Inputs[0].Depth != lock || len(r.Blocking()) != 0 || !strings.Contains(strings.Join(r.Lines, "\n"), "path: RECOVERY") {
				t.Fatalf("mature review: %+v %v %v", d, r.Flags, r.Lines)
			}
			rsigs := sign(t, v, mature, rkey, s[3])
			fin, err = Adapter{}.Assemble(v, mature, map[string][]chain.Signature{rkey: rsigs})
			if err != nil {
				t.Fatal(err)
			}
			tx, err := CheckFinal(mature, fin.Raw)
			if err != nil {
				t.Fatal(err)
			}
			if tx.TxIn[0].Sequence != lock || tx.Version != 2 {
				t.Fatalf("sequence %d version %d", tx.TxIn[0].Sequence, tx.Version)
			}
			// The primary signers can spend a recovery transaction too.
			both := map[string][]chain.Signature{v.Keys[0]: sign(t, v, mature, v.Keys[0], s[0]), v.Keys[1]: sign(t, v, mature, v.Keys[1], s[1])}
			if _, err := (Adapter{}).Assemble(v, mature, both); err != nil {
				t.Fatal(err)
			}
			// A tampered recovery signature is caught.
			bad := append([]chain.Signature(nil), rsigs...)
			bad[0].Sig = append([]byte(nil), bad[0].Sig...)
			bad[0].Sig[10] ^= 1
			if _, err := (Adapter{}).Assemble(v, mature, map[string][]chain.Signature{rkey: bad}); err == nil {
				t.Fatal("a tampered recovery signature was assembled")
			}
		})
	}
}

func flagText(r *chain.Review) string {
	var b strings.Builder
	for _, f := range r.Flags {
		b.WriteString(f.Message + "\n")
	}
	return b.String()
}

// TestRecoveryVaultRefusals: the vault definitions that cannot work.
func TestRecoveryVaultRefusals(t *testing.T) {
	base := chain.Vault{Name: "ops", Chain: "bitcoin", Network: "regtest", Threshold: 2}
	for i := byte(1); i <= 3; i++ {
		base.Keys = append(base.Keys, newSeedSigner(t, i).keyExpr())
	}
	for _, tc := range []struct {
		name   string
		mutate func(v *chain.Vault)
		want   string
	}{
		{"legacy p2sh", func(v *chain.Vault) { v.Script = ScriptP2SH }, "legacy P2SH"},
		{"no lock", func(v *chain.Vault) { v.Recovery.After = 0 }, "want 1..65535"},
		{"lock too long", func(v *chain.Vault) { v.Recovery.After = 70_000 }, "want 1..65535"},
		{"a signer as recovery key", func(v *chain.Vault) { v.Recovery.Key = v.Keys[1] }, "also a signer's key"},
		{"a descriptor without the path", func(v *chain.Vault) {
			p, _ := Adapter{}.PrepareVault(chain.Vault{Name: "ops", Chain: "bitcoin", Network: "regtest", Threshold: 2, Keys: v.Keys})
			v.Descriptor = p.Descriptor
		}, "does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := base
			v.Keys = append([]string(nil), base.Keys...)
			v.Recovery = &chain.Recovery{Key: newSeedSigner(t, 9).keyExpr(), After: 144}
			tc.mutate(&v)
			if _, err := (Adapter{}).PrepareVault(v); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want %q", err, tc.want)
			}
		})
	}
	// A vault whose policy drops the recovery path its descriptor has.
	v, _ := recoveryVault(t, ScriptP2WSH, 5)
	v.Recovery = nil
	if _, err := parseVault(v); err == nil || !strings.Contains(err.Error(), "the policy does not name") {
		t.Fatalf("got %v", err)
	}
	// inspect psbt's stateless vault finds the recovery key.
	v, _ = recoveryVault(t, ScriptTaproot, 5)
	sv, err := VaultFromDescriptor(v.Descriptor, "regtest")
	if err != nil || sv.Recovery == nil || sv.Recovery.After != 5 || len(sv.Keys) != 3 || sv.Recovery.Key != v.Recovery.Key {
		t.Fatalf("VaultFromDescriptor: %+v %v", sv, err)
	}
	_ = psbt.MaxSize
}

// TestRecoveryKeyOnToken: a token's static key (no BIP-32, ECDSA only) is
// a wsh vault's recovery key; it signs the matured recovery spend alone.
// Taproot refuses it (no Schnorr on PKCS#11).
func TestRecoveryKeyOnToken(t *testing.T) {
	st := staticSigner{priv: btcec.PrivKeyFromScalar(new(btcec.ModNScalar).SetInt(777))}
	v := chain.Vault{Name: "ops", Chain: "bitcoin", Network: "regtest", Threshold: 2}
	for i := byte(1); i <= 3; i++ {
		v.Keys = append(v.Keys, newSeedSigner(t, i).keyExpr())
	}
	v.Recovery = &chain.Recovery{Key: StaticKeyExpression(st.pub()), After: 6}
	tr := v
	tr.Script = ScriptTaproot
	if _, err := (Adapter{}).PrepareVault(tr); err == nil || !strings.Contains(err.Error(), "Schnorr") {
		t.Fatalf("taproot with a token recovery key: %v", err)
	}
	v, err := Adapter{}.PrepareVault(v)
	if err != nil {
		t.Fatal(err)
	}
	funding, _, err := Synthetic(v, 3, "", 1_000, 500)
	if err != nil {
		t.Fatal(err)
	}
	payload := recoveryPSBT(t, v, funding, true, mineProof(t, funding, 6))
	sigs, err := Adapter{}.Sign(v, payload, v.Recovery.Key, st)
	if err != nil {
		t.Fatal(err)
	}
	fin, err := Adapter{}.Assemble(v, payload, map[string][]chain.Signature{v.Recovery.Key: sigs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CheckFinal(payload, fin.Raw); err != nil {
		t.Fatal(err)
	}
}
