package keystore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/airlock-vault/airlock/keys"
)

func create(t *testing.T, opt Options) (string, *Keystore) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keystore.age")
	if opt.Network == nil {
		opt.Network = &chaincfg.RegressionNetParams
	}
	opt.WorkFactor = MinWorkFactor
	ks, err := Create(path, []byte("correct horse"), opt)
	if err != nil {
		t.Fatal(err)
	}
	return path, ks
}

func TestReopenGivesSameKeys(t *testing.T) {
	path, ks := create(t, Options{})
	again, err := Open(path, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ks.KeyExpression()
	b, _ := again.KeyExpression()
	if a != b || !bytes.Equal(ks.IdentityKey(), again.IdentityKey()) {
		t.Fatal("reopened keystore differs")
	}
	if !strings.HasPrefix(a, "["+keys.FormatFingerprint(ks.MasterFingerprint())+"/48'/1'/0'/2']tpub") {
		t.Fatalf("key expression %q lacks the BIP-48 testnet origin", a)
	}
}

func TestWrongPassphraseRefused(t *testing.T) {
	path, _ := create(t, Options{})
	before, _ := os.ReadFile(path)
	_, err := Open(path, []byte("wrong"))
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("got %v, want ErrWrongPassphrase", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("failed open changed the file")
	}
}

func TestCreateNeverOverwrites(t *testing.T) {
	path, ks := create(t, Options{})
	before, _ := os.ReadFile(path)
	_, err := Create(path, []byte("other"), Options{Network: &chaincfg.RegressionNetParams, WorkFactor: MinWorkFactor})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("got %v, want ErrExists", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("existing keystore was overwritten")
	}
	if _, err := Open(path, []byte("correct horse")); err != nil || ks == nil {
		t.Fatalf("existing keystore no longer opens: %v", err)
	}
}

func TestFileIsPrivateAndHoldsNoPlaintext(t *testing.T) {
	path, ks := create(t, Options{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte(ks.mnemonic[:20])) || !bytes.HasPrefix(data, []byte("age-encryption.org/v1")) {
		t.Fatal("keystore file is not an age file or leaks the mnemonic")
	}
}

func TestSignaturesAreLowSAndVerify(t *testing.T) {
	_, ks := create(t, Options{})
	path := append(ks.AccountPath(), 0, 7)
	pubBytes, err := ks.PublicKey(path)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := btcec.ParsePubKey(pubBytes)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 32; i++ {
		digest := bytes.Repeat([]byte{byte(i)}, 32)
		der, err := ks.SignECDSA(path, digest)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := ecdsa.ParseDERSignature(der)
		if err != nil {
			t.Fatal(err)
		}
		if !sig.Verify(digest, pub) {
			t.Fatal("signature does not verify")
		}
		s := sig.S()
		if s.IsOverHalfOrder() {
			t.Fatal("high-S signature")
		}
	}
}

func TestIdentityOnlyHasNoChainKeys(t *testing.T) {
	_, ks := create(t, Options{IdentityOnly: true})
	if ks.HasChainKeys() {
		t.Fatal("identity-only keystore has chain keys")
	}
	if _, err := ks.SignECDSA([]uint32{0}, make([]byte, 32)); !errors.Is(err, keys.ErrNoKey) {
		t.Fatalf("got %v, want ErrNoKey", err)
	}
}

func TestMainnetUsesCoinZero(t *testing.T) {
	_, ks := create(t, Options{Network: &chaincfg.MainNetParams})
	x, _ := ks.KeyExpression()
	if !strings.Contains(x, "/48'/0'/0'/2']xpub") {
		t.Fatalf("mainnet key expression %q", x)
	}
}

func TestBackupSecretRestoresSameKeys(t *testing.T) {
	_, ks := create(t, Options{})
	secret, err := ks.BackupSecret()
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromBackup(secret)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ks.KeyExpression()
	b, _ := back.KeyExpression()
	if a != b || !bytes.Equal(ks.IdentityKey(), back.IdentityKey()) {
		t.Fatal("restored keystore differs")
	}
	path := filepath.Join(t.TempDir(), "restored.age")
	if err := back.Save(path, []byte("new pass"), MinWorkFactor); err != nil {
		t.Fatal(err)
	}
	again, err := Open(path, []byte("new pass"))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := again.KeyExpression(); c != a {
		t.Fatal("saved restored keystore differs")
	}
	if err := back.Save(path, []byte("x"), MinWorkFactor); !errors.Is(err, ErrExists) {
		t.Fatalf("overwrite: %v", err)
	}
	secret[40] ^= 1
	if other, err := FromBackup(secret); err == nil && bytes.Equal(other.IdentityKey(), ks.IdentityKey()) {
		t.Fatal("a changed backup gave the same identity")
	}
	if _, err := FromBackup(secret[:10]); err == nil {
		t.Fatal("truncated backup accepted")
	}
}

// TestDeriveCacheMatchesMaster: keys derived through the parent-node cache
// are the ones derived from the master, for many paths and from many
// goroutines at once (run with -race), and the cache stays bounded.
func TestDeriveCacheMatchesMaster(t *testing.T) {
	secret := make([]byte, 66)
	secret[0], secret[1] = 1, 4 // version 1, regtest
	for i := 2; i < len(secret); i++ {
		secret[i] = byte(i)
	}
	ks, err := FromBackup(secret)
	if err != nil {
		t.Fatal(err)
	}
	base := ks.AccountPath()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				path := append(append([]uint32{}, base...), uint32(g%2), uint32(i*7+g))
				if g == 3 {
					path = []uint32{keys.HardenedOffset + uint32(i)} // many parents: the bound
				}
				got, err := ks.PublicKey(path)
				if err != nil {
					t.Error(err)
					return
				}
				n := ks.master
				for _, step := range path {
					if n, err = n.Derive(step); err != nil {
						t.Error(err)
						return
					}
				}
				pub, _ := n.ECPubKey()
				if !bytes.Equal(got, pub.SerializeCompressed()) {
					t.Errorf("path %v: cached derivation differs", path)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(ks.parents) > maxParents {
		t.Fatalf("%d cached parents, the bound is %d", len(ks.parents), maxParents)
	}
}
