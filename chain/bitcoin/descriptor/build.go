package descriptor

import (
	"encoding/hex"
	"errors"
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
		b = appendKeySpec(append(b, ','), ks)
	}
	b = append(b, suffix...)
	d, err := Parse(string(b))
	if err != nil {
		return nil, err
	}
	return d, checkSpecs(d.keys[len(d.keys)-len(keys):], keys)
}

// appendKeySpec writes [fp/path]xpub/<0;1>/*, or [fp]pubkey for a static
// key.
func appendKeySpec(b []byte, ks KeySpec) []byte {
	b = append(b, '[')
	b = hex.AppendEncode(b, ks.Fingerprint[:])
	b = appendPath(b, ks.Path)
	b = append(b, ']')
	if ks.XPub == "" {
		return hex.AppendEncode(b, ks.PubKey)
	}
	b = append(b, ks.XPub...)
	return append(b, "/<0;1>/*"...)
}

// NewRecovery builds a vault with a time-locked recovery path: k of the
// keys spend at any time, the recovery key alone once the coins are
// blocks old (BIP-68, 1..65535 blocks):
//
//	wsh(or_d(multi(k,KEYS...),and_v(v:pkh(R),older(N))))         script "wsh"
//	sh(wsh(or_d(multi(k,KEYS...),and_v(v:pkh(R),older(N)))))     script "sh-wsh"
//	tr(NUMS,{sortedmulti_a(k,KEYS...),and_v(v:pk(R),older(N))})  script "tr"
//
// Miniscript has no sortedmulti, so in wsh the keys stay in the order
// given (the policy's).
func NewRecovery(script string, k int, keys []KeySpec, recovery KeySpec, blocks uint32) (*Descriptor, error) {
	if k < 1 || k > len(keys) {
		return nil, fmt.Errorf("descriptor: threshold %d outside 1..%d", k, len(keys))
	}
	if blocks < 1 || blocks > 0xffff {
		return nil, fmt.Errorf("descriptor: recovery lock of %d blocks, want 1..65535 (BIP-68)", blocks)
	}
	var b []byte
	switch script {
	case "wsh", "sh-wsh":
		if len(keys) > 20 {
			return nil, fmt.Errorf("descriptor: %d keys, multi() allows at most 20", len(keys))
		}
		b = append(b, "wsh(or_d(multi("...)
	case "tr":
		b = append(b, "tr("+NUMS+",{sortedmulti_a("...)
	default:
		return nil, fmt.Errorf("descriptor: recovery vault script %q: want wsh, sh-wsh or tr", script)
	}
	b = strconv.AppendInt(b, int64(k), 10)
	for _, ks := range keys {
		b = appendKeySpec(append(b, ','), ks)
	}
	if script == "tr" {
		b = appendKeySpec(append(b, "),and_v(v:pk("...), recovery)
		b = append(strconv.AppendUint(append(b, "),older("...), uint64(blocks), 10), "))})"...)
	} else {
		b = appendKeySpec(append(b, "),and_v(v:pkh("...), recovery)
		b = append(strconv.AppendUint(append(b, "),older("...), uint64(blocks), 10), "))))"...)
		if script == "sh-wsh" {
			b = append(append([]byte("sh("), b...), ')')
		}
	}
	d, err := Parse(string(b))
	if err != nil {
		return nil, err
	}
	all := append(append([]KeySpec(nil), keys...), recovery)
	if err := checkSpecs(d.keys[len(d.keys)-len(all):], all); err != nil {
		return nil, err
	}
	if _, ok := d.Recovery(); !ok {
		return nil, errors.New("descriptor: built recovery vault has no recovery path")
	}
	return d, nil
}

// checkSpecs checks that each parsed key is what its spec says.
func checkSpecs(parsed []*Key, keys []KeySpec) error {
	for i, key := range parsed {
		switch {
		case keys[i].XPub != "" && !key.IsXPub():
			return fmt.Errorf("descriptor: key %d is not an extended public key", i+1)
		case keys[i].XPub == "" && (key.kind != hexKey || len(key.pub) != 33 || len(key.text) != 66):
			return fmt.Errorf("descriptor: key %d is not a compressed public key", i+1)
		}
	}
	return nil
}
