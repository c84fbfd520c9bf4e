package safe

import (
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/airlock-vault/airlock/chain"
)

// TypedData is the EIP-712 typed data of a proposal's SafeTx, as
// eth_signTypedData_v4 and hardware wallets take it (an
// ur:eth-sign-request of data type 2 carries it): the domain the Safe
// computes for its version, the SafeTx type and the message. Its hash is
// the safeTxHash the review shows.
func TypedData(v chain.Vault, payload []byte) ([]byte, error) {
	vi, a, err := load(v, payload)
	if err != nil {
		return nil, err
	}
	tx := a.payload.Tx
	if tx == nil {
		return nil, fmt.Errorf("safe: typed data is made for transactions, not messages")
	}
	withChain, err := hasChainID(vi.version)
	if err != nil {
		return nil, err
	}
	type field struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	domainType := []field{{"verifyingContract", "address"}}
	domain := map[string]any{"verifyingContract": vi.safe.Hex()}
	if withChain {
		domainType = []field{{"chainId", "uint256"}, {"verifyingContract", "address"}}
		domain["chainId"] = vi.chainID.String()
	}
	td := map[string]any{
		"types": map[string][]field{
			"EIP712Domain": domainType,
			"SafeTx": {{"to", "address"}, {"value", "uint256"}, {"data", "bytes"}, {"operation", "uint8"}, {"safeTxGas", "uint256"},
				{"baseGas", "uint256"}, {"gasPrice", "uint256"}, {"gasToken", "address"}, {"refundReceiver", "address"}, {"nonce", "uint256"}},
		},
		"primaryType": "SafeTx",
		"domain":      domain,
		"message": map[string]any{
			"to": tx.To.Hex(), "value": tx.Value.String(), "data": hexutil.Encode(tx.Data), "operation": fmt.Sprint(tx.Operation),
			"safeTxGas": tx.SafeTxGas.String(), "baseGas": tx.BaseGas.String(), "gasPrice": tx.GasPrice.String(),
			"gasToken": tx.GasToken.Hex(), "refundReceiver": tx.RefundReceiver.Hex(), "nonce": tx.Nonce.String(),
		},
	}
	return json.Marshal(td)
}
