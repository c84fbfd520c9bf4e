package inspect_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/inspect"
	"github.com/airlock-vault/airlock/internal/testvectors"
)

// A user holds the signers' xpubs with fingerprints and paths, or a
// BIP-388 wallet policy, more often than the descriptor: checked in either
// form, a PSBT gets the very review its descriptor gets, so a reviewer
// cannot be steered by handing them a different-looking description of the
// same vault, nor misled by a form that quietly derives other scripts.
func TestInspectFromXpubsMatchesDescriptor(t *testing.T) {
	w := newWorld(t)
	var xpubs []string
	for _, m := range w.members {
		xpubs = append(xpubs, m.keyExpr())
	}
	want, err := inspect.PSBT(context.Background(), w.psbt, w.ops.Descriptor, "")
	if err != nil {
		t.Fatal(err)
	}
	reversed := []string{xpubs[2], xpubs[1], xpubs[0]}
	for _, tc := range []struct {
		name     string
		spec     inspect.VaultSpec
		sameText bool // the descriptor text too, not only the scripts
	}{
		{"xpubs", inspect.VaultSpec{XPubs: xpubs, Threshold: 2}, true},
		{"xpubs, p2wsh named", inspect.VaultSpec{XPubs: xpubs, Threshold: 2, Script: "p2wsh"}, true},
		{"xpubs in another order", inspect.VaultSpec{XPubs: reversed, Threshold: 2}, false},
		{"wallet policy", inspect.VaultSpec{WalletPolicy: "wsh(sortedmulti(2,@0/**,@1/**,@2/**))", PolicyKeys: xpubs}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := inspect.PSBTFor(context.Background(), w.psbt, tc.spec, "")
			if err != nil {
				t.Fatal(err)
			}
			if tc.sameText && got.Body["descriptor"] != w.ops.Descriptor {
				t.Fatalf("descriptor %v, want %s", got.Body["descriptor"], w.ops.Descriptor)
			}
			for _, k := range []string{"txid", "network", "fee", "feeRate", "vsize", "inputs", "outputs", "flags", "feePercentOfSending", "feePercentOfInputs", "feeCapBasis"} {
				a, _ := json.Marshal(got.Body[k])
				b, _ := json.Marshal(want.Body[k])
				if string(a) != string(b) {
					t.Errorf("%s: %s, the descriptor gives %s", k, a, b)
				}
			}
			if len(got.Blocking()) != 0 {
				t.Errorf("blocking flags %v", got.Blocking())
			}
		})
	}
	// Another threshold is another vault: its scripts differ, so the
	// inputs are not its own.
	res, err := inspect.PSBTFor(context.Background(), w.psbt, inspect.VaultSpec{XPubs: xpubs, Threshold: 3}, "")
	if err != nil {
		t.Fatal(err)
	}
	if b := res.Blocking(); len(b) == 0 || b[0].Code != bitcoin.FlagForeignInput {
		t.Fatalf("a 3-of-3 over the same keys accepted the 2-of-3's spend: %v", b)
	}
}

// Every script type builds, from xpubs, the descriptor a policy with
// those signers gets.
func TestInspectFromXpubsEveryScriptType(t *testing.T) {
	w := newWorld(t)
	var xpubs []string
	for _, m := range w.members {
		xpubs = append(xpubs, m.keyExpr())
	}
	for _, script := range []string{"", "p2wsh", "p2sh-p2wsh", "p2sh", "tr"} {
		v, err := bitcoin.Adapter{}.PrepareVault(chain.Vault{Name: "v", Chain: "bitcoin", Network: "regtest", Threshold: 2, Keys: xpubs, Script: script})
		if err != nil {
			t.Fatal(err)
		}
		got, err := inspect.VaultSpec{XPubs: xpubs, Threshold: 2, Script: script}.Resolve()
		if err != nil {
			t.Fatal(err)
		}
		if got != v.Descriptor {
			t.Errorf("script %q: %s, the policy's vault is %s", script, got, v.Descriptor)
		}
	}
	if _, err := (inspect.VaultSpec{XPubs: xpubs, Threshold: 2, Script: "p2pkh"}).Resolve(); err == nil {
		t.Error("script type p2pkh accepted")
	}
}

// BIP-388's own P2WSH multisig vector, as text from the BIP: its keys with
// --xpub and its template with --wallet-policy give the BIP's descriptor.
func TestInspectFromXpubsMatchesBIP388(t *testing.T) {
	var v struct {
		Valid []struct {
			Description string   `json:"description"`
			Template    string   `json:"descriptor_template"`
			Keys        []string `json:"keys_info"`
			Descriptor  string   `json:"descriptor"`
		} `json:"valid"`
	}
	if err := json.Unmarshal(testvectors.Read(t, "bip388.json"), &v); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, vec := range v.Valid {
		if vec.Template != "wsh(sortedmulti(2,@0/**,@1/**))" {
			continue
		}
		found = true
		sum, err := descriptor.Checksum(vec.Descriptor)
		if err != nil {
			t.Fatal(err)
		}
		want := vec.Descriptor + "#" + sum
		for name, spec := range map[string]inspect.VaultSpec{
			"xpubs":         {XPubs: vec.Keys, Threshold: 2},
			"wallet policy": {WalletPolicy: vec.Template, PolicyKeys: vec.Keys},
		} {
			got, err := spec.Resolve()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			// BIP-388 writes hardened steps with "'", as airlock does.
			if got != want {
				t.Errorf("%s: %s, BIP-388 says %s", name, got, want)
			}
		}
	}
	if !found {
		t.Fatal("bip388.json has no P2WSH sortedmulti vector")
	}
}

// A vault named in two forms at once, or in half of one, is refused rather
// than guessed at; keys for another network are refused as a descriptor's
// are.
func TestInspectVaultSpecRefuses(t *testing.T) {
	w := newWorld(t)
	x := []string{w.members[0].keyExpr(), w.members[1].keyExpr()}
	for name, spec := range map[string]inspect.VaultSpec{
		"nothing":                 {},
		"descriptor and xpubs":    {Descriptor: w.ops.Descriptor, XPubs: x, Threshold: 1},
		"xpubs without threshold": {XPubs: x},
		"threshold alone":         {Threshold: 2},
		"script type alone":       {Script: "tr"},
		"policy without keys":     {WalletPolicy: "wsh(sortedmulti(1,@0/**,@1/**))"},
		"keys without policy":     {PolicyKeys: x},
		"xpubs and policy":        {XPubs: x, Threshold: 1, WalletPolicy: "wsh(sortedmulti(1,@0/**,@1/**))", PolicyKeys: x},
	} {
		if _, err := inspect.PSBTFor(context.Background(), w.psbt, spec, ""); !errors.Is(err, inspect.ErrVaultForm) {
			t.Errorf("%s: got %v, want ErrVaultForm", name, err)
		}
	}
	for name, spec := range map[string]inspect.VaultSpec{
		"threshold over the keys": {XPubs: x, Threshold: 3},
		"a key without origin":    {XPubs: []string{x[0], x[1][strings.Index(x[1], "]")+1:]}, Threshold: 1},
		"a policy's bad template": {WalletPolicy: "wsh(sortedmulti(1,@1/**,@0/**))", PolicyKeys: x},
	} {
		if _, err := inspect.PSBTFor(context.Background(), w.psbt, spec, ""); err == nil || errors.Is(err, inspect.ErrVaultForm) {
			t.Errorf("%s: got %v, want a key or policy error", name, err)
		}
	}
	_, err := inspect.PSBTFor(context.Background(), w.psbt, inspect.VaultSpec{XPubs: x, Threshold: 1}, "mainnet")
	if re, ok := errors.AsType[*inspect.RefusedError](err); !ok || !strings.Contains(re.Error(), bitcoin.FlagNetworkMismatch) {
		t.Errorf("test keys on mainnet: got %v, want a network-mismatch refusal", err)
	}
}
