package descriptor

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

const hardened uint32 = 0x80000000

// maxPath bounds a derivation path (origin plus steps).
const maxPath = 32

// Origin is a key origin, "[fingerprint/path]" (BIP-380 "Key Expressions").
type Origin struct {
	Fingerprint [4]byte
	Path        []uint32
}

// step is one derivation step after an extended key: a single index or a
// BIP-389 multipath group.
type step struct {
	alts []uint32 // one element for a plain step
	// text offsets of a multipath group "<...>" within the descriptor body,
	// and the text of each alternative
	start, end int
	altText    []string
}

// Wildcards.
const (
	noWildcard = iota
	unhardenedWildcard
	hardenedWildcard
)

// Key is one key expression.
type Key struct {
	Origin   *Origin
	pub      []byte // a literal public key (hex or WIF), 33 or 65 bytes
	wif      bool
	ext      *hdkeychain.ExtendedKey
	steps    []step
	wildcard int
	text     string
}

// String is the key expression as written.
func (k *Key) String() string { return k.text }

// IsExtended reports whether the key is an xpub/xprv (tpub/tprv).
func (k *Key) IsExtended() bool { return k.ext != nil }

// IsPrivate reports whether the expression holds a private key.
func (k *Key) IsPrivate() bool { return k.wif || k.ext != nil && k.ext.IsPrivate() }

// multipathLen is the number of alternatives of the key's multipath group,
// or 0.
func (k *Key) multipathLen() int {
	for _, s := range k.steps {
		if len(s.alts) > 1 {
			return len(s.alts)
		}
	}
	return 0
}

// parseIndex parses one BIP-32 path element: decimal, optionally
// hardened with ' or h.
func parseIndex(s string) (uint32, error) {
	hard := false
	if n := len(s); n > 0 && (s[n-1] == '\'' || s[n-1] == 'h') {
		hard, s = true, s[:n-1]
	}
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("descriptor: invalid derivation index %q", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("descriptor: invalid derivation index %q", s)
		}
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil || v >= uint64(hardened) {
		return 0, fmt.Errorf("descriptor: derivation index %s out of range", s)
	}
	if hard {
		return uint32(v) + hardened, nil
	}
	return uint32(v), nil
}

// parseKey parses a key expression at offset off of the descriptor body.
func parseKey(s string, off int) (*Key, error) {
	k := &Key{text: s}
	rest := s
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return nil, fmt.Errorf("descriptor: key origin %q is not closed", s)
		}
		o, err := parseOrigin(rest[1:end])
		if err != nil {
			return nil, err
		}
		k.Origin = o
		rest = rest[end+1:]
		off += end + 1
	}
	if strings.ContainsAny(rest, "[]") {
		return nil, fmt.Errorf("descriptor: misplaced key origin in %q", s)
	}
	if rest == "" {
		return nil, fmt.Errorf("descriptor: key origin with no key in %q", s)
	}
	parts := strings.Split(rest, "/")
	keyText := parts[0]
	switch {
	case (len(keyText) == 66 || len(keyText) == 130) && isHex(keyText):
		b, _ := hex.DecodeString(keyText)
		if (len(b) == 33 && b[0] != 2 && b[0] != 3) || (len(b) == 65 && b[0] != 4) {
			return nil, fmt.Errorf("descriptor: %q is not a public key", keyText)
		}
		if _, err := btcec.ParsePubKey(b); err != nil {
			return nil, fmt.Errorf("descriptor: %q is not a public key: %v", keyText, err)
		}
		k.pub = b
	default:
		if wif, err := btcutil.DecodeWIF(keyText); err == nil {
			k.pub, k.wif = wif.SerializePubKey(), true
			break
		}
		ext, err := hdkeychain.NewKeyFromString(keyText)
		if err != nil {
			return nil, fmt.Errorf("descriptor: %q is not a key: %v", short(keyText), err)
		}
		k.ext = ext
	}
	if len(parts) > 1 && k.ext == nil {
		return nil, fmt.Errorf("descriptor: derivation after a non-extended key in %q", short(s))
	}
	pos := off + len(keyText)
	multi := false
	for i, p := range parts[1:] {
		pos++ // the '/'
		last := i == len(parts)-2
		switch {
		case p == "*" || p == "*'" || p == "*h":
			if !last {
				return nil, fmt.Errorf("descriptor: wildcard not at the end of %q", short(s))
			}
			k.wildcard = unhardenedWildcard
			if p != "*" {
				k.wildcard = hardenedWildcard
			}
		case strings.HasPrefix(p, "<") || strings.HasSuffix(p, ">"):
			if multi {
				return nil, fmt.Errorf("descriptor: more than one multipath group in %q", short(s))
			}
			multi = true
			if !strings.HasPrefix(p, "<") || !strings.HasSuffix(p, ">") || len(p) < 3 {
				return nil, fmt.Errorf("descriptor: malformed multipath group %q", p)
			}
			st := step{start: pos, end: pos + len(p)}
			for _, a := range strings.Split(p[1:len(p)-1], ";") {
				v, err := parseIndex(a)
				if err != nil {
					return nil, err
				}
				for _, prev := range st.alts {
					if prev == v {
						return nil, fmt.Errorf("descriptor: multipath group %q repeats %s", p, a)
					}
				}
				st.alts = append(st.alts, v)
				st.altText = append(st.altText, a)
			}
			if len(st.alts) < 2 {
				return nil, fmt.Errorf("descriptor: multipath group %q needs at least two alternatives", p)
			}
			k.steps = append(k.steps, st)
		default:
			v, err := parseIndex(p)
			if err != nil {
				return nil, err
			}
			k.steps = append(k.steps, step{alts: []uint32{v}})
		}
		pos += len(p)
	}
	// Hardened steps below a public key are valid syntax (BIP-380 lists them
	// as valid key expressions); deriving through them fails in derive.
	n := len(k.steps)
	if k.wildcard != noWildcard {
		n++
	}
	if k.Origin != nil {
		n += len(k.Origin.Path)
	}
	if n > maxPath {
		return nil, fmt.Errorf("descriptor: derivation path of %d steps exceeds %d", n, maxPath)
	}
	return k, nil
}

func parseOrigin(s string) (*Origin, error) {
	parts := strings.Split(s, "/")
	if len(parts[0]) != 8 || !isHex(parts[0]) {
		return nil, fmt.Errorf("descriptor: key origin fingerprint %q: want 8 hex digits", parts[0])
	}
	o := &Origin{}
	hex.Decode(o.Fingerprint[:], []byte(parts[0]))
	for _, p := range parts[1:] {
		v, err := parseIndex(p)
		if err != nil {
			return nil, fmt.Errorf("descriptor: key origin: %v", strings.TrimPrefix(err.Error(), "descriptor: "))
		}
		o.Path = append(o.Path, v)
	}
	return o, nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func short(s string) string {
	if len(s) > 40 {
		return s[:20] + "…" + s[len(s)-12:]
	}
	return s
}

// DerivedKey is a key derived at one branch and index, with its full BIP-32
// origin (from the master key when the expression names an origin).
type DerivedKey struct {
	PubKey      []byte
	Fingerprint [4]byte
	Path        []uint32
}

var errHardenedPublic = errors.New("descriptor: hardened derivation needs a private key")

// derive derives the key at multipath alternative mp and child index.
func (k *Key) derive(mp int, index uint32) (DerivedKey, error) {
	var dk DerivedKey
	if k.Origin != nil {
		dk.Fingerprint = k.Origin.Fingerprint
		dk.Path = append(dk.Path, k.Origin.Path...)
	}
	if k.ext == nil {
		dk.PubKey = k.pub
		if k.Origin == nil {
			copy(dk.Fingerprint[:], address.Hash160(k.pub)[:4])
		}
		return dk, nil
	}
	if k.Origin == nil {
		pub, err := k.ext.ECPubKey()
		if err != nil {
			return dk, err
		}
		copy(dk.Fingerprint[:], address.Hash160(pub.SerializeCompressed())[:4])
	}
	cur := k.ext
	var err error
	for _, st := range k.steps {
		i := st.alts[0]
		if len(st.alts) > 1 {
			if mp < 0 || mp >= len(st.alts) {
				return dk, fmt.Errorf("descriptor: multipath alternative %d of %d", mp, len(st.alts))
			}
			i = st.alts[mp]
		}
		if i >= hardened && !cur.IsPrivate() {
			return dk, errHardenedPublic
		}
		if cur, err = cur.Derive(i); err != nil {
			return dk, fmt.Errorf("descriptor: derive: %v", err)
		}
		dk.Path = append(dk.Path, i)
	}
	if k.wildcard != noWildcard {
		if index >= hardened {
			return dk, fmt.Errorf("descriptor: child index %d out of range", index)
		}
		i := index
		if k.wildcard == hardenedWildcard {
			i += hardened
		}
		if cur, err = cur.Derive(i); err != nil {
			return dk, fmt.Errorf("descriptor: derive: %v", err)
		}
		dk.Path = append(dk.Path, i)
	}
	pub, err := cur.ECPubKey()
	if err != nil {
		return dk, err
	}
	dk.PubKey = pub.SerializeCompressed()
	return dk, nil
}

// match reports whether a claimed BIP-32 origin (fingerprint, full path)
// names this key, and at which multipath alternative and child index.
func (k *Key) match(fp [4]byte, path []uint32) (int, uint32, bool) {
	if k.ext == nil {
		return 0, 0, false
	}
	var prefix []uint32
	if k.Origin != nil {
		if k.Origin.Fingerprint != fp {
			return 0, 0, false
		}
		prefix = k.Origin.Path
	} else {
		pub, err := k.ext.ECPubKey()
		if err != nil || [4]byte(address.Hash160(pub.SerializeCompressed())[:4]) != fp {
			return 0, 0, false
		}
	}
	n := len(prefix) + len(k.steps)
	if k.wildcard != noWildcard {
		n++
	}
	if len(path) != n {
		return 0, 0, false
	}
	for i, v := range prefix {
		if path[i] != v {
			return 0, 0, false
		}
	}
	mp := 0
	rest := path[len(prefix):]
	for i, st := range k.steps {
		found := -1
		for j, a := range st.alts {
			if rest[i] == a {
				found = j
			}
		}
		if found < 0 {
			return 0, 0, false
		}
		if len(st.alts) > 1 {
			mp = found
		}
	}
	var index uint32
	if k.wildcard != noWildcard {
		last := rest[len(rest)-1]
		switch {
		case k.wildcard == unhardenedWildcard && last < hardened:
			index = last
		case k.wildcard == hardenedWildcard && last >= hardened:
			index = last - hardened
		default:
			return 0, 0, false
		}
	}
	return mp, index, true
}

// isMainnet reports whether an extended key is for mainnet.
func (k *Key) isMainnet() (bool, bool) {
	if k.ext == nil {
		return false, false
	}
	return k.ext.IsForNet(&chaincfg.MainNetParams), true
}
