package psbt

import (
	"bytes"
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"
)

// Combine is the combiner role (BIP-174 "Combiner"): it merges PSBTs of
// the same unsigned transaction into a new Packet holding every record of
// each. It works on records, so it treats every field alike, typed or not.
//
// BIP-174 lets a combiner pick either value when two PSBTs give different
// values for one key; Combine refuses instead (ErrConflict), since two
// signatures by one key, or two previous transactions for one input, mean
// that someone is not playing straight. PSBTs of different versions or of
// different transactions are refused too (ErrConflict): in version 2 the
// transaction is the one the BIP-370 fields build, sequences and lock time
// included, and a merge whose added records would change it is refused,
// since it would invalidate signatures already made.
//
// Order: the records of the first PSBT in their order, then each record
// that a later PSBT adds, in that PSBT's order. This reproduces the BIP's
// combiner vectors and makes Combine(p) a copy of p.
func Combine(ps ...*Packet) (*Packet, error) {
	if len(ps) == 0 {
		return nil, fmt.Errorf("%w: no PSBTs", ErrConflict)
	}
	var acc *maps
	for n, p := range ps {
		if p == nil {
			return nil, fmt.Errorf("%w: PSBT %d is nil", ErrConflict, n)
		}
		m, err := p.validRecords()
		if err != nil {
			return nil, fmt.Errorf("psbt: combine: PSBT %d: %w", n, err)
		}
		m = m.clone() // the result shares no memory with ps
		if acc == nil {
			acc = m
			continue
		}
		if err := sameTx(ps[0], p, n); err != nil {
			return nil, err
		}
		if acc.global, err = merge(acc.global, m.global, "global map"); err != nil {
			return nil, err
		}
		for i := range m.inputs {
			if acc.inputs[i], err = merge(acc.inputs[i], m.inputs[i], fmt.Sprintf("input %d", i)); err != nil {
				return nil, err
			}
		}
		for i := range m.outputs {
			if acc.outputs[i], err = merge(acc.outputs[i], m.outputs[i], fmt.Sprintf("output %d", i)); err != nil {
				return nil, err
			}
		}
	}
	c, err := parseMaps(acc, nil)
	if err != nil {
		return nil, err
	}
	// Records added by a later PSBT (a version 2 sequence or required
	// lock time) must not have changed what was signed.
	if !equalTx(ps[0].UnsignedTx, c.UnsignedTx) {
		return nil, fmt.Errorf("%w: the merged records would change the transaction signed (a sequence or required lock time added by a later PSBT)", ErrConflict)
	}
	return c, nil
}

// sameTx refuses to combine p, PSBT n, with first unless both are of one
// version and one unsigned transaction, lock time and sequences included:
// that is the data signatures commit to. (BIP-174: "PSBTs can be uniquely
// identified by 0x00 global transaction typed key-value pair"; BIP-370
// identifies a version 2 PSBT by the transaction its fields build, and
// requires every signature to stay valid, so sequences count too.)
func sameTx(first, p *Packet, n int) error {
	if p.Version != first.Version {
		return fmt.Errorf("%w: PSBT %d is version %d, PSBT 0 version %d", ErrConflict, n, p.Version, first.Version)
	}
	if !equalTx(first.UnsignedTx, p.UnsignedTx) {
		return fmt.Errorf("%w: PSBT %d is for transaction %s, PSBT 0 for %s", ErrConflict, n, p.UnsignedTx.TxHash(), first.UnsignedTx.TxHash())
	}
	return nil
}

// merge adds to a the records of b whose keys a lacks, refusing a key that
// the two give different values.
func merge(a, b []record, at string) ([]record, error) {
	have := make(map[string][]byte, len(a))
	for _, r := range a {
		have[string(r.key)] = r.value
	}
	for _, r := range b {
		v, ok := have[string(r.key)]
		switch {
		case !ok:
			a = append(a, r)
			have[string(r.key)] = r.value
		case !bytes.Equal(v, r.value):
			return nil, fmt.Errorf("%w: %s: two different values for key %x", ErrConflict, at, r.key)
		}
	}
	return a, nil
}

func (m *maps) clone() *maps {
	cl := func(rs []record) []record {
		out := make([]record, len(rs))
		for i, r := range rs {
			out[i] = record{bytes.Clone(r.key), bytes.Clone(r.value)}
		}
		return out
	}
	c := &maps{global: cl(m.global), inputs: make([][]record, len(m.inputs)), outputs: make([][]record, len(m.outputs))}
	for i := range m.inputs {
		c.inputs[i] = cl(m.inputs[i])
	}
	for i := range m.outputs {
		c.outputs[i] = cl(m.outputs[i])
	}
	return c
}

// equalTx compares two unsigned transactions as serialized.
func equalTx(a, b *wire.MsgTx) bool {
	var x, y bytes.Buffer
	if a.SerializeNoWitness(&x) != nil || b.SerializeNoWitness(&y) != nil {
		return false
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}
