package bitcoin

import (
	"bytes"
	"fmt"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
)

// unsignedID is the txid of tx with every scriptSig and witness removed:
// what the PSBT's unsigned transaction commits to. (A P2SH spend's txid
// covers its scriptSig, so it is known only once signed.)
func unsignedID(tx *wire.MsgTx) chainhash.Hash {
	c := tx.Copy()
	for _, in := range c.TxIn {
		in.SignatureScript, in.Witness = nil, nil
	}
	return c.TxHash()
}

// CheckFinal checks, before a transaction leaves for the network, that raw
// is the proposal's transaction — the same inputs, outputs, version and
// lock time as the PSBT in payload — and that every input's witness
// satisfies the output it spends, with btcd's script engine. A tampered
// signature is caught here, not by the node.
func CheckFinal(payload, raw []byte) (*wire.MsgTx, error) {
	pkt, err := psbt.Decode(payload)
	if err != nil {
		return nil, err
	}
	tx := wire.NewMsgTx(2)
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("bitcoin: final transaction: %v", err)
	}
	var rest bytes.Buffer
	if err := tx.Serialize(&rest); err != nil || !bytes.Equal(rest.Bytes(), raw) {
		return nil, fmt.Errorf("bitcoin: final transaction does not re-serialise to its own bytes")
	}
	u := pkt.UnsignedTx
	if unsignedID(tx) != u.TxHash() {
		return nil, fmt.Errorf("bitcoin: the transaction %s is not the proposal's %s (inputs, outputs, version or lock time differ)", tx.TxHash(), u.TxHash())
	}
	prev := make([]*wire.TxOut, len(tx.TxIn))
	for i := range tx.TxIn {
		if prev[i], err = pkt.PrevOut(i); err != nil {
			return nil, err
		}
	}
	if err := psbt.VerifyScripts(tx, prev); err != nil {
		return nil, fmt.Errorf("bitcoin: refusing to broadcast: %w", err)
	}
	return tx, nil
}
