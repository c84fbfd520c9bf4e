package descriptor

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// WalletPolicy is a BIP-388 wallet policy: a descriptor template whose keys
// are placeholders "@i/**" or "@i/<a;b>/*" (and "musig(@i,@j,...)/**"),
// and the key information vector they index, "[fp/path]xpub" or "xpub".
//
// The template is checked as text against BIP-388's rules, so a policy
// with miniscript converts to and from its descriptor even though Parse
// refuses miniscript as unsupported. A WalletPolicy is immutable.
type WalletPolicy struct {
	template string
	keyInfo  []string
	slots    []slot
}

// Template is the descriptor template, "wsh(sortedmulti(2,@0/**,@1/**))".
func (w *WalletPolicy) Template() string { return w.template }

// KeyInfo is the key information vector, as a copy.
func (w *WalletPolicy) KeyInfo() []string { return slices.Clone(w.keyInfo) }

// slot is a key position in a template or descriptor: a key expression
// (or placeholder) at [start,end), or the derivation suffix after a
// musig(...) key.
type slot struct {
	start, end int
	musig      bool // a participant of musig()
	suffix     bool // the "/**" or "/<a;b>/*" after musig(...)
	group      string
}

// keyArg reports whether argument i of function fn is a key expression.
func keyArg(fn string, i int) bool {
	switch fn {
	case "pk", "pkh", "wpkh", "pk_k", "pk_h", "combo", "rawtr", "tr":
		return i == 0
	case "multi", "sortedmulti", "multi_a", "sortedmulti_a":
		return i > 0
	case "musig":
		return true
	}
	return false
}

// scanKeys finds the key positions of a template or descriptor s (without
// checksum), by the nesting of its functions and {} trees. Any other
// argument that looks like a key (a placeholder, an origin, a path, an
// extended key) is refused, so that no key escapes the policy.
func scanKeys(s string) ([]slot, error) {
	type frame struct {
		fn      string
		arg     int
		keyPos  bool // the function is itself in a key position (musig)
		openPos int
	}
	var stack []frame
	var slots []slot
	depth := 0
	i := 0
	closed := false // the previous token closed a function or tree
	for i < len(s) {
		start := i
		for i < len(s) && !strings.ContainsRune("(),{}", rune(s[i])) {
			i++
		}
		tok := s[start:i]
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		inKey := top != nil && top.fn != "{" && keyArg(top.fn, top.arg)
		if i < len(s) && s[i] == '(' {
			name := tok[strings.LastIndexByte(tok, ':')+1:]
			if name == "" {
				return nil, errAt(start, "missing function name")
			}
			if inKey && name != "musig" {
				return nil, errAt(start, "%s() where a key is expected", short(name))
			}
			if name == "musig" && !inKey {
				return nil, errAt(start, "musig() where no key is expected")
			}
			if depth++; depth > MaxTreeDepth+8 {
				return nil, errAt(start, "nesting deeper than %d", MaxTreeDepth+8)
			}
			stack = append(stack, frame{fn: name, keyPos: inKey, openPos: start})
			i, closed = i+1, false
			continue
		}
		if tok != "" {
			switch {
			case inKey:
				slots = append(slots, slot{start: start, end: i, musig: top.fn == "musig"})
			case strings.ContainsAny(tok, "@[]/*<>;'") || len(tok) >= 100:
				return nil, errAt(start, "key expression %q where no key is expected", short(tok))
			}
		} else if inKey && !closed {
			return nil, errAt(start, "missing key expression in %s()", top.fn)
		}
		closed = false
		if i == len(s) {
			break
		}
		switch c := s[i]; c {
		case ',':
			if top == nil {
				return nil, errAt(i, "unexpected ','")
			}
			top.arg++
		case '{':
			if depth++; depth > MaxTreeDepth+8 {
				return nil, errAt(i, "nesting deeper than %d", MaxTreeDepth+8)
			}
			stack = append(stack, frame{fn: "{", openPos: i})
		case ')', '}':
			if top == nil || (c == '}') != (top.fn == "{") {
				return nil, errAt(i, "unbalanced %q", c)
			}
			stack = stack[:len(stack)-1]
			depth--
			if top.fn == "musig" {
				// musig(...) is a key; its derivation follows.
				j := i + 1
				for j < len(s) && !strings.ContainsRune("(),{}", rune(s[j])) {
					j++
				}
				slots = append(slots, slot{start: i + 1, end: j, suffix: true, group: s[top.openPos : i+1]})
				i, closed = j, true
				continue
			}
			closed = true
		}
		i++
	}
	if len(stack) > 0 {
		return nil, errAt(len(s), "unexpected end: %q is not closed", stack[len(stack)-1].fn)
	}
	return slots, nil
}

// maxPolicyKeys bounds the key information vector.
const maxPolicyKeys = 1000

// NewWalletPolicy checks a BIP-388 wallet policy: every placeholder is
// "@i/**" or "@i/<a;b>/*" with a ≠ b unhardened ("@i" alone inside musig(),
// which is then followed by one of those), placeholders first appear in
// order @0, @1, ... and every key is used, a key's derivations are
// disjoint, the keys are distinct xpubs or tpubs with no derivation after
// them, and there are no other keys.
func NewWalletPolicy(template string, keyInfo []string) (*WalletPolicy, error) {
	if len(template) > MaxLength {
		return nil, fmt.Errorf("descriptor: template of %d bytes exceeds the limit of %d", len(template), MaxLength)
	}
	if len(keyInfo) == 0 || len(keyInfo) > maxPolicyKeys {
		return nil, fmt.Errorf("descriptor: wallet policy with %d keys", len(keyInfo))
	}
	if i := strings.IndexByte(template, '#'); i >= 0 {
		return nil, errAt(i, "a template has no checksum")
	}
	for i := 0; i < len(template); i++ {
		if strings.IndexByte(inputCharset, template[i]) < 0 {
			return nil, errAt(i, "character %q is not in the BIP-380 character set", template[i])
		}
	}
	slots, err := scanKeys(template)
	if err != nil {
		return nil, err
	}
	if len(slots) == 0 {
		return nil, errAt(0, "template without key placeholders")
	}
	// Distinct keys, xpubs without derivation, one network.
	var net Network
	xpubs := make(map[string]int, len(keyInfo))
	for i, ki := range keyInfo {
		k, err := ParseKey(ki)
		if err != nil {
			return nil, fmt.Errorf("descriptor: key information %d: %w", i, err)
		}
		if !k.IsXPub() || len(k.steps) > 0 || k.wildcard != NoWildcard {
			return nil, fmt.Errorf("descriptor: key information %d is not an xpub or tpub without derivation (BIP-388)", i)
		}
		if net != AnyNetwork && k.Network() != net {
			return nil, fmt.Errorf("descriptor: key information %d is for %s, another for %s", i, k.Network(), net)
		}
		net = k.Network()
		if j, dup := xpubs[k.ExtendedKey()]; dup {
			return nil, fmt.Errorf("descriptor: key information %d and %d are the same key (BIP-388)", j, i)
		}
		xpubs[k.ExtendedKey()] = i
	}
	next := 0
	used := map[string][][2]uint32{} // key or musig group: derivations so far
	var group []int                  // placeholders of the current musig()
	for _, sl := range slots {
		text := template[sl.start:sl.end]
		if sl.suffix {
			a, b, err := parseKPPath(text, sl.start)
			if err != nil {
				return nil, err
			}
			if err := addDerivation(used, sl.group, a, b, sl.start); err != nil {
				return nil, err
			}
			group = group[:0]
			continue
		}
		if !strings.HasPrefix(text, "@") {
			return nil, errAt(sl.start, "key %q in a template: only placeholders @i are allowed (BIP-388)", short(text))
		}
		numText, path, hasPath := strings.Cut(text[1:], "/")
		n, err := strconv.Atoi(numText)
		if err != nil || n < 0 || strconv.Itoa(n) != numText {
			return nil, errAt(sl.start, "placeholder %q has no valid index", short(text))
		}
		switch {
		case n > next:
			return nil, errAt(sl.start, "placeholder @%d before @%d (BIP-388: first uses in order)", n, next)
		case n == next:
			next++
		}
		if n >= len(keyInfo) {
			return nil, errAt(sl.start, "placeholder @%d, but %d keys", n, len(keyInfo))
		}
		if sl.musig {
			if hasPath {
				return nil, errAt(sl.start, "derivation of %s inside musig(): BIP-388 derives after aggregation", short(text))
			}
			if slices.Contains(group, n) {
				return nil, errAt(sl.start, "@%d twice in one musig()", n)
			}
			group = append(group, n)
			continue
		}
		if !hasPath {
			return nil, errAt(sl.start, "placeholder @%d without /** or /<a;b>/* (BIP-388)", n)
		}
		a, b, err := parseKPPath("/"+path, sl.start+len(numText)+1)
		if err != nil {
			return nil, err
		}
		if err := addDerivation(used, "@"+numText, a, b, sl.start); err != nil {
			return nil, err
		}
	}
	if next != len(keyInfo) {
		return nil, fmt.Errorf("descriptor: template uses %d of %d keys (BIP-388: each key is used)", next, len(keyInfo))
	}
	return &WalletPolicy{template: template, keyInfo: slices.Clone(keyInfo), slots: slots}, nil
}

// parseKPPath parses "/**" or "/<a;b>/*" after a placeholder, found at off.
func parseKPPath(s string, off int) (uint32, uint32, error) {
	if s == "/**" {
		return 0, 1, nil
	}
	group, ok := strings.CutSuffix(s, "/*")
	if !ok || !strings.HasPrefix(group, "/<") || strings.Count(group, "/") != 1 {
		return 0, 0, errAt(off, "key derivation %q is not /** or /<a;b>/* (BIP-388)", short(s))
	}
	st, err := parseGroup(group[1:], off+1)
	if err != nil {
		return 0, 0, err
	}
	if len(st.Alternatives) != 2 {
		return 0, 0, errAt(off, "multipath %q with %d alternatives: BIP-388 allows two", short(group[1:]), len(st.Alternatives))
	}
	a, b := st.Alternatives[0], st.Alternatives[1]
	if a >= hardened || b >= hardened {
		return 0, 0, errAt(off, "hardened step in %q after a key (BIP-388)", short(s))
	}
	return a, b, nil
}

// addDerivation records that key uses branches a and b, refusing a branch
// it already uses (BIP-388: "@0/<0;1>/* and @0/<1;2>/*" share @0/1/*).
func addDerivation(used map[string][][2]uint32, key string, a, b uint32, off int) error {
	for _, p := range used[key] {
		if p[0] == a || p[0] == b || p[1] == a || p[1] == b {
			return errAt(off, "%s derived twice on one branch (BIP-388: derivations of a key are disjoint)", short(key))
		}
	}
	used[key] = append(used[key], [2]uint32{a, b})
	return nil
}

// DescriptorText is the multipath descriptor the policy stands for, without
// checksum: each placeholder replaced by its key information, "/**" by
// "/<0;1>/*".
func (w *WalletPolicy) DescriptorText() string {
	var b strings.Builder
	last := 0
	for _, sl := range w.slots {
		b.WriteString(w.template[last:sl.start])
		text := w.template[sl.start:sl.end]
		if !sl.suffix {
			numText, path, _ := strings.Cut(text[1:], "/")
			n, _ := strconv.Atoi(numText)
			b.WriteString(w.keyInfo[n])
			text = path
			if !sl.musig {
				b.WriteByte('/')
			}
		}
		b.WriteString(strings.Replace(text, "**", "<0;1>/*", 1))
		last = sl.end
	}
	b.WriteString(w.template[last:])
	return b.String()
}

// Descriptor parses DescriptorText. Policies with miniscript or musig()
// fail with ErrUnsupported.
func (w *WalletPolicy) Descriptor() (*Descriptor, error) { return Parse(w.DescriptorText()) }

// WalletPolicyFromDescriptor gives the wallet policy of a multipath
// descriptor (its checksum, if any, is verified): every key must be an
// xpub or tpub, with or without origin, followed by exactly "/<a;b>/*"
// (or, for musig(), with the group after the musig); equal keys become
// one placeholder, numbered in order of first use, and "/<0;1>/*" becomes
// "/**". The result passes NewWalletPolicy.
func WalletPolicyFromDescriptor(desc string) (*WalletPolicy, error) {
	if len(desc) > MaxLength {
		return nil, fmt.Errorf("descriptor: %d bytes exceeds the limit of %d", len(desc), MaxLength)
	}
	body, err := splitChecksum(desc, false)
	if err != nil {
		return nil, err
	}
	slots, err := scanKeys(body)
	if err != nil {
		return nil, err
	}
	var keyInfo []string
	var b strings.Builder
	last := 0
	for _, sl := range slots {
		b.WriteString(body[last:sl.start])
		last = sl.end
		text := body[sl.start:sl.end]
		if sl.suffix {
			b.WriteString(strings.Replace(text, "/<0;1>/*", "/**", 1))
			continue
		}
		info, path := text, ""
		cut := strings.IndexByte(text, ']') + 1
		if j := strings.IndexByte(text[cut:], '/'); j >= 0 {
			info, path = text[:cut+j], text[cut+j:]
		}
		n := slices.Index(keyInfo, info)
		if n < 0 {
			n = len(keyInfo)
			keyInfo = append(keyInfo, info)
		}
		b.WriteString("@" + strconv.Itoa(n))
		if path == "/<0;1>/*" {
			path = "/**"
		}
		b.WriteString(path)
	}
	b.WriteString(body[last:])
	w, err := NewWalletPolicy(b.String(), keyInfo)
	if err != nil {
		return nil, err
	}
	if w.DescriptorText() != body {
		return nil, errAt(0, "descriptor is not expressible as a wallet policy")
	}
	return w, nil
}
