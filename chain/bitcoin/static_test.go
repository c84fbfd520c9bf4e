package bitcoin

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/keys"
)

// staticSigner is a keys.ChainSigner over one key without BIP-32, the way a
// PKCS#11 token holds a chain key.
type staticSigner struct{ priv *btcec.PrivateKey }

func (s staticSigner) pub() []byte                { return s.priv.PubKey().SerializeCompressed() }
func (s staticSigner) MasterFingerprint() [4]byte { return StaticFingerprint(s.pub()) }
func (s staticSigner) PublicKey(path []uint32) ([]byte, error) {
	if len(path) != 0 {
		return nil, keys.ErrNoKey
	}
	return s.pub(), nil
}
func (s staticSigner) SignECDSA(path []uint32, digest []byte) ([]byte, error) {
	if len(path) != 0 {
		return nil, keys.ErrNoKey
	}
	return ecdsa.Sign(s.priv, digest).Serialize(), nil
}

func staticFixture(t *testing.T) (*fixture, staticSigner) {
	t.Helper()
	st := staticSigner{priv: btcec.PrivKeyFromScalar(new(btcec.ModNScalar).SetInt(424242))}
	f := &fixture{}
	v := chain.Vault{Name: "ops", Chain: "bitcoin", Network: "regtest", Threshold: 2}
	for i := byte(1); i <= 2; i++ {
		s := newSeedSigner(t, i)
		f.signers = append(f.signers, s)
		v.Keys = append(v.Keys, s.keyExpr())
	}
	v.Keys = append(v.Keys, StaticKeyExpression(st.pub()))
	v, err := Adapter{}.PrepareVault(v)
	if err != nil {
		t.Fatal(err)
	}
	f.vault = v
	if _, f.payload, err = Synthetic(v, 5, "", 30_000_000, 2_000); err != nil {
		t.Fatal(err)
	}
	return f, st
}

// A vault mixing two BIP-32 signers with one static key (an HSM) derives,
// reviews, signs and finalizes; the static key is the same at every index.
func TestStaticKeyVaultRoundTrip(t *testing.T) {
	f, st := staticFixture(t)
	if !strings.Contains(f.vault.Descriptor, "]"+StaticKeyExpression(st.pub())[10:]+")") {
		t.Fatalf("descriptor %s does not hold the static key", f.vault.Descriptor)
	}
	r, err := Adapter{}.Review(context.Background(), f.vault, f.payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Blocking()) != 0 {
		t.Fatalf("blocking flags: %v", r.Flags)
	}
	if d := r.Details.(Details); !d.Outputs[1].Change {
		t.Fatalf("change not proven with a static key: %+v", d.Outputs)
	}
	a, b := f.vault.Keys[0], f.vault.Keys[2]
	sa, err := Adapter{}.Sign(f.vault, f.payload, a, f.signers[0])
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Adapter{}.Sign(f.vault, f.payload, b, st)
	if err != nil {
		t.Fatalf("static signer: %v", err)
	}
	if _, err := (Adapter{}).Verify(f.vault, f.payload, b, sb); err != nil {
		t.Fatalf("verify static signatures: %v", err)
	}
	fin, err := Adapter{}.Assemble(f.vault, f.payload, map[string][]chain.Signature{a: sa, b: sb})
	if err != nil {
		t.Fatalf("assemble: %v", err)
	}
	if len(fin.Raw) == 0 {
		t.Fatal("no final transaction")
	}
	if _, err := CheckFinal(f.payload, fin.Raw); err != nil {
		t.Fatalf("the final transaction does not check: %v", err)
	}
	// A flipped bit in a signature: the script engine refuses it before
	// any node sees it.
	bad := append([]byte(nil), fin.Raw...)
	i := bytes.Index(bad, sa[0].Sig[:20])
	if i < 0 {
		t.Fatal("signature not found in the final transaction")
	}
	bad[i+12] ^= 1
	if _, err := CheckFinal(f.payload, bad); err == nil || !strings.Contains(err.Error(), "refusing to broadcast") {
		t.Fatalf("tampered transaction passed: %v", err)
	}
}

// A token holding another key than the policy's (a swapped device) is
// refused before it signs anything.
func TestStaticKeySwappedDeviceRefused(t *testing.T) {
	f, _ := staticFixture(t)
	other := staticSigner{priv: btcec.PrivKeyFromScalar(new(btcec.ModNScalar).SetInt(7))}
	_, err := Adapter{}.Sign(f.vault, f.payload, f.vault.Keys[2], other)
	if err == nil || !strings.Contains(err.Error(), "fingerprint") {
		t.Fatalf("got %v, want a fingerprint mismatch", err)
	}
}

func TestParseStaticAccountKey(t *testing.T) {
	pub := staticSigner{priv: btcec.PrivKeyFromScalar(new(btcec.ModNScalar).SetInt(9))}.pub()
	net, _ := Network("regtest")
	k, err := ParseAccountKey(StaticKeyExpression(pub), net)
	if err != nil || !bytes.Equal(k.Static, pub) {
		t.Fatalf("got %+v, %v", k, err)
	}
	bad := []string{
		"[00000000]" + StaticKeyExpression(pub)[10:],                         // wrong fingerprint
		StaticKeyExpression(pub)[:10] + "04" + StaticKeyExpression(pub)[12:], // not compressed
		StaticKeyExpression(pub)[:len(StaticKeyExpression(pub))-2] + "zz",    // not hex
	}
	for _, s := range bad {
		if _, err := ParseAccountKey(s, net); err == nil {
			t.Errorf("%s: accepted", s)
		}
	}
	var offCurve = "02" + strings.Repeat("ff", 32)
	if _, err := ParseAccountKey("["+keys.FormatFingerprint(StaticFingerprint(mustHex(offCurve)))+"]"+offCurve, net); err == nil {
		t.Error("accepted a point off the curve")
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
