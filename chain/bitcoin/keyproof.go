package bitcoin

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"

	"github.com/airlock-vault/airlock/chain"
)

var _ chain.KeyProver = Adapter{}

// KeyPublic returns the path from the signer's master to the account key
// (empty for a static key) and its compressed public key.
func (Adapter) KeyPublic(network, key string) ([]uint32, []byte, error) {
	net, err := Network(network)
	if err != nil {
		return nil, nil, err
	}
	k, err := ParseAccountKey(key, net)
	if err != nil {
		return nil, nil, err
	}
	if k.Static != nil {
		return nil, bytes.Clone(k.Static), nil
	}
	pub, err := k.key.ECPubKey()
	if err != nil {
		return nil, nil, fmt.Errorf("bitcoin: key %s: %v", short(key), err)
	}
	return append([]uint32(nil), k.Path...), pub.SerializeCompressed(), nil
}

// VerifyKeyProof checks a DER ECDSA signature with low S over digest by
// the account key (or static key) written as key.
func (a Adapter) VerifyKeyProof(network, key string, digest, sig []byte) error {
	_, pubBytes, err := a.KeyPublic(network, key)
	if err != nil {
		return err
	}
	if len(digest) != 32 {
		return fmt.Errorf("bitcoin: key proof digest is %d bytes, want 32", len(digest))
	}
	pub, err := btcec.ParsePubKey(pubBytes)
	if err != nil {
		return err
	}
	s, err := ecdsa.ParseDERSignature(sig)
	if err != nil {
		return fmt.Errorf("bitcoin: key proof: %v", err)
	}
	sv := s.S()
	if sv.IsOverHalfOrder() {
		return errors.New("bitcoin: key proof has a high S")
	}
	if !s.Verify(digest, pub) {
		return fmt.Errorf("bitcoin: key proof does not verify against %s", short(key))
	}
	return nil
}
