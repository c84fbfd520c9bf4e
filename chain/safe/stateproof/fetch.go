package stateproof

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/rpc"
)

// Fetch reads the attestation for the Safe at safe (of version) at block
// (nil: the latest) from a node: the header, the Safe's storage proofs
// (its fixed slots, then both linked lists walked slot by slot), and the
// account proofs of the singleton, the fallback handler and targets. It
// checks what it fetched with Verify before returning it, so a node that
// answers inconsistently is caught at the coordinator already.
func Fetch(ctx context.Context, rc *rpc.Client, safe common.Address, version string, targets []common.Address, block *big.Int) (*Attestation, error) {
	lay, err := LayoutOf(version)
	if err != nil {
		return nil, err
	}
	var chainID hexutil.Big
	if err := rc.CallContext(ctx, &chainID, "eth_chainId"); err != nil {
		return nil, fmt.Errorf("stateproof: eth_chainId: %v", err)
	}
	tag := "latest"
	if block != nil {
		tag = hexutil.EncodeBig(block)
	}
	var raw json.RawMessage
	if err := rc.CallContext(ctx, &raw, "eth_getBlockByNumber", tag, false); err != nil {
		return nil, fmt.Errorf("stateproof: eth_getBlockByNumber %s: %v", tag, err)
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("stateproof: the node has no block %s", tag)
	}
	var h types.Header
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, fmt.Errorf("stateproof: block %s: %v", tag, err)
	}
	var named struct {
		Hash common.Hash `json:"hash"`
	}
	if err := json.Unmarshal(raw, &named); err != nil {
		return nil, fmt.Errorf("stateproof: block %s: %v", tag, err)
	}
	hdr, err := rlp.EncodeToBytes(&h)
	if err != nil {
		return nil, fmt.Errorf("stateproof: header: %v", err)
	}
	if h.Hash() != named.Hash {
		return nil, fmt.Errorf("stateproof: the node names block %s but its header hashes to %s: a header field this build does not know?", named.Hash.Hex(), h.Hash().Hex())
	}
	at := hexutil.EncodeBig(h.Number) // every read at the same block

	storage := func(slot common.Hash) (common.Hash, error) {
		var v common.Hash
		if err := rc.CallContext(ctx, &v, "eth_getStorageAt", safe, slot, at); err != nil {
			return v, fmt.Errorf("stateproof: eth_getStorageAt %s: %v", slot.Hex(), err)
		}
		return v, nil
	}
	slots := []common.Hash{SlotSingleton, SlotOwnerCount, SlotThreshold, SlotNonce, SlotFallbackHandler}
	if lay.Guard {
		slots = append(slots, SlotGuard)
	}
	if lay.ModuleGuard {
		slots = append(slots, SlotModuleGuard)
	}
	for _, list := range []common.Hash{SlotOwners, SlotModules} {
		cur := Sentinel
		for i := 0; ; i++ {
			s := MappingSlot(cur, list)
			slots = append(slots, s)
			v, err := storage(s)
			if err != nil {
				return nil, err
			}
			next := common.BytesToAddress(v[12:])
			if next == Sentinel || next == (common.Address{}) {
				break
			}
			if i == MaxListItems {
				return nil, fmt.Errorf("stateproof: the Safe's list at slot %s is longer than %d", list.Hex(), MaxListItems)
			}
			cur = next
		}
	}
	sp, err := getProof(ctx, rc, safe, slots, at)
	if err != nil {
		return nil, err
	}
	a := &Attestation{Format: Format, ChainID: chainID.ToInt().Uint64(), BlockHash: named.Hash.Bytes(), Header: hdr, Safe: *sp}

	singleton, err := storage(SlotSingleton)
	if err != nil {
		return nil, err
	}
	handler, err := storage(SlotFallbackHandler)
	if err != nil {
		return nil, err
	}
	want := map[common.Address]bool{common.BytesToAddress(singleton[12:]): true}
	if h := common.BytesToAddress(handler[12:]); h != (common.Address{}) {
		want[h] = true
	}
	for _, t := range targets {
		if t != safe {
			want[t] = true
		}
	}
	var addrs []common.Address
	for t := range want {
		addrs = append(addrs, t)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i].Cmp(addrs[j]) < 0 })
	if len(addrs) > MaxTargets {
		return nil, fmt.Errorf("stateproof: %d accounts to prove, over %d", len(addrs), MaxTargets)
	}
	for _, t := range addrs {
		p, err := getProof(ctx, rc, t, nil, at)
		if err != nil {
			return nil, err
		}
		a.Accounts = append(a.Accounts, *p)
	}
	if _, err := Verify(a, a.ChainID, safe, version, targets); err != nil {
		return nil, fmt.Errorf("stateproof: the node's answers do not verify: %w", err)
	}
	return a, nil
}

type proofResult struct {
	Address      common.Address  `json:"address"`
	AccountProof []hexutil.Bytes `json:"accountProof"`
	StorageProof []struct {
		Key   string          `json:"key"`
		Proof []hexutil.Bytes `json:"proof"`
	} `json:"storageProof"`
}

func getProof(ctx context.Context, rc *rpc.Client, addr common.Address, slots []common.Hash, at string) (*Proof, error) {
	keys := make([]string, len(slots))
	for i, s := range slots {
		keys[i] = s.Hex()
	}
	var r proofResult
	if err := rc.CallContext(ctx, &r, "eth_getProof", addr, keys, at); err != nil {
		return nil, fmt.Errorf("stateproof: eth_getProof %s: %v", addr.Hex(), err)
	}
	if len(r.StorageProof) != len(slots) {
		return nil, fmt.Errorf("stateproof: eth_getProof %s: %d storage proofs for %d slots", addr.Hex(), len(r.StorageProof), len(slots))
	}
	p := &Proof{Address: addr.Bytes(), Nodes: nodes(r.AccountProof)}
	for i, s := range r.StorageProof {
		p.Slots = append(p.Slots, SlotProof{Slot: slots[i].Bytes(), Nodes: nodes(s.Proof)})
	}
	return p, nil
}

func nodes(in []hexutil.Bytes) [][]byte {
	out := make([][]byte, len(in))
	for i, n := range in {
		out[i] = n
	}
	return out
}
