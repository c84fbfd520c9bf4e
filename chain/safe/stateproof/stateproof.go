// Package stateproof attests a Safe's on-chain state at one block with
// EIP-1186 proofs (eth_getProof), and verifies the attestation offline.
//
// The coordinator reads, at a block, the block header, the Safe's account
// proof and the storage proofs of every slot that says who controls the
// Safe (singleton, owners, threshold, nonce, modules, guard, module guard,
// fallback handler), and the account proofs of the contracts the
// transaction calls (Fetch). A station holding only the attestation
// recomputes the block hash from the header, walks each proof from the
// header's state root, and reads the values out of the proven leaves
// (Verify): nothing the coordinator claims is taken, only what the proofs
// show. Which slots must be proven the station decides itself: the fixed
// slots of the version, then each owners and modules linked list from its
// sentinel back to the sentinel.
//
// What this rests on: the header. A station cannot check a header against
// consensus offline, so a coordinator that forges a whole header (and a
// state under it) is caught only by a person comparing the block number
// and hash the station shows with an independent node or explorer
// (docs/safe.md).
package stateproof

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"

	"github.com/airlock-vault/airlock/envelope"
)

// Format is the attestation format this package writes and reads.
const Format = 1

// Bounds on what a station reads.
const (
	MaxSize      = 1 << 20 // an encoded attestation
	MaxHeader    = 2048    // an RLP header
	MaxNodes     = 64      // nodes in one proof (a path is at most 64 nibbles)
	MaxNode      = 1024    // one trie node (a full branch is 532 bytes)
	MaxSlots     = 300     // storage proofs of the Safe
	MaxTargets   = 64      // account proofs besides the Safe's
	MaxListItems = 100     // owners, or modules, in one linked list
)

// Safe storage (SafeStorage.sol and the managers, 1.1.1–1.5.0).
var (
	SlotSingleton  = common.BigToHash(big.NewInt(0))
	SlotModules    = common.BigToHash(big.NewInt(1)) // mapping(address => address)
	SlotOwners     = common.BigToHash(big.NewInt(2)) // mapping(address => address)
	SlotOwnerCount = common.BigToHash(big.NewInt(3))
	SlotThreshold  = common.BigToHash(big.NewInt(4))
	SlotNonce      = common.BigToHash(big.NewInt(5))
	// keccak256("fallback_manager.handler.address"), 1.1.1 on.
	SlotFallbackHandler = common.HexToHash("0x6c9a6c4a39284e37ed1cf53d337577d14212a4870fb976a4366c693b939918d5")
	// keccak256("guard_manager.guard.address"), 1.3.0 on.
	SlotGuard = common.HexToHash("0x4a204f620c8c5ccdca3fd54d003badd85ba500436a431f0cbda4f558c93c34c8")
	// keccak256("module_manager.module_guard.address"), 1.5.0.
	SlotModuleGuard = common.HexToHash("0xb104e0b93118902c651344349b610029d694cfdec91c589c91ebafbcd0289947")
	// Sentinel starts and ends the owners and modules lists.
	Sentinel = common.HexToAddress("0x0000000000000000000000000000000000000001")
)

// MappingSlot is the storage slot of key in the address mapping at slot:
// keccak256(pad32(key) . slot).
func MappingSlot(key common.Address, slot common.Hash) common.Hash {
	return crypto.Keccak256Hash(common.LeftPadBytes(key.Bytes(), 32), slot.Bytes())
}

// Attestation is what a proposal carries: the header and the proofs.
// It holds no values: a station reads them out of the proofs.
type Attestation struct {
	Format    int    `cbor:"1,keyasint"`
	ChainID   uint64 `cbor:"2,keyasint"`
	BlockHash []byte `cbor:"3,keyasint"` // the hash the node named for the block
	Header    []byte `cbor:"4,keyasint"` // the block header, RLP
	Safe      Proof  `cbor:"5,keyasint"`
	// Accounts are the other accounts proven: the call targets, the
	// singleton and the fallback handler.
	Accounts []Proof `cbor:"6,keyasint,omitempty"`
}

// Proof is one account's proof and, for the Safe, its storage proofs.
type Proof struct {
	Address []byte      `cbor:"1,keyasint"`
	Nodes   [][]byte    `cbor:"2,keyasint"`
	Slots   []SlotProof `cbor:"3,keyasint,omitempty"`
}

// SlotProof is one storage slot's proof.
type SlotProof struct {
	Slot  []byte   `cbor:"1,keyasint"`
	Nodes [][]byte `cbor:"2,keyasint"`
}

// Encode writes a in deterministic CBOR.
func (a *Attestation) Encode() ([]byte, error) {
	b, err := envelope.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("stateproof: %v", err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("stateproof: attestation of %d bytes, over %d", len(b), MaxSize)
	}
	return b, nil
}

// Decode reads an attestation strictly: deterministic CBOR, no unknown
// field, every size bounded.
func Decode(b []byte) (*Attestation, error) {
	if len(b) == 0 || len(b) > MaxSize {
		return nil, fmt.Errorf("stateproof: attestation of %d bytes, want 1..%d", len(b), MaxSize)
	}
	var a Attestation
	if err := envelope.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("stateproof: malformed attestation: %v", err)
	}
	if a.Format != Format {
		return nil, fmt.Errorf("stateproof: attestation format %d, want %d", a.Format, Format)
	}
	if len(a.BlockHash) != 32 {
		return nil, fmt.Errorf("stateproof: block hash of %d bytes", len(a.BlockHash))
	}
	if len(a.Header) == 0 || len(a.Header) > MaxHeader {
		return nil, fmt.Errorf("stateproof: header of %d bytes, want 1..%d", len(a.Header), MaxHeader)
	}
	if len(a.Safe.Slots) > MaxSlots {
		return nil, fmt.Errorf("stateproof: %d storage proofs, over %d", len(a.Safe.Slots), MaxSlots)
	}
	if len(a.Accounts) > MaxTargets {
		return nil, fmt.Errorf("stateproof: %d account proofs, over %d", len(a.Accounts), MaxTargets)
	}
	seen := map[common.Address]bool{}
	for i, p := range append([]Proof{a.Safe}, a.Accounts...) {
		if len(p.Address) != 20 {
			return nil, fmt.Errorf("stateproof: account proof %d: address of %d bytes", i, len(p.Address))
		}
		addr := common.BytesToAddress(p.Address)
		if seen[addr] {
			return nil, fmt.Errorf("stateproof: account %s proven twice", addr.Hex())
		}
		seen[addr] = true
		if i > 0 && len(p.Slots) > 0 {
			return nil, fmt.Errorf("stateproof: account %s: storage proofs are read for the Safe only", addr.Hex())
		}
		if err := checkNodes(p.Nodes); err != nil {
			return nil, fmt.Errorf("stateproof: account %s: %v", addr.Hex(), err)
		}
		slots := map[common.Hash]bool{}
		for _, s := range p.Slots {
			if len(s.Slot) != 32 {
				return nil, fmt.Errorf("stateproof: slot key of %d bytes", len(s.Slot))
			}
			k := common.BytesToHash(s.Slot)
			if slots[k] {
				return nil, fmt.Errorf("stateproof: slot %s proven twice", k.Hex())
			}
			slots[k] = true
			if err := checkNodes(s.Nodes); err != nil {
				return nil, fmt.Errorf("stateproof: slot %s: %v", k.Hex(), err)
			}
		}
	}
	return &a, nil
}

func checkNodes(nodes [][]byte) error {
	if len(nodes) == 0 || len(nodes) > MaxNodes {
		return fmt.Errorf("proof of %d nodes, want 1..%d", len(nodes), MaxNodes)
	}
	for i, n := range nodes {
		if len(n) == 0 || len(n) > MaxNode {
			return fmt.Errorf("proof node %d of %d bytes, want 1..%d", i, len(n), MaxNode)
		}
	}
	return nil
}

// Account is an account as its proof shows it.
type Account struct {
	Address  common.Address
	Exists   bool // false: the proof shows no account (no code, no ether)
	Nonce    uint64
	Balance  *big.Int
	Root     common.Hash // storage root
	CodeHash common.Hash // types.EmptyCodeHash for an account without code
}

// HasCode says whether the account holds code.
func (a Account) HasCode() bool { return a.Exists && a.CodeHash != types.EmptyCodeHash }

// State is a Safe's state at a block, as the proofs show it.
type State struct {
	ChainID     uint64
	BlockNumber uint64
	BlockHash   common.Hash
	BlockTime   uint64
	StateRoot   common.Hash

	Safe            Account
	Singleton       common.Address
	Owners          []common.Address // in the contract's list order
	OwnerCount      uint64
	Threshold       uint64
	Nonce           *big.Int
	Modules         []common.Address
	Guard           common.Address
	ModuleGuard     common.Address
	FallbackHandler common.Address
	// Accounts are the other proven accounts, by address.
	Accounts map[common.Address]Account
}

// Layout says which slots a Safe version has.
type Layout struct {
	Guard       bool // 1.3.0 on
	ModuleGuard bool // 1.5.0
}

// LayoutOf returns the layout of a Safe version ("1.1.1" … "1.5.0").
func LayoutOf(version string) (Layout, error) {
	switch version {
	case "1.1.1", "1.2.0":
		return Layout{}, nil
	case "1.3.0", "1.4.1":
		return Layout{Guard: true}, nil
	case "1.5.0":
		return Layout{Guard: true, ModuleGuard: true}, nil
	}
	return Layout{}, fmt.Errorf("stateproof: Safe version %q has no known storage layout", version)
}

// ErrHeader is a header whose hash is not the block hash the attestation
// names, or that is not a canonical header.
var ErrHeader = errors.New("stateproof: header")

// Verify checks a's proofs for the Safe at safe on chain chainID of the
// given version, and returns the state they prove. accounts are the
// addresses whose account proofs the caller requires besides the Safe's
// (call targets); the singleton and a non-zero fallback handler are
// required too. Any missing, extra, broken or foreign proof node is an
// error.
func Verify(a *Attestation, chainID uint64, safe common.Address, version string, accounts []common.Address) (*State, error) {
	lay, err := LayoutOf(version)
	if err != nil {
		return nil, err
	}
	if a.ChainID != chainID {
		return nil, fmt.Errorf("stateproof: attestation for chain %d, the vault is on chain %d", a.ChainID, chainID)
	}
	h, err := DecodeHeader(a.Header)
	if err != nil {
		return nil, err
	}
	hash := crypto.Keccak256Hash(a.Header)
	if !bytes.Equal(hash[:], a.BlockHash) {
		return nil, fmt.Errorf("%w: keccak256 of the header is %s, the attestation names block %x: the header was altered", ErrHeader, hash.Hex(), a.BlockHash)
	}
	if h.Number == nil || !h.Number.IsUint64() {
		return nil, fmt.Errorf("%w: block number out of range", ErrHeader)
	}
	st := &State{ChainID: chainID, BlockNumber: h.Number.Uint64(), BlockHash: hash, BlockTime: h.Time, StateRoot: h.Root, Accounts: map[common.Address]Account{}}

	if !bytes.Equal(a.Safe.Address, safe.Bytes()) {
		return nil, fmt.Errorf("stateproof: the attestation proves account %x, not the Safe %s", a.Safe.Address, safe.Hex())
	}
	if st.Safe, err = proveAccount(h.Root, safe, a.Safe.Nodes); err != nil {
		return nil, err
	}
	if !st.Safe.HasCode() {
		return nil, fmt.Errorf("stateproof: the proof shows no contract at the Safe's address %s at block %d", safe.Hex(), st.BlockNumber)
	}
	slots := map[common.Hash][][]byte{}
	for _, s := range a.Safe.Slots {
		slots[common.BytesToHash(s.Slot)] = s.Nodes
	}
	used := map[common.Hash]bool{}
	read := func(slot common.Hash, what string) (common.Hash, error) {
		nodes, ok := slots[slot]
		if !ok {
			return common.Hash{}, fmt.Errorf("stateproof: no storage proof for %s (slot %s)", what, slot.Hex())
		}
		used[slot] = true
		v, err := proveSlot(st.Safe.Root, slot, nodes)
		if err != nil {
			return common.Hash{}, fmt.Errorf("stateproof: %s (slot %s): %w", what, slot.Hex(), err)
		}
		return v, nil
	}
	readAddr := func(slot common.Hash, what string) (common.Address, error) {
		v, err := read(slot, what)
		if err != nil {
			return common.Address{}, err
		}
		if !bytes.Equal(v[:12], make([]byte, 12)) {
			return common.Address{}, fmt.Errorf("stateproof: %s (slot %s) holds %s, not an address", what, slot.Hex(), v.Hex())
		}
		return common.BytesToAddress(v[12:]), nil
	}
	readUint := func(slot common.Hash, what string) (*big.Int, error) {
		v, err := read(slot, what)
		if err != nil {
			return nil, err
		}
		return v.Big(), nil
	}
	if st.Singleton, err = readAddr(SlotSingleton, "singleton"); err != nil {
		return nil, err
	}
	oc, err := readUint(SlotOwnerCount, "owner count")
	if err != nil {
		return nil, err
	}
	th, err := readUint(SlotThreshold, "threshold")
	if err != nil {
		return nil, err
	}
	if !oc.IsUint64() || !th.IsUint64() {
		return nil, fmt.Errorf("stateproof: owner count %s, threshold %s out of range", oc, th)
	}
	st.OwnerCount, st.Threshold = oc.Uint64(), th.Uint64()
	if st.Nonce, err = readUint(SlotNonce, "nonce"); err != nil {
		return nil, err
	}
	if st.FallbackHandler, err = readAddr(SlotFallbackHandler, "fallback handler"); err != nil {
		return nil, err
	}
	if lay.Guard {
		if st.Guard, err = readAddr(SlotGuard, "guard"); err != nil {
			return nil, err
		}
	}
	if lay.ModuleGuard {
		if st.ModuleGuard, err = readAddr(SlotModuleGuard, "module guard"); err != nil {
			return nil, err
		}
	}
	if st.Owners, err = walk(SlotOwners, "owners", readAddr); err != nil {
		return nil, err
	}
	if uint64(len(st.Owners)) != st.OwnerCount {
		return nil, fmt.Errorf("stateproof: the owners list holds %d owners, the owner count says %d", len(st.Owners), st.OwnerCount)
	}
	if st.Modules, err = walk(SlotModules, "modules", readAddr); err != nil {
		return nil, err
	}
	for k := range slots {
		if !used[k] {
			return nil, fmt.Errorf("stateproof: a storage proof for slot %s that the Safe's state does not reach", k.Hex())
		}
	}

	want := map[common.Address]string{st.Singleton: "the singleton"}
	if st.FallbackHandler != (common.Address{}) {
		want[st.FallbackHandler] = "the fallback handler"
	}
	for _, t := range accounts {
		if t != safe {
			want[t] = "a call target"
		}
	}
	got := map[common.Address][][]byte{}
	for _, p := range a.Accounts {
		got[common.BytesToAddress(p.Address)] = p.Nodes
	}
	for addr, what := range want {
		nodes, ok := got[addr]
		if !ok {
			return nil, fmt.Errorf("stateproof: no account proof for %s %s", what, addr.Hex())
		}
		acc, err := proveAccount(h.Root, addr, nodes)
		if err != nil {
			return nil, err
		}
		st.Accounts[addr] = acc
	}
	for addr := range got {
		if _, ok := want[addr]; !ok {
			return nil, fmt.Errorf("stateproof: an account proof for %s, which neither the transaction nor the Safe names", addr.Hex())
		}
	}
	return st, nil
}

// walk reads a Safe linked list (owners or modules) from the sentinel
// back to the sentinel. An uninitialised list (a zero link) is empty.
func walk(slot common.Hash, what string, readAddr func(common.Hash, string) (common.Address, error)) ([]common.Address, error) {
	var out []common.Address
	seen := map[common.Address]bool{}
	cur := Sentinel
	for {
		next, err := readAddr(MappingSlot(cur, slot), fmt.Sprintf("%s list after %s", what, cur.Hex()))
		if err != nil {
			return nil, err
		}
		if next == Sentinel {
			return out, nil
		}
		if next == (common.Address{}) {
			if cur == Sentinel {
				return out, nil // never set up
			}
			return nil, fmt.Errorf("stateproof: the %s list breaks after %s", what, cur.Hex())
		}
		if seen[next] {
			return nil, fmt.Errorf("stateproof: the %s list loops at %s", what, next.Hex())
		}
		if len(out) == MaxListItems {
			return nil, fmt.Errorf("stateproof: more than %d %s", MaxListItems, what)
		}
		seen[next] = true
		out = append(out, next)
		cur = next
	}
}

// DecodeHeader reads an RLP block header, which must be the canonical
// encoding of what it decodes to (so its hash is the block's).
func DecodeHeader(b []byte) (*types.Header, error) {
	if len(b) == 0 || len(b) > MaxHeader {
		return nil, fmt.Errorf("%w of %d bytes, want 1..%d", ErrHeader, len(b), MaxHeader)
	}
	var h types.Header
	if err := rlp.DecodeBytes(b, &h); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHeader, err)
	}
	again, err := rlp.EncodeToBytes(&h)
	if err != nil || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("%w: not a canonical RLP header", ErrHeader)
	}
	return &h, nil
}

// proofDB serves a proof's nodes by hash and records which were read.
type proofDB struct {
	nodes map[string][]byte
	read  map[string]bool
}

func newProofDB(nodes [][]byte) *proofDB {
	db := &proofDB{nodes: make(map[string][]byte, len(nodes)), read: map[string]bool{}}
	for _, n := range nodes {
		db.nodes[string(crypto.Keccak256(n))] = n
	}
	return db
}

func (db *proofDB) Has(key []byte) (bool, error) { _, ok := db.nodes[string(key)]; return ok, nil }

func (db *proofDB) Get(key []byte) ([]byte, error) {
	n, ok := db.nodes[string(key)]
	if !ok {
		return nil, errors.New("not found")
	}
	db.read[string(key)] = true
	return n, nil
}

// prove walks a proof from root to key and returns the leaf's value (nil
// for a proof of absence). Every node must be on the path.
func prove(root common.Hash, key []byte, nodes [][]byte) ([]byte, error) {
	db := newProofDB(nodes)
	if len(db.nodes) != len(nodes) {
		return nil, errors.New("a proof node appears twice")
	}
	v, err := trie.VerifyProof(root, crypto.Keccak256(key), db)
	if err != nil {
		return nil, fmt.Errorf("the proof does not lead from root %s: %v", root.Hex(), err)
	}
	if len(db.read) != len(db.nodes) {
		return nil, fmt.Errorf("%d of the proof's %d nodes are off the path", len(db.nodes)-len(db.read), len(db.nodes))
	}
	return v, nil
}

func proveAccount(root common.Hash, addr common.Address, nodes [][]byte) (Account, error) {
	v, err := prove(root, addr.Bytes(), nodes)
	if err != nil {
		return Account{}, fmt.Errorf("stateproof: account %s: %w", addr.Hex(), err)
	}
	acc := Account{Address: addr, Balance: new(big.Int), Root: types.EmptyRootHash, CodeHash: types.EmptyCodeHash}
	if v == nil {
		return acc, nil
	}
	var sa types.StateAccount
	if err := rlp.DecodeBytes(v, &sa); err != nil {
		return Account{}, fmt.Errorf("stateproof: account %s: the proven leaf is no account: %v", addr.Hex(), err)
	}
	if len(sa.CodeHash) != 32 {
		return Account{}, fmt.Errorf("stateproof: account %s: code hash of %d bytes", addr.Hex(), len(sa.CodeHash))
	}
	acc.Exists, acc.Nonce, acc.Balance, acc.Root, acc.CodeHash = true, sa.Nonce, sa.Balance.ToBig(), sa.Root, common.BytesToHash(sa.CodeHash)
	return acc, nil
}

func proveSlot(root common.Hash, slot common.Hash, nodes [][]byte) (common.Hash, error) {
	v, err := prove(root, slot.Bytes(), nodes)
	if err != nil {
		return common.Hash{}, err
	}
	if v == nil {
		return common.Hash{}, nil
	}
	content, rest, err := rlp.SplitString(v)
	if err != nil || len(rest) != 0 || len(content) == 0 || len(content) > 32 || content[0] == 0 {
		return common.Hash{}, fmt.Errorf("the proven leaf is not a storage value")
	}
	return common.BytesToHash(content), nil
}
