//go:build cgo

package safe

import (
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/safe/safesim"
	"github.com/airlock-vault/airlock/keys/pkcs11"
	"github.com/airlock-vault/airlock/keys/pkcs11/softhsmtest"
)

// One owner of a real Safe holds its key on a real PKCS#11 token
// (SoftHSM2): the token signs the safeTxHash (CKM_ECDSA, low S, recovery
// id found by airlock) and the Safe executes.
func TestOnChainWithTokenOwner(t *testing.T) {
	module := softhsmtest.New(t, "safe-owner", "1234")
	tok, err := pkcs11.Open(module, "safe-owner", []byte("1234"))
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	k, err := tok.GenerateSecp256k1("airlock/test/chain")
	if err != nil {
		t.Fatal(err)
	}
	hsm := pkcs11.StaticSigner{Key: k}
	pk, err := crypto.DecompressPubkey(k.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	hsmAddr := crypto.PubkeyToAddress(*pk)
	hsmKey := OwnerKeyExpression(hsm.MasterFingerprint(), nil, hsmAddr)

	env := safesim.New(t, safesim.Artifacts(t), "1.4.1")
	alice := keySigner{testKey(t, "alice-hsm")}
	safeAddr := env.CreateSafe(t, []common.Address{crypto.PubkeyToAddress(alice.k.PublicKey), hsmAddr}, 2)
	env.Fund(t, safeAddr, big.NewInt(1e18))
	o := &onchain{env: env, safe: safeAddr, vault: chain.Vault{Name: "hsm", Chain: "ethereum", Threshold: 2,
		Keys:    []string{alice.ownerKey(), hsmKey},
		Account: &chain.Account{Address: safeAddr.Hex(), ChainID: env.ChainID.Uint64(), Version: "1.4.1"}}}
	dest := common.HexToAddress("0x000000000000000000000000000000000000bEEF")
	pl := o.payload(t, dest, big.NewInt(7), nil, OpCall)
	sa, err := Adapter{}.Sign(o.vault, pl, o.vault.Keys[0], alice)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := Adapter{}.Sign(o.vault, pl, hsmKey, hsm)
	if err != nil {
		t.Fatalf("token signature: %v", err)
	}
	fin, err := Adapter{}.Assemble(o.vault, pl, map[string][]chain.Signature{o.vault.Keys[0]: sa, hsmKey: sh})
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := env.Send(t, env.Deployer, safeAddr, new(big.Int), fin.Raw)
	if err != nil || rcpt.Status != 1 {
		t.Fatalf("execTransaction with the token's signature: %v", err)
	}
	if env.Balance(t, dest).Cmp(big.NewInt(7)) != 0 {
		t.Fatal("the transfer did not arrive")
	}
}
