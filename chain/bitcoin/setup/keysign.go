package setup

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// DigestSigner signs a 32-byte digest with the private key of a key
// record's KEY and returns a DER ECDSA signature, as a keystore or a
// PKCS#11 token does (keys.ChainSigner.SignECDSA at the key's path).
type DigestSigner func(digest []byte) ([]byte, error)

// SignKeyRecordWith is SignKeyRecord for a key that never leaves its
// holder: sign makes a plain ECDSA signature over the legacy
// signed-message digest of the record's first four lines, and the
// recovery id that BIP-137's compact form needs is found by recovering the
// public key and comparing it to the record's KEY. The result is the same
// signature SignKeyRecord gives when sign uses RFC 6979 nonces.
func SignKeyRecordWith(rec *KeyRecord, sign DigestSigner) error {
	if err := checkDescription(rec.Description); err != nil {
		return err
	}
	pub, err := rec.PubKey()
	if err != nil {
		return err
	}
	msg, err := rec.message()
	if err != nil {
		return err
	}
	digest := messageHash(msg)
	der, err := sign(digest)
	if err != nil {
		return fmt.Errorf("setup: signing the key record: %w", err)
	}
	sig, err := ecdsa.ParseDERSignature(der)
	if err != nil {
		return fmt.Errorf("setup: signer returned no DER signature: %v", err)
	}
	r, s := sig.R(), sig.S()
	compact := make([]byte, 65)
	r.PutBytesUnchecked(compact[1:33])
	s.PutBytesUnchecked(compact[33:65])
	// Header 31-34: P2PKH with a compressed key, 31 + recovery id.
	for id := byte(0); id < 4; id++ {
		compact[0] = 31 + id
		got, compressed, err := ecdsa.RecoverCompact(compact, digest)
		if err == nil && compressed && bytes.Equal(got.SerializeCompressed(), pub) {
			rec.Signature = base64.StdEncoding.EncodeToString(compact)
			return verifyMessage(pub, msg, rec.Signature)
		}
	}
	return errors.New("setup: the signature is not by the record's key (wrong key or path)")
}

// CheckNetwork refuses a record whose KEY is encoded for another network
// than net: an xpub on a test network, a tpub on mainnet. A bare public
// key serves every network.
func (r *KeyRecord) CheckNetwork(net *chaincfg.Params) error {
	if _, err := r.PubKey(); err != nil {
		return err
	}
	k, err := descriptor.ParseKey(r.Key)
	if err != nil {
		return fmt.Errorf("setup: KEY: %w", err)
	}
	if !k.Network().Allows(net) {
		return fmt.Errorf("setup: KEY is for %s, not %s", k.Network(), net.Name)
	}
	return nil
}
