package main

import (
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/workspace"
)

// rejection is Safe vault name's on-chain rejection of nonce (propose
// --cancel-nonce): the Safe Transaction Service's JSON of a call to the
// Safe itself, value 0, no data, no refund (safe.RejectionJSON).
func (e *env) rejection(ws *workspace.Workspace, name string, nonce uint64) ([]byte, error) {
	pol, _, err := ws.Policy(reg)
	if err != nil {
		return nil, err
	}
	v, ok := pol.Vault(name)
	if !ok {
		return nil, fmt.Errorf("propose: no vault %q in the policy", name)
	}
	if v.Safe == nil || !common.IsHexAddress(v.Safe.Address) {
		return nil, withHint(fmt.Errorf("propose: vault %q is not a Safe: --cancel-nonce rejects a Safe nonce", name), "a Bitcoin proposal is cancelled by spending none of its inputs, or by letting it expire")
	}
	return safe.RejectionJSON(common.HexToAddress(v.Safe.Address), nonce), nil
}
