package psbt

import (
	"bytes"
	"encoding/binary"

	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// parseTx reads one serialized transaction strictly. It first walks the
// bytes itself, bounding every count by what the remaining bytes can hold,
// so btcd's decoder (which allocates for up to its 32 MiB message limit)
// never allocates for a count the input cannot back. It then requires the
// bytes to be exactly what btcd serializes back: no superfluous witness
// marker, no trailing bytes.
func parseTx(b []byte, allowWitness bool, at string) (*wire.MsgTx, error) {
	if err := checkTxShape(b, allowWitness, at); err != nil {
		return nil, err
	}
	tx := new(wire.MsgTx)
	var err error
	if allowWitness {
		err = tx.Deserialize(bytes.NewReader(b))
	} else {
		err = tx.DeserializeNoWitness(bytes.NewReader(b))
	}
	if err != nil {
		return nil, malformed(at, "transaction does not parse: %v", err)
	}
	var back bytes.Buffer
	back.Grow(len(b))
	if allowWitness {
		err = tx.Serialize(&back)
	} else {
		err = tx.SerializeNoWitness(&back)
	}
	if err != nil || !bytes.Equal(back.Bytes(), b) {
		return nil, malformed(at, "transaction is not in canonical serialization")
	}
	if allowWitness {
		if err := checkAmounts(tx.TxOut, at); err != nil {
			return nil, err
		}
	}
	return tx, nil
}

// Sizes of the smallest transaction input (outpoint, empty script length,
// sequence) and output (amount, empty script length).
const (
	minTxInSize  = 32 + 4 + 1 + 4
	minTxOutSize = 8 + 1
)

// checkTxShape walks a serialized transaction without allocating.
func checkTxShape(b []byte, allowWitness bool, at string) error {
	c := cursor{b: b}
	c.skip(4) // version
	nIn := c.compact()
	segwit := false
	if allowWitness && c.ok() && nIn == 0 {
		// BIP-144: marker 0x00, flag 0x01.
		if flag := c.next(1); c.ok() && flag[0] != 0x01 {
			return malformed(at, "transaction has segwit marker but flag %#02x", flag[0])
		}
		segwit = true
		nIn = c.compact()
	}
	if c.ok() && nIn > uint64(c.left()/minTxInSize) {
		return malformed(at, "transaction claims %d inputs in %d bytes", nIn, c.left())
	}
	for i := uint64(0); c.ok() && i < nIn; i++ {
		c.skip(36)
		c.skip(c.compact())
		c.skip(4)
	}
	nOut := c.compact()
	if c.ok() && nOut > uint64(c.left()/minTxOutSize) {
		return malformed(at, "transaction claims %d outputs in %d bytes", nOut, c.left())
	}
	for i := uint64(0); c.ok() && i < nOut; i++ {
		c.skip(8)
		c.skip(c.compact())
	}
	for i := uint64(0); segwit && c.ok() && i < nIn; i++ {
		items := c.compact()
		if c.ok() && items > uint64(c.left()) {
			return malformed(at, "witness claims %d items in %d bytes", items, c.left())
		}
		for j := uint64(0); c.ok() && j < items; j++ {
			c.skip(c.compact())
		}
	}
	c.skip(4) // locktime
	switch {
	case !c.ok():
		return malformed(at, "transaction is truncated or has a non-minimal compact size")
	case c.left() != 0:
		return malformed(at, "%d bytes after the transaction", c.left())
	}
	return nil
}

// cursor reads through b. After a failed read (past the end, or a
// non-minimal compact size) bad is set and every later read returns
// nothing, so a walk can check once at the end.
type cursor struct {
	b   []byte
	off int
	bad bool
}

func (c *cursor) ok() bool  { return !c.bad }
func (c *cursor) left() int { return len(c.b) - c.off }

func (c *cursor) next(n uint64) []byte {
	if c.bad || n > uint64(c.left()) {
		c.bad = true
		return nil
	}
	s := c.b[c.off : c.off+int(n)]
	c.off += int(n)
	return s
}

func (c *cursor) skip(n uint64) { c.next(n) }

func (c *cursor) compact() uint64 {
	if c.bad {
		return 0
	}
	v, n, ok := readCompact(c.b[c.off:])
	if !ok {
		c.bad = true
		return 0
	}
	c.off += n
	return v
}

// checkAmounts refuses amounts consensus refuses (bad-txns-vout-negative,
// bad-txns-vout-toolarge, bad-txns-txouttotal-toolarge), which a reviewer
// summing them must never meet.
func checkAmounts(outs []*wire.TxOut, at string) error {
	var total int64
	for i, o := range outs {
		if o.Value < 0 || o.Value > btcutil.MaxSatoshi {
			return malformed(at, "output %d has amount %d, outside 0 to %d", i, o.Value, int64(btcutil.MaxSatoshi))
		}
		total += o.Value
		if total > btcutil.MaxSatoshi {
			return malformed(at, "outputs total more than %d", int64(btcutil.MaxSatoshi))
		}
	}
	return nil
}

// parseTxOut reads PSBT_IN_WITNESS_UTXO: an output in network
// serialization, <8 byte amount> <compact size scriptlen> <script>, and
// nothing after it.
func parseTxOut(v []byte, at string) (*wire.TxOut, error) {
	if len(v) < 9 {
		return nil, malformed(at, "output of %d bytes", len(v))
	}
	n, size, ok := readCompact(v[8:])
	if !ok || n != uint64(len(v)-8-size) {
		return nil, malformed(at, "script length does not match the value's length")
	}
	out := wire.NewTxOut(int64(binary.LittleEndian.Uint64(v)), bytes.Clone(v[8+size:]))
	if err := checkAmounts([]*wire.TxOut{out}, at); err != nil {
		return nil, err
	}
	return out, nil
}

// parseWitness reads a serialized witness stack: <compact size count>
// then each item as <compact size length> <bytes>, and nothing after it.
func parseWitness(v []byte, at string) (wire.TxWitness, error) {
	c := cursor{b: v}
	n := c.compact()
	if c.ok() && n > uint64(c.left()) {
		return nil, malformed(at, "witness claims %d items in %d bytes", n, c.left())
	}
	var w wire.TxWitness
	if c.ok() {
		w = make(wire.TxWitness, 0, n)
	}
	for i := uint64(0); c.ok() && i < n; i++ {
		item := c.next(c.compact())
		w = append(w, bytes.Clone(item))
	}
	switch {
	case !c.ok():
		return nil, malformed(at, "witness is truncated or has a non-minimal compact size")
	case c.left() != 0:
		return nil, malformed(at, "%d bytes after the witness", c.left())
	}
	return w, nil
}

// appendWitness serializes a witness stack as parseWitness reads it.
func appendWitness(b []byte, w wire.TxWitness) []byte {
	b = appendCompact(b, uint64(len(w)))
	for _, item := range w {
		b = appendCompact(b, uint64(len(item)))
		b = append(b, item...)
	}
	return b
}
