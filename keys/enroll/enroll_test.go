package enroll

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/cosmos/go-bip39"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/keys/unlock"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/workspace"
)

var pass = []byte("correct horse battery")

func station(name string) Params {
	return Params{Role: workspace.Station, Name: name, Device: "keystore", Network: &chaincfg.RegressionNetParams,
		Created: time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))}
}

// backupSecret is a keystore backup (keystore.BackupSecret) with the
// given entropy byte, on regtest.
func backupSecret(b byte) []byte {
	s := []byte{1, 4}
	s = append(s, bytes.Repeat([]byte{b}, 32)...)
	return append(s, bytes.Repeat([]byte{b ^ 0xff}, 32)...)
}

// derive follows path from the BIP-32 master of the BIP-39 mnemonic of
// entropy, without package keystore.
func derive(t *testing.T, entropy []byte, path []uint32) *hdkeychain.ExtendedKey {
	t.Helper()
	m, err := bip39.NewMnemonic(entropy)
	if err != nil {
		t.Fatal(err)
	}
	k, err := hdkeychain.NewMaster(bip39.NewSeed(m, ""), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range path {
		if k, err = k.Derive(i); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// TestPolicyEntryDerivesWhatChainsCompute checks the station's policy
// entry against keys derived independently of package keystore: the
// Bitcoin account xpub at m/48'/1'/0'/2' as chain/bitcoin parses it, and
// the Safe owner address at m/44'/60'/0'/0/0 as chain/safe parses it. The
// entries of a station and a coordinator then make a policy that
// chain/bitcoin builds a vault from.
func TestPolicyEntryDerivesWhatChainsCompute(t *testing.T) {
	dir := t.TempDir()
	secret := backupSecret(7)
	ks, err := keystore.FromBackup(secret)
	if err != nil {
		t.Fatal(err)
	}
	en, err := Restored(ks, filepath.Join(dir, "keystore.age"), pass, keystore.MinWorkFactor, station("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer en.Keys.Close()

	h := keys.HardenedOffset
	acct := derive(t, secret[2:34], []uint32{48 + h, 1 + h, 0 + h, 2 + h})
	acctPub, err := acct.Neuter()
	if err != nil {
		t.Fatal(err)
	}
	ak, err := bitcoin.ParseAccountKey(en.Config.Key, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if ak.XPub != acctPub.String() {
		t.Errorf("policy key's xpub %s, want %s", ak.XPub, acctPub)
	}
	if ak.Fingerprint != ks.MasterFingerprint() || !slices.Equal(ak.Path, ks.AccountPath()) {
		t.Errorf("policy key's origin [%x%s], want [%x%s]", ak.Fingerprint, keys.FormatPath(ak.Path), ks.MasterFingerprint(), keys.FormatPath(ks.AccountPath()))
	}

	ethKey, err := derive(t, secret[2:34], safe.EthereumPath).ECPubKey()
	if err != nil {
		t.Fatal(err)
	}
	pk, err := ethcrypto.DecompressPubkey(ethKey.SerializeCompressed())
	if err != nil {
		t.Fatal(err)
	}
	owner, err := safe.ParseOwnerKey(en.Config.Ethereum)
	if err != nil {
		t.Fatal(err)
	}
	if want := ethcrypto.PubkeyToAddress(*pk); owner.Address != want {
		t.Errorf("Safe owner %s, want %s", owner.Address, want)
	}
	if owner.Fingerprint == nil || *owner.Fingerprint != ks.MasterFingerprint() || !slices.Equal(owner.Path, safe.EthereumPath) {
		t.Errorf("Safe owner origin in %s, want fingerprint %x path %s", en.Config.Ethereum, ks.MasterFingerprint(), keys.FormatPath(safe.EthereumPath))
	}

	coord, err := Keystore(filepath.Join(dir, "coord.age"), pass, keystore.MinWorkFactor,
		Params{Role: workspace.Coordinator, Name: "coord", Device: "keystore", Network: &chaincfg.RegressionNetParams})
	if err != nil {
		t.Fatal(err)
	}
	src := "name: treasury\nnetwork: regtest\nmax_proposal_lifetime: 24h\ncoordinators:\n" + PolicyEntry(coord.Config) +
		"participants:\n" + PolicyEntry(en.Config) +
		"vaults:\n  - name: ops\n    chain: bitcoin\n    threshold: 1\n    signers: [alice/keystore]\n"
	f, err := policy.ParseFile([]byte(src))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	pol, err := f.Genesis(chain.NewRegistry(bitcoin.Adapter{}, safe.Adapter{}))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	part, ok := pol.Participant("alice")
	if !ok || len(part.Devices) != 1 {
		t.Fatalf("policy participants %+v", pol.Participants)
	}
	if d := part.Devices[0]; d.Key != en.Config.Key || d.Ethereum != en.Config.Ethereum || d.Kind != "software" {
		t.Errorf("policy device %+v, want key %s, ethereum %s", d, en.Config.Key, en.Config.Ethereum)
	}
	if policy.EncodeIdentity(part.Identity) != en.Config.Identity {
		t.Error("policy identity is not the keystore's")
	}
}

// TestEnrolledWorkspaceUnlocks: the workspace an enrolment records opens
// with the keystore it wrote, and the keyring is the keystore's.
func TestEnrolledWorkspaceUnlocks(t *testing.T) {
	dir := t.TempDir()
	p := station("alice")
	en, err := Keystore(filepath.Join(dir, "keystore.age"), pass, keystore.MinWorkFactor, p)
	if err != nil {
		t.Fatal(err)
	}
	if want := p.Created.UTC().Truncate(time.Second); !en.Config.Created.Equal(want) || en.Config.Created.Location() != time.UTC {
		t.Errorf("created %v, want %v", en.Config.Created, want)
	}
	if en.Config.Device != "keystore" || en.Config.Key == "" || en.Config.Ethereum == "" || en.Config.Token != nil {
		t.Errorf("station config %+v", en.Config)
	}
	if en.Detail["identity"] != en.Config.Identity || en.Detail["key"] != en.Config.Key {
		t.Errorf("detail %v", en.Detail)
	}
	ws, err := workspace.Init(dir, en.Config, workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	k, err := unlock.Keystore(ws, pass)
	if err != nil {
		t.Fatal(err)
	}
	if k.Chain.MasterFingerprint() != en.Keys.Chain.MasterFingerprint() {
		t.Error("the unlocked keystore is not the enrolled one")
	}
}

// TestDiscardLeavesNoKeystore: a keystore whose workspace could not be
// written is taken back, once.
func TestDiscardLeavesNoKeystore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keystore.age")
	en, err := Keystore(path, pass, keystore.MinWorkFactor, station("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if err := en.Discard(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("keystore still there after Discard: %v", err)
	}
	if err := en.Discard(); err != nil {
		t.Fatalf("second Discard: %v", err)
	}
}

// TestCoordinatorHoldsNoChainKeys: a coordinator's keystore and record
// have an identity only, and its policy entry names nothing else.
func TestCoordinatorHoldsNoChainKeys(t *testing.T) {
	p := Params{Role: workspace.Coordinator, Name: "coord", Device: "keystore", Network: &chaincfg.RegressionNetParams}
	en, err := Keystore(filepath.Join(t.TempDir(), "keystore.age"), pass, keystore.MinWorkFactor, p)
	if err != nil {
		t.Fatal(err)
	}
	c := en.Config
	if c.Key != "" || c.Ethereum != "" || c.Device != "" || en.Keys.Chain != nil {
		t.Errorf("coordinator config %+v, chain signer %v", c, en.Keys.Chain)
	}
	if got, want := PolicyEntry(c), "  - id: coord\n    identity: "+c.Identity+"\n"; got != want {
		t.Errorf("entry %q, want %q", got, want)
	}
}

// TestBadParamsWriteNothing: an enrolment with a role, name, device or
// network missing or unknown is refused before any key is made.
func TestBadParamsWriteNothing(t *testing.T) {
	for name, mod := range map[string]func(*Params){
		"role":    func(p *Params) { p.Role = "auditor" },
		"name":    func(p *Params) { p.Name = "" },
		"device":  func(p *Params) { p.Device = "" },
		"network": func(p *Params) { p.Network = nil },
	} {
		t.Run(name, func(t *testing.T) {
			p := station("alice")
			mod(&p)
			path := filepath.Join(t.TempDir(), "keystore.age")
			if _, err := Keystore(path, pass, keystore.MinWorkFactor, p); err == nil || !strings.HasPrefix(err.Error(), "enroll: ") {
				t.Fatalf("Keystore: %v, want an enroll error", err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("a keystore was written: %v", err)
			}
		})
	}
}

// TestRestoreOnAnotherNetworkIsRefused: a backup made on one network is
// not enrolled as a station of another.
func TestRestoreOnAnotherNetworkIsRefused(t *testing.T) {
	ks, err := keystore.FromBackup(backupSecret(1))
	if err != nil {
		t.Fatal(err)
	}
	p := station("alice")
	p.Network = &chaincfg.MainNetParams
	path := filepath.Join(t.TempDir(), "keystore.age")
	if _, err := Restored(ks, path, pass, keystore.MinWorkFactor, p); err == nil {
		t.Fatal("a regtest backup was enrolled on mainnet")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a keystore was written: %v", err)
	}
}

// TestPolicyEntryQuotesTokenStrings: what a token reports as its vendor
// and model cannot add fields to the policy entry.
func TestPolicyEntryQuotesTokenStrings(t *testing.T) {
	c := workspace.Config{Role: workspace.Station, Name: "bob", Identity: "ed25519:AAAA", Device: "hsm", Key: "[01020304]02ab",
		Token: &workspace.Token{Vendor: "Evil\"\n        kind: software", Model: "m: x"}}
	f, err := policy.ParseFile([]byte("participants:\n" + PolicyEntry(c)))
	if err != nil {
		t.Fatal(err)
	}
	d := f.Participants[0].Devices[0]
	if d.Vendor != c.Token.Vendor || d.Model != c.Token.Model || d.Kind != "pkcs11" {
		t.Errorf("device %+v", d)
	}
}
