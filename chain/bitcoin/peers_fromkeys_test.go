package bitcoin

import (
	"fmt"
	"strings"
	"testing"
)

// The descriptor DescriptorFromKeys writes from the signers' xpubs (what
// `inspect psbt --xpub` checks against) gives the addresses bitcoinjs-lib
// builds from the same bare xpubs with no descriptor at all (bip32, BIP-67
// sorting, payments.p2ms inside p2wsh, p2sh-p2wsh or p2sh), on both
// branches: an independent check that the keys a user holds and the vault
// airlock reviews for them are one.
func TestPeersXpubVaultAddresses(t *testing.T) {
	indexes := []uint32{0, 1, 7, 1000}
	f := newFixture(t, 2)
	var bare []string
	for _, k := range f.vault.Keys {
		bare = append(bare, k[strings.Index(k, "]")+1:])
	}
	type want struct {
		what  string
		addrs []string
	}
	var ops []map[string]any
	var wants []want
	for _, script := range []string{ScriptP2WSH, ScriptP2SHP2WSH, ScriptP2SH} {
		desc, err := DescriptorFromKeys(f.vault.Keys, 2, script)
		if err != nil {
			t.Fatal(err)
		}
		v, err := VaultFromDescriptor(desc, "regtest")
		if err != nil {
			t.Fatal(err)
		}
		for branch := 0; branch < 2; branch++ {
			w := want{what: fmt.Sprintf("%s branch %d", script, branch)}
			for _, i := range indexes {
				a, err := Address(v, branch, i)
				if err != nil {
					t.Fatal(err)
				}
				w.addrs = append(w.addrs, a)
			}
			wants = append(wants, w)
			ops = append(ops, map[string]any{"op": "multisig", "xpubs": bare, "threshold": 2, "script": script, "network": "regtest", "indexes": indexes, "change": branch == 1})
		}
	}
	res := runBTCPeer(t, ops)
	for n, w := range wants {
		r := peerOK(t, w.what, res[n])
		if strings.Join(r.Addresses, " ") != strings.Join(w.addrs, " ") {
			t.Errorf("%s: bitcoinjs-lib %v, airlock %v", w.what, r.Addresses, w.addrs)
		}
	}
}
