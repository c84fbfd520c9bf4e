package bitcoin

import (
	"bytes"
	"fmt"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
)

// SameTransaction says whether a PSBT returned by a device is for the
// proposal's transaction (payload): the same unsigned transaction.
func SameTransaction(payload, signed []byte) (bool, error) {
	p, err := psbt.Decode(payload)
	if err != nil {
		return false, err
	}
	s, err := psbt.Decode(signed)
	if err != nil {
		return false, err
	}
	return p.UnsignedTx.TxHash() == s.UnsignedTx.TxHash(), nil
}

// ExternalSignatures takes, from a PSBT an external device signed, the
// signatures of the vault key written as key at every input: the partial
// signature by the pubkey the descriptor gives there (or, for a taproot
// vault, the script-path signature by its x-only key for the vault leaf).
// Every input must carry one; Verify then checks them like a station's.
func ExternalSignatures(v chain.Vault, payload, signed []byte, key string) ([]chain.Signature, error) {
	a, err := analyse(v, payload)
	if err != nil {
		return nil, err
	}
	s, err := psbt.Decode(signed)
	if err != nil {
		return nil, fmt.Errorf("bitcoin: the returned PSBT: %v", err)
	}
	if s.UnsignedTx.TxHash() != a.pkt.UnsignedTx.TxHash() {
		return nil, fmt.Errorf("bitcoin: the returned PSBT is for transaction %s, not the proposal's %s", s.UnsignedTx.TxHash(), a.pkt.UnsignedTx.TxHash())
	}
	ak, err := a.vi.accountKey(key)
	if err != nil {
		return nil, err
	}
	var sigs []chain.Signature
	for i, info := range a.inputs {
		_, pub, ok := pathFor(info, ak)
		if !ok {
			return nil, fmt.Errorf("bitcoin: input %d is not the vault's", i)
		}
		var sig []byte
		if isTaproot(info.derived) {
			l, err := leafFor(info.derived, pub)
			if err != nil {
				return nil, err
			}
			for _, ts := range s.Inputs[i].TaprootScriptSigs {
				if bytes.Equal(ts.XOnlyPubKey, pub[1:]) && bytes.Equal(ts.LeafHash, l.LeafHash) {
					sig = ts.Signature
				}
			}
		} else {
			for _, ps := range s.Inputs[i].PartialSigs {
				if bytes.Equal(ps.PubKey, pub) {
					sig = ps.Signature
				}
			}
		}
		if sig == nil {
			return nil, fmt.Errorf("bitcoin: the returned PSBT has no signature by %x at input %d", pub, i)
		}
		sigs = append(sigs, chain.Signature{Input: i, PubKey: pub, Sig: sig})
	}
	return sigs, nil
}

var _ chain.ExternalCollector = Adapter{}

// SameTransaction implements chain.ExternalCollector.
func (Adapter) SameTransaction(payload, signed []byte) (bool, error) {
	return SameTransaction(payload, signed)
}

// ExternalSignatures implements chain.ExternalCollector.
func (Adapter) ExternalSignatures(v chain.Vault, payload, signed []byte, key string) ([]chain.Signature, error) {
	return ExternalSignatures(v, payload, signed, key)
}
