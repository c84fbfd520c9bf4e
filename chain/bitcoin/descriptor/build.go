package descriptor

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// KeySpec is one signer's account key with its origin, for
// NewSortedMultiWSH: an extended public key, or a static public key for a
// signer that cannot derive (a PKCS#11 token has no BIP-32).
type KeySpec struct {
	Fingerprint [4]byte  // the signer's master key fingerprint
	Path        []uint32 // from the master to the account key, e.g. 48'/0'/0'/2'
	XPub        string   // the account key, an xpub or tpub
	PubKey      []byte   // or a static compressed key (then XPub is empty)
}

// NewSortedMultiWSH builds a vault descriptor,
//
//	wsh(sortedmulti(k,[fp/path]xpub/<0;1>/*,...))
//
// with hardened steps written "'": branch 0 receives, branch 1 is change
// (BIP-389), keys are sorted in each script (BIP-383). A static key is
// written [fp]pubkey and is the same at every branch and index. All of
// Parse's rules apply.
func NewSortedMultiWSH(k int, keys []KeySpec) (*Descriptor, error) {
	return newSortedMulti("wsh(sortedmulti(", "))", 20, k, keys)
}

// NewSortedMultiShWsh builds the same vault as NewSortedMultiWSH nested in
// P2SH, sh(wsh(sortedmulti(k,...))), for senders that cannot pay to
// native segwit. BIP-383 allows at most 20 keys.
func NewSortedMultiShWsh(k int, keys []KeySpec) (*Descriptor, error) {
	return newSortedMulti("sh(wsh(sortedmulti(", ")))", 20, k, keys)
}

// NewSortedMultiSh builds a legacy P2SH vault, sh(sortedmulti(k,...)).
// BIP-383 allows at most 15 keys (the 520-byte redeemScript limit).
func NewSortedMultiSh(k int, keys []KeySpec) (*Descriptor, error) {
	return newSortedMulti("sh(sortedmulti(", "))", 15, k, keys)
}

// NewSortedMultiTaproot builds a taproot vault,
//
//	tr(NUMS,sortedmulti_a(k,[fp/path]xpub/<0;1>/*,...))
//
// whose internal key is BIP-341's unspendable point H, so that the one
// script path, k signatures over the sorted x-only keys (BIP-387), is the
// only way to spend. BIP-387 allows at most 999 keys.
func NewSortedMultiTaproot(k int, keys []KeySpec) (*Descriptor, error) {
	return newSortedMulti("tr("+NUMS+",sortedmulti_a(", "))", 999, k, keys)
}

// newSortedMulti writes prefix, k and the keys, and suffix, and parses the
// result; the keys are the descriptor's last len(keys) key expressions.
func newSortedMulti(prefix, suffix string, limit, k int, keys []KeySpec) (*Descriptor, error) {
	if k < 1 || k > len(keys) {
		return nil, fmt.Errorf("descriptor: threshold %d outside 1..%d", k, len(keys))
	}
	if len(keys) > limit {
		return nil, fmt.Errorf("descriptor: %d keys, %s allows at most %d", len(keys), strings.TrimSuffix(prefix, "("), limit)
	}
	b := []byte(prefix)
	b = strconv.AppendInt(b, int64(k), 10)
	for _, ks := range keys {
		b = append(b, ",["...)
		b = hex.AppendEncode(b, ks.Fingerprint[:])
		b = appendPath(b, ks.Path)
		b = append(b, ']')
		if ks.XPub == "" {
			b = hex.AppendEncode(b, ks.PubKey)
			continue
		}
		b = append(b, ks.XPub...)
		b = append(b, "/<0;1>/*"...)
	}
	b = append(b, suffix...)
	d, err := Parse(string(b))
	if err != nil {
		return nil, err
	}
	for i, key := range d.keys[len(d.keys)-len(keys):] {
		switch {
		case keys[i].XPub != "" && !key.IsXPub():
			return nil, fmt.Errorf("descriptor: key %d is not an extended public key", i+1)
		case keys[i].XPub == "" && (key.kind != hexKey || len(key.pub) != 33 || len(key.text) != 66):
			return nil, fmt.Errorf("descriptor: key %d is not a compressed public key", i+1)
		}
	}
	return d, nil
}
