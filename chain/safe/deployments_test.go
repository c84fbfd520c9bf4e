package safe

import (
	"bytes"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/airlock-vault/airlock/chain"
)

// TestDeploymentsMatchTheNpmPackage re-derives deployments_gen.go from
// @safe-global/safe-deployments (test/safe-peers, installed by
// ./scripts/test): the table airlock trusts is exactly the package's.
func TestDeploymentsMatchTheNpmPackage(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: ./scripts/test installs it (the deployments table is checked against the npm package)")
	}
	if _, err := os.Stat("../../test/safe-peers/node_modules/@safe-global/safe-deployments/package.json"); err != nil {
		t.Fatal("test/safe-peers/node_modules lacks @safe-global/safe-deployments: run ./scripts/test (npm ci in test/safe-peers)")
	}
	out, err := exec.Command(node, filepath.Join("deployments", "gen.js")).Output()
	if err != nil {
		t.Fatalf("gen.js: %v", err)
	}
	have, err := os.ReadFile("deployments_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, have) {
		t.Fatal("deployments_gen.go differs from what deployments/gen.js makes of the npm package: run node chain/safe/deployments/gen.js > chain/safe/deployments_gen.go")
	}
}

// TestOfficialMultiSendCallOnlyTrustedByDefault: a batch through the
// official MultiSendCallOnly of the vault's chain needs no pin in the
// policy; its entries are still reviewed one by one.
func TestOfficialMultiSendCallOnlyTrustedByDefault(t *testing.T) {
	f := newUnpinnedFixture(t, 1)
	token := common.HexToAddress("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
	batch := PackMultiSend([]BatchCall{
		{To: token, Value: new(big.Int), Data: call("transfer(address,uint256)", common.HexToAddress("0x000000000000000000000000000000000000dEaD"), big.NewInt(5))},
		{To: token, Value: new(big.Int), Data: call("transfer(address,uint256)", common.HexToAddress("0x000000000000000000000000000000000000bEEF"), big.NewInt(7))},
	})
	const official141 = "0x9641d764fc13c8B624c04430C7356C1C7C8102e2" // MultiSendCallOnly 1.4.1, canonical
	r := review(t, f, txJSON(official141, 1, batch, ""))
	if len(r.Blocking()) != 0 {
		t.Fatalf("an ERC-20 batch through the official MultiSendCallOnly is blocked: %v", r.Flags)
	}
	d := r.Details.(Details)
	if d.Calls[0].Target != "MultiSendCallOnly 1.4.1 (official Safe deployment)" || len(d.Calls[0].Calls) != 2 {
		t.Fatalf("the batch: %+v", d.Calls[0])
	}
}

// TestLookalikeLibraryNotTrusted: the official address on a chain where
// the package lists no deployment (a local dev chain, where anyone may
// have put anything there), an unofficial address, and a library the
// defaults do not cover (CreateCall) each stay untrusted; a MultiSend
// entry that delegatecalls elsewhere is flagged although MultiSend is
// trusted.
func TestLookalikeLibraryNotTrusted(t *testing.T) {
	token := common.HexToAddress("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
	transfer := PackMultiSend([]BatchCall{{To: token, Value: new(big.Int), Data: call("transfer(address,uint256)", common.HexToAddress("0x000000000000000000000000000000000000dEaD"), big.NewInt(5))}})
	const official141 = "0x9641d764fc13c8B624c04430C7356C1C7C8102e2"
	if r := review(t, newUnpinnedFixture(t, 31337), txJSON(official141, 1, transfer, "")); !hasFlag(r, FlagDelegatecallUntrusted, chain.Block) {
		t.Errorf("the official address on a chain the package does not list: %v", r.Flags)
	}
	mainnet := newUnpinnedFixture(t, 1)
	if r := review(t, mainnet, txJSON("0x9641D764Fc13c8b624c04430c7356c1C7C8102E3", 1, transfer, "")); !hasFlag(r, FlagDelegatecallUntrusted, chain.Block) {
		t.Errorf("an address one digit off the official one: %v", r.Flags)
	}
	const createCall141 = "0x9b35Af71d77eaf8d7e40252370304687390A1A52" // CreateCall 1.4.1
	if d, ok := OfficialDeployment(big.NewInt(1), common.HexToAddress(createCall141)); !ok || d.Contract != "CreateCall" {
		t.Fatalf("CreateCall 1.4.1 is not in the table: %+v", d)
	}
	if r := review(t, mainnet, txJSON(createCall141, 1, []byte{1, 2, 3, 4}, "")); !hasFlag(r, FlagDelegatecallUntrusted, chain.Block) {
		t.Errorf("a delegatecall to CreateCall, which is not trusted by default: %v", r.Flags)
	}
	const multiSend141 = "0x38869bf66a61cF6bDB996A6aE40D5853Fd43B526" // MultiSend 1.4.1
	nested := PackMultiSend([]BatchCall{{Operation: 1, To: common.HexToAddress("0x0000000000000000000000000000000000000Bad"), Value: new(big.Int)}})
	if r := review(t, mainnet, txJSON(multiSend141, 1, nested, "")); !hasFlag(r, FlagDelegatecallUntrusted, chain.Block) {
		t.Errorf("a MultiSend entry delegatecalling an unknown contract: %v", r.Flags)
	}
}

// newUnpinnedFixture is a vault on chainID whose policy pins nothing.
func newUnpinnedFixture(t *testing.T, chainID uint64) *fixture {
	f := &fixture{}
	v := chain.Vault{Name: "treasury", Chain: "ethereum", Threshold: 2, Account: &chain.Account{Address: testSafe, ChainID: chainID, Version: "1.4.1"}}
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

// TestTypedDataHashesToTheSafeTxHash: the typed data a hardware wallet is
// asked to sign hashes, by go-ethereum's independent EIP-712 code, to the
// safeTxHash airlock reviews, for a Safe with and without the chain id in
// its domain.
func TestTypedDataHashesToTheSafeTxHash(t *testing.T) {
	for _, version := range []string{"1.1.1", "1.3.0", "1.4.1", "1.5.0"} {
		f := newFixture(t, version)
		payload := transferPayload("3")
		td, err := TypedData(f.vault, payload)
		if err != nil {
			t.Fatal(err)
		}
		var typed apitypes.TypedData
		if err := json.Unmarshal(td, &typed); err != nil {
			t.Fatal(err)
		}
		h, _, err := apitypes.TypedDataAndHash(typed)
		if err != nil {
			t.Fatalf("%s: go-ethereum cannot hash the typed data: %v\n%s", version, err, td)
		}
		r := review(t, f, payload)
		if common.BytesToHash(h).Hex() != r.TxID {
			t.Fatalf("%s: the typed data hashes to %x, the review shows %s", version, h, r.TxID)
		}
	}
}
