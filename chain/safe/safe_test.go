package safe

import (
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"errors"
	"math/big"
	"path/filepath"
	"strings"
	"testing"

	btcaddress "github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/keys/keystore"
)

// keySigner is a keys.ChainSigner over one static key (as a token holds it).
type keySigner struct{ k *ecdsa.PrivateKey }

func (s keySigner) MasterFingerprint() [4]byte {
	var fp [4]byte
	copy(fp[:], btcaddress.Hash160(crypto.CompressPubkey(&s.k.PublicKey)))
	return fp
}
func (s keySigner) PublicKey(path []uint32) ([]byte, error) {
	if len(path) != 0 {
		return nil, keys.ErrNoKey
	}
	return crypto.CompressPubkey(&s.k.PublicKey), nil
}
func (s keySigner) SignECDSA(path []uint32, digest []byte) ([]byte, error) {
	sig, err := crypto.Sign(digest, s.k)
	if err != nil {
		return nil, err
	}
	return derOf(sig[:32], sig[32:64]), nil
}
func (s keySigner) ownerKey() string {
	return "[" + keys.FormatFingerprint(s.MasterFingerprint()) + "]" + crypto.PubkeyToAddress(s.k.PublicKey).Hex()
}

func derOf(r, s []byte) []byte {
	enc := func(x []byte) []byte {
		for len(x) > 1 && x[0] == 0 && x[1]&0x80 == 0 {
			x = x[1:]
		}
		if x[0]&0x80 != 0 {
			x = append([]byte{0}, x...)
		}
		return append([]byte{2, byte(len(x))}, x...)
	}
	body := append(enc(r), enc(s)...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

func testKey(t testing.TB, seed string) *ecdsa.PrivateKey {
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte(seed)))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const (
	testSafe     = "0x1Db92e2EeBC8E0c075a02BeA49a2935BcD2dFCF4"
	multiSendCO  = "0x40A2aCCbd92BCA938b02010E17A5b8929b49130D" // MultiSendCallOnly 1.3.0
	multiSendCOh = "0x1111111111111111111111111111111111111111111111111111111111111111"
)

type fixture struct {
	vault   chain.Vault
	signers []keySigner
}

func newFixture(t testing.TB, version string) *fixture {
	f := &fixture{}
	v := chain.Vault{Name: "treasury", Chain: "ethereum", Threshold: 2, Account: &chain.Account{
		Address: testSafe, ChainID: 1, Version: version,
		Trusted: []chain.Trusted{{Name: "MultiSendCallOnly", Address: multiSendCO, CodeHash: multiSendCOh}},
	}}
	for _, s := range []string{"alice", "bob", "carol"} {
		ks := keySigner{testKey(t, s)}
		f.signers = append(f.signers, ks)
		v.Keys = append(v.Keys, ks.ownerKey())
	}
	var err error
	if f.vault, err = (Adapter{}).PrepareVault(v); err != nil {
		t.Fatal(err)
	}
	return f
}

func payload(t testing.TB, tx map[string]string) []byte {
	var b strings.Builder
	b.WriteString("{")
	first := true
	for k, v := range tx {
		if !first {
			b.WriteString(",")
		}
		first = false
		b.WriteString(`"` + k + `":` + v)
	}
	b.WriteString("}")
	return []byte(b.String())
}

func transferPayload(nonce string) []byte {
	return []byte(`{"to":"0x000000000000000000000000000000000000dEaD","value":"100000000000000000","data":"0x","operation":0,"safeTxGas":"0","baseGas":"0","gasPrice":"0","gasToken":"0x0000000000000000000000000000000000000000","refundReceiver":"0x0000000000000000000000000000000000000000","nonce":` + nonce + `}`)
}

func hasFlag(r *chain.Review, code string, sev chain.Severity) bool {
	for _, f := range r.Flags {
		if f.Code == code && f.Severity == sev {
			return true
		}
	}
	return false
}

func TestParseRefusesMalformed(t *testing.T) {
	good := string(transferPayload("5"))
	cases := map[string]string{
		"unknown field":     strings.Replace(good, `"nonce"`, `"dataDecoded":null,"nonce"`, 1),
		"duplicate key":     strings.Replace(good, `"value":"100000000000000000"`, `"value":"1","value":"2"`, 1),
		"negative value":    strings.Replace(good, `"100000000000000000"`, `"-1"`, 1),
		"hex value":         strings.Replace(good, `"100000000000000000"`, `"0x10"`, 1),
		"fraction":          strings.Replace(good, `"100000000000000000"`, `1.5`, 1),
		"leading zero":      strings.Replace(good, `"100000000000000000"`, `"01"`, 1),
		"over 2^256":        strings.Replace(good, `"100000000000000000"`, `"`+new(big.Int).Lsh(big.NewInt(1), 256).String()+`"`, 1),
		"operation 2":       strings.Replace(good, `"operation":0`, `"operation":2`, 1),
		"bad checksum":      strings.Replace(good, `0x000000000000000000000000000000000000dEaD`, `0x000000000000000000000000000000000000DEad`, 1),
		"short address":     strings.Replace(good, `0x000000000000000000000000000000000000dEaD`, `0xdEaD`, 1),
		"odd data":          strings.Replace(good, `"data":"0x"`, `"data":"0x123"`, 1),
		"no nonce":          strings.Replace(good, `,"nonce":5`, ``, 1),
		"trailing":          good + "{}",
		"array":             "[" + good + "]",
		"message with to":   `{"message":"hi","to":"0x000000000000000000000000000000000000dEaD"}`,
		"two message kinds": `{"message":"hi","hash":"0x` + strings.Repeat("00", 32) + `"}`,
	}
	for name, in := range cases {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrPayload) {
			t.Errorf("%s: got %v, want ErrPayload", name, err)
		}
	}
	if _, err := Parse([]byte(good)); err != nil {
		t.Fatalf("good payload refused: %v", err)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	p, err := Parse(transferPayload(`"7"`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if q.Tx.StructHash() != p.Tx.StructHash() {
		t.Fatal("re-encoded payload hashes differently")
	}
}

// The domain has no chain id before 1.3.0: the same SafeTx hashes alike
// on every chain, and differently from 1.3.0 on.
func TestDomainPerVersion(t *testing.T) {
	safe := common.HexToAddress(testSafe)
	sep := map[string]common.Hash{}
	for _, v := range Versions {
		d1, err := Domain{Version: v, ChainID: big.NewInt(1), Safe: safe}.Separator()
		if err != nil {
			t.Fatal(err)
		}
		d5, _ := Domain{Version: v, ChainID: big.NewInt(5), Safe: safe}.Separator()
		legacy := v == "1.1.1" || v == "1.2.0"
		if (d1 == d5) != legacy {
			t.Errorf("%s: chain id in the domain: %v, want %v", v, d1 != d5, !legacy)
		}
		sep[v] = d1
	}
	want := crypto.Keccak256Hash(crypto.Keccak256([]byte("EIP712Domain(address verifyingContract)")), common.LeftPadBytes(safe[:], 32))
	if sep["1.1.1"] != want {
		t.Fatalf("legacy domain %s, want %s", sep["1.1.1"].Hex(), want.Hex())
	}
	if _, err := (Domain{Version: "1.0.0", ChainID: big.NewInt(1), Safe: safe}).Separator(); !errors.Is(err, ErrVersion) {
		t.Fatalf("version 1.0.0: %v", err)
	}
}

func TestSignVerifyAssemble(t *testing.T) {
	for _, ver := range Versions {
		f := newFixture(t, ver)
		pl := transferPayload("3")
		r, err := Adapter{}.Review(context.Background(), f.vault, pl)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Blocking()) != 0 {
			t.Fatalf("%s: plain transfer blocked: %v", ver, r.Flags)
		}
		if r.Spends[0] != "ethereum:1:"+testSafe+":nonce:3" {
			t.Fatalf("spends %v", r.Spends)
		}
		sets := map[string][]chain.Signature{}
		for _, i := range []int{2, 0} {
			sigs, err := Adapter{}.Sign(f.vault, pl, f.vault.Keys[i], f.signers[i])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := (Adapter{}).Verify(f.vault, pl, f.vault.Keys[i], sigs); err != nil {
				t.Fatal(err)
			}
			// A signature is one owner's only.
			if _, err := (Adapter{}).Verify(f.vault, pl, f.vault.Keys[1], sigs); err == nil {
				t.Fatal("alice's signature verified as bob's")
			}
			sets[f.vault.Keys[i]] = sigs
		}
		fin, err := Adapter{}.Assemble(f.vault, pl, sets)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(fin.Raw[:4]) != "6a761202" {
			t.Fatalf("calldata selector %x, want execTransaction 6a761202", fin.Raw[:4])
		}
		if _, err := (Adapter{}).Assemble(f.vault, pl, map[string][]chain.Signature{f.vault.Keys[0]: sets[f.vault.Keys[0]]}); err == nil {
			t.Fatal("assembled below the threshold")
		}
	}
}

func TestSignRefusesSwappedDevice(t *testing.T) {
	f := newFixture(t, "1.3.0")
	_, err := Adapter{}.Sign(f.vault, transferPayload("1"), f.vault.Keys[0], keySigner{testKey(t, "mallory")})
	if err == nil || !strings.Contains(err.Error(), "wrong device") {
		t.Fatalf("got %v", err)
	}
}

// A station keystore derives its owner key at m/44'/60'/0'/0/0.
func TestKeystoreOwner(t *testing.T) {
	ks, err := keystore.Create(filepath.Join(t.TempDir(), "k.age"), []byte("pw"), keystore.Options{Network: &chaincfg.RegressionNetParams, WorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ks.PublicKey(EthereumPath)
	pk, _ := crypto.DecompressPubkey(pub)
	key := OwnerKeyExpression(ks.MasterFingerprint(), EthereumPath, crypto.PubkeyToAddress(*pk))
	f := newFixture(t, "1.4.1")
	f.vault.Keys[1] = key
	pl := transferPayload("9")
	sigs, err := Adapter{}.Sign(f.vault, pl, key, ks)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Adapter{}).Verify(f.vault, pl, key, sigs); err != nil {
		t.Fatal(err)
	}
}

func TestSignaturesSortedAndEncoded(t *testing.T) {
	a := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	b := common.HexToAddress("0x00000000000000000000000000000000000000bb")
	c := common.HexToAddress("0x00000000000000000000000000000000000000cc")
	sig := make([]byte, 65)
	sig[64] = 27
	blob, err := EncodeSignatures([]OwnerSignature{{Owner: c, Contract: []byte{1, 2, 3}}, {Owner: b, Sig: sig}, {Owner: a, ApprovedHash: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(blob) != 3*65+32+3 {
		t.Fatalf("blob of %d bytes", len(blob))
	}
	if blob[64] != 1 || common.BytesToAddress(blob[12:32]) != a {
		t.Fatal("approved hash not first")
	}
	if blob[129] != 27 {
		t.Fatal("ECDSA signature not second")
	}
	if blob[194] != 0 || new(big.Int).SetBytes(blob[162:194]).Int64() != 195 {
		t.Fatalf("contract signature offset %d", new(big.Int).SetBytes(blob[162:194]))
	}
	if _, err := EncodeSignatures([]OwnerSignature{{Owner: a, Sig: sig}, {Owner: a, Sig: sig}}); err == nil {
		t.Fatal("one owner twice accepted")
	}
}
