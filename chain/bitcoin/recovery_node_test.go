package bitcoin

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/maturity"
	"github.com/airlock-vault/airlock/chain/bitcoin/regtest"
)

// TestRecoveryPathOnNode runs a recovery vault against a real btcd in
// regtest, with coins mined to it (a coinbase is spendable after 100
// confirmations, so the lock is 110 blocks):
//
//   - the primary path (two signers) spends at once;
//   - a recovery spend with the node's real maturity proof 101 blocks
//     deep is refused by the station;
//   - one signed anyway (with a forged proof: regtest proof of work costs
//     nothing, the reason a proof is only a security boundary on mainnet)
//     is refused by airlock's broadcast check and by the node itself;
//   - nine blocks later the node's proof is mature, the station signs,
//     and the node accepts and confirms the recovery spend.
func TestRecoveryPathOnNode(t *testing.T) {
	const lock = 110
	for _, script := range []string{ScriptP2WSH, ScriptTaproot} {
		t.Run(script, func(t *testing.T) {
			v, s := recoveryVault(t, script, lock)
			addr, err := Address(v, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			node := regtest.Start(t, regtest.Options{MiningAddr: addr})
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			hashes := node.Mine(t, 101)
			cb1, cb2 := node.Coinbase(t, hashes[0]), node.Coinbase(t, hashes[1])
			rkey := v.Recovery.Key

			// The primary path: no lock.
			primary := recoveryPSBT(t, v, cb2, false, nil)
			sets := map[string][]chain.Signature{v.Keys[0]: sign(t, v, primary, v.Keys[0], s[0]), v.Keys[2]: sign(t, v, primary, v.Keys[2], s[2])}
			fin, err := Adapter{}.Assemble(v, primary, sets)
			if err != nil {
				t.Fatal(err)
			}
			ptx := decodeTx(t, fin.Raw)
			if err := CheckSequenceLocks(ctx, node.RPC, ptx); err != nil {
				t.Fatal(err)
			}
			node.Send(t, ptx)

			// A recovery spend, 101 blocks deep by the node's proof.
			proof, err := maturity.Build(ctx, node.RPC, []chainhash.Hash{cb1.TxHash()})
			if err != nil {
				t.Fatal(err)
			}
			young := recoveryPSBT(t, v, cb1, true, proof)
			r, err := Adapter{}.Review(ctx, v, young)
			if err != nil {
				t.Fatal(err)
			}
			if !hasFlag(r, FlagRecoveryImmature, chain.Block) || !strings.Contains(flagText(r), "is 101 blocks deep") {
				t.Fatalf("flags %v", r.Flags)
			}
			if _, err := (Adapter{}).Sign(v, young, rkey, s[3]); err == nil || !strings.Contains(err.Error(), "matures in 9 more blocks") {
				t.Fatalf("the station signed an immature recovery spend: %v", err)
			}

			// Forced through with a forged proof: airlock's broadcast
			// check and the node refuse it.
			forged := recoveryPSBT(t, v, cb1, true, mineProof(t, cb1, lock))
			fin, err = Adapter{}.Assemble(v, forged, map[string][]chain.Signature{rkey: sign(t, v, forged, rkey, s[3])})
			if err != nil {
				t.Fatal(err)
			}
			early := decodeTx(t, fin.Raw)
			if err := CheckSequenceLocks(ctx, node.RPC, early); err == nil || !strings.Contains(err.Error(), "refuses it for 9 more blocks") {
				t.Fatalf("CheckSequenceLocks: %v", err)
			}
			if _, err := node.RPC.SendRawTransaction(ctx, fin.Raw); err == nil || !strings.Contains(strings.ToLower(err.Error()), "sequence lock") {
				t.Fatalf("the node accepted an immature recovery spend, or said something else: %v", err)
			}

			// Nine blocks later: the node's own proof is mature.
			node.Mine(t, 9)
			proof, err = maturity.Build(ctx, node.RPC, []chainhash.Hash{cb1.TxHash()})
			if err != nil {
				t.Fatal(err)
			}
			mature := recoveryPSBT(t, v, cb1, true, proof)
			r, err = Adapter{}.Review(ctx, v, mature)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Blocking()) != 0 || r.Details.(Details).Inputs[0].Depth != lock {
				t.Fatalf("mature review: %v %+v", r.Flags, r.Details)
			}
			fin, err = Adapter{}.Assemble(v, mature, map[string][]chain.Signature{rkey: sign(t, v, mature, rkey, s[3])})
			if err != nil {
				t.Fatal(err)
			}
			tx := decodeTx(t, fin.Raw)
			if err := CheckSequenceLocks(ctx, node.RPC, tx); err != nil {
				t.Fatal(err)
			}
			id := node.Send(t, tx)
			node.Mine(t, 1)
			if c := node.Confirmations(t, id); c != 1 {
				t.Fatalf("recovery spend has %d confirmations", c)
			}
			if c := node.Confirmations(t, ptx.TxHash()); c < 1 {
				t.Fatalf("primary spend has %d confirmations", c)
			}
		})
	}
}

func decodeTx(t *testing.T, raw []byte) *wire.MsgTx {
	t.Helper()
	tx := wire.NewMsgTx(2)
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	return tx
}
