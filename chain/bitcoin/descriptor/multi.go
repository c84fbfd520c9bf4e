package descriptor

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
)

// maxMultiKeys is BIP-383's bound on n: "When used at the top level, there
// can only be at most 3 keys. When used inside of a sh() expression, there
// can only be most 15 compressed public keys (this is limited by the P2SH
// script limit). Otherwise the maximum number of keys is 20."
//
// BIP-387 multi_a() takes at most 999 keys (MAX_PUBKEYS_PER_MULTI_A).
func maxMultiKeys(ctx context) int {
	switch ctx {
	case ctxTop:
		return 3
	case ctxSH:
		return 15
	case ctxTap:
		return 999
	default:
		return 20
	}
}

// parseMulti parses the arguments of multi(k,KEY,...) and
// sortedmulti(k,KEY,...) (BIP-383), and of multi_a(k,KEY,...) and
// sortedmulti_a(k,KEY,...) (BIP-387).
func parseMulti(p *parser, name string, ctx context) (expr, error) {
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] != ',' && p.s[p.pos] != ')' && p.s[p.pos] != '(' {
		p.pos++
	}
	e := &multiExpr{sorted: strings.HasPrefix(name, "sorted"), tap: ctx == ctxTap}
	limit, bip, kmax := maxMultiKeys(ctx), 383, 20
	if e.tap {
		bip, kmax = 387, limit
	}
	k, err := parseThreshold(p.s[start:p.pos], start, name, kmax)
	if err != nil {
		return nil, err
	}
	e.k = k
	for p.peek() == ',' {
		p.pos++
		if len(e.keys) == limit {
			return nil, errAt(p.pos, "%s() with more than %d keys %s (BIP-%d)", name, limit, ctx, bip)
		}
		key, err := p.key(name, ctx)
		if err != nil {
			return nil, err
		}
		e.keys = append(e.keys, key)
	}
	if len(e.keys) == 0 {
		return nil, errAt(p.pos, "%s() needs a threshold and at least one key", name)
	}
	// BIP-383 and BIP-387: "k must be less than or equal to n".
	if e.k > len(e.keys) {
		return nil, errAt(start, "%s() threshold %d exceeds its %d keys (BIP-%d)", name, e.k, len(e.keys), bip)
	}
	return e, nil
}

// parseThreshold parses k: a decimal without leading zeros, from 1 to
// limit (or to 99 when limit is 20, as the threshold is then checked
// against the number of keys).
func parseThreshold(s string, at int, name string, limit int) (int, error) {
	digits := len(strconv.Itoa(limit))
	if s == "" || len(s) > digits || strings.Trim(s, "0123456789") != "" {
		return 0, errAt(at, "%s() threshold %q is not a number from 1 to %d", name, short(s), limit)
	}
	if s[0] == '0' {
		if s == "0" {
			return 0, errAt(at, "%s() threshold 0 would let anyone spend", name)
		}
		return 0, errAt(at, "%s() threshold %q has a leading zero", name, s)
	}
	k, _ := strconv.Atoi(s)
	return k, nil
}

// check refuses, within one multisig, keys that let fewer signers than the
// threshold suggests spend: the same extended key twice (even on other
// paths), two keys that derive the same public key at child 0 of any
// branch, and two different keys claiming the same origin. The same point
// written compressed and uncompressed stays allowed, as BIP-383's own
// vectors use it.
func (e *multiExpr) check(paths int) error {
	for i, a := range e.keys {
		for j, b := range e.keys[:i] {
			if a.kind == extKey && b.kind == extKey && bytes.Equal(a.scriptKey(a.pub), b.scriptKey(b.pub)) {
				return wrapAt(a.off, ErrDuplicateKey, "keys %d and %d of %s() are the same extended key", j+1, i+1, e.name())
			}
			if a.Origin != nil && b.Origin != nil && a.Origin.Fingerprint == b.Origin.Fingerprint &&
				slices.Equal(a.Origin.Path, b.Origin.Path) && !bytes.Equal(a.pub, b.pub) {
				return errAt(a.off, "keys %d and %d of %s() are different keys claiming one origin %s", j+1, i+1, e.name(), a.originText)
			}
		}
	}
	fixed := make([][]byte, len(e.keys)) // keys without a multipath group derive once
	for alt := range paths {
		seen := make(map[string]int, len(e.keys))
		for i, k := range e.keys {
			pub := fixed[i]
			if pub == nil {
				dk, err := k.derive(alt, 0)
				if err != nil {
					return errAtKey(k.off, err)
				}
				pub = k.scriptKey(dk.PubKey)
				if k.PathCount() == 1 {
					fixed[i] = pub
				}
			}
			if j, dup := seen[string(pub)]; dup {
				return wrapAt(k.off, ErrDuplicateKey, "keys %d and %d of %s() give the same public key at branch %d, child 0", j+1, i+1, e.name(), alt)
			}
			seen[string(pub)] = i
		}
	}
	return nil
}
