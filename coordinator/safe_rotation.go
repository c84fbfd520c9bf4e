package coordinator

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/policy"
)

// SafeRotation builds the Safe transaction that brings vault name's Safe
// from its owners on chain, from (in the Safe's own order, as getOwners
// returns them) with threshold fromThreshold, to the owners and threshold
// pol lists (safe.RotationTx: swapOwner for each replaced owner,
// add/remove when the counts differ, changeThreshold last; several calls
// are one batch through the MultiSendCallOnly the vault pins). It returns
// the payload in airlock's canonical encoding, for Propose; stations
// accept it only as a rotation toward the version it cites.
func SafeRotation(pol *policy.Policy, name string, from []common.Address, fromThreshold int, nonce uint64) ([]byte, error) {
	v, ok := pol.Vault(name)
	if !ok {
		return nil, fmt.Errorf("coordinator: policy %s has no vault %q", pol.Name, name)
	}
	if v.Chain != "ethereum" || v.Safe == nil {
		return nil, fmt.Errorf("coordinator: vault %q is not a Safe: a Bitcoin vault's signers change by a sweep to a new vault (docs/governance.md)", name)
	}
	cv, err := pol.ChainVault(v)
	if err != nil {
		return nil, err
	}
	var to []common.Address
	for _, k := range cv.Keys {
		ok, err := safe.ParseOwnerKey(k)
		if err != nil {
			return nil, err
		}
		to = append(to, ok.Address)
	}
	var msco common.Address
	for _, t := range v.Safe.Trusted {
		if t.Name == "MultiSendCallOnly" {
			msco = common.HexToAddress(t.Address)
		}
	}
	addr := common.HexToAddress(v.Safe.Address)
	tx, err := safe.RotationTx(addr, from, to, fromThreshold, v.Threshold, new(big.Int).SetUint64(nonce), msco)
	if err != nil {
		return nil, err
	}
	return (&safe.Payload{Tx: tx, Safe: &addr}).Encode()
}

// PreviousOwners are a Safe vault's owners and threshold in the policy
// version before pol (in policy order, the order a Safe set up from it
// keeps): the default for SafeRotation's from.
func PreviousOwners(versions []*policy.Policy, pol *policy.Policy, name string) ([]common.Address, int, error) {
	if pol.Version < 2 || int(pol.Version) > len(versions) {
		return nil, 0, fmt.Errorf("coordinator: policy version %d has no version before it here", pol.Version)
	}
	prev := versions[pol.Version-2]
	v, ok := prev.Vault(name)
	if !ok {
		return nil, 0, fmt.Errorf("coordinator: policy version %d has no vault %q", prev.Version, name)
	}
	cv, err := prev.ChainVault(v)
	if err != nil {
		return nil, 0, err
	}
	var out []common.Address
	for _, k := range cv.Keys {
		ok, err := safe.ParseOwnerKey(k)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, ok.Address)
	}
	return out, v.Threshold, nil
}

// Rotation is SafeRotation from the owners given as addresses (the
// Safe's order), or, when none are given, from the previous policy
// version's owners and threshold (a Safe set up from it keeps that order).
func Rotation(versions []*policy.Policy, pol *policy.Policy, name string, owners []string, threshold int, nonce uint64) ([]byte, error) {
	var from []common.Address
	if len(owners) == 0 {
		var err error
		if from, threshold, err = PreviousOwners(versions, pol, name); err != nil {
			return nil, err
		}
	}
	for _, o := range owners {
		o = strings.TrimSpace(o)
		if !common.IsHexAddress(o) {
			return nil, fmt.Errorf("coordinator: owner %q is not an address", o)
		}
		from = append(from, common.HexToAddress(o))
	}
	return SafeRotation(pol, name, from, threshold, nonce)
}
