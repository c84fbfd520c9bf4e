package maturity

import (
	"bytes"
	"fmt"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
)

// The proprietary key prefix of a proof's records: type 0xfc, identifier
// "airlock", subtype 1. The key data is the chunk number.
var keyPrefix = append([]byte{0xfc, 7}, append([]byte("airlock"), 1)...)

// chunkSize keeps each record's value under psbt.MaxValueSize.
const chunkSize = 3_000_000

// Attach stores the proof in the PSBT's global map, replacing any proof
// already there.
func Attach(pkt *psbt.Packet, p *Proof) error {
	data, err := p.Encode()
	if err != nil {
		return err
	}
	kept := pkt.Unknowns[:0:0]
	for _, u := range pkt.Unknowns {
		if !bytes.HasPrefix(u.Key, keyPrefix) {
			kept = append(kept, u)
		}
	}
	for i := 0; len(data) > 0; i++ {
		n := min(len(data), chunkSize)
		var k bytes.Buffer
		k.Write(keyPrefix)
		_ = wire.WriteVarInt(&k, 0, uint64(i))
		kept = append(kept, psbt.Unknown{Key: k.Bytes(), Value: bytes.Clone(data[:n])})
		data = data[n:]
	}
	pkt.Unknowns = kept
	return nil
}

// FromPSBT returns the proof a PSBT carries, or nil when it has none. The
// chunks must be numbered 0, 1, ... in order, each but the last full.
func FromPSBT(pkt *psbt.Packet) (*Proof, error) {
	var data []byte
	next := uint64(0)
	last := false
	for _, u := range pkt.Unknowns {
		if !bytes.HasPrefix(u.Key, keyPrefix) {
			continue
		}
		r := bytes.NewReader(u.Key[len(keyPrefix):])
		i, err := wire.ReadVarInt(r, 0)
		if err != nil || r.Len() != 0 || i != next || last {
			return nil, fmt.Errorf("%w: proof records out of order or malformed", ErrMalformed)
		}
		if len(u.Value) > chunkSize || len(data)+len(u.Value) > MaxSize {
			return nil, fmt.Errorf("%w: proof record %d is too large", ErrMalformed, i)
		}
		last = len(u.Value) < chunkSize
		data = append(data, u.Value...)
		next++
	}
	if next == 0 {
		return nil, nil
	}
	return Decode(data)
}
