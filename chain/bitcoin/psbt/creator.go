package psbt

import (
	"github.com/btcsuite/btcd/wire/v2"
)

// New is the creator role (BIP-174 "Creator"): a version 0 PSBT for the
// unsigned transaction tx, with empty input and output maps. Every input
// of tx must have an empty scriptSig and witness. New keeps its own copy
// of tx.
func New(tx *wire.MsgTx) (*Packet, error) {
	const at = "unsigned transaction"
	if tx == nil {
		return nil, malformed(at, "nil")
	}
	if err := checkNoNil(tx, at); err != nil {
		return nil, err
	}
	if err := checkUnsignedTx(tx, at); err != nil {
		return nil, err
	}
	p := &Packet{
		UnsignedTx: tx.Copy(),
		Inputs:     make([]Input, len(tx.TxIn)),
		Outputs:    make([]Output, len(tx.TxOut)),
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}
