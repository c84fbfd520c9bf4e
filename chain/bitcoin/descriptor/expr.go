package descriptor

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sort"
	"strconv"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// expr is a script expression (BIP-380 SCRIPT), one type per function.
// Parsing builds a tree of them over key expressions; a new function (such
// as BIP-386's tr) is a new type plus an entry in the fragment table.
type expr interface {
	// name is the function's name, "wsh" for wsh(...).
	name() string
	// appendText writes the expression; alt picks one alternative of every
	// multipath group (BIP-389 expansion), or -1 keeps the groups.
	appendText(b []byte, alt int) []byte
	// appendKeys appends the key expressions in textual order.
	appendKeys(dst []*Key) []*Key
	// script returns the script the expression produces at one branch and
	// child index, recording derived keys and inner scripts in dv.
	script(dv *derivation) ([]byte, error)
	// size is the length in bytes of the script the expression produces.
	size() int
	// check applies the rules that need the whole descriptor (its number
	// of multipath branches), after parsing.
	check(paths int) error
}

// derivation carries one Derive call through the tree.
type derivation struct {
	alt   int
	index uint32
	out   *Derived
	leaf  int   // the tapscript leaf being derived (an index into out.Leaves), or -1
	leafs []int // per out.Keys, the leaf it is in, or -1
}

// key derives k and records it. It returns the key as it goes into a
// script: 33 or 65 bytes, or the 32-byte x-only key in taproot.
func (dv *derivation) key(k *Key) ([]byte, error) {
	dk, err := k.derive(dv.alt, dv.index)
	if err != nil {
		return nil, err
	}
	if k.tap {
		dk.XOnly = k.scriptKey(dk.PubKey)
	}
	dv.out.Keys = append(dv.out.Keys, dk)
	dv.leafs = append(dv.leafs, dv.leaf)
	return k.scriptKey(dk.PubKey), nil
}

// scriptKey is pub as k puts it into a script: x-only (BIP-340) in
// taproot, else unchanged.
func (k *Key) scriptKey(pub []byte) []byte {
	if k.tap && len(pub) == 33 {
		return pub[1:]
	}
	return pub
}

// pkExpr is BIP-381 pk(KEY): <KEY> OP_CHECKSIG.
type pkExpr struct{ key *Key }

func (e *pkExpr) name() string                        { return "pk" }
func (e *pkExpr) appendKeys(dst []*Key) []*Key        { return append(dst, e.key) }
func (e *pkExpr) size() int                           { return 1 + len(e.key.pub) + 1 }
func (e *pkExpr) check(int) error                     { return nil }
func (e *pkExpr) appendText(b []byte, alt int) []byte { return appendCall(b, e, alt, e.key) }
func (e *pkExpr) script(dv *derivation) ([]byte, error) {
	pub, err := dv.key(e.key)
	if err != nil {
		return nil, err
	}
	return append(pushData(nil, pub), txscript.OP_CHECKSIG), nil
}

// pkhExpr is BIP-381 pkh(KEY):
// OP_DUP OP_HASH160 <KEY_hash160> OP_EQUALVERIFY OP_CHECKSIG.
type pkhExpr struct{ key *Key }

func (e *pkhExpr) name() string                        { return "pkh" }
func (e *pkhExpr) appendKeys(dst []*Key) []*Key        { return append(dst, e.key) }
func (e *pkhExpr) size() int                           { return 25 }
func (e *pkhExpr) check(int) error                     { return nil }
func (e *pkhExpr) appendText(b []byte, alt int) []byte { return appendCall(b, e, alt, e.key) }
func (e *pkhExpr) script(dv *derivation) ([]byte, error) {
	pub, err := dv.key(e.key)
	if err != nil {
		return nil, err
	}
	s := pushData([]byte{txscript.OP_DUP, txscript.OP_HASH160}, address.Hash160(pub))
	return append(s, txscript.OP_EQUALVERIFY, txscript.OP_CHECKSIG), nil
}

// wpkhExpr is BIP-382 wpkh(KEY): OP_0 <KEY_hash160>.
type wpkhExpr struct{ key *Key }

func (e *wpkhExpr) name() string                        { return "wpkh" }
func (e *wpkhExpr) appendKeys(dst []*Key) []*Key        { return append(dst, e.key) }
func (e *wpkhExpr) size() int                           { return 22 }
func (e *wpkhExpr) check(int) error                     { return nil }
func (e *wpkhExpr) appendText(b []byte, alt int) []byte { return appendCall(b, e, alt, e.key) }
func (e *wpkhExpr) script(dv *derivation) ([]byte, error) {
	pub, err := dv.key(e.key)
	if err != nil {
		return nil, err
	}
	return pushData([]byte{txscript.OP_0}, address.Hash160(pub)), nil
}

// shExpr is BIP-381 sh(SCRIPT): OP_HASH160 <SCRIPT_hash160> OP_EQUAL. The
// inner script is the redeemScript.
type shExpr struct{ inner expr }

func (e *shExpr) name() string                 { return "sh" }
func (e *shExpr) appendKeys(dst []*Key) []*Key { return e.inner.appendKeys(dst) }
func (e *shExpr) size() int                    { return 23 }
func (e *shExpr) check(paths int) error        { return e.inner.check(paths) }
func (e *shExpr) appendText(b []byte, alt int) []byte {
	b = append(append(b, e.name()...), '(')
	return append(e.inner.appendText(b, alt), ')')
}
func (e *shExpr) script(dv *derivation) ([]byte, error) {
	redeem, err := e.inner.script(dv)
	if err != nil {
		return nil, err
	}
	dv.out.RedeemScript = redeem
	return p2sh(redeem), nil
}

// wshExpr is BIP-382 wsh(SCRIPT): OP_0 <SCRIPT_sha256>. The inner script
// is the witnessScript; inside sh() the P2WSH program is the redeemScript.
type wshExpr struct{ inner expr }

func (e *wshExpr) name() string                 { return "wsh" }
func (e *wshExpr) appendKeys(dst []*Key) []*Key { return e.inner.appendKeys(dst) }
func (e *wshExpr) size() int                    { return 34 }
func (e *wshExpr) check(paths int) error        { return e.inner.check(paths) }
func (e *wshExpr) appendText(b []byte, alt int) []byte {
	b = append(append(b, e.name()...), '(')
	return append(e.inner.appendText(b, alt), ')')
}
func (e *wshExpr) script(dv *derivation) ([]byte, error) {
	ws, err := e.inner.script(dv)
	if err != nil {
		return nil, err
	}
	dv.out.WitnessScript = ws
	return p2wsh(ws), nil
}

// multiExpr is BIP-383 multi(k,KEY_1,...,KEY_n) and sortedmulti(...):
// OP_k KEY_1 ... KEY_n OP_n OP_CHECKMULTISIG, the keys sorted after
// derivation for sortedmulti; and BIP-387 multi_a(k,KEY_1,...,KEY_n) and
// sortedmulti_a(...): KEY_1 OP_CHECKSIG KEY_2 OP_CHECKSIGADD ... KEY_n
// OP_CHECKSIGADD k OP_NUMEQUAL over x-only keys.
type multiExpr struct {
	sorted bool
	tap    bool // multi_a or sortedmulti_a
	k      int
	keys   []*Key
}

func (e *multiExpr) name() string {
	n := "multi"
	if e.sorted {
		n = "sortedmulti"
	}
	if e.tap {
		n += "_a"
	}
	return n
}

func (e *multiExpr) appendKeys(dst []*Key) []*Key { return append(dst, e.keys...) }

func (e *multiExpr) size() int {
	if e.tap {
		return len(e.keys)*(1+32+1) + len(pushScriptNum(nil, e.k)) + 1
	}
	n := numSize(e.k) + numSize(len(e.keys)) + 1
	for _, k := range e.keys {
		n += 1 + len(k.pub)
	}
	return n
}

func (e *multiExpr) appendText(b []byte, alt int) []byte {
	b = append(append(b, e.name()...), '(')
	b = strconv.AppendInt(b, int64(e.k), 10)
	for _, k := range e.keys {
		b = k.appendText(append(b, ','), alt)
	}
	return append(b, ')')
}

func (e *multiExpr) script(dv *derivation) ([]byte, error) {
	pubs := make([][]byte, len(e.keys))
	for i, k := range e.keys {
		pub, err := dv.key(k)
		if err != nil {
			return nil, err
		}
		for j := range i {
			if bytes.Equal(pubs[j], pub) {
				return nil, fmt.Errorf("%w: keys %d and %d of %s() derive the same public key at branch %d, child %d", ErrDuplicateKey, j+1, i+1, e.name(), dv.alt, dv.index)
			}
		}
		pubs[i] = pub
	}
	if e.sorted {
		// BIP-383 sortedmulti(): sorted on the keys as they go into the
		// script, after derivation; BIP-387 sortedmulti_a() likewise, on
		// the x-only keys.
		sort.Slice(pubs, func(i, j int) bool { return bytes.Compare(pubs[i], pubs[j]) < 0 })
	}
	if e.tap {
		var s []byte
		for i, p := range pubs {
			op := byte(txscript.OP_CHECKSIGADD)
			if i == 0 {
				op = txscript.OP_CHECKSIG
			}
			s = append(pushData(s, p), op)
		}
		return append(pushScriptNum(s, e.k), txscript.OP_NUMEQUAL), nil
	}
	s := pushNum(nil, e.k)
	for _, p := range pubs {
		s = pushData(s, p)
	}
	s = pushNum(s, len(pubs))
	return append(s, txscript.OP_CHECKMULTISIG), nil
}

// appendCall writes name(KEY).
func appendCall(b []byte, e expr, alt int, k *Key) []byte {
	b = append(append(b, e.name()...), '(')
	return append(k.appendText(b, alt), ')')
}

// pushData appends a push of data, which is never longer than 75 bytes here
// (a public key, a HASH160 or a SHA256).
func pushData(s, data []byte) []byte {
	return append(append(s, byte(len(data))), data...)
}

// pushNum appends n (1..20): OP_n up to 16, else a one-byte number push,
// as BIP-383 writes "k" for thresholds above 16.
func pushNum(s []byte, n int) []byte {
	if n <= 16 {
		return append(s, byte(txscript.OP_1-1+n))
	}
	return append(s, 1, byte(n))
}

// pushScriptNum appends n (1..999) as a minimal script number push:
// OP_n up to 16, else its little-endian bytes with a sign bit to spare.
func pushScriptNum(s []byte, n int) []byte {
	if n <= 16 {
		return append(s, byte(txscript.OP_1-1+n))
	}
	if n < 0x80 {
		return append(s, 1, byte(n))
	}
	if n < 0x8000 {
		return append(s, 2, byte(n), byte(n>>8))
	}
	return append(s, 3, byte(n), byte(n>>8), byte(n>>16))
}

func numSize(n int) int {
	if n <= 16 {
		return 1
	}
	return 2
}

func p2sh(redeem []byte) []byte {
	s := pushData([]byte{txscript.OP_HASH160}, address.Hash160(redeem))
	return append(s, txscript.OP_EQUAL)
}

func p2wsh(ws []byte) []byte {
	h := sha256.Sum256(ws)
	return pushData([]byte{txscript.OP_0}, h[:])
}
