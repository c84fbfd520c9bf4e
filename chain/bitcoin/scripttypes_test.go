package bitcoin

import (
	"context"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain"
)

// Each script type a vault may use: reviewed (inputs and change proven),
// signed by two stations, finalized, and every input run through btcd's
// script engine by Assemble.
func TestScriptTypesRoundTrip(t *testing.T) {
	for _, c := range []struct{ script, prefix string }{
		{ScriptP2WSH, "wsh(sortedmulti("},
		{ScriptP2SHP2WSH, "sh(wsh(sortedmulti("},
		{ScriptP2SH, "sh(sortedmulti("},
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
	if _, err := (Adapter{}).PrepareVault(chain.Vault{Name: "x", Chain: "bitcoin", Network: "regtest", Threshold: 1, Script: "tr", Keys: []string{newSeedSigner(t, 1).keyExpr()}}); err == nil {
		t.Fatal("a taproot vault was accepted before stations can sign it")
	}
}
