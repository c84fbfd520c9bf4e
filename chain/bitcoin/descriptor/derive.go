package descriptor

import (
	"fmt"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// Derived is what a descriptor gives at one multipath branch and child
// index.
type Derived struct {
	ScriptPubKey  []byte
	RedeemScript  []byte // for sh(...): the script whose HASH160 it pays
	WitnessScript []byte // for wsh(...): the script whose SHA256 it pays
	// Keys are the derived keys in the descriptor's textual order (not
	// sortedmulti's order), each with its full origin.
	Keys []DerivedKey

	// For tr() (BIP-386): the x-only internal key, the merkle root of the
	// script tree (nil without one), and the tree's leaves in textual
	// order.
	InternalKey []byte
	MerkleRoot  []byte
	Leaves      []TapLeaf
}

// Derive derives the scripts at multipath branch multipath (0 without
// multipath; BIP-389 "the first descriptor uses the first NUM") and child
// index (0 for a descriptor without wildcard). Keys of a multisig derive in
// lockstep at the same index (BIP-383 "Multiple Extended Keys").
func (d *Descriptor) Derive(multipath int, index uint32) (*Derived, error) {
	if multipath < 0 || multipath >= d.paths {
		return nil, fmt.Errorf("descriptor: multipath branch %d, the descriptor has %d", multipath, d.paths)
	}
	switch {
	case !d.IsRange() && index != 0:
		return nil, fmt.Errorf("descriptor: child index %d of a descriptor without wildcard", index)
	case index >= hardened:
		return nil, fmt.Errorf("descriptor: child index %d is out of range (at most 2147483647)", index)
	}
	out := &Derived{}
	spk, err := d.root.script(&derivation{alt: multipath, index: index, out: out, leaf: -1})
	if err != nil {
		return nil, err
	}
	out.ScriptPubKey = spk
	return out.compact(), nil
}

// compact returns x with its scripts, keys and paths moved into one
// exactly sized buffer each. A Derived lives as long as the review of the
// input it describes, and the tree leaves it in many small allocations
// with spare capacity; compacted, a 2-of-3 wsh() input takes about a
// third less memory. Each slice is capped at its length, so appending to
// one never writes over the next. The taproot leaves are kept as they
// are.
func (x *Derived) compact() *Derived {
	n, np := len(x.ScriptPubKey)+len(x.RedeemScript)+len(x.WitnessScript)+len(x.InternalKey)+len(x.MerkleRoot), 0
	for _, k := range x.Keys {
		n += len(k.PubKey) + len(k.XOnly)
		np += len(k.Path)
	}
	buf := make([]byte, 0, n)
	put := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		start := len(buf)
		buf = append(buf, b...)
		return buf[start:len(buf):len(buf)]
	}
	paths := make([]uint32, 0, np)
	c := &Derived{
		ScriptPubKey:  put(x.ScriptPubKey),
		RedeemScript:  put(x.RedeemScript),
		WitnessScript: put(x.WitnessScript),
		InternalKey:   put(x.InternalKey),
		MerkleRoot:    put(x.MerkleRoot),
		Leaves:        x.Leaves,
	}
	if x.Keys != nil {
		c.Keys = make([]DerivedKey, len(x.Keys))
	}
	for i, k := range x.Keys {
		c.Keys[i] = DerivedKey{PubKey: put(k.PubKey), Fingerprint: k.Fingerprint, XOnly: put(k.XOnly), LeafHashes: k.LeafHashes}
		if k.Path != nil {
			start := len(paths)
			paths = append(paths, k.Path...)
			c.Keys[i].Path = paths[start:len(paths):len(paths)]
		}
	}
	return c
}

// Address returns the address of the script at multipath branch and child
// index on network net: bech32m for tr() and rawtr(). It refuses a network
// the descriptor's keys are not for, and pk() or bare multisig, which have
// no address; raw() has one when its script is a standard output script.
func (d *Descriptor) Address(multipath int, index uint32, net *chaincfg.Params) (string, error) {
	if !d.net.Allows(net) {
		return "", fmt.Errorf("descriptor: %s keys on network %s", d.net, net.Name)
	}
	x, err := d.Derive(multipath, index)
	if err != nil {
		return "", err
	}
	var a address.Address
	switch r := d.root.(type) {
	case *pkhExpr:
		a, err = address.NewAddressPubKeyHash(address.Hash160(x.Keys[0].PubKey), net)
	case *wpkhExpr:
		a, err = address.NewAddressWitnessPubKeyHash(address.Hash160(x.Keys[0].PubKey), net)
	case *shExpr:
		a, err = address.NewAddressScriptHash(x.RedeemScript, net)
	case *wshExpr:
		a, err = address.NewAddressWitnessScriptHash(x.ScriptPubKey[2:], net)
	case *trExpr, *rawtrExpr:
		a, err = address.NewAddressTaproot(x.ScriptPubKey[2:], net)
	case *addrExpr:
		if !r.addr.IsForNet(net) {
			return "", fmt.Errorf("descriptor: address %s is not for network %s", r.text, net.Name)
		}
		a = r.addr
	case *rawExpr:
		class, addrs, _, xerr := txscript.ExtractPkScriptAddrs(x.ScriptPubKey, net)
		switch class {
		case txscript.PubKeyHashTy, txscript.ScriptHashTy, txscript.WitnessV0PubKeyHashTy,
			txscript.WitnessV0ScriptHashTy, txscript.WitnessV1TaprootTy:
			if xerr == nil && len(addrs) == 1 {
				a = addrs[0]
				break
			}
			fallthrough
		default:
			return "", fmt.Errorf("descriptor: raw() script is not a standard output script with an address")
		}
	default:
		return "", fmt.Errorf("descriptor: %s() has no address", d.root.name())
	}
	if err != nil {
		return "", fmt.Errorf("descriptor: address: %v", err)
	}
	return a.EncodeAddress(), nil
}
