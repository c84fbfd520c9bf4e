package descriptor

import (
	"strconv"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// String is the key expression as written.
func (k *Key) String() string { return string(k.appendText(nil, -1)) }

// ExtendedKey is the xpub, xprv, tpub or tprv as written, without origin
// or steps; "" for other keys.
func (k *Key) ExtendedKey() string {
	if k.kind != extKey {
		return ""
	}
	return k.text
}

// IsExtended reports whether the key is a BIP-32 extended key.
func (k *Key) IsExtended() bool { return k.kind == extKey }

// IsXPub reports whether the key is an extended public key (xpub or tpub).
func (k *Key) IsXPub() bool { return k.kind == extKey && !k.ext.IsPrivate() }

// IsPrivate reports whether the expression holds a private key (WIF, xprv
// or tprv).
func (k *Key) IsPrivate() bool {
	return k.kind == wifKey || k.kind == extKey && k.ext.IsPrivate()
}

// PubKey is the key's own public key: the hex key, the WIF key's, or the
// extended key's before any step.
func (k *Key) PubKey() []byte { return append([]byte(nil), k.pub...) }

// Steps are the derivation steps after an extended key, without the
// wildcard.
func (k *Key) Steps() []Step {
	out := make([]Step, len(k.steps))
	for i, s := range k.steps {
		out[i] = Step{Alternatives: append([]uint32(nil), s.Alternatives...), marks: append([]byte(nil), s.marks...)}
	}
	return out
}

// Wildcard is the key's final "/*" step, if any.
func (k *Key) Wildcard() Wildcard { return k.wildcard }

// PathCount is the number of alternatives of the key's multipath group, or
// 1.
func (k *Key) PathCount() int {
	for _, s := range k.steps {
		if s.IsMultipath() {
			return len(s.Alternatives)
		}
	}
	return 1
}

// Network is the network the key is encoded for: AnyNetwork for a hex
// public key.
func (k *Key) Network() Network {
	switch k.kind {
	case extKey:
		if k.ext.IsForNet(&chaincfg.MainNetParams) {
			return Mainnet
		}
		return Testnet
	case wifKey:
		if k.wif.IsForNet(&chaincfg.MainNetParams) {
			return Mainnet
		}
		return Testnet
	}
	return AnyNetwork
}

// Fingerprint is the fingerprint that starts the key's derivation: its
// origin's, or, without an origin, the first four bytes of HASH160 of the
// key itself, as Bitcoin Core reports it.
func (k *Key) Fingerprint() [4]byte {
	if k.Origin != nil {
		return k.Origin.Fingerprint
	}
	return [4]byte(address.Hash160(k.pub)[:4])
}

// appendText writes the key expression; alt picks one alternative of a
// multipath group (BIP-389 expansion), or -1 keeps the group.
func (k *Key) appendText(b []byte, alt int) []byte {
	b = append(b, k.originText...)
	b = append(b, k.text...)
	for _, s := range k.steps {
		b = append(b, '/')
		switch {
		case !s.IsMultipath():
			b = appendIndex(b, s.Alternatives[0], s.marks[0])
		case alt >= 0:
			b = appendIndex(b, s.Alternatives[alt], s.marks[alt])
		default:
			b = append(b, '<')
			for i, v := range s.Alternatives {
				if i > 0 {
					b = append(b, ';')
				}
				b = appendIndex(b, v, s.marks[i])
			}
			b = append(b, '>')
		}
	}
	switch k.wildcard {
	case UnhardenedWildcard:
		b = append(b, "/*"...)
	case HardenedWildcard:
		b = append(b, '/', '*', k.wildMark)
	}
	return b
}

// appendIndex writes a path element with its hardened marker as written.
func appendIndex(b []byte, v uint32, mark byte) []byte {
	b = strconv.AppendUint(b, uint64(v&^hardened), 10)
	if v >= hardened {
		if mark == 0 {
			mark = '\''
		}
		b = append(b, mark)
	}
	return b
}

// appendPath writes a BIP-32 path the way key origins spell it, "/48'/1".
func appendPath(b []byte, path []uint32) []byte {
	for _, v := range path {
		b = append(b, '/')
		b = appendIndex(b, v, '\'')
	}
	return b
}

// clone returns a copy of k that shares nothing mutable with it.
func (k *Key) clone() *Key {
	c := *k
	if k.Origin != nil {
		c.Origin = &Origin{Fingerprint: k.Origin.Fingerprint, Path: append([]uint32(nil), k.Origin.Path...)}
	}
	c.pub = append([]byte(nil), k.pub...)
	c.steps = k.Steps()
	return &c
}
