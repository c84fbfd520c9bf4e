package descriptor

import (
	"bytes"
	"slices"
)

// maxMultiKeys is BIP-383's bound on n: "When used at the top level, there
// can only be at most 3 keys. When used inside of a sh() expression, there
// can only be most 15 compressed public keys (this is limited by the P2SH
// script limit). Otherwise the maximum number of keys is 20."
func maxMultiKeys(ctx context) int {
	switch ctx {
	case ctxTop:
		return 3
	case ctxSH:
		return 15
	default:
		return 20
	}
}

// parseMulti parses the arguments of multi(k,KEY,...) and
// sortedmulti(k,KEY,...) (BIP-383).
func parseMulti(p *parser, name string, ctx context) (expr, error) {
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] != ',' && p.s[p.pos] != ')' && p.s[p.pos] != '(' {
		p.pos++
	}
	k, err := parseThreshold(p.s[start:p.pos], start, name)
	if err != nil {
		return nil, err
	}
	e := &multiExpr{sorted: name == "sortedmulti", k: k}
	limit := maxMultiKeys(ctx)
	for p.peek() == ',' {
		p.pos++
		if len(e.keys) == limit {
			return nil, errAt(p.pos, "%s() with more than %d keys %s (BIP-383)", name, limit, ctx)
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
	// BIP-383: "k must be less than or equal to n".
	if e.k > len(e.keys) {
		return nil, errAt(start, "%s() threshold %d exceeds its %d keys (BIP-383)", name, e.k, len(e.keys))
	}
	return e, nil
}

// parseThreshold parses k: a decimal without leading zeros, at least 1.
func parseThreshold(s string, at int, name string) (int, error) {
	if s == "" || len(s) > 2 || s[0] < '0' || s[0] > '9' || len(s) == 2 && (s[1] < '0' || s[1] > '9') {
		return 0, errAt(at, "%s() threshold %q is not a number from 1 to 20", name, short(s))
	}
	if s[0] == '0' {
		if s == "0" {
			return 0, errAt(at, "%s() threshold 0 would let anyone spend", name)
		}
		return 0, errAt(at, "%s() threshold %q has a leading zero", name, s)
	}
	k := int(s[0] - '0')
	if len(s) == 2 {
		k = k*10 + int(s[1]-'0')
	}
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
			if a.kind == extKey && b.kind == extKey && bytes.Equal(a.pub, b.pub) {
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
				pub = dk.PubKey
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
