package descriptor

import (
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/v2"
)

// MaxLength bounds a descriptor's text, checksum included.
const MaxLength = 64 << 10

// Network is the network a descriptor's keys are encoded for.
type Network uint8

const (
	// AnyNetwork: only hex public keys, which serve every network.
	AnyNetwork Network = iota
	// Mainnet: xpub, xprv or mainnet WIF keys.
	Mainnet
	// Testnet: tpub, tprv or testnet WIF keys, which serve testnet3,
	// testnet4, signet and regtest alike.
	Testnet
)

func (n Network) String() string {
	switch n {
	case Mainnet:
		return "mainnet"
	case Testnet:
		return "test"
	default:
		return "any"
	}
}

// Allows reports whether keys for n may be used on the network p.
func (n Network) Allows(p *chaincfg.Params) bool {
	switch n {
	case Mainnet:
		return p.HDPublicKeyID == chaincfg.MainNetParams.HDPublicKeyID && p.PrivateKeyID == chaincfg.MainNetParams.PrivateKeyID
	case Testnet:
		return p.HDPublicKeyID == chaincfg.TestNet3Params.HDPublicKeyID && p.PrivateKeyID == chaincfg.TestNet3Params.PrivateKeyID
	default:
		return true
	}
}

// Descriptor is a parsed output descriptor. It is immutable and safe for
// concurrent use.
type Descriptor struct {
	root  expr
	text  string // as written, without the checksum
	sum   string // text's checksum
	keys  []*Key // in textual order
	paths int    // multipath branches, 1 without multipath
	net   Network
}

// Parse parses a descriptor, verifying its checksum when one is given
// (BIP-380 makes it optional).
func Parse(s string) (*Descriptor, error) { return parse(s, false) }

// ParseStrict parses a descriptor that must carry a valid checksum, as a
// vault's descriptor must.
func ParseStrict(s string) (*Descriptor, error) { return parse(s, true) }

func parse(s string, requireChecksum bool) (*Descriptor, error) {
	if len(s) > MaxLength {
		return nil, fmt.Errorf("descriptor: %d bytes exceeds the limit of %d", len(s), MaxLength)
	}
	body, err := splitChecksum(s, requireChecksum)
	if err != nil {
		return nil, err
	}
	sum, err := Checksum(body) // splitChecksum checked the character set
	if err != nil {
		return nil, err
	}
	p := &parser{s: body}
	root, err := p.script(ctxTop, "")
	if err != nil {
		return nil, err
	}
	if p.pos != len(body) {
		return nil, errAt(p.pos, "unexpected %q after the script expression", body[p.pos])
	}
	d := &Descriptor{root: root, text: body, sum: sum, keys: root.appendKeys(nil), paths: 1}
	for _, k := range d.keys {
		if err := d.addKey(k); err != nil {
			return nil, err
		}
	}
	if a, ok := root.(*addrExpr); ok {
		d.net = a.net
	}
	if err := root.check(d.paths); err != nil {
		return nil, err
	}
	if string(root.appendText(nil, -1)) != body {
		// Every choice of spelling is kept or refused, so this cannot
		// happen; if it did, String would not be what was checked.
		return nil, errAt(0, "descriptor does not print back as written")
	}
	return d, nil
}

// addKey applies the rules that involve all keys.
func (d *Descriptor) addKey(k *Key) error {
	// BIP-389: multipath groups in several keys "must have tuples of
	// exactly the same length".
	if n := k.PathCount(); n > 1 {
		if d.paths > 1 && n != d.paths {
			return errAt(k.off, "multipath group of %d alternatives where another key has %d (BIP-389)", n, d.paths)
		}
		d.paths = n
	}
	if n := k.Network(); n != AnyNetwork {
		if d.net != AnyNetwork && n != d.net {
			return errAt(k.off, "%s key in a descriptor with %s keys", n, d.net)
		}
		d.net = n
	}
	// BIP-32: no hardened child from a public key. BIP-380's
	// normalisation moves such steps into the key origin.
	if k.IsXPub() {
		hard := k.wildcard == HardenedWildcard
		for _, s := range k.steps {
			for _, v := range s.Alternatives {
				hard = hard || v >= hardened
			}
		}
		if hard {
			return wrapAt(k.off, ErrHardenedPublic, "hardened step below public key %s (move it into the key origin)", short(k.text))
		}
	}
	if err := k.prepare(); err != nil {
		return errAtKey(k.off, err)
	}
	return nil
}

// String is the descriptor as written, with its BIP-380 checksum.
// Hardened markers are kept as the author wrote them ("h" or "'"), so the
// checksum is the one the author's wallet computed.
func (d *Descriptor) String() string { return d.text + "#" + d.sum }

// Keys are the key expressions in textual order, as copies.
func (d *Descriptor) Keys() []*Key {
	out := make([]*Key, len(d.keys))
	for i, k := range d.keys {
		out[i] = k.clone()
	}
	return out
}

// IsRange reports whether a key has a wildcard, so that the descriptor
// describes one script per child index.
func (d *Descriptor) IsRange() bool {
	for _, k := range d.keys {
		if k.wildcard != NoWildcard {
			return true
		}
	}
	return false
}

// IsMultipath reports whether the descriptor has BIP-389 multipath groups.
func (d *Descriptor) IsMultipath() bool { return d.paths > 1 }

// PathCount is the number of BIP-389 multipath branches, 1 without.
func (d *Descriptor) PathCount() int { return d.paths }

// Network is the network the descriptor's keys are for.
func (d *Descriptor) Network() Network { return d.net }

// HasPrivateKeys reports whether any key expression holds a private key.
func (d *Descriptor) HasPrivateKeys() bool {
	for _, k := range d.keys {
		if k.IsPrivate() {
			return true
		}
	}
	return false
}

// Threshold returns k and n of the descriptor's multi() or sortedmulti(),
// at the top or inside sh() or wsh(); or of a tr() whose only script is a
// multi_a() or sortedmulti_a() and whose internal key is BIP-341's
// unspendable point H (NUMS), so that k signers are needed indeed.
func (d *Descriptor) Threshold() (k, n int, ok bool) {
	e := d.root
	for {
		switch x := e.(type) {
		case *shExpr:
			e = x.inner
		case *wshExpr:
			e = x.inner
		case *trExpr:
			if x.tree == nil || x.tree.leaf == nil || !x.internal.isNUMS() {
				return 0, 0, false
			}
			e = x.tree.leaf
		case *multiExpr:
			return x.k, len(x.keys), true
		default:
			return 0, 0, false
		}
	}
}
