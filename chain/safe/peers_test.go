package safe

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/airlock-vault/airlock/internal/testvectors"
)

// runPeer sends one request to test/safe-peers/peer.js (ethers, viem and
// @safe-global/protocol-kit) and decodes its answer. Missing Node or
// packages fail the test loudly.
func runPeer(t *testing.T, req any, resp any) {
	t.Helper()
	dir := filepath.Join(testvectors.RepoRoot(t), "test", "safe-peers")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: the Safe peer tests need Node.js (./scripts/test installs it)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ethers")); err != nil {
		t.Fatalf("the Safe peers are not installed: run 'npm ci' in %s (./scripts/test does)", dir)
	}
	in, _ := json.Marshal(req)
	cmd := exec.Command(node, "peer.js")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("peer.js: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(out, resp); err != nil {
		t.Fatalf("peer.js answer: %v\n%s", err, out)
	}
}

type peerCase struct {
	Version    string          `json:"version"`
	ChainID    string          `json:"chainId"`
	Safe       string          `json:"safe"`
	Tx         json.RawMessage `json:"tx"`
	PrivateKey string          `json:"privateKey,omitempty"`
	Message    string          `json:"message,omitempty"`
}

type peerHashes struct {
	DomainHash string `json:"domainHash"`
	SafeTxHash string `json:"safeTxHash"`
	Signature  string `json:"signature"`
	Error      string `json:"error"`
}

type peerResult struct {
	Ethers      peerHashes `json:"ethers"`
	Viem        peerHashes `json:"viem"`
	ProtocolKit peerHashes `json:"protocolKit"`
	MessageHash struct {
		Ethers string `json:"ethers"`
	} `json:"messageHash"`
}

// Every version and a spread of transactions: ethers, viem and
// protocol-kit compute the same domain hash and safeTxHash as airlock, and
// ethers signs byte for byte what an airlock station signs (RFC 6979).
func TestPeersAgree(t *testing.T) {
	maxU := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1)).String()
	token := common.HexToAddress("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
	batch := PackMultiSend([]BatchCall{
		{To: token, Value: new(big.Int), Data: call("transfer(address,uint256)", common.HexToAddress("0x000000000000000000000000000000000000dEaD"), big.NewInt(5))},
		{To: common.HexToAddress("0x000000000000000000000000000000000000bEEF"), Value: big.NewInt(7)},
	})
	txs := []string{
		string(transferPayload(`"0"`)),
		string(txJSON(token.Hex(), 0, call("transfer(address,uint256)", common.HexToAddress("0x000000000000000000000000000000000000dEaD"), big.NewInt(1000)), "")),
		string(txJSON(multiSendCO, 1, batch, "")),
		`{"to":"0x000000000000000000000000000000000000dEaD","value":"` + maxU + `","data":"0x00","operation":1,"safeTxGas":"` + maxU + `","baseGas":"21000","gasPrice":"7","gasToken":"0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48","refundReceiver":"0x000000000000000000000000000000000000bEEF","nonce":"` + maxU + `"}`,
	}
	keys := []string{"alice", "bob"}
	var cases []peerCase
	var want []struct {
		h   Hashes
		sig []byte
		msg common.Hash
	}
	for _, ver := range Versions {
		for i, tx := range txs {
			for _, chainID := range []int64{1, 31337} {
				k := testKey(t, keys[i%2])
				c := peerCase{Version: ver, ChainID: big.NewInt(chainID).String(), Safe: testSafe, Tx: json.RawMessage(tx),
					PrivateKey: "0x" + hex.EncodeToString(crypto.FromECDSA(k)), Message: "airlock peer test " + ver}
				p, err := Parse([]byte(tx))
				if err != nil {
					t.Fatal(err)
				}
				d := Domain{Version: ver, ChainID: big.NewInt(chainID), Safe: common.HexToAddress(testSafe)}
				h, err := TxHashes(d, p.Tx)
				if err != nil {
					t.Fatal(err)
				}
				ks := keySigner{k}
				o, _ := ParseOwnerKey(ks.ownerKey())
				sig, err := SignHash(ks, o, h.SafeTx)
				if err != nil {
					t.Fatal(err)
				}
				mh, _ := MessageHashes(d, TextMessage(c.Message))
				cases = append(cases, c)
				want = append(want, struct {
					h   Hashes
					sig []byte
					msg common.Hash
				}{h, sig, mh.SafeTx})
			}
		}
	}
	var resp struct {
		Results []peerResult `json:"results"`
	}
	runPeer(t, map[string]any{"cases": cases}, &resp)
	if len(resp.Results) != len(cases) {
		t.Fatalf("%d answers for %d cases", len(resp.Results), len(cases))
	}
	for i, r := range resp.Results {
		c, w := cases[i], want[i]
		name := c.Version + "/chain " + c.ChainID + "/case " + big.NewInt(int64(i)).String()
		t.Run(name, func(t *testing.T) {
			for lib, got := range map[string]peerHashes{"ethers": r.Ethers, "viem": r.Viem, "protocol-kit": r.ProtocolKit} {
				if got.Error != "" {
					t.Errorf("%s: %s", lib, got.Error)
					continue
				}
				if got.SafeTxHash != w.h.SafeTx.Hex() {
					t.Errorf("%s safeTxHash %s, airlock %s", lib, got.SafeTxHash, w.h.SafeTx.Hex())
				}
				if lib != "protocol-kit" && got.DomainHash != w.h.Domain.Hex() {
					t.Errorf("%s domain %s, airlock %s", lib, got.DomainHash, w.h.Domain.Hex())
				}
			}
			if r.Ethers.Signature != "0x"+hex.EncodeToString(w.sig) {
				t.Errorf("ethers signature %s, airlock 0x%x", r.Ethers.Signature, w.sig)
			}
			if r.MessageHash.Ethers != w.msg.Hex() {
				t.Errorf("ethers Safe message hash %s, airlock %s", r.MessageHash.Ethers, w.msg.Hex())
			}
		})
	}
}
