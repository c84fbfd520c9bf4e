package descriptor

import (
	"strings"
)

// context is where a script expression sits; each BIP states which
// functions may appear where and what keys they take there.
type context uint8

const (
	ctxTop context = 1 << iota // the descriptor's top level
	ctxSH                      // directly inside sh()
	ctxWSH                     // inside wsh(), itself at the top or in sh()
	ctxTap                     // a leaf of tr()'s script tree (BIP-386)
)

func (c context) String() string {
	switch c {
	case ctxTop:
		return "at the top level"
	case ctxSH:
		return "inside sh()"
	case ctxTap:
		return "in a tapscript leaf"
	default:
		return "inside wsh()"
	}
}

// fragment describes a script expression function.
type fragment struct {
	bip     int
	allowed context // the contexts it may appear in
	parse   func(p *parser, name string, ctx context) (expr, error)
}

// fragments are the functions this package implements, with the contexts
// their BIPs allow.
var fragments map[string]fragment

func init() {
	fragments = map[string]fragment{
		// BIP-381: pk() "can be used in any context", pkh() at the top
		// level or inside sh() or wsh(), sh() "only as a top level
		// expression". BIP-386 lists pkh() as a tapscript leaf too (it is
		// then miniscript's pkh(), over the x-only key).
		"pk":  {381, ctxTop | ctxSH | ctxWSH | ctxTap, parseKeyCall},
		"pkh": {381, ctxTop | ctxSH | ctxWSH | ctxTap, parseKeyCall},
		"sh":  {381, ctxTop, parseScriptCall},
		// BIP-382: wpkh() and wsh() "as a top level expression, or inside
		// of a sh() descriptor".
		"wpkh": {382, ctxTop | ctxSH, parseKeyCall},
		"wsh":  {382, ctxTop | ctxSH, parseScriptCall},
		// BIP-383: "as a top level expression, or inside of either a sh()
		// or wsh() descriptor".
		"multi":       {383, ctxTop | ctxSH | ctxWSH, parseMulti},
		"sortedmulti": {383, ctxTop | ctxSH | ctxWSH, parseMulti},
		// BIP-385: "only top level".
		"raw":  {385, ctxTop, parseRaw},
		"addr": {385, ctxTop, parseAddr},
		// BIP-386: "only top level".
		"tr":    {386, ctxTop, parseTr},
		"rawtr": {386, ctxTop, parseKeyCall},
		// BIP-387: "only allowed in tapscript".
		"multi_a":       {387, ctxTap, parseMulti},
		"sortedmulti_a": {387, ctxTap, parseMulti},
	}
}

// unsupported are BIP-380 functions this package does not implement, with
// the contexts their BIPs allow them in: there they are refused with
// ErrUnsupported, elsewhere with an ordinary error, as their BIPs do.
var unsupported = map[string]struct {
	bip     int
	allowed context
}{
	"combo": {384, ctxTop},
	"musig": {390, 0}, // a key expression inside tr() and rawtr() only
}

// miniscript are BIP-379 fragments. Where miniscript may appear (inside
// wsh() and in tapscript leaves) they are refused with ErrUnsupported, as
// is any name with a wrapper prefix such as "s:pk".
var miniscript = map[string]bool{
	"pk_k": true, "pk_h": true, "older": true, "after": true, "sha256": true, "hash256": true,
	"ripemd160": true, "hash160": true, "andor": true, "and_v": true, "and_b": true, "and_n": true,
	"or_b": true, "or_c": true, "or_d": true, "or_i": true, "thresh": true,
}

// parser reads one descriptor body (without the checksum).
type parser struct {
	s      string
	pos    int
	inMini bool // parsing an argument of a miniscript fragment
}

func (p *parser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *parser) expect(c byte) error {
	if p.peek() != c {
		if p.pos >= len(p.s) {
			return errAt(p.pos, "unexpected end, want %q", c)
		}
		return errAt(p.pos, "unexpected %q, want %q", p.s[p.pos], c)
	}
	p.pos++
	return nil
}

// script parses a script expression in context ctx; parent names the
// enclosing function for messages ("" at the top).
func (p *parser) script(ctx context, parent string) (expr, error) {
	start := p.pos
	for p.pos < len(p.s) && (isIdentChar(p.s[p.pos]) || p.s[p.pos] == ':') {
		p.pos++
	}
	name := p.s[start:p.pos]
	if ctx&(ctxWSH|ctxTap) != 0 && miniFragments[name] && p.peek() == '(' {
		p.pos++
		e, err := p.mini(name, ctx, start)
		if err != nil {
			return nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
		if m := e.(miniExpr); !p.inMini {
			if t := m.typ(); t.base != 'B' {
				return nil, errAt(start, "%s() is of type %c; a script must be of type B (BIP-379)", m.name(), t.base)
			} else if !t.s {
				return nil, errAt(start, "%s() has a spending path that needs no signature, so anyone could spend it", m.name())
			}
		}
		return e, nil
	}
	if ctx&(ctxWSH|ctxTap) != 0 && (miniscript[name] || strings.Contains(name, ":") && p.peek() == '(') {
		return nil, wrapAt(start, ErrUnsupported, "miniscript %s() (BIP-379) is not supported", short(name))
	}
	if p.peek() != '(' {
		if parent == "" {
			return nil, errAt(start, "expected a script expression such as wsh(...)")
		}
		// BIP-381 "sh() only accepts script expressions"; BIP-382 "Key in
		// wsh()".
		return nil, errAt(start, "%s() only accepts a script expression", parent)
	}
	if f, ok := fragments[name]; ok {
		if f.allowed&ctx == 0 {
			return nil, errAt(start, "%s() is not allowed %s (BIP-%d)", name, ctx, f.bip)
		}
		p.pos++
		e, err := f.parse(p, name, ctx)
		if err != nil {
			return nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
		return e, nil
	}
	if u, ok := unsupported[name]; ok {
		if u.allowed&ctx == 0 {
			return nil, errAt(start, "%s() is not allowed %s (BIP-%d)", name, ctx, u.bip)
		}
		return nil, wrapAt(start, ErrUnsupported, "%s() (BIP-%d) is not supported", name, u.bip)
	}
	return nil, errAt(start, "unknown script expression %q", short(name))
}

// BIP-380: the identifier "should be alphanumeric and may include
// underscores".
func isIdentChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// key parses a key expression argument of fn in context ctx.
func (p *parser) key(fn string, ctx context) (*Key, error) {
	start := p.pos
	end := start
	for end < len(p.s) && !strings.ContainsRune(",()", rune(p.s[end])) {
		end++
	}
	tok := p.s[start:end]
	taproot := ctx == ctxTap || fn == "tr" || fn == "rawtr"
	if end < len(p.s) && p.s[end] == '(' {
		if tok == "musig" {
			if taproot {
				return nil, wrapAt(start, ErrUnsupported, "musig() (BIP-390) is not supported")
			}
			return nil, errAt(start, "musig() is only allowed inside tr() and rawtr() (BIP-390)")
		}
		// BIP-381 "pk() only accepts key expressions".
		return nil, errAt(start, "%s() only accepts key expressions, not %s()", fn, short(tok))
	}
	if tok == "" {
		return nil, errAt(start, "%s() is missing a key expression", fn)
	}
	k, err := parseKey(tok, start, taproot)
	if err != nil {
		return nil, err
	}
	if taproot && len(k.pub) == 65 {
		// BIP-386: keys in tr() and its leaves are x-only, from
		// compressed keys.
		return nil, errAt(start, "uncompressed public key in %s (BIP-386)", where(fn, ctx))
	}
	k.tap = taproot
	if len(k.pub) == 65 {
		// BIP-382: "Only keys which are/have compressed public keys can be
		// contained in a wpkh() expression", and under wsh() "any key
		// expression ... must only produce compressed public keys".
		if fn == "wpkh" {
			return nil, errAt(start, "uncompressed public key in wpkh() (BIP-382)")
		}
		if ctx == ctxWSH {
			return nil, errAt(start, "uncompressed public key under wsh() (BIP-382)")
		}
	}
	p.pos = end
	return k, nil
}

// parseKeyCall parses the argument of pk(KEY), pkh(KEY) and wpkh(KEY).
func parseKeyCall(p *parser, name string, ctx context) (expr, error) {
	k, err := p.key(name, ctx)
	if err != nil {
		return nil, err
	}
	switch name {
	case "pk":
		return &pkExpr{k}, nil
	case "pkh":
		return &pkhExpr{k}, nil
	case "rawtr":
		return &rawtrExpr{k}, nil
	default:
		return &wpkhExpr{k}, nil
	}
}

// maxRedeemScript is the largest P2SH redeemScript: a script push is at
// most 520 bytes (MAX_SCRIPT_ELEMENT_SIZE), the "P2SH script limit" of
// BIP-383.
const maxRedeemScript = 520

// parseScriptCall parses the argument of sh(SCRIPT) and wsh(SCRIPT).
func parseScriptCall(p *parser, name string, ctx context) (expr, error) {
	start := p.pos
	if name == "sh" {
		inner, err := p.script(ctxSH, name)
		if err != nil {
			return nil, err
		}
		if n := inner.size(); n > maxRedeemScript {
			return nil, errAt(start, "redeemScript of %d bytes exceeds the P2SH limit of %d", n, maxRedeemScript)
		}
		return &shExpr{inner}, nil
	}
	inner, err := p.script(ctxWSH, name)
	if err != nil {
		return nil, err
	}
	return &wshExpr{inner}, nil
}

// where names the place of a key for messages.
func where(fn string, ctx context) string {
	if ctx == ctxTap {
		return fn + "() in a tapscript leaf"
	}
	return fn + "()"
}
