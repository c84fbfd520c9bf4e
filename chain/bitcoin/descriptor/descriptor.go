// Package descriptor parses and derives Bitcoin output script descriptors
// (BIP-380) for the script types an airlock vault uses: pk, pkh, sh
// (BIP-381), wpkh, wsh (BIP-382), multi and sortedmulti (BIP-383), with key
// origins, extended keys and BIP-389 multipath groups.
//
// A signer station uses it to prove, rather than believe, that a PSBT's
// inputs and change outputs belong to the vault: Match finds which branch
// and index a claimed BIP-32 origin points to, and Derive gives the scripts
// the descriptor produces there, to compare byte for byte.
//
//	d, _ := descriptor.Parse("wsh(sortedmulti(2,[d34db33f/48'/1'/0'/2']tpubA…/<0;1>/*,[0badc0de/48'/1'/0'/2']tpubB…/<0;1>/*))#checksum")
//	b, i, ok := d.Match(fp, path)   // e.g. branch 1 (change), index 7
//	x, _ := d.Derive(b, i)          // x.WitnessScript, x.ScriptPubKey
//
// Other script expressions (tr, rawtr, combo, addr, raw, multi_a,
// sortedmulti_a, musig) are refused with ErrUnsupported. The parser bounds
// its input, refuses duplicate keys in one multisig, thresholds out of
// range, uncompressed keys under segwit, hardened steps from public keys and
// mismatched multipath groups.
package descriptor

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

// MaxLength bounds a descriptor's text.
const MaxLength = 64 << 10

// ErrUnsupported is returned for valid BIP-380 syntax this package does not
// implement (yet).
var ErrUnsupported = errors.New("descriptor: unsupported script expression")

type context int

const (
	ctxTop context = iota
	ctxSH
	ctxWSH
)

// node is a script expression.
type node struct {
	fn   string // sh, wsh, pk, pkh, wpkh, multi, sortedmulti
	k    int
	keys []*Key
	sub  *node
}

// Descriptor is a parsed output descriptor.
type Descriptor struct {
	body string
	root *node
	keys []*Key
	// paths is the number of multipath alternatives (1 without multipath).
	paths int
}

// Parse parses a descriptor, verifying its checksum when one is given.
func Parse(s string) (*Descriptor, error) { return parse(s, false) }

// ParseStrict parses a descriptor that must carry a valid checksum.
func ParseStrict(s string) (*Descriptor, error) { return parse(s, true) }

func parse(s string, requireChecksum bool) (*Descriptor, error) {
	if len(s) > MaxLength {
		return nil, fmt.Errorf("descriptor: %d characters exceeds %d", len(s), MaxLength)
	}
	body, err := splitChecksum(s, requireChecksum)
	if err != nil {
		return nil, err
	}
	d := &Descriptor{body: body}
	if d.root, err = d.parseScript(body, 0, ctxTop); err != nil {
		return nil, err
	}
	d.paths = 1
	for _, k := range d.keys {
		if n := k.multipathLen(); n > 0 {
			if d.paths > 1 && n != d.paths {
				return nil, fmt.Errorf("descriptor: multipath groups of %d and %d alternatives", d.paths, n)
			}
			d.paths = n
		}
	}
	return d, nil
}

// splitArgs splits s at commas that are not nested in (), [], {} or <>.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '[', '{', '<':
			depth++
		case ')', ']', '}', '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

var unsupported = map[string]bool{"tr": true, "rawtr": true, "combo": true, "addr": true, "raw": true, "multi_a": true, "sortedmulti_a": true, "musig": true}

func (d *Descriptor) parseScript(s string, off int, ctx context) (*node, error) {
	open := strings.IndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") {
		return nil, fmt.Errorf("descriptor: %q is not a script expression", short(s))
	}
	fn, inner := s[:open], s[open+1:len(s)-1]
	innerOff := off + open + 1
	if unsupported[fn] {
		return nil, fmt.Errorf("%w %s()", ErrUnsupported, fn)
	}
	isScript := func(x string) bool { return strings.IndexByte(x, '(') >= 0 }
	n := &node{fn: fn}
	switch fn {
	case "sh":
		if ctx != ctxTop {
			return nil, errors.New("descriptor: sh() only at the top level")
		}
		if !isScript(inner) {
			return nil, errors.New("descriptor: sh() only accepts script expressions")
		}
		sub, err := d.parseScript(inner, innerOff, ctxSH)
		if err != nil {
			return nil, err
		}
		if sub.fn == "sh" {
			return nil, errors.New("descriptor: sh() nested in sh()")
		}
		n.sub = sub
	case "wsh":
		if ctx == ctxWSH {
			return nil, errors.New("descriptor: wsh() nested in wsh()")
		}
		if !isScript(inner) {
			return nil, errors.New("descriptor: wsh() only accepts script expressions")
		}
		sub, err := d.parseScript(inner, innerOff, ctxWSH)
		if err != nil {
			return nil, err
		}
		if sub.fn == "wpkh" || sub.fn == "sh" {
			return nil, fmt.Errorf("descriptor: %s() nested in wsh()", sub.fn)
		}
		n.sub = sub
	case "pk", "pkh", "wpkh":
		if fn == "wpkh" && ctx == ctxWSH {
			return nil, errors.New("descriptor: wpkh() nested in wsh()")
		}
		if isScript(inner) || strings.Contains(inner, ",") {
			return nil, fmt.Errorf("descriptor: %s() only accepts one key expression", fn)
		}
		k, err := d.key(inner, innerOff, ctx == ctxWSH || fn == "wpkh")
		if err != nil {
			return nil, err
		}
		n.keys = []*Key{k}
	case "multi", "sortedmulti":
		args := splitArgs(inner)
		if len(args) < 2 {
			return nil, fmt.Errorf("descriptor: %s() needs a threshold and keys", fn)
		}
		k, err := strconv.Atoi(args[0])
		if err != nil || strconv.Itoa(k) != args[0] {
			return nil, fmt.Errorf("descriptor: %s() threshold %q is not a number", fn, args[0])
		}
		max := 20
		switch ctx {
		case ctxTop:
			max = 3
		case ctxSH:
			max = 15
		}
		if len(args)-1 > max {
			return nil, fmt.Errorf("descriptor: %s() with %d keys; at most %d here", fn, len(args)-1, max)
		}
		if k < 1 || k > len(args)-1 {
			return nil, fmt.Errorf("descriptor: %s() threshold %d outside 1..%d", fn, k, len(args)-1)
		}
		n.k = k
		pos := innerOff + len(args[0]) + 1
		for _, a := range args[1:] {
			if isScript(a) {
				return nil, fmt.Errorf("descriptor: %s() only accepts key expressions", fn)
			}
			key, err := d.key(a, pos, ctx == ctxWSH)
			if err != nil {
				return nil, err
			}
			for _, prev := range n.keys {
				if sameKey(prev, key) {
					return nil, fmt.Errorf("descriptor: key %s appears twice in %s()", short(key.text), fn)
				}
			}
			n.keys = append(n.keys, key)
			pos += len(a) + 1
		}
	default:
		return nil, fmt.Errorf("descriptor: unknown script expression %q", fn)
	}
	return n, nil
}

func sameKey(a, b *Key) bool {
	if a.ext != nil && b.ext != nil {
		pa, _ := a.ext.ECPubKey()
		pb, _ := b.ext.ECPubKey()
		if !pa.IsEqual(pb) || len(a.steps) != len(b.steps) || a.wildcard != b.wildcard {
			return false
		}
		for i := range a.steps {
			if fmt.Sprint(a.steps[i].alts) != fmt.Sprint(b.steps[i].alts) {
				return false
			}
		}
		return true
	}
	return a.ext == nil && b.ext == nil && bytes.Equal(a.pub, b.pub)
}

func (d *Descriptor) key(s string, off int, compressedOnly bool) (*Key, error) {
	k, err := parseKey(s, off)
	if err != nil {
		return nil, err
	}
	if compressedOnly && len(k.pub) == 65 {
		return nil, errors.New("descriptor: uncompressed public key under segwit")
	}
	d.keys = append(d.keys, k)
	return k, nil
}

// String is the descriptor as parsed, with its checksum.
func (d *Descriptor) String() string {
	sum, _ := Checksum(d.body)
	return d.body + "#" + sum
}

// Keys are the key expressions in textual order.
func (d *Descriptor) Keys() []*Key { return d.keys }

// IsRange reports whether any key has a wildcard.
func (d *Descriptor) IsRange() bool {
	for _, k := range d.keys {
		if k.wildcard != noWildcard {
			return true
		}
	}
	return false
}

// IsMultipath reports whether the descriptor has BIP-389 multipath groups.
func (d *Descriptor) IsMultipath() bool { return d.paths > 1 }

// PathCount is the number of multipath alternatives (1 without multipath).
func (d *Descriptor) PathCount() int { return d.paths }

// Network says which network the descriptor's extended keys are for:
// "mainnet", "test" (testnet, signet and regtest share tpub), or "" when
// it has none.
func (d *Descriptor) Network() string {
	for _, k := range d.keys {
		if main, ok := k.isMainnet(); ok {
			if main {
				return "mainnet"
			}
			return "test"
		}
	}
	return ""
}

// Threshold returns k and n of the descriptor's multi or sortedmulti.
func (d *Descriptor) Threshold() (k, n int, ok bool) {
	for x := d.root; x != nil; x = x.sub {
		if x.fn == "multi" || x.fn == "sortedmulti" {
			return x.k, len(x.keys), true
		}
	}
	return 0, 0, false
}

// SingleMultipath returns the descriptor with every multipath group
// replaced by its k-th alternative (BIP-389).
func (d *Descriptor) SingleMultipath(k int) (*Descriptor, error) {
	if k < 0 || k >= d.paths {
		return nil, fmt.Errorf("descriptor: multipath alternative %d of %d", k, d.paths)
	}
	if d.paths == 1 {
		return d, nil
	}
	type repl struct {
		start, end int
		text       string
	}
	var rs []repl
	for _, key := range d.keys {
		for _, st := range key.steps {
			if len(st.alts) > 1 {
				rs = append(rs, repl{st.start, st.end, st.altText[k]})
			}
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].start < rs[j].start })
	var b strings.Builder
	prev := 0
	for _, r := range rs {
		b.WriteString(d.body[prev:r.start])
		b.WriteString(r.text)
		prev = r.end
	}
	b.WriteString(d.body[prev:])
	return Parse(b.String())
}

// Expand returns every BIP-389 expansion, in order.
func (d *Descriptor) Expand() ([]*Descriptor, error) {
	var out []*Descriptor
	for k := 0; k < d.paths; k++ {
		x, err := d.SingleMultipath(k)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// Derived is what a descriptor gives at one branch and index.
type Derived struct {
	ScriptPubKey  []byte
	RedeemScript  []byte // for sh(...)
	WitnessScript []byte // for wsh(...)
	// Keys are the derived keys in the descriptor's textual order, each with
	// its full origin.
	Keys []DerivedKey
}

// Derive derives the scripts at multipath alternative mp and child index.
func (d *Descriptor) Derive(mp int, index uint32) (*Derived, error) {
	if mp < 0 || mp >= d.paths {
		return nil, fmt.Errorf("descriptor: multipath alternative %d of %d", mp, d.paths)
	}
	out := &Derived{}
	inner, err := d.script(d.root, mp, index, out)
	if err != nil {
		return nil, err
	}
	switch d.root.fn {
	case "sh":
		out.RedeemScript = inner
		out.ScriptPubKey = p2sh(inner)
		if d.root.sub.fn == "wsh" {
			out.WitnessScript, err = d.script(d.root.sub.sub, mp, index, &Derived{})
			if err != nil {
				return nil, err
			}
		}
	case "wsh":
		out.WitnessScript = inner
		out.ScriptPubKey = p2wsh(inner)
	default:
		out.ScriptPubKey = inner
	}
	return out, nil
}

func p2sh(script []byte) []byte {
	b, _ := txscript.NewScriptBuilder().AddOp(txscript.OP_HASH160).AddData(address.Hash160(script)).AddOp(txscript.OP_EQUAL).Script()
	return b
}

func p2wsh(script []byte) []byte {
	h := sha256.Sum256(script)
	b, _ := txscript.NewScriptBuilder().AddOp(txscript.OP_0).AddData(h[:]).Script()
	return b
}

// script returns a node's script (for sh and wsh: the script they wrap
// becomes the redeem or witness script, and this returns what goes one
// level up).
func (d *Descriptor) script(n *node, mp int, index uint32, out *Derived) ([]byte, error) {
	var pubs [][]byte
	for _, k := range n.keys {
		dk, err := k.derive(mp, index)
		if err != nil {
			return nil, err
		}
		out.Keys = append(out.Keys, dk)
		pubs = append(pubs, dk.PubKey)
	}
	b := txscript.NewScriptBuilder()
	switch n.fn {
	case "sh":
		inner, err := d.script(n.sub, mp, index, out)
		if err != nil {
			return nil, err
		}
		if n.sub.fn == "wsh" {
			return inner, nil // the P2WSH program is the redeem script
		}
		return inner, nil
	case "wsh":
		inner, err := d.script(n.sub, mp, index, out)
		if err != nil {
			return nil, err
		}
		if out.WitnessScript == nil && d.root != n {
			// sh(wsh(X)): the redeem script is the P2WSH program.
			return p2wsh(inner), nil
		}
		return inner, nil
	case "pk":
		b.AddData(pubs[0]).AddOp(txscript.OP_CHECKSIG)
	case "pkh":
		b.AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).AddData(address.Hash160(pubs[0])).AddOp(txscript.OP_EQUALVERIFY).AddOp(txscript.OP_CHECKSIG)
	case "wpkh":
		b.AddOp(txscript.OP_0).AddData(address.Hash160(pubs[0]))
	case "multi", "sortedmulti":
		if n.fn == "sortedmulti" {
			pubs = append([][]byte(nil), pubs...)
			sort.Slice(pubs, func(i, j int) bool { return bytes.Compare(pubs[i], pubs[j]) < 0 })
		}
		b.AddInt64(int64(n.k))
		for _, p := range pubs {
			b.AddData(p)
		}
		b.AddInt64(int64(len(pubs))).AddOp(txscript.OP_CHECKMULTISIG)
	}
	return b.Script()
}

// Address returns the address at multipath alternative mp and index.
func (d *Descriptor) Address(mp int, index uint32, net *chaincfg.Params) (string, error) {
	x, err := d.Derive(mp, index)
	if err != nil {
		return "", err
	}
	_, addrs, _, err := txscript.ExtractPkScriptAddrs(x.ScriptPubKey, net)
	if err != nil || len(addrs) != 1 {
		return "", fmt.Errorf("descriptor: no address for script %x", x.ScriptPubKey)
	}
	return addrs[0].EncodeAddress(), nil
}

// Match finds the multipath alternative and child index that a claimed
// BIP-32 origin (master fingerprint and full path) points to in one of the
// descriptor's keys. It is a hint to derive from, never a proof: callers
// derive and compare.
func (d *Descriptor) Match(fp [4]byte, path []uint32) (int, uint32, bool) {
	for _, k := range d.keys {
		if mp, i, ok := k.match(fp, path); ok {
			return mp, i, true
		}
	}
	return 0, 0, false
}

// KeySpec is an account key with its origin, for NewSortedMultiWSH.
type KeySpec struct {
	Fingerprint [4]byte
	Path        []uint32
	XPub        string
}

// NewSortedMultiWSH builds wsh(sortedmulti(k, [fp/path]xpub/<0;1>/*, ...)):
// receive addresses on branch 0, change on branch 1.
func NewSortedMultiWSH(k int, keys []KeySpec) (*Descriptor, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "wsh(sortedmulti(%d", k)
	for _, ks := range keys {
		fmt.Fprintf(&b, ",[%x", ks.Fingerprint[:])
		for _, p := range ks.Path {
			if p >= hardened {
				fmt.Fprintf(&b, "/%d'", p-hardened)
			} else {
				fmt.Fprintf(&b, "/%d", p)
			}
		}
		fmt.Fprintf(&b, "]%s/<0;1>/*", ks.XPub)
	}
	b.WriteString("))")
	return Parse(b.String())
}
