package descriptor

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
)

// DerivedKey is a public key derived at one branch and child index, with
// its full BIP-32 origin: the master fingerprint and the path from the
// master (the origin path, then the derivation steps and child). Without a
// key origin the key is its own master: the fingerprint is its own
// (Key.Fingerprint) and the path holds the steps alone.
//
// A key of tr() or of a tapscript leaf also has its 32-byte x-only form
// and the hashes of the leaves that hold it (none for an internal key used
// only as such), as PSBT_IN_TAP_BIP32_DERIVATION records them (BIP-371).
type DerivedKey struct {
	PubKey      []byte // 33 bytes, or 65 for an uncompressed key outside segwit
	Fingerprint [4]byte
	Path        []uint32
	XOnly       []byte   // in taproot: PubKey without its first byte
	LeafHashes  [][]byte // in taproot: tapleaf hashes of the leaves holding XOnly
}

// prepare derives the extended key through its steps for every multipath
// alternative, filling k.branches and, for an unhardened wildcard, k.nodes.
// Steps before the group are derived once.
func (k *Key) prepare() error {
	k.nodes = nil
	if err := k.prepareBranches(); err != nil {
		return err
	}
	if k.kind != extKey || k.wildcard != UnhardenedWildcard {
		return nil
	}
	nodes := make([]*branchNode, len(k.branches))
	for i, b := range k.branches {
		n, err := newBranchNode(b)
		if err != nil {
			return fmt.Errorf("descriptor: deriving %s: %v", short(k.text), err)
		}
		nodes[i] = n
	}
	k.nodes = nodes
	return nil
}

func (k *Key) prepareBranches() error {
	if k.kind != extKey {
		return nil
	}
	cur, err := k.ext, error(nil)
	for i, s := range k.steps {
		if !s.IsMultipath() {
			if cur, err = k.child(cur, s.Alternatives[0]); err != nil {
				return err
			}
			continue
		}
		branches := make([]*hdkeychain.ExtendedKey, len(s.Alternatives))
		for j, v := range s.Alternatives {
			b, err := k.child(cur, v)
			for _, rest := range k.steps[i+1:] {
				if err != nil {
					break
				}
				b, err = k.child(b, rest.Alternatives[0])
			}
			if err != nil {
				return err
			}
			branches[j] = b
		}
		k.branches = branches
		return nil
	}
	k.branches = []*hdkeychain.ExtendedKey{cur}
	return nil
}

// child derives child i of cur (BIP-32 CKDpriv or CKDpub).
func (k *Key) child(cur *hdkeychain.ExtendedKey, i uint32) (*hdkeychain.ExtendedKey, error) {
	next, err := cur.Derive(i)
	switch {
	case errors.Is(err, hdkeychain.ErrDeriveHardFromPublic):
		return nil, fmt.Errorf("%w: %s", ErrHardenedPublic, short(k.text))
	case err != nil:
		// BIP-32: an invalid child (probability below 2^-127) has no
		// key; a descriptor has no fallback, so it is an error.
		return nil, fmt.Errorf("descriptor: deriving %s: %v", short(k.text), err)
	}
	return next, nil
}

// derive derives the key at multipath alternative alt (ignored without a
// multipath group) and child index (ignored without a wildcard).
func (k *Key) derive(alt int, index uint32) (DerivedKey, error) {
	dk := DerivedKey{Fingerprint: k.Fingerprint()}
	n := len(k.steps)
	if k.wildcard != NoWildcard {
		n++
	}
	if k.Origin != nil {
		n += len(k.Origin.Path)
	}
	if n > 0 && k.kind == extKey {
		dk.Path = make([]uint32, 0, n)
	}
	if k.Origin != nil {
		dk.Path = append(dk.Path, k.Origin.Path...)
	}
	if k.kind != extKey {
		dk.PubKey = append([]byte(nil), k.pub...)
		return dk, nil
	}
	if k.branches == nil {
		// Parse prepares every key; deriving must not write to a key that
		// concurrent callers share.
		return dk, fmt.Errorf("descriptor: key %s was not prepared for derivation", short(k.text))
	}
	b := 0
	if len(k.branches) > 1 {
		if alt < 0 || alt >= len(k.branches) {
			return dk, fmt.Errorf("descriptor: multipath branch %d of %d", alt, len(k.branches))
		}
		b = alt
	}
	for _, s := range k.steps {
		dk.Path = append(dk.Path, s.Alternatives[min(b, len(s.Alternatives)-1)])
	}
	if k.nodes != nil {
		if index >= hardened {
			return dk, fmt.Errorf("descriptor: child index %d is out of range (at most 2147483647)", index)
		}
		pub, err := k.nodes[b].child(index)
		if err != nil {
			return dk, fmt.Errorf("descriptor: deriving %s: %v", short(k.text), err)
		}
		dk.PubKey = pub
		dk.Path = append(dk.Path, index)
		return dk, nil
	}
	cur := k.branches[b]
	if k.wildcard != NoWildcard {
		if index >= hardened {
			return dk, fmt.Errorf("descriptor: child index %d is out of range (at most 2147483647)", index)
		}
		if k.wildcard == HardenedWildcard {
			index += hardened
		}
		var err error
		if cur, err = k.child(cur, index); err != nil {
			return dk, err
		}
		dk.Path = append(dk.Path, index)
	}
	pub, err := cur.ECPubKey()
	if err != nil {
		return dk, fmt.Errorf("descriptor: deriving %s: %v", short(k.text), err)
	}
	dk.PubKey = pub.SerializeCompressed()
	return dk, nil
}

// anyAlt is what locate returns for a key without a multipath group: the
// claim fits every branch.
const anyAlt = -1

// locate reads a claimed BIP-32 origin (master fingerprint and full path)
// against the key's own: the fingerprint, the origin path and each plain
// step must be equal, the multipath group's element names the branch, and
// the wildcard's element the child index. It returns alt == anyAlt when the
// key has no multipath group. It only reads the claim; MatchPubKey proves
// it.
func (k *Key) locate(fp [4]byte, path []uint32) (alt int, index uint32, ok bool) {
	if fp != k.Fingerprint() {
		return 0, 0, false
	}
	var prefix []uint32
	if k.Origin != nil {
		prefix = k.Origin.Path
	}
	n := len(prefix) + len(k.steps)
	if k.wildcard != NoWildcard {
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
	rest := path[len(prefix):]
	alt = anyAlt
	for i, s := range k.steps {
		found := -1
		for j, v := range s.Alternatives {
			if rest[i] == v {
				found = j
			}
		}
		if found < 0 {
			return 0, 0, false
		}
		if s.IsMultipath() {
			alt = found
		}
	}
	if k.wildcard != NoWildcard {
		last := rest[len(rest)-1]
		switch {
		case k.wildcard == UnhardenedWildcard && last < hardened:
			index = last
		case k.wildcard == HardenedWildcard && last >= hardened:
			index = last - hardened
		default:
			return 0, 0, false
		}
	}
	return alt, index, true
}

// branchNode is a branch's extended key made ready for unhardened child
// derivation: its public key parsed and serialized once, and the HMAC key
// blocks of its chain code. A child then costs one HMAC-SHA512 and one
// scalar multiplication, with no point decompression (hdkeychain parses
// the parent key and the child key on every call). It is read only once
// made, so concurrent Derive calls may share it.
type branchNode struct {
	id         [32]byte            // SHA-256(serP(K_par) || c_par), for the child cache
	pub        [33]byte            // serP(K_par)
	point      btcec.JacobianPoint // K_par, affine (Z = 1)
	ipad, opad [sha512.BlockSize]byte
}

func newBranchNode(ext *hdkeychain.ExtendedKey) (*branchNode, error) {
	pk, err := ext.ECPubKey()
	if err != nil {
		return nil, err
	}
	cc := ext.ChainCode()
	if len(cc) != 32 {
		return nil, fmt.Errorf("chain code of %d bytes", len(cc))
	}
	n := &branchNode{}
	copy(n.pub[:], pk.SerializeCompressed())
	n.id = sha256.Sum256(append(n.pub[:], cc...))
	pk.AsJacobian(&n.point)
	// RFC 2104: the key, shorter than the block, is padded with zeros.
	for i := range n.ipad {
		n.ipad[i], n.opad[i] = 0x36, 0x5c
	}
	for i, c := range cc {
		n.ipad[i] ^= c
		n.opad[i] ^= c
	}
	return n, nil
}

// child returns the compressed public key of unhardened child i, by
// BIP-32 "Public parent key → public child key" (CKDpub), which gives the
// public key of CKDpriv's child too:
//
//	I = HMAC-SHA512(Key = c_par, Data = serP(K_par) || ser32(i))
//	K_i = point(parse256(I_L)) + K_par
//
// A child whose I_L is not below n, or whose key is the point at infinity,
// is invalid (hdkeychain.ErrInvalidChild); so is I_L = 0, as hdkeychain
// refuses it for public parents.
func (n *branchNode) child(i uint32) ([]byte, error) {
	if i >= hardened {
		return nil, hdkeychain.ErrDeriveHardFromPublic
	}
	id := childID{n.id, i}
	children.Lock()
	pub, ok := children.m[id]
	children.Unlock()
	if ok {
		return append([]byte(nil), pub[:]...), nil
	}
	out, err := n.derive(i)
	if err != nil {
		return nil, err
	}
	children.Lock()
	if children.m == nil || len(children.m) >= maxChildCache {
		children.m = make(map[childID][33]byte)
	}
	children.m[id] = [33]byte(out)
	children.Unlock()
	return out, nil
}

// The child cache: a process derives the same vault keys over and over
// (a station's review and its signature, a coordinator's check of each
// approval and its assembly each derive every input's keys). Children
// are public keys, a function of the parent's key and chain code and the
// index, so the cache holds nothing secret and cannot be wrong; it is
// bounded, and emptied when full.
type childID struct {
	parent [32]byte
	index  uint32
}

const maxChildCache = 1 << 15

var children struct {
	sync.Mutex
	m map[childID][33]byte
}

// PurgeDerivationCache empties the process's cache of derived child keys,
// so that a benchmark measures derivation from cold.
func PurgeDerivationCache() {
	children.Lock()
	children.m = nil
	children.Unlock()
}

// derive computes child i (see child).
func (n *branchNode) derive(i uint32) ([]byte, error) {
	var inner [sha512.BlockSize + 33 + 4]byte
	copy(inner[:], n.ipad[:])
	copy(inner[sha512.BlockSize:], n.pub[:])
	binary.BigEndian.PutUint32(inner[sha512.BlockSize+33:], i)
	ih := sha512.Sum512(inner[:])
	var outer [sha512.BlockSize + sha512.Size]byte
	copy(outer[:], n.opad[:])
	copy(outer[sha512.BlockSize:], ih[:])
	I := sha512.Sum512(outer[:])

	var il btcec.ModNScalar
	if overflow := il.SetByteSlice(I[:32]); overflow || il.IsZero() {
		return nil, hdkeychain.ErrInvalidChild
	}
	var ilG, sum btcec.JacobianPoint
	btcec.ScalarBaseMultNonConst(&il, &ilG)
	btcec.AddNonConst(&ilG, &n.point, &sum)
	if (sum.X.IsZero() && sum.Y.IsZero()) || sum.Z.IsZero() {
		return nil, hdkeychain.ErrInvalidChild
	}
	sum.ToAffine()
	return btcec.NewPublicKey(&sum.X, &sum.Y).SerializeCompressed(), nil
}
