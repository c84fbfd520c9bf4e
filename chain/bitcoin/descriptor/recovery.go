package descriptor

import (
	"errors"
	"fmt"
)

// RecoveryPath describes a vault whose k-of-n primary keys spend at any
// time and whose recovery key spends alone once the coins are Older
// blocks old (a BIP-68 relative lock):
//
//	wsh(or_d(multi(k,K1,...,Kn),and_v(v:pkh(R),older(N))))
//	sh(wsh(or_d(...)))
//	tr(NUMS,{sortedmulti_a(k,K1,...,Kn),and_v(v:pk(R),older(N))})
//
// (v:pk or v:pkh in either; multi_a or sortedmulti_a, in either leaf
// order, or both paths in one or_d leaf, in tr).
type RecoveryPath struct {
	K        int    // the primary threshold
	Primary  []*Key // the primary keys in textual order
	Recovery *Key
	Older    uint32 // older()'s argument, as written
	// PrimaryLeaf and RecoveryLeaf are, for tr(), the leaves (indexes into
	// Derived.Leaves) of each path; both are 0 in a single or_d leaf.
	PrimaryLeaf, RecoveryLeaf int
}

// Blocks returns the lock in blocks, or false for a time-based lock
// (BIP-68 type flag) or one too long for nSequence's 16 bits.
func (r *RecoveryPath) Blocks() (uint16, bool) {
	if r.Older&SequenceLockTypeFlag != 0 || r.Older > 0xffff {
		return 0, false
	}
	return uint16(r.Older), true
}

// Recovery returns the descriptor's recovery path, or false when it is not
// one of the shapes RecoveryPath lists.
func (d *Descriptor) Recovery() (*RecoveryPath, bool) {
	e := d.root
	if sh, ok := e.(*shExpr); ok {
		e = sh.inner
	}
	switch x := e.(type) {
	case *wshExpr:
		if or, ok := x.inner.(*orDExpr); ok {
			return recoveryOr(or, false)
		}
	case *trExpr:
		if x.tree == nil || !x.internal.isNUMS() {
			return nil, false
		}
		if x.tree.leaf != nil {
			if or, ok := x.tree.leaf.(*orDExpr); ok {
				return recoveryOr(or, true)
			}
			return nil, false
		}
		l, r := x.tree.left, x.tree.right
		if l.leaf == nil || r.leaf == nil {
			return nil, false
		}
		for i, pair := range [2][2]*tapTree{{l, r}, {r, l}} {
			m, ok := pair[0].leaf.(*multiExpr)
			if !ok || !m.tap {
				continue
			}
			rk, older, ok := recoveryBranch(pair[1].leaf)
			if !ok {
				continue
			}
			return &RecoveryPath{K: m.k, Primary: m.keys, Recovery: rk, Older: older, PrimaryLeaf: i, RecoveryLeaf: 1 - i}, true
		}
	}
	return nil, false
}

func recoveryOr(or *orDExpr, tap bool) (*RecoveryPath, bool) {
	m, ok := or.x.(*multiExpr)
	if !ok || m.tap != tap {
		return nil, false
	}
	rk, older, ok := recoveryBranch(or.z)
	if !ok {
		return nil, false
	}
	return &RecoveryPath{K: m.k, Primary: m.keys, Recovery: rk, Older: older}, true
}

// recoveryBranch matches and_v(v:pk(R),older(N)) or
// and_v(v:pkh(R),older(N)).
func recoveryBranch(e expr) (*Key, uint32, bool) {
	a, ok := e.(*andVExpr)
	if !ok {
		return nil, 0, false
	}
	o, ok := a.y.(*olderExpr)
	if !ok {
		return nil, 0, false
	}
	v, ok := a.x.(*verifyExpr)
	if !ok {
		return nil, 0, false
	}
	switch k := v.inner.(type) {
	case *pkExpr:
		return k.key, o.n, true
	case *pkhExpr:
		return k.key, o.n, true
	}
	return nil, 0, false
}

// ErrUnsatisfiable is returned by Satisfy when the signatures and the lock
// given satisfy no spending path.
var ErrUnsatisfiable = errors.New("descriptor: no spending path is satisfied")

// Satisfy builds the witness items (bottom first, without the witness
// script or the control block) that spend the script at multipath branch
// and child index with what s offers. The first path that s satisfies, in
// textual order, is taken: for or_d(X,Z), X before Z. For tr() it also
// returns the leaf (an index into Derived.Leaves) the items are for; it is
// -1 otherwise. Only wsh() and sh(wsh()) over a miniscript or multi(), and
// tr() script paths, are supported.
func (d *Descriptor) Satisfy(multipath int, index uint32, s *Satisfier) ([][]byte, int, error) {
	if multipath < 0 || multipath >= d.paths {
		return nil, -1, fmt.Errorf("descriptor: multipath branch %d, the descriptor has %d", multipath, d.paths)
	}
	dv := &derivation{alt: multipath, index: index, out: &Derived{}, leaf: -1}
	e := d.root
	if sh, ok := e.(*shExpr); ok {
		e = sh.inner
	}
	switch x := e.(type) {
	case *wshExpr:
		m, ok := x.inner.(miniExpr)
		if !ok {
			return nil, -1, fmt.Errorf("descriptor: cannot satisfy %s()", x.inner.name())
		}
		sat, _, err := m.satisfy(dv, s)
		if err != nil {
			return nil, -1, err
		}
		if len(sat) == 0 {
			return nil, -1, ErrUnsatisfiable
		}
		return sat[0], -1, nil
	case *trExpr:
		if x.tree == nil {
			return nil, -1, errors.New("descriptor: tr() without a script tree has only the key path")
		}
		var leaves []expr
		var walk func(t *tapTree)
		walk = func(t *tapTree) {
			if t.leaf != nil {
				leaves = append(leaves, t.leaf)
				return
			}
			walk(t.left)
			walk(t.right)
		}
		walk(x.tree)
		for i, l := range leaves {
			m, ok := l.(miniExpr)
			if !ok {
				continue
			}
			sat, _, err := m.satisfy(dv, s)
			if err != nil {
				return nil, -1, err
			}
			if len(sat) > 0 {
				return sat[0], i, nil
			}
		}
		return nil, -1, ErrUnsatisfiable
	}
	return nil, -1, fmt.Errorf("descriptor: cannot satisfy %s()", d.root.name())
}
