package coordinator

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/policy"
)

// transferSelector is the ERC-20 transfer(address,uint256) selector.
var transferSelector = []byte{0xa9, 0x05, 0x9c, 0xbb}

// SafePayment builds the Safe transaction of a payment under a template:
// amount (whole units) to the address-book entry label, at the Safe's
// nonce. A native ETH payment is a call with value and no data; an
// ERC-20 payment is transfer(to, amount) called on the token, with no
// value. Neither refunds gas. It returns the vault and the payload in
// airlock's canonical encoding (ProposeParams.Payload); Propose decides
// it against the template as it would any proposal.
func SafePayment(pol *policy.Policy, template, label, amount string, nonce uint64) (string, []byte, error) {
	pay, err := pol.TemplatePayment(template, label, amount)
	if err != nil {
		return "", nil, err
	}
	v := pay.Vault
	if v.Chain != "ethereum" || v.Safe == nil {
		return "", nil, fmt.Errorf("coordinator: template %q pays from vault %q, not a Safe: build its PSBT and propose it with --psbt", template, v.Name)
	}
	if !common.IsHexAddress(pay.To) {
		return "", nil, fmt.Errorf("coordinator: destination %q is not an Ethereum address", pay.To)
	}
	to := common.HexToAddress(pay.To)
	tx := &safe.Tx{
		Value: new(big.Int), SafeTxGas: new(big.Int), BaseGas: new(big.Int), GasPrice: new(big.Int),
		Nonce: new(big.Int).SetUint64(nonce),
	}
	switch {
	case pay.Token == "":
		tx.To, tx.Value = to, pay.Amount
	case pay.Amount.BitLen() > 256:
		return "", nil, errors.New("coordinator: amount over 256 bits")
	default:
		tx.To = common.HexToAddress(pay.Token)
		tx.Data = append(append(append([]byte{}, transferSelector...), common.LeftPadBytes(to.Bytes(), 32)...), common.LeftPadBytes(pay.Amount.Bytes(), 32)...)
	}
	addr := common.HexToAddress(v.Safe.Address)
	payload, err := (&safe.Payload{Tx: tx, Safe: &addr}).Encode()
	if err != nil {
		return "", nil, err
	}
	return v.Name, payload, nil
}
