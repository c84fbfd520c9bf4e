package psbt

import (
	"fmt"

	"github.com/btcsuite/btcd/txscript/v2"
)

// TapscriptSigHash is the BIP-341 script-path digest (SIGHASH_DEFAULT) for
// input i spending leaf script: it commits to every input's spent output,
// so every input needs its witness UTXO or previous transaction.
func (p *Packet) TapscriptSigHash(i int, script []byte) ([]byte, error) {
	if err := p.checkInput(i); err != nil {
		return nil, err
	}
	c, err := p.sigHashes()
	if err != nil {
		return nil, err
	}
	leaf := txscript.NewBaseTapLeaf(script)
	h, err := txscript.CalcTapscriptSignaturehash(c.hashes, txscript.SigHashDefault, p.UnsignedTx, i, c.fetcher, leaf)
	if err != nil {
		return nil, fmt.Errorf("psbt: input %d: %v", i, err)
	}
	return h, nil
}
