package descriptor

import "bytes"

// MatchPubKey finds where a claimed key belongs. Given a public key and the
// BIP-32 origin a PSBT claims for it (master fingerprint and full path), it
// returns which key expression of the descriptor it is (an index into
// Keys) and the multipath branch and child index at which that expression
// derives exactly this public key with exactly this origin. The claim is
// only a hint: the key is re-derived and compared. A key of tr() or a
// tapscript leaf may also be given in its 32-byte x-only form.
//
// It fails closed: ok is false when no key derives pub there, or when the
// claim fits several places (a key without a multipath group cannot say
// which branch a claim is on, nor a key without wildcard which child, in a
// descriptor that has them).
func (d *Descriptor) MatchPubKey(pub []byte, fingerprint [4]byte, path []uint32) (key, multipath int, index uint32, ok bool) {
	if pub == nil {
		return 0, 0, 0, false
	}
	found := d.places(pub, fingerprint, path)
	if len(found) != 1 {
		return 0, 0, 0, false
	}
	return found[0].key, found[0].alt, found[0].index, true
}

// Match reads a claimed BIP-32 origin (master fingerprint and full path)
// against the descriptor's keys and returns the multipath branch and child
// index it names, under the same fail-closed rules as MatchPubKey. It
// proves nothing about a public key: callers use MatchPubKey, or Derive at
// the result and compare the keys themselves.
func (d *Descriptor) Match(fingerprint [4]byte, path []uint32) (multipath int, index uint32, ok bool) {
	found := d.places(nil, fingerprint, path)
	if len(found) == 0 {
		return 0, 0, false
	}
	for _, p := range found[1:] {
		if p.alt != found[0].alt || p.index != found[0].index {
			return 0, 0, false
		}
	}
	return found[0].alt, found[0].index, true
}

type place struct {
	key   int
	alt   int
	index uint32
}

// places lists the keys a claim fits, with the branch and index it names;
// with pub, only those that derive pub there.
func (d *Descriptor) places(pub []byte, fp [4]byte, path []uint32) []place {
	if len(path) > MaxPathLength {
		return nil
	}
	var found []place
	for i, k := range d.keys {
		alt, index, ok := k.locate(fp, path)
		if !ok {
			continue
		}
		if alt == anyAlt {
			if d.paths > 1 {
				continue // the claim does not say which branch
			}
			alt = 0
		}
		if k.wildcard == NoWildcard && d.IsRange() {
			continue // the claim does not say which child
		}
		if pub != nil {
			dk, err := k.derive(alt, index)
			if err != nil {
				continue
			}
			// A taproot key is claimed by its x-only form (BIP-371).
			if !bytes.Equal(dk.PubKey, pub) && !(k.tap && len(pub) == 32 && bytes.Equal(k.scriptKey(dk.PubKey), pub)) {
				continue
			}
		}
		found = append(found, place{i, alt, index})
	}
	return found
}
