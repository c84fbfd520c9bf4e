package inspect_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/inspect"
)

// FuzzArtifact feeds Artifact untrusted bytes: it must never panic, and
// whatever it describes must marshal, as the command prints it.
func FuzzArtifact(f *testing.F) {
	w := newWorld(f)
	seeds := [][]byte{w.policy, w.proposal, w.approval, w.reject, w.proof, w.psbt,
		[]byte(base64.StdEncoding.EncodeToString(w.psbt)), []byte("psbt\xff"), nil}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := inspect.Artifact(raw, regtest)
		if err != nil {
			if out != nil {
				t.Fatalf("a description with error %v", err)
			}
			return
		}
		if _, ok := out["kind"].(string); !ok {
			t.Fatalf("no kind in %v", out)
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("description does not marshal: %v", err)
		}
	})
}

// FuzzVaultSpec feeds the account-key and wallet-policy forms untrusted
// text: they must never panic, and what resolves must be a descriptor
// that parses with its checksum.
func FuzzVaultSpec(f *testing.F) {
	w := newWorld(f)
	f.Add(w.members[0].keyExpr(), w.members[1].keyExpr(), 2, "", "wsh(sortedmulti(2,@0/**,@1/**))")
	f.Add(w.members[0].keyExpr(), "[00000000]02"+strings.Repeat("11", 32), 1, "p2sh", "tr(@0/**)")
	f.Fuzz(func(t *testing.T, a, b string, k int, script, template string) {
		for _, spec := range []inspect.VaultSpec{
			{XPubs: []string{a, b}, Threshold: k, Script: script},
			{WalletPolicy: template, PolicyKeys: []string{a, b}},
		} {
			d, err := spec.Resolve()
			if err != nil {
				continue
			}
			if _, err := descriptor.ParseStrict(d); err != nil {
				t.Fatalf("resolved to %q, which does not parse: %v", d, err)
			}
		}
	})
}
