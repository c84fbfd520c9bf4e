package setup

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// testSigner is a deterministic signer: seed byte i on network net.
type testSigner struct {
	master *hdkeychain.ExtendedKey
	fp     [4]byte
}

func newTestSigner(t testing.TB, i byte, net *chaincfg.Params) *testSigner {
	t.Helper()
	m, err := hdkeychain.NewMaster(bytes.Repeat([]byte{i}, 32), net)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := m.ECPubKey()
	if err != nil {
		t.Fatal(err)
	}
	return &testSigner{master: m, fp: [4]byte(address.Hash160(pub.SerializeCompressed())[:4])}
}

// account derives the signer's key at path and returns it as a KeySpec.
func (s *testSigner) account(t testing.TB, path []uint32) descriptor.KeySpec {
	t.Helper()
	k := s.master
	for _, p := range path {
		var err error
		if k, err = k.Derive(p); err != nil {
			t.Fatal(err)
		}
	}
	n, err := k.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	return descriptor.KeySpec{Fingerprint: s.fp, Path: path, XPub: n.String()}
}

const h = hdkeychain.HardenedKeyStart

// bip48 is m/48'/coin'/0'/script'.
func bip48(coin, script uint32) []uint32 { return []uint32{h + 48, h + coin, h, h + script} }

// testKeys gives n signers' BIP-48 account keys.
func testKeys(t testing.TB, n int, net *chaincfg.Params, script uint32) []descriptor.KeySpec {
	t.Helper()
	coin := uint32(1)
	if net == &chaincfg.MainNetParams {
		coin = 0
	}
	keys := make([]descriptor.KeySpec, n)
	for i := range keys {
		keys[i] = newTestSigner(t, byte(i+1), net).account(t, bip48(coin, script))
	}
	return keys
}
