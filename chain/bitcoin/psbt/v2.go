package psbt

import (
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

// This file holds version 2 (BIP-370): its fields, the transaction they
// determine, and the conversions between versions.

// Names of the BIP-370 fields, for errors.
func globalName(t uint64) string {
	switch t {
	case globalTxVersion:
		return "PSBT_GLOBAL_TX_VERSION"
	case globalFallbackLT:
		return "PSBT_GLOBAL_FALLBACK_LOCKTIME"
	case globalInputCount:
		return "PSBT_GLOBAL_INPUT_COUNT"
	case globalOutputCount:
		return "PSBT_GLOBAL_OUTPUT_COUNT"
	case globalTxModifiable:
		return "PSBT_GLOBAL_TX_MODIFIABLE"
	}
	return fmt.Sprintf("key type %#02x", t)
}

func inputName(t uint64) string {
	switch t {
	case inPreviousTxid:
		return "PSBT_IN_PREVIOUS_TXID"
	case inOutputIndex:
		return "PSBT_IN_OUTPUT_INDEX"
	case inSequence:
		return "PSBT_IN_SEQUENCE"
	case inRequiredTimeLT:
		return "PSBT_IN_REQUIRED_TIME_LOCKTIME"
	case inRequiredHeightLT:
		return "PSBT_IN_REQUIRED_HEIGHT_LOCKTIME"
	}
	return fmt.Sprintf("key type %#02x", t)
}

func outputName(t uint64) string {
	switch t {
	case outAmount:
		return "PSBT_OUT_AMOUNT"
	case outScript:
		return "PSBT_OUT_SCRIPT"
	}
	return fmt.Sprintf("key type %#02x", t)
}

// v2Globals collects the BIP-370 global fields while the global map is
// read.
type v2Globals struct {
	hasTxVersion bool
	nIn, nOut    int
	hasIn        bool
	hasOut       bool
}

// parse reads one BIP-370 global record into p and g.
func (g *v2Globals) parse(p *Packet, t uint64, k, v []byte) error {
	const at = "global map"
	name := globalName(t)
	switch t {
	case globalTxVersion:
		if err := fixedSize(k, v, 4, at, name); err != nil {
			return err
		}
		p.UnsignedTx = &wire.MsgTx{Version: int32(binary.LittleEndian.Uint32(v))}
		g.hasTxVersion = true
	case globalFallbackLT:
		if err := fixedSize(k, v, 4, at, name); err != nil {
			return err
		}
		p.FallbackLockTime, p.HasFallbackLockTime = binary.LittleEndian.Uint32(v), true
	case globalInputCount, globalOutputCount:
		n, err := parseCount(k, v, name)
		if err != nil {
			return err
		}
		if t == globalInputCount {
			g.nIn, g.hasIn = n, true
		} else {
			g.nOut, g.hasOut = n, true
		}
	case globalTxModifiable:
		if err := fixedSize(k, v, 1, at, name); err != nil {
			return err
		}
		p.TxModifiable, p.HasTxModifiable = v[0], true
	}
	return nil
}

// parseCount reads PSBT_GLOBAL_INPUT_COUNT or PSBT_GLOBAL_OUTPUT_COUNT:
// one minimally encoded compact size, bounded by MaxInOut.
func parseCount(k, v []byte, name string) (int, error) {
	const at = "global map"
	if err := bareKey(k, at, name); err != nil {
		return 0, err
	}
	n, size, ok := readCompact(v)
	if !ok || size != len(v) {
		return 0, malformed(at, "%s value %x is not one minimally encoded compact size", name, v)
	}
	if n > MaxInOut {
		return 0, tooLarge(at, "%s is %d, the limit is %d", name, n, MaxInOut)
	}
	return int(n), nil
}

// finish checks that the fields BIP-370 requires are present.
func (g *v2Globals) finish(p *Packet) (*Packet, int, int, error) {
	const at = "global map"
	for _, f := range []struct {
		ok bool
		t  uint64
	}{{g.hasTxVersion, globalTxVersion}, {g.hasIn, globalInputCount}, {g.hasOut, globalOutputCount}} {
		if !f.ok {
			return nil, 0, 0, malformed(at, "version 2 PSBT without %s, which BIP-370 requires", globalName(f.t))
		}
	}
	return p, g.nIn, g.nOut, nil
}

// parseInputV2 reads the BIP-370 fields of an input map into in and
// returns the transaction input they describe. checkRecords has run, so
// each field occurs at most once.
func parseInputV2(in *Input, recs []record, at string) (*wire.TxIn, error) {
	txIn := &wire.TxIn{Sequence: finalSequence}
	var hasTxid, hasIndex bool
	for _, r := range recs {
		k, v := r.key, r.value
		t, _, _ := keyType(k)
		if t < inPreviousTxid || t > inRequiredHeightLT {
			continue
		}
		name := inputName(t)
		size := 4
		if t == inPreviousTxid {
			size = chainhash.HashSize
		}
		if err := fixedSize(k, v, size, at, name); err != nil {
			return nil, err
		}
		switch u := binary.LittleEndian.Uint32(v); t {
		case inPreviousTxid:
			copy(txIn.PreviousOutPoint.Hash[:], v)
			hasTxid = true
		case inOutputIndex:
			txIn.PreviousOutPoint.Index, hasIndex = u, true
		case inSequence:
			txIn.Sequence, in.HasSequence = u, true
		case inRequiredTimeLT:
			if u < lockTimeThreshold {
				return nil, malformed(at, "%s is %d, below %d: not a time (BIP-370)", name, u, lockTimeThreshold)
			}
			in.RequiredTimeLockTime = u
		case inRequiredHeightLT:
			if u == 0 || u >= lockTimeThreshold {
				return nil, malformed(at, "%s is %d, outside 1 to %d: not a block height (BIP-370)", name, u, lockTimeThreshold-1)
			}
			in.RequiredHeightLockTime = u
		}
	}
	switch {
	case !hasTxid:
		return nil, malformed(at, "version 2 input without PSBT_IN_PREVIOUS_TXID, which BIP-370 requires")
	case !hasIndex:
		return nil, malformed(at, "version 2 input without PSBT_IN_OUTPUT_INDEX, which BIP-370 requires")
	}
	return txIn, nil
}

// parseOutputV2 reads PSBT_OUT_AMOUNT and PSBT_OUT_SCRIPT, both required
// in version 2, into a transaction output.
func parseOutputV2(recs []record, at string) (*wire.TxOut, error) {
	var out *wire.TxOut
	var hasAmount bool
	var script []byte
	for _, r := range recs {
		k, v := r.key, r.value
		switch t, _, _ := keyType(k); t {
		case outAmount:
			if err := fixedSize(k, v, 8, at, "PSBT_OUT_AMOUNT"); err != nil {
				return nil, err
			}
			out = &wire.TxOut{Value: int64(binary.LittleEndian.Uint64(v))}
			hasAmount = true
		case outScript:
			if err := bareKey(k, at, "PSBT_OUT_SCRIPT"); err != nil {
				return nil, err
			}
			script = v
		}
	}
	switch {
	case !hasAmount:
		return nil, malformed(at, "version 2 output without PSBT_OUT_AMOUNT, which BIP-370 requires")
	case script == nil:
		return nil, malformed(at, "version 2 output without PSBT_OUT_SCRIPT, which BIP-370 requires")
	}
	out.PkScript = script
	if err := checkAmounts([]*wire.TxOut{out}, at+": PSBT_OUT_AMOUNT"); err != nil {
		return nil, err
	}
	return out, nil
}

// finishV2 completes a version 2 packet's UnsignedTx with its lock time
// and applies the checks every unsigned transaction gets.
func finishV2(p *Packet) error {
	lt, err := p.LockTime()
	if err != nil {
		return err
	}
	p.UnsignedTx.LockTime = lt
	return checkUnsignedTx(p.UnsignedTx, "version 2 transaction")
}

// LockTime returns the lock time of p's transaction. In version 0 it is
// UnsignedTx's; in version 2 it is determined from the fields (BIP-370
// "Determining Lock Time"): with no input requiring a lock time, the
// fallback (0 if absent); otherwise the largest required lock time of the
// type every input that requires one accepts, a block height when both
// types would do. When no type does, the error wraps ErrLockTime.
func (p *Packet) LockTime() (uint32, error) {
	if p.Version != 2 {
		if p.UnsignedTx == nil {
			return 0, malformed("", "no unsigned transaction")
		}
		return p.UnsignedTx.LockTime, nil
	}
	var height, time uint32
	heights, times, any := true, true, false
	for i := range p.Inputs {
		in := &p.Inputs[i]
		h, t := in.RequiredHeightLockTime != 0, in.RequiredTimeLockTime != 0
		if !h && !t {
			continue
		}
		any = true
		heights, times = heights && h, times && t
		height, time = max(height, in.RequiredHeightLockTime), max(time, in.RequiredTimeLockTime)
	}
	switch {
	case !any:
		return p.FallbackLockTime, nil
	case heights:
		return height, nil
	case times:
		return time, nil
	}
	return 0, fmt.Errorf("%w: some inputs require a block height (PSBT_IN_REQUIRED_HEIGHT_LOCKTIME) and others a time (PSBT_IN_REQUIRED_TIME_LOCKTIME)", ErrLockTime)
}

// v2GlobalRecords lays out the BIP-370 global fields of p, in key-type
// order, after checking UnsignedTx's lock time is the one they determine.
func (p *Packet) v2GlobalRecords() ([]record, error) {
	const at = "global map"
	tx := p.UnsignedTx
	lt, err := p.LockTime()
	if err != nil {
		return nil, err
	}
	if tx.LockTime != lt {
		return nil, malformed(at, "UnsignedTx has lock time %d, but the version 2 fields determine %d", tx.LockTime, lt)
	}
	recs := []record{{[]byte{globalTxVersion}, binary.LittleEndian.AppendUint32(nil, uint32(tx.Version))}}
	switch {
	case p.HasFallbackLockTime:
		recs = append(recs, record{[]byte{globalFallbackLT}, binary.LittleEndian.AppendUint32(nil, p.FallbackLockTime)})
	case p.FallbackLockTime != 0:
		return nil, malformed(at, "FallbackLockTime %d set without HasFallbackLockTime", p.FallbackLockTime)
	}
	recs = append(recs,
		record{[]byte{globalInputCount}, appendCompact(nil, uint64(len(tx.TxIn)))},
		record{[]byte{globalOutputCount}, appendCompact(nil, uint64(len(tx.TxOut)))})
	switch {
	case p.HasTxModifiable:
		recs = append(recs, record{[]byte{globalTxModifiable}, []byte{p.TxModifiable}})
	case p.TxModifiable != 0:
		return nil, malformed(at, "TxModifiable %#02x set without HasTxModifiable", p.TxModifiable)
	}
	return recs, nil
}

// checkNoV2Globals refuses version 2 fields set in a version 0 packet,
// which Encode could not write.
func (p *Packet) checkNoV2Globals() error {
	if p.HasFallbackLockTime || p.FallbackLockTime != 0 || p.HasTxModifiable || p.TxModifiable != 0 {
		return malformed("global map", "FallbackLockTime or TxModifiable set in a version 0 packet; they are version 2 fields (BIP-370)")
	}
	return nil
}

// v2InputRecords lays out the BIP-370 fields of input i, in key-type
// order. A sequence other than 0xffffffff is always written.
func (p *Packet) v2InputRecords(i int) ([]record, error) {
	in, txIn := &p.Inputs[i], p.UnsignedTx.TxIn[i]
	at := fmt.Sprintf("input %d", i)
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	recs := []record{
		{[]byte{inPreviousTxid}, append([]byte(nil), txIn.PreviousOutPoint.Hash[:]...)},
		{[]byte{inOutputIndex}, u32(txIn.PreviousOutPoint.Index)},
	}
	if in.HasSequence || txIn.Sequence != finalSequence {
		recs = append(recs, record{[]byte{inSequence}, u32(txIn.Sequence)})
	}
	if lt := in.RequiredTimeLockTime; lt != 0 {
		if lt < lockTimeThreshold {
			return nil, malformed(at, "RequiredTimeLockTime %d is below %d: not a time", lt, lockTimeThreshold)
		}
		recs = append(recs, record{[]byte{inRequiredTimeLT}, u32(lt)})
	}
	if lt := in.RequiredHeightLockTime; lt != 0 {
		if lt >= lockTimeThreshold {
			return nil, malformed(at, "RequiredHeightLockTime %d is not below %d: not a block height", lt, lockTimeThreshold)
		}
		recs = append(recs, record{[]byte{inRequiredHeightLT}, u32(lt)})
	}
	return recs, nil
}

// checkNoV2Input refuses version 2 fields set on input i of a version 0
// packet.
func (p *Packet) checkNoV2Input(i int) error {
	in := &p.Inputs[i]
	if in.HasSequence || in.RequiredTimeLockTime != 0 || in.RequiredHeightLockTime != 0 {
		return malformed(fmt.Sprintf("input %d", i), "HasSequence or a required lock time set in a version 0 packet; they are version 2 fields (BIP-370)")
	}
	return nil
}

// v2OutputRecords lays out PSBT_OUT_AMOUNT and PSBT_OUT_SCRIPT of output
// i.
func (p *Packet) v2OutputRecords(i int) []record {
	o := p.UnsignedTx.TxOut[i]
	script := o.PkScript
	if script == nil {
		script = []byte{}
	}
	return []record{
		{[]byte{outAmount}, binary.LittleEndian.AppendUint64(nil, uint64(o.Value))},
		{[]byte{outScript}, script},
	}
}

// Copy returns a deep copy of p, through its records, so it is valid.
func (p *Packet) Copy() (*Packet, error) {
	m, err := p.validRecords()
	if err != nil {
		return nil, err
	}
	return parseMaps(m.clone(), nil)
}

// ToV2 returns p as a version 2 PSBT (BIP-370 "Backwards Compatibility"):
// the transaction version, outpoints, sequences, amounts and scripts
// become their BIP-370 fields, the lock time becomes
// PSBT_GLOBAL_FALLBACK_LOCKTIME (always written, as BIP-370 advises
// creators), PSBT_IN_SEQUENCE is written where the sequence is not
// 0xffffffff, and PSBT_GLOBAL_TX_MODIFIABLE is left out: the transaction
// of a version 0 PSBT is fixed. Every other record is kept. A version 2
// p is copied. p is unchanged.
func (p *Packet) ToV2() (*Packet, error) {
	q, err := p.Copy()
	if err != nil || q.Version == 2 {
		return q, err
	}
	q.Version, q.HasVersion = 2, true
	q.FallbackLockTime, q.HasFallbackLockTime = q.UnsignedTx.LockTime, true
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return q, nil
}

// ToV0 returns p as a version 0 PSBT: its UnsignedTx, with the lock time
// BIP-370 determines, becomes PSBT_GLOBAL_UNSIGNED_TX, and the version 2
// fields go (the required lock times and the modifiable flags have no
// version 0 form; the lock time they determined is in the transaction).
// PSBT_GLOBAL_VERSION is left out, as Bitcoin Core writes version 0. Every
// other record is kept. A version 0 p is copied. p is unchanged.
func (p *Packet) ToV0() (*Packet, error) {
	q, err := p.Copy()
	if err != nil || q.Version == 0 {
		return q, err
	}
	q.Version, q.HasVersion = 0, false
	q.FallbackLockTime, q.HasFallbackLockTime = 0, false
	q.TxModifiable, q.HasTxModifiable = 0, false
	for i := range q.Inputs {
		in := &q.Inputs[i]
		in.HasSequence, in.RequiredTimeLockTime, in.RequiredHeightLockTime = false, 0, 0
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return q, nil
}
