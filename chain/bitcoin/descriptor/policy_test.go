package descriptor

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/internal/testvectors"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
)

// policyVectors is ../shared/vectors/bitcoin/bip388.json.
type policyVectors struct {
	Valid []struct {
		Description string   `json:"description"`
		Template    string   `json:"descriptor_template"`
		KeysInfo    []string `json:"keys_info"`
		Descriptor  string   `json:"descriptor"`
	} `json:"valid"`
	Invalid []struct {
		Template string `json:"descriptor_template"`
		Reason   string `json:"reason"`
	} `json:"invalid"`
	Example struct {
		Template   string   `json:"descriptor_template"`
		KeysInfo   []string `json:"keys_info"`
		Descriptor string   `json:"descriptor"`
	} `json:"derivation_example"`
}

func loadPolicyVectors(t testing.TB) *policyVectors {
	t.Helper()
	var v policyVectors
	if err := json.Unmarshal(testvectors.Read(t, "bip388.json"), &v); err != nil {
		t.Fatalf("bip388.json: %v", err)
	}
	if len(v.Valid) == 0 || len(v.Invalid) == 0 {
		t.Fatal("bip388.json has empty sections")
	}
	return &v
}

// TestBIP388Vectors: each valid policy gives exactly its descriptor, and
// the descriptor gives back the policy; the descriptor parses, or (with
// miniscript or musig) is refused as unsupported. Each invalid template
// is refused with keys that are otherwise fine.
func TestBIP388Vectors(t *testing.T) {
	v := loadPolicyVectors(t)
	cases := append(v.Valid, struct {
		Description string   `json:"description"`
		Template    string   `json:"descriptor_template"`
		KeysInfo    []string `json:"keys_info"`
		Descriptor  string   `json:"descriptor"`
	}{"derivation example", v.Example.Template, v.Example.KeysInfo, v.Example.Descriptor})
	parsed, unsupported := 0, 0
	for i, c := range cases {
		t.Run(fmt.Sprintf("valid/%d/%s", i, c.Description), func(t *testing.T) {
			w, err := NewWalletPolicy(c.Template, c.KeysInfo)
			if err != nil {
				t.Fatal(err)
			}
			if got := w.DescriptorText(); got != c.Descriptor {
				t.Fatalf("descriptor\n got %s\nwant %s", got, c.Descriptor)
			}
			sum, _ := Checksum(c.Descriptor)
			back, err := WalletPolicyFromDescriptor(c.Descriptor + "#" + sum)
			if err != nil {
				t.Fatal(err)
			}
			if back.Template() != c.Template || !slices.Equal(back.KeyInfo(), c.KeysInfo) {
				t.Fatalf("back: %s %v", back.Template(), back.KeyInfo())
			}
			d, err := w.Descriptor()
			switch {
			case errors.Is(err, ErrUnsupported):
				unsupported++
			case err != nil:
				t.Fatal(err)
			default:
				parsed++
				if d.PathCount() != 2 || !d.IsRange() {
					t.Fatalf("PathCount %d, IsRange %v", d.PathCount(), d.IsRange())
				}
				if _, err := d.Derive(1, 7); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	t.Logf("%d policies parse as descriptors, %d are miniscript or musig (unsupported)", parsed, unsupported)
	for i, c := range v.Invalid {
		t.Run(fmt.Sprintf("invalid/%d/%s", i, c.Reason), func(t *testing.T) {
			keys := policyKeys(t, placeholderCount(c.Template))
			if _, err := NewWalletPolicy(c.Template, keys); err == nil {
				t.Fatalf("%s accepted (%s)", c.Template, c.Reason)
			} else {
				t.Log(err)
			}
		})
	}
}

// placeholderCount is one more than the largest @i in a template.
func placeholderCount(tmpl string) int {
	n := 1
	for _, part := range strings.Split(tmpl, "@")[1:] {
		var i int
		if _, err := fmt.Sscanf(part, "%d", &i); err == nil && i+1 > n {
			n = i + 1
		}
	}
	return n
}

// policyKeys returns n distinct key informations.
func policyKeys(t testing.TB, n int) []string {
	t.Helper()
	root, err := hdkeychain.NewKeyFromString(tv2XPub)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := range n {
		c, err := root.Derive(uint32(i))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, fmt.Sprintf("[deadbeef/%d]%s", i, c.String()))
	}
	return keys
}

func TestWalletPolicyRules(t *testing.T) {
	k := policyKeys(t, 3)
	ok := []struct {
		tmpl string
		keys []string
	}{
		{"wsh(sortedmulti(2,@0/**,@1/**,@2/**))", k},
		{"tr(@0/**,sortedmulti_a(1,@0/<2;3>/*,@1/**))", k[:2]},
		{"sh(wsh(multi(1,@0/<4;5>/*,@1/**)))", k[:2]},
	}
	for _, c := range ok {
		w, err := NewWalletPolicy(c.tmpl, c.keys)
		if err != nil {
			t.Fatalf("%s: %v", c.tmpl, err)
		}
		if _, err := w.Descriptor(); err != nil {
			t.Fatalf("%s: %v", w.DescriptorText(), err)
		}
	}
	bad := []struct {
		tmpl string
		keys []string
	}{
		{"wsh(sortedmulti(2,@0/**,@1/**))", k},                    // @2 unused
		{"wsh(sortedmulti(2,@0/**,@1/**))", []string{k[0], k[0]}}, // same key twice
		{"pkh(@0/<0h;1>/*)", k[:1]},                               // hardened after the key
		{"pkh(@0/<0;0>/*)", k[:1]},
		{"pkh(@0/*)", k[:1]},
		{"pkh(@0/**)", []string{tv2XPub + "/0"}}, // derivation in key info
		{"pkh(@0/**)", []string{tv2XPrv}},        // private key
		{"pkh(@0/**)#abcdefgh", k[:1]},
		{"pkh(@00/**)", k[:1]},
		{"pkh(@0/**", k[:1]},
		{"pkh(@0/**))", k[:1]},
		{"pkh()", k[:1]},
		{"wsh(multi(1,@0/**,[deadbeef]" + pubC + "))", k[:1]},
		{"tr(musig(@0,@0)/**)", k[:1]},
		{"tr(@0/**,pk(musig(@0,@1)))", k[:2]}, // musig without derivation after it
		{"wsh(older(@0/**))", k[:1]},
	}
	for _, c := range bad {
		if _, err := NewWalletPolicy(c.tmpl, c.keys); err == nil {
			t.Errorf("%s %v: accepted", c.tmpl, c.keys)
		}
	}
	for _, d := range []string{
		"wpkh(" + pubC + ")",
		"pkh(" + tv2XPub + "/0/*)",
		"pkh(" + tv2XPub + "/<0;1;2>/*)",
		"pkh(" + tv2XPub + "/1/<0;1>/*)",
	} {
		if _, err := WalletPolicyFromDescriptor(d); err == nil {
			t.Errorf("WalletPolicyFromDescriptor(%s) accepted", d)
		}
	}
	vault := testVault(t)
	w, err := WalletPolicyFromDescriptor(vault.String())
	if err != nil || w.Template() != "wsh(sortedmulti(2,@0/**,@1/**,@2/**))" {
		t.Fatalf("vault policy %v: %v", w, err)
	}
	if d, err := w.Descriptor(); err != nil || d.String() != vault.String() {
		t.Fatalf("vault policy gives %v: %v", d, err)
	}
}

// FuzzWalletPolicy requires that policy conversion never panics and that
// whatever converts converts back to the same text.
func FuzzWalletPolicy(f *testing.F) {
	v := loadPolicyVectors(f)
	for _, c := range v.Valid {
		f.Add(c.Template, c.Descriptor)
	}
	for _, c := range v.Invalid {
		f.Add(c.Template, "")
	}
	keys := policyKeys(f, 4)
	f.Fuzz(func(t *testing.T, tmpl, desc string) {
		for n := 1; n <= len(keys); n++ {
			w, err := NewWalletPolicy(tmpl, keys[:n])
			if err != nil {
				continue
			}
			back, err := WalletPolicyFromDescriptor(w.DescriptorText())
			if err != nil || back.Template() != tmpl || !slices.Equal(back.KeyInfo(), keys[:n]) {
				t.Fatalf("%q gives %q, which gives %v", tmpl, w.DescriptorText(), err)
			}
		}
		w, err := WalletPolicyFromDescriptor(desc)
		if err != nil {
			return
		}
		again, err := NewWalletPolicy(w.Template(), w.KeyInfo())
		if err != nil || again.DescriptorText() != strings.Split(desc, "#")[0] {
			t.Fatalf("%q gives policy %q, which gives %v", desc, w.Template(), err)
		}
	})
}
