package safe

import (
	"bytes"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
)

// DecodeExecCalldata reads execTransaction calldata (what a finalized Safe
// proposal's transaction is) back into the Safe transaction and the
// signature blob. It checks the encoding only.
func DecodeExecCalldata(b []byte) (*Tx, []byte, error) {
	if len(b) < 4 || !bytes.Equal(b[:4], execTransaction.selector) {
		return nil, nil, fmt.Errorf("safe: not execTransaction calldata")
	}
	vals, err := execTransaction.args.Unpack(b[4:])
	if err != nil {
		return nil, nil, fmt.Errorf("safe: malformed execTransaction calldata: %v", err)
	}
	if len(vals) != 10 {
		return nil, nil, fmt.Errorf("safe: execTransaction calldata with %d arguments", len(vals))
	}
	var ok [10]bool
	tx := &Tx{}
	tx.To, ok[0] = vals[0].(common.Address)
	tx.Value, ok[1] = vals[1].(*big.Int)
	tx.Data, ok[2] = vals[2].([]byte)
	tx.Operation, ok[3] = vals[3].(uint8)
	tx.SafeTxGas, ok[4] = vals[4].(*big.Int)
	tx.BaseGas, ok[5] = vals[5].(*big.Int)
	tx.GasPrice, ok[6] = vals[6].(*big.Int)
	tx.GasToken, ok[7] = vals[7].(common.Address)
	tx.RefundReceiver, ok[8] = vals[8].(common.Address)
	sigs, ok9 := vals[9].([]byte)
	ok[9] = ok9
	for i, o := range ok {
		if !o {
			return nil, nil, fmt.Errorf("safe: execTransaction argument %d has the wrong type", i)
		}
	}
	return tx, sigs, nil
}
