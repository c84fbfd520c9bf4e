package descriptor_test

import (
	"bytes"
	"fmt"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// BIP-382's ranged wpkh() vector: the scripts of children 0, 1 and 2.
func ExampleParse() {
	d, err := descriptor.Parse("wpkh([ffffffff/13']xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH/1/2/*)")
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := range uint32(3) {
		x, _ := d.Derive(0, i)
		fmt.Printf("%x\n", x.ScriptPubKey)
	}
	a, _ := d.Address(0, 0, &chaincfg.MainNetParams)
	fmt.Println(a)
	// Output:
	// 0014326b2249e3a25d5dc60935f044ee835d090ba859
	// 0014af0bd98abc2f2cae66e36896a39ffe2d32984fb7
	// 00141fa798efd1cbf95cebf912c031b8a4a6e9fb9f27
	// bc1qxf4jyj0r5fw4m3sfxhcyfm5rt5ysh2zej5q0n2
}

// account derives a signer's m/48'/1'/0'/2' account key from a test seed.
func account(seed byte) (descriptor.KeySpec, *hdkeychain.ExtendedKey) {
	m, _ := hdkeychain.NewMaster(bytes.Repeat([]byte{seed}, 32), &chaincfg.RegressionNetParams)
	mpub, _ := m.ECPubKey()
	path := []uint32{48 + hdkeychain.HardenedKeyStart, 1 + hdkeychain.HardenedKeyStart, hdkeychain.HardenedKeyStart, 2 + hdkeychain.HardenedKeyStart}
	k := m
	for _, p := range path {
		k, _ = k.Derive(p)
	}
	pub, _ := k.Neuter()
	return descriptor.KeySpec{
		Fingerprint: [4]byte(address.Hash160(mpub.SerializeCompressed())[:4]),
		Path:        path,
		XPub:        pub.String(),
	}, k
}

// A 2-of-3 vault, and the signer station's check of a change output's
// claimed key: the claim names branch 1 (change), index 7, and the key
// re-derives.
func ExampleNewSortedMultiWSH() {
	var specs []descriptor.KeySpec
	var accounts []*hdkeychain.ExtendedKey
	for seed := byte(1); seed <= 3; seed++ {
		s, k := account(seed)
		specs, accounts = append(specs, s), append(accounts, k)
	}
	d, err := descriptor.NewSortedMultiWSH(2, specs)
	if err != nil {
		fmt.Println(err)
		return
	}
	k, n, _ := d.Threshold()
	fmt.Println(k, "of", n, "on", d.Network(), "with", d.PathCount(), "branches")

	// What a PSBT output claims for the second signer's key.
	change, _ := accounts[1].Derive(1)
	child, _ := change.Derive(7)
	pub, _ := child.ECPubKey()
	claimed := append(append([]uint32(nil), specs[1].Path...), 1, 7)

	key, branch, index, ok := d.MatchPubKey(pub.SerializeCompressed(), specs[1].Fingerprint, claimed)
	fmt.Println("key", key, "branch", branch, "index", index, ok)
	a, _ := d.Address(branch, index, &chaincfg.RegressionNetParams)
	fmt.Println(a)

	// The same key claimed on the receive branch is refused.
	claimed[4] = 0
	_, _, _, ok = d.MatchPubKey(pub.SerializeCompressed(), specs[1].Fingerprint, claimed)
	fmt.Println(ok)
	// Output:
	// 2 of 3 on test with 2 branches
	// key 1 branch 1 index 7 true
	// bcrt1q2f38kzzsxsdwtzj4xn0r2jczm63ykt3m6w4tcs5x577wqa433jlsvzr4ne
	// false
}
