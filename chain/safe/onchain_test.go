package safe

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/hex"
	"math/big"
	"sort"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/safe/safesim"
)

// onchain is one Safe, created through the real proxy factory in
// go-ethereum's simulated backend, with airlock's vault for it.
type onchain struct {
	env     *safesim.Env
	safe    common.Address
	vault   chain.Vault
	signers []keySigner
}

func newOnchain(t testing.TB, env *safesim.Env, names []string, threshold int) *onchain {
	t.Helper()
	o := &onchain{env: env}
	var owners []common.Address
	var keysExpr []string
	for _, n := range names {
		s := keySigner{testKey(t, n+env.Version)}
		o.signers = append(o.signers, s)
		owners = append(owners, crypto.PubkeyToAddress(s.k.PublicKey))
		keysExpr = append(keysExpr, s.ownerKey())
	}
	o.safe = env.CreateSafe(t, owners, threshold)
	code, err := env.Client.CodeAt(context.Background(), env.MultiSendCallOnly, nil)
	if err != nil || len(code) == 0 {
		t.Fatalf("MultiSendCallOnly has no code: %v", err)
	}
	o.vault = chain.Vault{Name: "onchain", Chain: "ethereum", Threshold: threshold, Keys: keysExpr, Account: &chain.Account{
		Address: o.safe.Hex(), ChainID: env.ChainID.Uint64(), Version: env.Version,
		Trusted: []chain.Trusted{{Name: "MultiSendCallOnly", Address: env.MultiSendCallOnly.Hex(), CodeHash: crypto.Keccak256Hash(code).Hex()}},
	}}
	if _, err := (Adapter{}).PrepareVault(o.vault); err != nil {
		t.Fatal(err)
	}
	return o
}

func (o *onchain) payload(t *testing.T, to common.Address, value *big.Int, data []byte, op uint8) []byte {
	return o.payloadTB(t, to, value, data, op, nil)
}

// payloadTB is payload at nonce (nil: the Safe's next).
func (o *onchain) payloadTB(t testing.TB, to common.Address, value *big.Int, data []byte, op uint8, nonce *big.Int) []byte {
	if nonce == nil {
		nonce = o.env.Nonce(t, o.safe)
	}
	return []byte(`{"to":"` + to.Hex() + `","value":"` + value.String() + `","data":"0x` + hex.EncodeToString(data) + `","operation":` + big.NewInt(int64(op)).String() +
		`,"safeTxGas":"0","baseGas":"0","gasPrice":"0","gasToken":"0x0000000000000000000000000000000000000000","refundReceiver":"0x0000000000000000000000000000000000000000","nonce":"` + nonce.String() + `"}`)
}

func simTx(t *testing.T, pl []byte) safesim.SafeTx {
	p, err := Parse(pl)
	if err != nil {
		t.Fatal(err)
	}
	x := p.Tx
	return safesim.SafeTx{To: x.To, Value: x.Value, Data: x.Data, Operation: x.Operation, SafeTxGas: x.SafeTxGas, BaseGas: x.BaseGas, GasPrice: x.GasPrice, GasToken: x.GasToken, RefundReceiver: x.RefundReceiver, Nonce: x.Nonce}
}

// roundTrip reviews pl as a station, checks the on-chain hash equals ours,
// signs with the owners at idx through the adapter, assembles, and sends
// execTransaction from an unrelated account.
func (o *onchain) roundTrip(t *testing.T, pl []byte, idx ...int) *types.Receipt {
	t.Helper()
	r, err := Adapter{}.Review(context.Background(), o.vault, pl)
	if err != nil {
		t.Fatal(err)
	}
	if b := r.Blocking(); len(b) > 0 {
		t.Fatalf("blocked: %v", b)
	}
	if onchain := common.Hash(o.env.GetTransactionHash(t, o.safe, simTx(t, pl))); onchain.Hex() != r.TxID {
		t.Fatalf("getTransactionHash %s, airlock %s", onchain.Hex(), r.TxID)
	}
	sets := map[string][]chain.Signature{}
	for _, i := range idx {
		sigs, err := Adapter{}.Sign(o.vault, pl, o.vault.Keys[i], o.signers[i])
		if err != nil {
			t.Fatal(err)
		}
		sets[o.vault.Keys[i]] = sigs
	}
	fin, err := Adapter{}.Assemble(o.vault, pl, sets)
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := o.env.Send(t, o.env.Deployer, o.safe, new(big.Int), fin.Raw)
	if err != nil || rcpt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("execTransaction failed: %v (status %d)", err, rcpt.Status)
	}
	if len(o.env.Events(t, rcpt, o.safe, "Safe", "ExecutionSuccess")) != 1 {
		t.Fatal("no ExecutionSuccess event")
	}
	return rcpt
}

var onchainVersions = []string{"1.3.0", "1.4.1", "1.5.0"}

// The airlock round trip against the real Safe contracts, per version: a
// plain transfer, an ERC-20 transfer, a MultiSendCallOnly batch, a nested
// Safe owner (approved hash and contract signature), and the refusals the
// contract and airlock agree on.
func TestOnChain(t *testing.T) {
	dir := safesim.Artifacts(t)
	for _, ver := range onchainVersions {
		t.Run(ver, func(t *testing.T) {
			env := safesim.New(t, dir, ver)
			o := newOnchain(t, env, []string{"alice", "bob", "carol"}, 2)
			env.Fund(t, o.safe, big.NewInt(2e18))
			dest := common.HexToAddress("0x000000000000000000000000000000000000dEaD")

			t.Run("transfer", func(t *testing.T) {
				before := env.Balance(t, dest)
				o.roundTrip(t, o.payload(t, dest, big.NewInt(1e17), nil, OpCall), 2, 0)
				if got := new(big.Int).Sub(env.Balance(t, dest), before); got.Cmp(big.NewInt(1e17)) != 0 {
					t.Fatalf("recipient got %s", got)
				}
			})
			token := env.DeployERC20(t, o.safe, big.NewInt(1_000_000))
			t.Run("erc20", func(t *testing.T) {
				data := call("transfer(address,uint256)", dest, big.NewInt(250))
				o.roundTrip(t, o.payload(t, token, new(big.Int), data, OpCall), 0, 1)
				if got := env.TokenBalance(t, token, dest); got.Cmp(big.NewInt(250)) != 0 {
					t.Fatalf("token balance %s", got)
				}
			})
			t.Run("multisend", func(t *testing.T) {
				batch := PackMultiSend([]BatchCall{
					{To: dest, Value: big.NewInt(3), Data: nil},
					{To: token, Value: new(big.Int), Data: call("transfer(address,uint256)", dest, big.NewInt(50))},
				})
				pl := o.payload(t, env.MultiSendCallOnly, new(big.Int), batch, OpDelegateCall)
				r, _ := Adapter{}.Review(context.Background(), o.vault, pl)
				if d := r.Details.(Details); len(d.Calls[0].Calls) != 2 {
					t.Fatalf("batch not unpacked: %+v", d.Calls)
				}
				o.roundTrip(t, pl, 1, 2)
				if got := env.TokenBalance(t, token, dest); got.Cmp(big.NewInt(300)) != 0 {
					t.Fatalf("token balance %s", got)
				}
			})
			t.Run("refusals", func(t *testing.T) {
				pl := o.payload(t, dest, big.NewInt(1), nil, OpCall)
				h := common.Hash(env.GetTransactionHash(t, o.safe, simTx(t, pl)))
				var parts []OwnerSignature
				for _, i := range []int{0, 1} {
					o1, _ := ParseOwnerKey(o.vault.Keys[i])
					sig, err := SignHash(o.signers[i], o1, h)
					if err != nil {
						t.Fatal(err)
					}
					parts = append(parts, OwnerSignature{Owner: o1.Address, Sig: sig})
				}
				// Unsorted owners: the contract reverts; airlock always sorts.
				sort.Slice(parts, func(i, j int) bool { return bytes.Compare(parts[i].Owner[:], parts[j].Owner[:]) > 0 })
				unsorted := append(append([]byte{}, parts[0].Sig...), parts[1].Sig...)
				calldata, _ := ExecCalldata(simTxToTx(simTx(t, pl)), unsorted)
				if rcpt, _ := env.Send(t, env.Deployer, o.safe, new(big.Int), calldata); rcpt.Status != types.ReceiptStatusFailed {
					t.Fatal("the Safe executed unsorted signatures")
				}
				blob, _ := EncodeSignatures(parts)
				if bytes.Equal(blob, unsorted) {
					t.Fatal("EncodeSignatures kept the unsorted order")
				}
				// A signature for another chain: the contract reverts, and
				// airlock's verification refuses it first.
				wrong := *o.vault.Account
				wrong.ChainID++
				other := o.vault
				other.Account = &wrong
				sigs, err := Adapter{}.Sign(other, pl, o.vault.Keys[0], o.signers[0])
				if err != nil {
					t.Fatal(err)
				}
				if _, err := (Adapter{}).Verify(o.vault, pl, o.vault.Keys[0], sigs); err == nil {
					t.Fatal("airlock accepted a signature made for another chain")
				}
				wrongBlob, _ := EncodeSignatures([]OwnerSignature{{Owner: parts[0].Owner, Sig: sigs[0].Sig}, parts[1]})
				calldata, _ = ExecCalldata(simTxToTx(simTx(t, pl)), wrongBlob)
				if rcpt, _ := env.Send(t, env.Deployer, o.safe, new(big.Int), calldata); rcpt.Status != types.ReceiptStatusFailed {
					t.Fatal("the Safe executed a wrong-chain signature")
				}
			})
			t.Run("nested", func(t *testing.T) { nested(t, env, dest) })
		})
	}
}

func simTxToTx(s safesim.SafeTx) *Tx {
	return &Tx{To: s.To, Value: s.Value, Data: s.Data, Operation: s.Operation, SafeTxGas: s.SafeTxGas, BaseGas: s.BaseGas, GasPrice: s.GasPrice, GasToken: s.GasToken, RefundReceiver: s.RefundReceiver, Nonce: s.Nonce}
}

// nested: an inner 1-of-1 Safe owns an outer 2-of-2 Safe with one EOA.
// The inner Safe approves through approveHash (v 1) — itself an airlock
// round trip on the inner vault — and through an EIP-1271 contract
// signature (v 0) made of its owner's signature over its Safe message hash.
func nested(t *testing.T, env *safesim.Env, dest common.Address) {
	inner := newOnchain(t, env, []string{"dora"}, 1)
	eve := keySigner{testKey(t, "eve"+env.Version)}
	eveAddr := crypto.PubkeyToAddress(eve.k.PublicKey)
	outerAddr := env.CreateSafe(t, []common.Address{inner.safe, eveAddr}, 2)
	env.Fund(t, outerAddr, big.NewInt(1e18))
	outerVault := chain.Vault{Name: "outer", Chain: "ethereum", Threshold: 2, Keys: []string{inner.safe.Hex(), eve.ownerKey()},
		Account: &chain.Account{Address: outerAddr.Hex(), ChainID: env.ChainID.Uint64(), Version: env.Version}}
	outer := &onchain{env: env, safe: outerAddr, vault: outerVault}
	eveOwner, _ := ParseOwnerKey(eve.ownerKey())

	// 1. Approved hash: the inner Safe calls approveHash on the outer one.
	pl := outer.payload(t, dest, big.NewInt(5), nil, OpCall)
	r, err := Adapter{}.Review(context.Background(), outer.vault, pl)
	if err != nil {
		t.Fatal(err)
	}
	h := common.HexToHash(r.TxID)
	inner.roundTrip(t, inner.payload(t, outerAddr, new(big.Int), ApproveHashCalldata(h), OpCall), 0)
	eveSig, err := SignHash(eve, eveOwner, h)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := EncodeSignatures([]OwnerSignature{{Owner: inner.safe, ApprovedHash: true}, {Owner: eveAddr, Sig: eveSig}})
	p, _ := Parse(pl)
	calldata, _ := ExecCalldata(p.Tx, blob)
	if rcpt, err := env.Send(t, env.Deployer, outerAddr, new(big.Int), calldata); err != nil || rcpt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("approved-hash execution failed: %v", err)
	}

	// 2. Contract signature: the inner Safe's owner signs the inner Safe's
	// message hash of what the outer Safe asks it to validate.
	pl = outer.payload(t, dest, big.NewInt(6), nil, OpCall)
	r, _ = Adapter{}.Review(context.Background(), outer.vault, pl)
	d := r.Details.(Details)
	h = d.Hashes.SafeTx
	msg := ContractSignatureMessage(env.Version, d.Hashes)
	innerHashes, err := MessageHashes(Domain{Version: env.Version, ChainID: env.ChainID, Safe: inner.safe}, msg)
	if err != nil {
		t.Fatal(err)
	}
	doraOwner, _ := ParseOwnerKey(inner.vault.Keys[0])
	doraSig, err := SignHash(inner.signers[0], doraOwner, innerHashes.SafeTx)
	if err != nil {
		t.Fatal(err)
	}
	innerBlob, _ := EncodeSignatures([]OwnerSignature{{Owner: doraOwner.Address, Sig: doraSig}})
	eveSig, _ = SignHash(eve, eveOwner, h)
	blob, _ = EncodeSignatures([]OwnerSignature{{Owner: inner.safe, Contract: innerBlob}, {Owner: eveAddr, Sig: eveSig}})
	p, _ = Parse(pl)
	calldata, _ = ExecCalldata(p.Tx, blob)
	rcpt, err := env.Send(t, env.Deployer, outerAddr, new(big.Int), calldata)
	if err != nil || rcpt.Status != types.ReceiptStatusSuccessful {
		t.Fatalf("contract-signature execution failed: %v", err)
	}
	if !strings.HasPrefix(r.TxID, "0x") {
		t.Fatal("no hash")
	}
	_ = ecdsa.PublicKey{}
}
