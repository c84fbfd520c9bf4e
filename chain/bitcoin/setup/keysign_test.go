package setup

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// accountPriv derives the test signer's private key at path.
func accountPriv(t *testing.T, s *testSigner, path []uint32) *btcec.PrivateKey {
	t.Helper()
	k := s.master
	for _, p := range path {
		var err error
		if k, err = k.Derive(p); err != nil {
			t.Fatal(err)
		}
	}
	priv, err := k.ECPrivKey()
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func derSigner(priv *btcec.PrivateKey) DigestSigner {
	return func(digest []byte) ([]byte, error) { return ecdsa.Sign(priv, digest).Serialize(), nil }
}

// TestSignKeyRecordWithMatchesSignKeyRecord: a key held by a keystore or a
// token, which only hands out DER signatures, gives the same record as a
// private key in hand.
func TestSignKeyRecordWithMatchesSignKeyRecord(t *testing.T) {
	net := &chaincfg.RegressionNetParams
	s := newTestSigner(t, 7, net)
	spec := s.account(t, bip48(1, 2))
	priv := accountPriv(t, s, spec.Path)
	for _, token := range [][]byte{nil, {0}, []byte("8bytes!!"), []byte("sixteen bytes!!!")} {
		want := &KeyRecord{Token: token, Key: formatKeyOrigin(spec) + spec.XPub, Description: "alice's station"}
		if err := SignKeyRecord(want, priv); err != nil {
			t.Fatal(err)
		}
		got := &KeyRecord{Token: token, Key: want.Key, Description: want.Description}
		if err := SignKeyRecordWith(got, derSigner(priv)); err != nil {
			t.Fatal(err)
		}
		if got.Signature != want.Signature {
			t.Errorf("token %x: signature %s, want %s", token, got.Signature, want.Signature)
		}
		data, err := got.Encode(token)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseKeyRecord(data, token)
		if err != nil || back.Key != want.Key {
			t.Fatalf("ParseKeyRecord = %+v, %v", back, err)
		}
		if err := back.CheckNetwork(net); err != nil {
			t.Error(err)
		}
	}
}

// TestSignKeyRecordWithStaticKey: a token key without BIP-32 is a bare
// public key with its fingerprint as origin, which BIP-129 allows.
func TestSignKeyRecordWithStaticKey(t *testing.T) {
	priv, err := btcec.NewPrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	rec := &KeyRecord{Token: []byte{0}, Key: "[0a0b0c0d]" + hex.EncodeToString(priv.PubKey().SerializeCompressed()), Description: "token"}
	if err := SignKeyRecordWith(rec, derSigner(priv)); err != nil {
		t.Fatal(err)
	}
	data, err := rec.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseKeyRecord(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, net := range []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.RegressionNetParams} {
		if err := back.CheckNetwork(net); err != nil {
			t.Errorf("%s: %v", net.Name, err)
		}
	}
}

func TestSignKeyRecordWithRefusesOtherKey(t *testing.T) {
	net := &chaincfg.TestNet3Params
	s := newTestSigner(t, 1, net)
	spec := s.account(t, bip48(1, 2))
	other := accountPriv(t, newTestSigner(t, 2, net), spec.Path)
	cases := []struct {
		name string
		sign DigestSigner
		want string
	}{
		{"another key", derSigner(other), "not by the record's key"},
		{"the master key", derSigner(accountPriv(t, s, nil)), "not by the record's key"},
		{"not DER", func([]byte) ([]byte, error) { return make([]byte, 64), nil }, "DER"},
		{"signer fails", func([]byte) ([]byte, error) { return nil, errors.New("token removed") }, "token removed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &KeyRecord{Key: formatKeyOrigin(spec) + spec.XPub}
			err := SignKeyRecordWith(rec, c.sign)
			if err == nil || !strings.HasPrefix(err.Error(), "setup: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
			if rec.Signature != "" {
				t.Error("a signature was set")
			}
		})
	}
}

func TestKeyRecordForAnotherNetworkRefused(t *testing.T) {
	spec := newTestSigner(t, 3, &chaincfg.TestNet3Params).account(t, bip48(1, 2))
	rec := &KeyRecord{Key: formatKeyOrigin(spec) + spec.XPub}
	if err := rec.CheckNetwork(&chaincfg.MainNetParams); err == nil || !strings.Contains(err.Error(), "not mainnet") {
		t.Errorf("tpub on mainnet: %v", err)
	}
	main := newTestSigner(t, 3, &chaincfg.MainNetParams).account(t, bip48(0, 2))
	rec = &KeyRecord{Key: formatKeyOrigin(main) + main.XPub}
	if err := rec.CheckNetwork(&chaincfg.RegressionNetParams); err == nil || !strings.Contains(err.Error(), "not regtest") {
		t.Errorf("xpub on regtest: %v", err)
	}
}
