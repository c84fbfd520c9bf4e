package coordinator

import (
	"errors"
	"fmt"

	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/transport/qr/ur"
)

// EthSignRequest is the ur:eth-sign-request (EIP-4527) that asks the
// external wallet of signer ("participant/device") to sign proposal ref's
// SafeTx: its EIP-712 typed data, the chain id, the owner's address and,
// when the policy records it, the key's origin. Its request id is the
// proposal id's first 16 bytes; the wallet's ur:eth-signature answer is
// collected with "collect --proposal".
func (c *Coordinator) EthSignRequest(ref, signer string) (*ur.EthSignRequest, error) {
	pe, err := c.WS.Proposal(ref)
	if err != nil {
		return nil, err
	}
	p, pol, _, err := c.open(pe)
	if err != nil {
		return nil, err
	}
	if p.Chain != "ethereum" {
		return nil, fmt.Errorf("coordinator: proposal %s is a %s transaction; an eth-sign-request asks for a Safe's", pe.IDHex()[:16], p.Chain)
	}
	v, _ := pol.Vault(p.Vault)
	signers, err := pol.Signers(v)
	if err != nil {
		return nil, err
	}
	var key string
	for _, s := range signers {
		if s.Participant.ID+"/"+s.Device.ID == signer {
			key = s.Device.KeyFor(p.Chain)
		}
	}
	if key == "" {
		return nil, fmt.Errorf("coordinator: %q signs no Safe owner of vault %q", signer, v.Name)
	}
	o, err := safe.ParseOwnerKey(key)
	if err != nil {
		return nil, err
	}
	cv, err := proposal.ChainVault(p, pol)
	if err != nil {
		return nil, err
	}
	td, err := safe.TypedData(cv, p.Payload)
	if err != nil {
		return nil, err
	}
	if cv.Account == nil {
		return nil, errors.New("coordinator: the vault has no Safe")
	}
	id := pe.ID()
	req := &ur.EthSignRequest{RequestID: id[:16], SignData: td, DataType: ur.EthTypedData, ChainID: int64(cv.Account.ChainID),
		Address: o.Address.Bytes(), Origin: "airlock", Path: safe.EthereumPath}
	if o.Fingerprint != nil {
		req.Fingerprint = uint32(o.Fingerprint[0])<<24 | uint32(o.Fingerprint[1])<<16 | uint32(o.Fingerprint[2])<<8 | uint32(o.Fingerprint[3])
	}
	if o.Path != nil {
		req.Path = o.Path
	}
	return req, nil
}
