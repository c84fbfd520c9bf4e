package descriptor

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/btcsuite/btcd/txscript/v2"
)

// The miniscript subset (BIP-379) that a vault with a time-locked
// recovery path needs, inside wsh() and in tapscript leaves:
//
//	or_d(X,Z)      [X] OP_IFDUP OP_NOTIF [Z] OP_ENDIF
//	and_v(X,Y)     [X] [Y]
//	older(n)       <n> OP_CHECKSEQUENCEVERIFY
//	v:pk(K)        <K> OP_CHECKSIGVERIFY
//	v:pkh(K)       OP_DUP OP_HASH160 <HASH160(K)> OP_EQUALVERIFY OP_CHECKSIGVERIFY
//	v:multi(k,...) and v:multi_a(k,...), ending in their VERIFY opcodes
//
// with pk(), pkh(), multi() (in wsh) and multi_a() (in tapscript) as the
// other leaves, so that
//
//	wsh(or_d(multi(k,K1,...,Kn),and_v(v:pkh(R),older(N))))
//	tr(NUMS,{sortedmulti_a(k,K1,...,Kn),and_v(v:pk(R),older(N))})
//
// parse, derive and print, and a satisfier builds their witnesses. Every
// expression is type-checked as BIP-379 says (B and V types, the z, o, n,
// d, u and e properties) and must be sane: every spending path needs a
// signature, and no key appears twice. Anything else of miniscript is
// refused with ErrUnsupported.

// miniType is a BIP-379 basic type with the properties this subset uses.
type miniType struct {
	base byte // 'B' or 'V'
	z    bool // consumes no stack element
	o    bool // consumes exactly one
	n    bool // its top input is never zero when satisfied
	d    bool // has a dissatisfaction
	u    bool // leaves exactly 1 when satisfied
	e    bool // the dissatisfaction is non-malleable and unique
	s    bool // every satisfaction needs a signature
}

// miniExpr is an expression of the subset.
type miniExpr interface {
	expr
	typ() miniType
	// satisfy returns the expression's witness items (bottom first) that
	// satisfy it and that dissatisfy it, each nil when there is none, at
	// the keys dv derives.
	satisfy(dv *derivation, s *Satisfier) (sat, dis []witness, err error)
}

// witness is a candidate stack for an expression, bottom first.
type witness = [][]byte

// Satisfier gives what a witness may use: a signature for a key (as the
// key goes into the script: 33 bytes, or 32 x-only in tapscript), and
// whether the spend's relative lock satisfies older(n).
type Satisfier struct {
	// Sig returns the signature by pub, or nil.
	Sig func(pub []byte) []byte
	// Older says whether the input's nSequence satisfies older(n).
	Older func(n uint32) bool
}

func (s *Satisfier) sig(pub []byte) []byte {
	if s.Sig == nil {
		return nil
	}
	return s.Sig(pub)
}

// MaxOlder is the largest older() argument: BIP-379 "1 ≤ n < 2^31".
const MaxOlder = 1<<31 - 1

// SequenceLockTypeFlag is BIP-68's flag for a time-based relative lock
// (units of 512 seconds) instead of a block count.
const SequenceLockTypeFlag = 1 << 22

// miniFragments are the miniscript functions of the subset.
var miniFragments = map[string]bool{"or_d": true, "and_v": true, "older": true, "v:pk": true, "v:pkh": true, "v:multi": true, "v:multi_a": true}

// mini parses name(...) of the subset in ctx (ctxWSH or ctxTap),
// p.pos just after the '('.
func (p *parser) mini(name string, ctx context, start int) (expr, error) {
	switch name {
	case "older":
		at := p.pos
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		digits := p.s[at:p.pos]
		n, err := strconv.ParseUint(digits, 10, 32)
		if err != nil || digits == "" || digits[0] == '0' || n > MaxOlder {
			return nil, errAt(at, "older(%s): want a number from 1 to %d (BIP-379)", short(digits), MaxOlder)
		}
		return &olderExpr{n: uint32(n)}, nil
	case "v:pk", "v:pkh":
		k, err := p.key(name[2:], ctx)
		if err != nil {
			return nil, err
		}
		if name == "v:pk" {
			return &verifyExpr{inner: &pkExpr{k}}, nil
		}
		return &verifyExpr{inner: &pkhExpr{k}}, nil
	case "v:multi", "v:multi_a":
		if (name == "v:multi_a") != (ctx == ctxTap) {
			return nil, errAt(start, "%s() is not allowed %s", name[2:], ctx)
		}
		m, err := parseMulti(p, name[2:], ctx)
		if err != nil {
			return nil, err
		}
		return &verifyExpr{inner: m.(miniExpr)}, nil
	}
	x, err := p.miniArg(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := p.expect(','); err != nil {
		return nil, err
	}
	y, err := p.miniArg(ctx, name)
	if err != nil {
		return nil, err
	}
	tx, ty := x.typ(), y.typ()
	switch name {
	case "and_v":
		if tx.base != 'V' || ty.base != 'B' {
			return nil, errAt(start, "and_v(X,Y) needs X of type V and Y of type B (BIP-379), have %c and %c", tx.base, ty.base)
		}
		return &andVExpr{x: x, y: y}, nil
	default: // or_d
		if tx.base != 'B' || !tx.d || !tx.u || !tx.e || ty.base != 'B' {
			return nil, errAt(start, "or_d(X,Z) needs X of type B with properties d, u and e and Z of type B (BIP-379)")
		}
		return &orDExpr{x: x, z: y}, nil
	}
}

// miniArg parses an argument of or_d() or and_v(): an expression of the
// subset, or pk(), pkh(), multi() in wsh, multi_a() in tapscript.
func (p *parser) miniArg(ctx context, parent string) (miniExpr, error) {
	start := p.pos
	save := p.inMini
	p.inMini = true
	e, err := p.script(ctx, parent)
	p.inMini = save
	if err != nil {
		return nil, err
	}
	m, ok := e.(miniExpr)
	if !ok {
		return nil, wrapAt(start, ErrUnsupported, "%s() inside %s() is not in the supported miniscript subset", e.name(), parent)
	}
	if mu, ok := m.(*multiExpr); ok && mu.sorted {
		// BIP-379 has no sortedmulti: inside miniscript the key order is
		// the script's.
		return nil, errAt(start, "%s() is not a miniscript fragment; use %s() inside %s()", mu.name(), mu.name()[len("sorted"):], parent)
	}
	return m, nil
}

// uniqueKeys refuses a miniscript expression that uses a key twice
// (BIP-379), at child 0 of every branch.
func uniqueKeys(e miniExpr, paths int) error {
	keys := e.appendKeys(nil)
	for alt := range paths {
		seen := make(map[string]int, len(keys))
		for i, k := range keys {
			dk, err := k.derive(alt, 0)
			if err != nil {
				return errAtKey(k.off, err)
			}
			pub := string(k.scriptKey(dk.PubKey))
			if j, dup := seen[pub]; dup {
				return wrapAt(k.off, ErrDuplicateKey, "keys %d and %d of %s() give the same public key at branch %d, child 0 (BIP-379 wants every key once)", j+1, i+1, e.name(), alt)
			}
			seen[pub] = i
		}
	}
	return nil
}

// olderExpr is older(n): <n> OP_CHECKSEQUENCEVERIFY.
type olderExpr struct{ n uint32 }

func (e *olderExpr) name() string                 { return "older" }
func (e *olderExpr) appendKeys(dst []*Key) []*Key { return dst }
func (e *olderExpr) size() int                    { return len(pushScriptNum32(nil, e.n)) + 1 }
func (e *olderExpr) check(int) error              { return nil }
func (e *olderExpr) typ() miniType                { return miniType{base: 'B', z: true} }
func (e *olderExpr) script(*derivation) ([]byte, error) {
	return append(pushScriptNum32(nil, e.n), txscript.OP_CHECKSEQUENCEVERIFY), nil
}
func (e *olderExpr) appendText(b []byte, _ int) []byte {
	return append(strconv.AppendUint(append(b, "older("...), uint64(e.n), 10), ')')
}
func (e *olderExpr) satisfy(_ *derivation, s *Satisfier) (sat, dis []witness, err error) {
	if s.Older != nil && s.Older(e.n) {
		return []witness{{}}, nil, nil
	}
	return nil, nil, nil
}

// verifyExpr is v:X for X pk(), pkh(), multi() or multi_a(): X with its
// last opcode made its VERIFY form (OP_CHECKSIGVERIFY,
// OP_CHECKMULTISIGVERIFY, OP_NUMEQUALVERIFY).
type verifyExpr struct{ inner miniExpr }

func (e *verifyExpr) name() string                 { return "v:" + e.inner.name() }
func (e *verifyExpr) appendKeys(dst []*Key) []*Key { return e.inner.appendKeys(dst) }
func (e *verifyExpr) size() int                    { return e.inner.size() }
func (e *verifyExpr) check(paths int) error        { return e.inner.check(paths) }
func (e *verifyExpr) appendText(b []byte, alt int) []byte {
	return e.inner.appendText(append(b, "v:"...), alt)
}
func (e *verifyExpr) typ() miniType {
	t := e.inner.typ()
	return miniType{base: 'V', z: t.z, o: t.o, n: t.n, s: t.s}
}
func (e *verifyExpr) script(dv *derivation) ([]byte, error) {
	s, err := e.inner.script(dv)
	if err != nil {
		return nil, err
	}
	// The VERIFY form of the last opcode (BIP-379 v:X).
	switch last := len(s) - 1; {
	case last >= 0 && s[last] == txscript.OP_CHECKSIG:
		s[last] = txscript.OP_CHECKSIGVERIFY
	case last >= 0 && s[last] == txscript.OP_CHECKMULTISIG:
		s[last] = txscript.OP_CHECKMULTISIGVERIFY
	case last >= 0 && s[last] == txscript.OP_NUMEQUAL:
		s[last] = txscript.OP_NUMEQUALVERIFY
	default:
		return nil, fmt.Errorf("descriptor: v:%s() has no VERIFY form here", e.inner.name())
	}
	return s, nil
}
func (e *verifyExpr) satisfy(dv *derivation, s *Satisfier) (sat, dis []witness, err error) {
	sat, _, err = e.inner.satisfy(dv, s)
	return sat, nil, err
}

// andVExpr is and_v(X,Y): [X] [Y].
type andVExpr struct{ x, y miniExpr }

func (e *andVExpr) name() string                 { return "and_v" }
func (e *andVExpr) appendKeys(dst []*Key) []*Key { return e.y.appendKeys(e.x.appendKeys(dst)) }
func (e *andVExpr) size() int                    { return e.x.size() + e.y.size() }
func (e *andVExpr) check(paths int) error {
	if err := checkBoth(e.x, e.y, paths); err != nil {
		return err
	}
	return uniqueKeys(e, paths)
}
func (e *andVExpr) appendText(b []byte, alt int) []byte {
	return appendPair(b, "and_v", e.x, e.y, alt)
}
func (e *andVExpr) typ() miniType {
	x, y := e.x.typ(), e.y.typ()
	return miniType{base: y.base, z: x.z && y.z, o: x.z && y.o || x.o && y.z, n: x.n || x.z && y.n, u: y.u, s: x.s || y.s}
}
func (e *andVExpr) script(dv *derivation) ([]byte, error) { return concatScripts(dv, e.x, e.y, nil) }
func (e *andVExpr) satisfy(dv *derivation, s *Satisfier) (sat, dis []witness, err error) {
	xs, _, err := e.x.satisfy(dv, s)
	if err != nil {
		return nil, nil, err
	}
	ys, _, err := e.y.satisfy(dv, s)
	if err != nil {
		return nil, nil, err
	}
	// X runs first, so its items are on top: after Y's.
	return cross(ys, xs), nil, nil
}

// orDExpr is or_d(X,Z): [X] OP_IFDUP OP_NOTIF [Z] OP_ENDIF.
type orDExpr struct{ x, z miniExpr }

func (e *orDExpr) name() string                 { return "or_d" }
func (e *orDExpr) appendKeys(dst []*Key) []*Key { return e.z.appendKeys(e.x.appendKeys(dst)) }
func (e *orDExpr) size() int                    { return e.x.size() + e.z.size() + 3 }
func (e *orDExpr) check(paths int) error {
	if err := checkBoth(e.x, e.z, paths); err != nil {
		return err
	}
	return uniqueKeys(e, paths)
}
func (e *orDExpr) appendText(b []byte, alt int) []byte {
	return appendPair(b, "or_d", e.x, e.z, alt)
}
func (e *orDExpr) typ() miniType {
	x, z := e.x.typ(), e.z.typ()
	return miniType{base: 'B', z: x.z && z.z, o: x.o && z.z, d: z.d, u: z.u, e: x.e && z.e, s: x.s && z.s}
}
func (e *orDExpr) script(dv *derivation) ([]byte, error) {
	return concatScripts(dv, e.x, e.z, []byte{txscript.OP_IFDUP, txscript.OP_NOTIF})
}
func (e *orDExpr) satisfy(dv *derivation, s *Satisfier) (sat, dis []witness, err error) {
	xs, xd, err := e.x.satisfy(dv, s)
	if err != nil {
		return nil, nil, err
	}
	zs, zd, err := e.z.satisfy(dv, s)
	if err != nil {
		return nil, nil, err
	}
	// X satisfied first; then Z satisfied with X's dissatisfaction on
	// top, as X runs first.
	return append(xs, cross(zs, xd)...), cross(zd, xd), nil
}

// concatScripts is [x] mid [y], closed by OP_ENDIF when mid opens a
// branch.
func concatScripts(dv *derivation, x, y expr, mid []byte) ([]byte, error) {
	xs, err := x.script(dv)
	if err != nil {
		return nil, err
	}
	ys, err := y.script(dv)
	if err != nil {
		return nil, err
	}
	s := append(append(xs, mid...), ys...)
	if len(mid) > 0 {
		s = append(s, txscript.OP_ENDIF)
	}
	return s, nil
}

func checkBoth(x, y expr, paths int) error {
	if err := x.check(paths); err != nil {
		return err
	}
	return y.check(paths)
}

func appendPair(b []byte, name string, x, y expr, alt int) []byte {
	b = x.appendText(append(append(b, name...), '('), alt)
	return append(y.appendText(append(b, ','), alt), ')')
}

// cross joins every bottom stack with every top stack.
func cross(bottom, top []witness) []witness {
	var out []witness
	for _, b := range bottom {
		for _, t := range top {
			w := make(witness, 0, len(b)+len(t))
			out = append(out, append(append(w, b...), t...))
		}
	}
	return out
}

// pushScriptNum32 appends n (0..2^31-1) as a minimal script number push.
func pushScriptNum32(s []byte, n uint32) []byte {
	if n == 0 {
		return append(s, txscript.OP_0)
	}
	if n <= 16 {
		return append(s, byte(txscript.OP_1-1+n))
	}
	var b []byte
	for v := n; v > 0; v >>= 8 {
		b = append(b, byte(v))
	}
	if b[len(b)-1]&0x80 != 0 {
		b = append(b, 0)
	}
	return pushData(s, b)
}

// Miniscript types of the leaves the subset takes as arguments.

func (e *pkExpr) typ() miniType {
	return miniType{base: 'B', o: true, n: true, d: true, u: true, e: true, s: true}
}
func (e *pkhExpr) typ() miniType {
	return miniType{base: 'B', n: true, d: true, u: true, e: true, s: true}
}
func (e *multiExpr) typ() miniType {
	if e.tap {
		return miniType{base: 'B', d: true, u: true, e: true, s: true}
	}
	return miniType{base: 'B', n: true, d: true, u: true, e: true, s: true}
}

func (e *pkExpr) satisfy(dv *derivation, s *Satisfier) (sat, dis []witness, err error) {
	pub, err := dv.key(e.key)
	if err != nil {
		return nil, nil, err
	}
	if sig := s.sig(pub); sig != nil {
		sat = []witness{{sig}}
	}
	return sat, []witness{{{}}}, nil
}

func (e *pkhExpr) satisfy(dv *derivation, s *Satisfier) (sat, dis []witness, err error) {
	pub, err := dv.key(e.key)
	if err != nil {
		return nil, nil, err
	}
	if sig := s.sig(pub); sig != nil {
		sat = []witness{{sig, pub}}
	}
	return sat, []witness{{{}, pub}}, nil
}

// satisfy of multi(): the dummy and the first k signatures in the
// script's key order; of multi_a(): one item per key, last key first, a
// signature for the first k keys in script order that signed and an empty
// item for the others.
func (e *multiExpr) satisfy(dv *derivation, s *Satisfier) (sat, dis []witness, err error) {
	scr, err := e.script(dv)
	if err != nil {
		return nil, nil, err
	}
	pubs, err := scriptKeys(scr, e.tap)
	if err != nil {
		return nil, nil, err
	}
	if e.tap {
		w := make(witness, len(pubs))
		got := 0
		for i, p := range pubs {
			w[len(pubs)-1-i] = []byte{}
			if sig := s.sig(p); sig != nil && got < e.k {
				w[len(pubs)-1-i] = sig
				got++
			}
		}
		d := make(witness, len(pubs))
		for i := range d {
			d[i] = []byte{}
		}
		if got == e.k {
			sat = []witness{w}
		}
		return sat, []witness{d}, nil
	}
	w := witness{{}}
	for _, p := range pubs {
		if sig := s.sig(p); sig != nil && len(w) <= e.k {
			w = append(w, sig)
		}
	}
	d := make(witness, e.k+1)
	for i := range d {
		d[i] = []byte{}
	}
	if len(w) == e.k+1 {
		sat = []witness{w}
	}
	return sat, []witness{d}, nil
}

// scriptKeys lists the keys of a multisig script in script order.
func scriptKeys(script []byte, tap bool) ([][]byte, error) {
	want := 33
	if tap {
		want = 32
	}
	var keys [][]byte
	t := txscript.MakeScriptTokenizer(0, script)
	for t.Next() {
		if d := t.Data(); len(d) == want || !tap && len(d) == 65 {
			keys = append(keys, bytes.Clone(d))
		}
	}
	if err := t.Err(); err != nil {
		return nil, fmt.Errorf("descriptor: multisig script: %v", err)
	}
	return keys, nil
}
