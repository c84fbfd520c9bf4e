package vault_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"

	btcd "github.com/airlock-vault/airlock/chain/bitcoin/regtest"
	q "github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/vault"
)

// TestBalanceFromTheNode: coinbases mined by a real btcd (with its
// address index) to the vault's receive addresses 0 and 3 are found by the
// gap-limited scan and summed; an address beyond the gap is not.
func TestBalanceFromTheNode(t *testing.T) {
	qq := q.New(t, q.Options{})
	v, err := vault.Resolve(qq.Coord.WS, q.Reg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	a0, _ := v.Address(0, 0)
	a3, _ := v.Address(0, 3)
	// btcd picks one of its mining addresses at random for each block:
	// which coinbase paid which address is read back from the blocks.
	node := btcd.Start(t, btcd.Options{MiningAddrs: []string{a0, a3}, NoTLS: true, Args: []string{"--addrindex", "--txindex"}})
	ctx := context.Background()
	script := func(a string) []byte {
		ad, err := address.DecodeAddress(a, &chaincfg.RegressionNetParams)
		if err != nil {
			t.Fatal(err)
		}
		s, err := txscript.PayToAddrScript(ad)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	to0, to3 := 0, 0
	for _, h := range node.Mine(t, 12) {
		switch out := node.Coinbase(t, h).TxOut[0].PkScript; {
		case bytes.Equal(out, script(a0)):
			to0++
		case bytes.Equal(out, script(a3)):
			to3++
		default:
			t.Fatal("a coinbase pays neither mining address")
		}
	}
	b, err := v.Balance(ctx, node.RPC, vault.DefaultGap)
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	for _, n := range []int{to0, to3} {
		if n > 0 {
			used++
		}
	}
	if b.Outputs != 12 || b.Sat != 12*50_00000000 || b.Used != used {
		t.Fatalf("balance %+v, want 12 coinbases of 50 BTC on %d addresses (%d to address 0, %d to 3)", b, used, to0, to3)
	}
	// A gap of 2 stops before address 3.
	if b, err = v.Balance(ctx, node.RPC, 2); err != nil || b.Outputs != to0 {
		t.Fatalf("with a gap of 2: %+v %v", b, err)
	}
}
