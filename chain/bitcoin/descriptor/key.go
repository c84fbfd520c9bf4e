package descriptor

import (
	"bytes"
	"encoding/hex"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/schnorr"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// Bounds on one key expression.
const (
	// MaxPathLength bounds the path elements of one key: origin path,
	// derivation steps and wildcard together. BIP-32 allows 255; wallets
	// use fewer than ten.
	MaxPathLength = 32
	// MaxAlternatives bounds the alternatives of a BIP-389 multipath
	// group. Wallets use two (receive and change).
	MaxAlternatives = 16
)

const hardened = hdkeychain.HardenedKeyStart

// Origin is a key origin, "[fingerprint/path]" (BIP-380 "Key Expressions"):
// the master key's fingerprint and the path from it to the key that
// follows. Hardened elements have bit 31 set.
type Origin struct {
	Fingerprint [4]byte
	Path        []uint32
}

// Wildcard is a key's final "/*" step (BIP-380).
type Wildcard uint8

const (
	NoWildcard         Wildcard = iota // a single key
	UnhardenedWildcard                 // "/*": every unhardened child
	HardenedWildcard                   // "/*h" or "/*'": every hardened child
)

// Step is one derivation step after an extended key: one child index, or
// a BIP-389 multipath group "<a;b;...>" of alternatives. Hardened indexes
// have bit 31 set.
type Step struct {
	Alternatives []uint32
	marks        []byte // hardened marker as written, per alternative: 'h', '\'' or 0
}

// IsMultipath reports whether the step is a BIP-389 multipath group.
func (s Step) IsMultipath() bool { return len(s.Alternatives) > 1 }

type keyKind uint8

const (
	hexKey keyKind = iota // a hex public key
	wifKey                // a WIF private key
	extKey                // an xpub, xprv, tpub or tprv
)

// Key is one key expression (BIP-380 KEY, with BIP-389 multipath).
type Key struct {
	// Origin is the key origin as written, or nil.
	Origin *Origin

	kind       keyKind
	off        int    // offset of the expression in the descriptor text
	originText string // "[...]" as written, or ""
	text       string // the key as written: hex, WIF or base58
	pub        []byte // the key's own public key (33 or 65 bytes)
	wif        *btcutil.WIF
	ext        *hdkeychain.ExtendedKey
	steps      []Step
	wildcard   Wildcard
	wildMark   byte // 'h' or '\'' for a hardened wildcard
	tap        bool // in tr() or a tapscript leaf: used as an x-only key
	// branches are the extended key after all its steps, one per
	// multipath alternative (one without a group). Parse fills them, so
	// that deriving a child costs one step.
	branches []*hdkeychain.ExtendedKey
	// nodes are the branches ready for unhardened child derivation, one
	// per branch, for a key with a "/*" wildcard; see branchNode.
	nodes []*branchNode
}

// ParseKey parses one key expression on its own, checking its syntax and
// encoding as BIP-380 defines them. It does not apply the rules a script
// expression adds (compressed keys only under segwit, no hardened step
// below a public key); Parse does.
func ParseKey(s string) (*Key, error) {
	if len(s) > MaxLength {
		return nil, errAt(0, "key expression of %d bytes exceeds %d", len(s), MaxLength)
	}
	if i := strings.IndexAny(s, ",()"); i >= 0 {
		return nil, errAt(i, "unexpected %q in a key expression", s[i])
	}
	return parseKey(s, 0, false)
}

// parseKey parses key expression s found at offset off; xonly allows a
// 64-digit x-only hex key, as tr() and tapscript do (BIP-386).
func parseKey(s string, off int, xonly bool) (*Key, error) {
	k := &Key{off: off}
	rest, at := s, off
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return nil, errAt(off, "key origin is not closed by ']'")
		}
		o, err := parseOrigin(rest[1:end], off+1)
		if err != nil {
			return nil, err
		}
		k.Origin, k.originText = o, rest[:end+1]
		rest, at = rest[end+1:], off+end+1
	}
	if i := strings.IndexAny(rest, "[]"); i >= 0 {
		return nil, errAt(at+i, "unexpected %q: a key origin comes once, at the start of a key", rest[i])
	}
	if rest == "" {
		return nil, errAt(at, "key origin with no key after it")
	}
	keyText, path, hasPath := strings.Cut(rest, "/")
	if err := k.decode(keyText, at, xonly); err != nil {
		return nil, err
	}
	if hasPath {
		if k.kind != extKey {
			// BIP-380: only extended keys are followed by derivation steps.
			return nil, errAt(at+len(keyText), "derivation steps after a key that is not an extended key")
		}
		if err := k.parseSteps(path, at+len(keyText)+1); err != nil {
			return nil, err
		}
	}
	below := len(k.steps) // elements below the key itself
	if k.wildcard != NoWildcard {
		below++
	}
	total := below
	if k.Origin != nil {
		total += len(k.Origin.Path)
	}
	if total > MaxPathLength {
		return nil, errAt(off, "key path of %d elements exceeds %d", total, MaxPathLength)
	}
	if k.ext != nil && int(k.ext.Depth())+below > 255 {
		return nil, errAt(off, "derivation below depth 255 (BIP-32)")
	}
	return k, nil
}

// parseOrigin parses the inside of "[fingerprint/path]" found at off.
func parseOrigin(s string, off int) (*Origin, error) {
	parts := strings.Split(s, "/")
	if len(parts[0]) != 8 || !isHex(parts[0]) {
		return nil, errAt(off, "key origin fingerprint %q is not 8 hex digits", parts[0])
	}
	o := &Origin{}
	hex.Decode(o.Fingerprint[:], []byte(parts[0]))
	at := off + 9
	for _, p := range parts[1:] {
		if strings.ContainsAny(p, "<;>") {
			return nil, errAt(at, "multipath group in a key origin (BIP-389 allows it only after an extended key)")
		}
		if strings.HasPrefix(p, "*") {
			return nil, errAt(at, "wildcard in a key origin (BIP-380 allows it only as a key's last step)")
		}
		v, _, err := parseIndex(p, at)
		if err != nil {
			return nil, err
		}
		o.Path = append(o.Path, v)
		at += len(p) + 1
	}
	return o, nil
}

// decode reads the key itself: a hex public key, a WIF private key or an
// extended key (BIP-380 "Key Expressions").
func (k *Key) decode(s string, at int, xonly bool) error {
	k.text = s
	switch {
	case (len(s) == 66 || len(s) == 130) && isHex(s):
		b, _ := hex.DecodeString(s)
		if len(b) == 33 && b[0] != 2 && b[0] != 3 || len(b) == 65 && b[0] != 4 {
			return errAt(at, "hex public key must start with 02 or 03 (66 digits) or 04 (130 digits)")
		}
		if _, err := btcec.ParsePubKey(b); err != nil {
			return errAt(at, "hex public key %s is not a point on secp256k1", short(s))
		}
		k.kind, k.pub = hexKey, b
	case len(s) == 64 && isHex(s):
		if !xonly {
			return errAt(at, "x-only public key: only tr() takes those (BIP-386)")
		}
		b, _ := hex.DecodeString(s)
		if _, err := schnorr.ParsePubKey(b); err != nil {
			return errAt(at, "x-only public key %s is not a point on secp256k1", short(s))
		}
		// BIP-340: an x-only key stands for the point with even Y.
		k.kind, k.pub = hexKey, append([]byte{2}, b...)
	case len(s) == 111:
		return k.decodeExtended(s, at)
	default:
		w, err := btcutil.DecodeWIF(s)
		if err != nil {
			return errAt(at, "%q is not a hex public key, WIF private key or extended key", short(s))
		}
		if !w.IsForNet(&chaincfg.MainNetParams) && !w.IsForNet(&chaincfg.TestNet3Params) {
			return errAt(at, "WIF private key for an unknown network")
		}
		if w.String() != s {
			return errAt(at, "WIF private key is not in canonical form")
		}
		k.kind, k.wif, k.pub = wifKey, w, w.SerializePubKey()
	}
	return nil
}

// decodeExtended reads a BIP-32 extended key, refusing what hdkeychain
// lets through: other version bytes, a version that disagrees with the key
// data, and a master key with a parent (BIP-32 test vector 5).
func (k *Key) decodeExtended(s string, at int) error {
	ext, err := hdkeychain.NewKeyFromString(s)
	if err != nil {
		return errAt(at, "%s is not a valid extended key: %v", short(s), err)
	}
	var private bool
	switch v := ext.Version(); {
	case bytes.Equal(v, chaincfg.MainNetParams.HDPublicKeyID[:]), bytes.Equal(v, chaincfg.TestNet3Params.HDPublicKeyID[:]):
	case bytes.Equal(v, chaincfg.MainNetParams.HDPrivateKeyID[:]), bytes.Equal(v, chaincfg.TestNet3Params.HDPrivateKeyID[:]):
		private = true
	default:
		return errAt(at, "extended key version %x is not xpub, xprv, tpub or tprv (convert SLIP-132 keys such as zpub)", v)
	}
	if private != ext.IsPrivate() {
		return errAt(at, "extended key's version and key data disagree (BIP-32)")
	}
	if ext.Depth() == 0 && (ext.ParentFingerprint() != 0 || ext.ChildIndex() != 0) {
		return errAt(at, "extended key at depth 0 with a parent fingerprint or child number (BIP-32)")
	}
	if ext.String() != s {
		return errAt(at, "extended key is not in canonical form")
	}
	pub, err := ext.ECPubKey()
	if err != nil {
		return errAt(at, "extended key: %v", err)
	}
	k.kind, k.ext, k.pub = extKey, ext, pub.SerializeCompressed()
	return nil
}

// parseSteps parses the derivation after an extended key, "a/b/<c;d>/*",
// found at off (BIP-380; BIP-389 for the multipath group).
func (k *Key) parseSteps(path string, off int) error {
	elems := strings.Split(path, "/")
	at := off
	multipath := false
	for i, e := range elems {
		switch {
		case e == "*" || e == "*h" || e == "*'":
			if i != len(elems)-1 {
				return errAt(at, "wildcard is not the last step")
			}
			k.wildcard = UnhardenedWildcard
			if len(e) == 2 {
				k.wildcard, k.wildMark = HardenedWildcard, e[1]
			}
		case strings.HasPrefix(e, "*"):
			return errAt(at, "invalid wildcard %q (want *, *h or *')", e)
		case strings.ContainsAny(e, "<;>"):
			if multipath {
				return errAt(at, "second multipath group: BIP-389 allows one per key")
			}
			multipath = true
			st, err := parseGroup(e, at)
			if err != nil {
				return err
			}
			k.steps = append(k.steps, st)
		default:
			v, mark, err := parseIndex(e, at)
			if err != nil {
				return err
			}
			k.steps = append(k.steps, Step{Alternatives: []uint32{v}, marks: []byte{mark}})
		}
		if len(k.steps) > MaxPathLength {
			return errAt(at, "more than %d derivation steps", MaxPathLength)
		}
		at += len(e) + 1
	}
	return nil
}

// parseGroup parses a BIP-389 multipath group "<a;b;...>" found at off.
func parseGroup(e string, off int) (Step, error) {
	var st Step
	if !strings.HasPrefix(e, "<") {
		return st, errAt(off, "multipath group %q does not start with '<'", e)
	}
	if !strings.HasSuffix(e, ">") {
		return st, errAt(off, "multipath group %q does not end with '>'", e)
	}
	alts := strings.Split(e[1:len(e)-1], ";")
	if len(alts) < 2 {
		return st, errAt(off, "multipath group %q needs at least two alternatives (BIP-389)", e)
	}
	if len(alts) > MaxAlternatives {
		return st, errAt(off, "multipath group of %d alternatives exceeds %d", len(alts), MaxAlternatives)
	}
	at := off + 1
	for _, a := range alts {
		v, mark, err := parseIndex(a, at)
		if err != nil {
			return st, err
		}
		for _, prev := range st.Alternatives {
			if prev == v {
				return st, errAt(at, "multipath group repeats %s (BIP-389)", a)
			}
		}
		st.Alternatives = append(st.Alternatives, v)
		st.marks = append(st.marks, mark)
		at += len(a) + 1
	}
	return st, nil
}

// parseIndex parses one path element, "NUM" or "NUMh" or "NUM'", found at
// off. It returns the index (bit 31 set when hardened) and the marker.
// BIP-380's text also names "H", but its test vectors refuse "0H", as
// Bitcoin Core does; so does this package. Leading zeros are refused.
func parseIndex(s string, off int) (uint32, byte, error) {
	digits, mark := s, byte(0)
	if n := len(s); n > 0 && (s[n-1] == 'h' || s[n-1] == '\'') {
		digits, mark = s[:n-1], s[n-1]
	}
	if digits == "" {
		return 0, 0, errAt(off, "missing derivation index")
	}
	if strings.HasSuffix(s, "H") {
		return 0, 0, errAt(off, "hardened marker in %q: use h or ', not H", s)
	}
	var v uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, 0, errAt(off, "invalid derivation index %q", s)
		}
		if v = v*10 + uint64(c-'0'); v >= uint64(hardened) {
			return 0, 0, errAt(off, "derivation index %s is out of range (at most 2147483647)", digits)
		}
	}
	if len(digits) > 1 && digits[0] == '0' {
		return 0, 0, errAt(off, "derivation index %q has a leading zero", s)
	}
	if mark != 0 {
		v += uint64(hardened)
	}
	return uint32(v), mark, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
