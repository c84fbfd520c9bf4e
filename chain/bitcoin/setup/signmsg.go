package setup

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"
)

const messageMagic = "Bitcoin Signed Message:\n"

// messageHash is the legacy signed-message digest:
// SHA256d(varstr(magic) || varstr(msg)).
func messageHash(msg string) []byte {
	var b bytes.Buffer
	_ = wire.WriteVarString(&b, 0, messageMagic)
	_ = wire.WriteVarString(&b, 0, msg)
	return chainhash.DoubleHashB(b.Bytes())
}

// signMessage makes a legacy compact signature (header 31-34: compressed
// key, P2PKH), base64, deterministic (RFC 6979).
func signMessage(priv *btcec.PrivateKey, msg string) string {
	return base64.StdEncoding.EncodeToString(ecdsa.SignCompact(priv, messageHash(msg), true))
}

// verifyMessage checks a legacy signed message (BIP-137 headers for a
// compressed key: 31-34 P2PKH, 35-38 P2SH-P2WPKH, 39-42 P2WPKH) by
// recovering the key and comparing it to pub (33 bytes). BIP-322 simple
// and full signatures are refused.
func verifyMessage(pub []byte, msg, sig64 string) error {
	if len(sig64) > 200 {
		return errors.New("setup: signature too long")
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(sig64)
	if err != nil {
		return errors.New("setup: signature is not base64")
	}
	if len(sig) != 65 {
		return fmt.Errorf("setup: signature of %d bytes is not a legacy signed message (BIP-322 simple and full signatures are not supported)", len(sig))
	}
	h := sig[0]
	switch {
	case h >= 31 && h <= 34:
	case h >= 35 && h <= 42:
		sig = bytes.Clone(sig)
		sig[0] = 31 + (h-35)%4
	default:
		return fmt.Errorf("setup: signature header %d is not for a compressed key", h)
	}
	got, compressed, err := ecdsa.RecoverCompact(sig, messageHash(msg))
	if err != nil || !compressed {
		return errors.New("setup: invalid signature")
	}
	if !bytes.Equal(got.SerializeCompressed(), pub) {
		return errors.New("setup: signature is not by the record's key")
	}
	return nil
}
