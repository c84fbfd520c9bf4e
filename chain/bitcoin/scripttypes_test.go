package bitcoin

import (
	"context"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/keys"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
)

// Each script type a vault may use: reviewed (inputs and change proven),
// signed by two stations, finalized, and every input run through btcd's
// script engine by Assemble.
func TestScriptTypesRoundTrip(t *testing.T) {
	for _, c := range []struct{ script, prefix string }{
		{ScriptP2WSH, "wsh(sortedmulti("},
		{ScriptP2SHP2WSH, "sh(wsh(sortedmulti("},
		{ScriptP2SH, "sh(sortedmulti("},
		{ScriptTaproot, "tr(50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0,sortedmulti_a("},
	} {
		t.Run(c.script, func(t *testing.T) {
			v := chain.Vault{Name: "ops", Chain: "bitcoin", Network: "regtest", Threshold: 2, Script: c.script}
			var signers []*seedSigner
			for i := byte(1); i <= 3; i++ {
				s := newSeedSigner(t, i)
				signers = append(signers, s)
				v.Keys = append(v.Keys, s.keyExpr())
			}
			v, err := Adapter{}.PrepareVault(v)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(v.Descriptor, c.prefix) {
				t.Fatalf("descriptor %s", v.Descriptor)
			}
			_, payload, err := Synthetic(v, 3, "", 30_000_000, 5_000)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Adapter{}.Review(context.Background(), v, payload)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Blocking()) != 0 {
				t.Fatalf("blocking: %v", r.Flags)
			}
			d := r.Details.(Details)
			if !d.Inputs[0].Vault || !d.Outputs[1].Change {
				t.Fatalf("not proven: %+v", d)
			}
			sets := map[string][]chain.Signature{}
			for _, i := range []int{0, 2} {
				sigs, err := Adapter{}.Sign(v, payload, v.Keys[i], signers[i])
				if err != nil {
					t.Fatal(err)
				}
				sets[v.Keys[i]] = sigs
			}
			fin, err := Adapter{}.Assemble(v, payload, sets)
			if err != nil {
				t.Fatalf("assemble: %v", err)
			}
			if _, err := CheckFinal(payload, fin.Raw); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := (Adapter{}).PrepareVault(chain.Vault{Name: "x", Chain: "bitcoin", Network: "regtest", Threshold: 1, Script: "p2tr-musig", Keys: []string{newSeedSigner(t, 1).keyExpr()}}); err == nil {
		t.Fatal("an unknown script type was accepted")
	}
}

// SignSchnorr makes the test signer a keys.SchnorrSigner (taproot).
func (s *seedSigner) SignSchnorr(path []uint32, digest []byte) ([]byte, error) {
	priv, err := s.derive(path).ECPrivKey()
	if err != nil {
		return nil, err
	}
	sig, err := schnorr.Sign((*btcec.PrivateKey)(priv), digest)
	if err != nil {
		return nil, err
	}
	return sig.Serialize(), nil
}

// A token cannot sign taproot: a static key in a taproot vault is refused,
// and a signer without Schnorr is refused at signing.
func TestTaprootNeedsSchnorr(t *testing.T) {
	v := chain.Vault{Name: "ops", Chain: "bitcoin", Network: "regtest", Threshold: 2, Script: ScriptTaproot}
	for i := byte(1); i <= 2; i++ {
		v.Keys = append(v.Keys, newSeedSigner(t, i).keyExpr())
	}
	st := staticSigner{priv: btcec.PrivKeyFromScalar(new(btcec.ModNScalar).SetInt(5))}
	bad := v
	bad.Keys = append(append([]string{}, v.Keys...), StaticKeyExpression(st.pub()))
	if _, err := (Adapter{}).PrepareVault(bad); err == nil || !strings.Contains(err.Error(), "Schnorr") {
		t.Fatalf("got %v", err)
	}
	v.Keys = append(v.Keys, newSeedSigner(t, 3).keyExpr())
	v, err := Adapter{}.PrepareVault(v)
	if err != nil {
		t.Fatal(err)
	}
	_, payload, err := Synthetic(v, 1, "", 10_000_000, 500)
	if err != nil {
		t.Fatal(err)
	}
	type ecdsaOnly struct{ keys.ChainSigner }
	if _, err := (Adapter{}).Sign(v, payload, v.Keys[0], ecdsaOnly{newSeedSigner(t, 1)}); err == nil || !strings.Contains(err.Error(), "Schnorr") {
		t.Fatalf("got %v", err)
	}
}
