package safe

import (
	"context"
	"math/big"
	"slices"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/safe/safesim"
)

// rotationFixture is the treasury vault of policy version 2, whose owners
// are alice, bob and dave (2 of 3): carol departed.
func rotationFixture(t *testing.T) (*fixture, map[string]common.Address) {
	t.Helper()
	f := &fixture{}
	v := chain.Vault{Name: "treasury", Chain: "ethereum", Threshold: 2, PolicyVersion: 2, Account: &chain.Account{
		Address: testSafe, ChainID: 1, Version: "1.3.0",
		Trusted: []chain.Trusted{{Name: "MultiSendCallOnly", Address: multiSendCO, CodeHash: multiSendCOh}},
	}}
	addr := map[string]common.Address{}
	for _, s := range []string{"alice", "bob", "carol", "dave", "attacker"} {
		ks := keySigner{testKey(t, s)}
		addr[s] = crypto.PubkeyToAddress(ks.k.PublicKey)
		if s == "alice" || s == "bob" || s == "dave" {
			f.signers = append(f.signers, ks)
			v.Keys = append(v.Keys, ks.ownerKey())
		}
	}
	var err error
	if f.vault, err = (Adapter{}).PrepareVault(v); err != nil {
		t.Fatal(err)
	}
	return f, addr
}

// TestRotationOnlyTowardThePolicy: an owner or threshold change is a
// rotation (info, action rotation) only when it moves the Safe toward the
// owners and threshold the policy lists; anything else blocks, whatever
// the vault's severities say.
func TestRotationOnlyTowardThePolicy(t *testing.T) {
	f, a := rotationFixture(t)
	safe := common.HexToAddress(testSafe)
	batch := func(calls ...[]byte) []byte {
		var b []BatchCall
		for _, c := range calls {
			b = append(b, BatchCall{To: safe, Value: new(big.Int), Data: c})
		}
		return PackMultiSend(b)
	}
	cases := []struct {
		name     string
		payload  []byte
		rotation bool
		actions  []chain.Action
	}{
		{"swapOwner carol → dave", txJSON(testSafe, 0, call("swapOwner(address,address,address)", a["bob"], a["carol"], a["dave"]), ""),
			true, []chain.Action{chain.ActionRotation}},
		{"addOwnerWithThreshold dave, 2", txJSON(testSafe, 0, call("addOwnerWithThreshold(address,uint256)", a["dave"], big.NewInt(2)), ""),
			true, []chain.Action{chain.ActionRotation}},
		{"removeOwner carol, 2", txJSON(testSafe, 0, call("removeOwner(address,address,uint256)", a["bob"], a["carol"], big.NewInt(2)), ""),
			true, []chain.Action{chain.ActionRotation}},
		{"batch through a lower threshold ending at the policy's", txJSON(multiSendCO, 1, batch(
			call("removeOwner(address,address,uint256)", a["bob"], a["carol"], big.NewInt(1)),
			call("addOwnerWithThreshold(address,uint256)", a["dave"], big.NewInt(1)),
			call("changeThreshold(uint256)", big.NewInt(2))), ""),
			true, []chain.Action{chain.ActionDelegateCall, chain.ActionRotation}},
		// Attacks.
		{"swapOwner alice → attacker", txJSON(testSafe, 0, call("swapOwner(address,address,address)", Sentinel, a["alice"], a["attacker"]), ""),
			false, []chain.Action{chain.ActionOwnerChange}},
		{"swapOwner of a listed owner for another listed one", txJSON(testSafe, 0, call("swapOwner(address,address,address)", Sentinel, a["alice"], a["dave"]), ""),
			false, []chain.Action{chain.ActionOwnerChange}},
		{"removeOwner of a listed owner", txJSON(testSafe, 0, call("removeOwner(address,address,uint256)", Sentinel, a["alice"], big.NewInt(2)), ""),
			false, []chain.Action{chain.ActionOwnerChange, chain.ActionThresholdChange}},
		{"changeThreshold to 1", txJSON(testSafe, 0, call("changeThreshold(uint256)", big.NewInt(1)), ""),
			false, []chain.Action{chain.ActionThresholdChange}},
		{"a rotation that leaves the threshold at 1", txJSON(testSafe, 0, call("addOwnerWithThreshold(address,uint256)", a["dave"], big.NewInt(1)), ""),
			false, []chain.Action{chain.ActionOwnerChange, chain.ActionThresholdChange}},
		{"an attacker hidden in a rotation batch", txJSON(multiSendCO, 1, batch(
			call("swapOwner(address,address,address)", a["bob"], a["carol"], a["dave"]),
			call("addOwnerWithThreshold(address,uint256)", a["attacker"], big.NewInt(2))), ""),
			false, []chain.Action{chain.ActionDelegateCall, chain.ActionOwnerChange, chain.ActionThresholdChange}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := review(t, f, c.payload)
			if !slices.Equal(r.Effects.Actions, c.actions) {
				t.Errorf("actions %v, want %v", r.Effects.Actions, c.actions)
			}
			_, err := Adapter{}.Sign(f.vault, c.payload, f.vault.Keys[0], f.signers[0])
			if c.rotation {
				if !hasFlag(r, FlagRotation, chain.Info) || len(r.Blocking()) > 0 {
					t.Fatalf("flags %v", r.Flags)
				}
				if err != nil {
					t.Fatalf("refused a rotation toward the policy: %v", err)
				}
				return
			}
			if !hasFlag(r, FlagOwnerChangeOutsidePolicy, chain.Block) || hasFlag(r, FlagRotation, chain.Info) {
				t.Fatalf("flags %v", r.Flags)
			}
			if err == nil {
				t.Fatal("signed an owner change outside the policy")
			}
		})
	}
	// A policy cannot lower the block.
	f.vault.Account.Severities = map[string]chain.Severity{FlagOwnerChange: chain.Info, FlagThresholdChange: chain.Info}
	if _, err := (Adapter{}).PrepareVault(func() chain.Vault {
		v := f.vault
		acc := *v.Account
		acc.Severities = map[string]chain.Severity{FlagOwnerChangeOutsidePolicy: chain.Warn}
		v.Account = &acc
		return v
	}()); err == nil {
		t.Fatal("a policy lowered owner-change-outside-policy")
	}
	r := review(t, f, cases[4].payload)
	if !hasFlag(r, FlagOwnerChangeOutsidePolicy, chain.Block) {
		t.Fatalf("flags %v", r.Flags)
	}
}

// TestRotationCalls: the builder walks the Safe's owner list (sentinel
// first) and ends at the new threshold.
func TestRotationCalls(t *testing.T) {
	A, B, C, D, E := common.HexToAddress("0xa"), common.HexToAddress("0xb"), common.HexToAddress("0xc"), common.HexToAddress("0xd"), common.HexToAddress("0xe")
	addrs := func(xs ...common.Address) []common.Address { return xs }
	cases := []struct {
		name       string
		cur, next  []common.Address
		ct, nt     int
		want       [][]byte
		wantErrSub bool
	}{
		{"swap the last", addrs(A, B, C), addrs(A, B, D), 2, 2, [][]byte{call("swapOwner(address,address,address)", B, C, D)}, false},
		{"swap the first", addrs(A, B, C), addrs(D, B, C), 2, 2, [][]byte{call("swapOwner(address,address,address)", Sentinel, A, D)}, false},
		{"add and raise", addrs(A, B), addrs(A, B, C), 2, 3, [][]byte{
			call("addOwnerWithThreshold(address,uint256)", C, big.NewInt(2)), call("changeThreshold(uint256)", big.NewInt(3))}, false},
		{"remove two", addrs(A, B, C, D), addrs(A, D), 3, 2, [][]byte{
			call("removeOwner(address,address,uint256)", A, B, big.NewInt(3)), call("removeOwner(address,address,uint256)", A, C, big.NewInt(2))}, false},
		{"swap and add", addrs(A, B, C), addrs(A, D, C, E), 2, 3, [][]byte{
			call("swapOwner(address,address,address)", A, B, D), call("addOwnerWithThreshold(address,uint256)", E, big.NewInt(2)), call("changeThreshold(uint256)", big.NewInt(3))}, false},
		{"threshold only", addrs(A, B, C), addrs(A, B, C), 2, 1, [][]byte{call("changeThreshold(uint256)", big.NewInt(1))}, false},
		{"nothing to do", addrs(A, B), addrs(B, A), 1, 1, nil, true},
		{"threshold above the owners", addrs(A, B), addrs(A, B), 1, 3, nil, true},
		{"owner twice", addrs(A, B), addrs(A, A), 1, 1, nil, true},
		{"sentinel as owner", addrs(A, B), addrs(A, Sentinel), 1, 1, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := RotationCalls(c.cur, c.next, c.ct, c.nt)
			if c.wantErrSub {
				if err == nil {
					t.Fatalf("no error, calls %x", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d calls, want %d", len(got), len(c.want))
			}
			for i := range got {
				if string(got[i]) != string(c.want[i]) {
					t.Errorf("call %d: %x, want %x", i, got[i], c.want[i])
				}
			}
		})
	}
}

// TestOnChainRotationReplacesDepartingSigner: carol leaves a 2-of-3 Safe
// (alice, bob, carol) and dave takes her place. The swapOwner is built
// by RotationTx, reviewed under the new policy's vault (alice, bob,
// dave) as a rotation, signed by alice and bob through the adapter,
// executed on the real Safe bytecode; then dave signs a transfer.
func TestOnChainRotationReplacesDepartingSigner(t *testing.T) {
	dir := safesim.Artifacts(t)
	for _, ver := range onchainVersions {
		t.Run(ver, func(t *testing.T) {
			env := safesim.New(t, dir, ver)
			old := newOnchain(t, env, []string{"alice", "bob", "carol"}, 2)
			env.Fund(t, old.safe, big.NewInt(1e18))
			dave := keySigner{testKey(t, "dave"+env.Version)}
			// The vault of the new policy version: same Safe, dave for carol.
			next := &onchain{env: env, safe: old.safe, signers: []keySigner{old.signers[0], old.signers[1], dave}}
			next.vault = old.vault
			next.vault.Keys = []string{old.vault.Keys[0], old.vault.Keys[1], dave.ownerKey()}
			next.vault.PolicyVersion = 2
			var newOwners []common.Address
			for _, k := range next.vault.Keys {
				o, _ := ParseOwnerKey(k)
				newOwners = append(newOwners, o.Address)
			}
			cur := env.Owners(t, old.safe)
			tx, err := RotationTx(old.safe, cur, newOwners, env.Threshold(t, old.safe), 2, env.Nonce(t, old.safe), env.MultiSendCallOnly)
			if err != nil {
				t.Fatal(err)
			}
			if tx.To != old.safe {
				t.Fatalf("one swap went to %s, not the Safe", tx.To.Hex())
			}
			pl, err := (&Payload{Tx: tx}).Encode()
			if err != nil {
				t.Fatal(err)
			}
			r, err := Adapter{}.Review(context.Background(), next.vault, pl)
			if err != nil {
				t.Fatal(err)
			}
			if !hasFlag(r, FlagRotation, chain.Info) || len(r.Blocking()) > 0 || !slices.Equal(r.Effects.Actions, []chain.Action{chain.ActionRotation}) {
				t.Fatalf("review: flags %v, actions %v", r.Flags, r.Effects.Actions)
			}
			// The old vault's stations (carol still listed) refuse it.
			if _, err := (Adapter{}).Sign(old.vault, pl, old.vault.Keys[0], old.signers[0]); err == nil {
				t.Fatal("a station on the old policy signed the removal of a listed owner")
			}
			next.roundTrip(t, pl, 0, 1)
			if got := env.Owners(t, old.safe); !sameSet(got, newOwners) || env.Threshold(t, old.safe) != 2 {
				t.Fatalf("owners %v threshold %d", got, env.Threshold(t, old.safe))
			}
			// dave now signs, with alice; carol no longer can.
			dest := common.HexToAddress("0x000000000000000000000000000000000000dEaD")
			before := env.Balance(t, dest)
			next.roundTrip(t, next.payload(t, dest, big.NewInt(7), nil, OpCall), 2, 0)
			if got := new(big.Int).Sub(env.Balance(t, dest), before); got.Int64() != 7 {
				t.Fatalf("recipient got %s", got)
			}
		})
	}
}

func sameSet(a, b []common.Address) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
