package safesim

import (
	"context"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/airlock-vault/airlock/chain/safe/gethdev"
)

// TestOnNode: the same Env on a real geth --dev node over JSON-RPC. Each
// version deploys its contracts from its own funded deployer; a 2-of-3
// Safe pays ether and an ERC-20 on Osaka gas, refuses a signature below
// the threshold with GS020, and a stand-in contract is deployed with the
// exact runtime code asked for.
func TestOnNode(t *testing.T) {
	node := gethdev.Start(t, gethdev.Options{})
	dir := Artifacts(t)
	for _, v := range versions {
		deployer, err := crypto.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		node.Fund(t, crypto.PubkeyToAddress(deployer.PublicKey), ether(1000, 1))
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			env := OnNode(t, dir, v, node.Client, deployer)
			if env.Backend != nil || env.ChainID.Cmp(node.ChainID) != 0 {
				t.Fatalf("env on the node: backend %v, chain id %s", env.Backend, env.ChainID)
			}
			owners := newOwners(t, 3)
			safe := env.CreateSafe(t, addrs(owners), 2)
			if got := env.Threshold(t, safe); got != 2 || len(env.Owners(t, safe)) != 3 {
				t.Fatalf("Safe set up with threshold %d, owners %v", got, env.Owners(t, safe))
			}
			env.Fund(t, safe, ether(1, 1))
			f := fixture{env, owners, safe}

			to := common.BytesToAddress(crypto.Keccak256([]byte("node recipient " + v))[:20])
			tx := SafeTx{To: to, Value: ether(1, 10), Nonce: env.Nonce(t, safe)}
			hash := env.GetTransactionHash(t, safe, tx)
			if want := safeTxHash(env.ChainID, safe, tx); hash != want {
				t.Fatalf("contract hash %x != independent EIP-712 hash %x", hash, want)
			}
			rcpt, err := env.ExecTransaction(t, executor(t, env), safe, tx, signSorted(t, hash, owners[2], owners[0]))
			wantSuccess(t, f, rcpt, err)
			if rcpt.GasUsed > 150_000 {
				t.Errorf("execTransaction used %d gas on the node: post-Osaka gas rules?", rcpt.GasUsed)
			}
			if b := env.Balance(t, to); b.Cmp(ether(1, 10)) != 0 {
				t.Fatalf("recipient balance %s", b)
			}

			tx = SafeTx{To: to, Value: big.NewInt(1), Nonce: env.Nonce(t, safe)}
			rcpt, err = env.ExecTransaction(t, executor(t, env), safe, tx, signSorted(t, env.GetTransactionHash(t, safe, tx), owners[1]))
			wantRevert(t, rcpt, err, "GS020")

			token := env.DeployERC20(t, safe, big.NewInt(1000))
			data, err := env.ABI(t, NameERC20).Pack("transfer", to, big.NewInt(400))
			if err != nil {
				t.Fatal(err)
			}
			tx = SafeTx{To: token, Data: data, Nonce: env.Nonce(t, safe)}
			rcpt, err = env.ExecTransaction(t, executor(t, env), safe, tx, signSorted(t, env.GetTransactionHash(t, safe, tx), owners[0], owners[1]))
			wantSuccess(t, f, rcpt, err)
			if b := env.TokenBalance(t, token, to); b.Cmp(big.NewInt(400)) != 0 {
				t.Fatalf("token balance %s", b)
			}

			code := []byte{0x60, 0x2a, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3} // returns 42
			a := env.DeployCode(t, code)
			got, err := node.Client.CodeAt(context.Background(), a, nil)
			if err != nil || string(got) != string(code) {
				t.Fatalf("code at %s: %x (%v)", a, got, err)
			}
		})
	}
}
