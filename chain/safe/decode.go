package safe

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Limits on what a review unpacks.
const (
	MaxBatch = 4096 // entries in one MultiSend
	MaxDepth = 4    // MultiSend inside MultiSend
)

// Kinds of known method, which decide the flags.
const (
	kindToken       = "token"
	kindSelf        = "safe"
	kindBatch       = "batch"
	kindOwnership   = "ownership"
	kindUpgrade     = "upgrade"
	kindMigration   = "migration"
	kindSignMessage = "sign-message"
	kindApproveHash = "approve-hash"
	kindModuleTx    = "module-tx"
)

// method is one function airlock decodes.
type method struct {
	sig      string // canonical signature
	names    []string
	kind     string
	what     string // for people
	args     abi.Arguments
	selector [4]byte
}

var methods = map[[4]byte]*method{}

func def(sig, kind, what string, names ...string) {
	open := strings.IndexByte(sig, '(')
	types := strings.Split(strings.TrimSuffix(sig[open+1:], ")"), ",")
	if types[0] == "" {
		types = nil
	}
	m := &method{sig: sig, names: names, kind: kind, what: what}
	for i, t := range types {
		typ, err := abi.NewType(t, "", nil)
		if err != nil {
			panic(err)
		}
		m.args = append(m.args, abi.Argument{Name: names[i], Type: typ})
	}
	copy(m.selector[:], crypto.Keccak256([]byte(sig))[:4])
	if _, dup := methods[m.selector]; dup {
		panic("safe: duplicate selector for " + sig)
	}
	methods[m.selector] = m
}

func init() {
	// Tokens (ERC-20 and ERC-721 share transferFrom and approve).
	def("transfer(address,uint256)", kindToken, "ERC-20 transfer", "to", "amount")
	def("transferFrom(address,address,uint256)", kindToken, "ERC-20/721 transferFrom", "from", "to", "amountOrTokenId")
	def("approve(address,uint256)", kindToken, "ERC-20/721 approval", "spender", "amountOrTokenId")
	def("increaseAllowance(address,uint256)", kindToken, "ERC-20 allowance increase", "spender", "addedValue")
	def("safeTransferFrom(address,address,uint256)", kindToken, "ERC-721 transfer", "from", "to", "tokenId")
	def("safeTransferFrom(address,address,uint256,bytes)", kindToken, "ERC-721 transfer with data", "from", "to", "tokenId", "data")
	def("setApprovalForAll(address,bool)", kindToken, "ERC-721/1155 approval of every token", "operator", "approved")
	// The Safe's own management functions (self-calls).
	def("addOwnerWithThreshold(address,uint256)", kindSelf, "add an owner", "owner", "threshold")
	def("removeOwner(address,address,uint256)", kindSelf, "remove an owner", "prevOwner", "owner", "threshold")
	def("swapOwner(address,address,address)", kindSelf, "replace an owner", "prevOwner", "oldOwner", "newOwner")
	def("changeThreshold(uint256)", kindSelf, "change the threshold", "threshold")
	def("enableModule(address)", kindSelf, "enable a module", "module")
	def("disableModule(address,address)", kindSelf, "disable a module", "prevModule", "module")
	def("setGuard(address)", kindSelf, "set the transaction guard", "guard")
	def("setModuleGuard(address)", kindSelf, "set the module guard", "moduleGuard")
	def("setFallbackHandler(address)", kindSelf, "set the fallback handler", "handler")
	def("changeMasterCopy(address)", kindSelf, "change the Safe's implementation (master copy)", "masterCopy")
	def("approveHash(bytes32)", kindApproveHash, "pre-approve a hash on a Safe", "hashToApprove")
	// A module's transaction: queued by a Zodiac Delay modifier, executed
	// at once by a Safe (delay.go).
	def("execTransactionFromModule(address,uint256,bytes,uint8)", kindModuleTx, "a module's transaction (Zodiac Delay: queue it)", "to", "value", "data", "operation")
	// Batches.
	def("multiSend(bytes)", kindBatch, "MultiSend batch", "transactions")
	// Ownership and proxies (any contract).
	def("transferOwnership(address)", kindOwnership, "transfer ownership of a contract", "newOwner")
	def("renounceOwnership()", kindOwnership, "renounce ownership of a contract")
	def("upgradeTo(address)", kindUpgrade, "upgrade a proxy's implementation", "newImplementation")
	def("upgradeToAndCall(address,bytes)", kindUpgrade, "upgrade a proxy's implementation and call it", "newImplementation", "data")
	// SafeMigration (delegatecalled) and SignMessageLib.
	def("migrateSingleton()", kindMigration, "migrate this Safe to another singleton")
	def("migrateWithFallbackHandler()", kindMigration, "migrate this Safe's singleton and fallback handler")
	def("migrateL2Singleton()", kindMigration, "migrate this Safe to the L2 singleton")
	def("migrateL2WithFallbackHandler()", kindMigration, "migrate this Safe to the L2 singleton and fallback handler")
	def("signMessage(bytes)", kindSignMessage, "sign a message as this Safe (EIP-1271)", "_data")
}

// Arg is one decoded argument.
type Arg struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Call is one call the transaction makes, decoded.
type Call struct {
	Path      string `json:"path"` // "0", then "0.3" for the fourth entry of a batch
	Operation string `json:"operation"`
	To        string `json:"to"`
	Target    string `json:"target,omitempty"` // "this Safe", a pinned contract's name
	Value     string `json:"value"`            // wei
	Selector  string `json:"selector,omitempty"`
	Method    string `json:"method,omitempty"`
	What      string `json:"what,omitempty"`
	Args      []Arg  `json:"args,omitempty"`
	Data      string `json:"data,omitempty"` // raw calldata when not decoded
	Calls     []Call `json:"calls,omitempty"`

	op     uint8
	to     common.Address
	value  *big.Int
	method *method
	values []any
	// problem says why the data could not be decoded.
	problem string
}

// decodeCall decodes one call's data (recursing into batches).
func decodeCall(path string, op uint8, to common.Address, value *big.Int, data []byte, depth int) Call {
	c := Call{Path: path, Operation: opName(op), To: to.Hex(), Value: value.String(), op: op, to: to, value: value}
	if len(data) == 0 {
		return c
	}
	if len(data) < 4 {
		c.Data, c.problem = "0x"+hex.EncodeToString(data), "calldata shorter than a selector"
		return c
	}
	var sel [4]byte
	copy(sel[:], data)
	c.Selector = "0x" + hex.EncodeToString(sel[:])
	m, ok := methods[sel]
	if !ok {
		c.Data, c.problem = "0x"+hex.EncodeToString(data), "unknown selector"
		return c
	}
	vals, err := m.args.Unpack(data[4:])
	if err == nil {
		// Canonical encoding only: bytes hidden after or inside the
		// arguments would be signed unseen.
		var re []byte
		if re, err = m.args.Pack(vals...); err == nil && !bytes.Equal(re, data[4:]) {
			err = fmt.Errorf("arguments are not canonically encoded (%d bytes, %d expected)", len(data)-4, len(re))
		}
	}
	if err != nil {
		c.Data, c.problem = "0x"+hex.EncodeToString(data), fmt.Sprintf("%s does not decode: %v", m.sig, err)
		return c
	}
	c.Method, c.What, c.method, c.values = m.sig, m.what, m, vals
	for i, a := range m.args {
		c.Args = append(c.Args, Arg{Name: a.Name, Type: a.Type.String(), Value: render(vals[i])})
	}
	if m.kind == kindBatch {
		txs := vals[0].([]byte)
		entries, err := unpackMultiSend(txs)
		if err != nil {
			c.problem = err.Error()
			return c
		}
		if depth >= MaxDepth {
			c.problem = fmt.Sprintf("batches nested deeper than %d", MaxDepth)
			return c
		}
		c.Args = []Arg{{Name: "transactions", Type: "bytes", Value: fmt.Sprintf("%d entries, %d bytes", len(entries), len(txs))}}
		for i, e := range entries {
			c.Calls = append(c.Calls, decodeCall(fmt.Sprintf("%s.%d", path, i), e.op, e.to, e.value, e.data, depth+1))
		}
	}
	return c
}

func opName(op uint8) string {
	if op == OpDelegateCall {
		return "delegatecall"
	}
	return "call"
}

func render(v any) string {
	switch x := v.(type) {
	case common.Address:
		return x.Hex()
	case *big.Int:
		return x.String()
	case []byte:
		return "0x" + hex.EncodeToString(x)
	case [32]byte:
		return "0x" + hex.EncodeToString(x[:])
	case bool:
		return fmt.Sprint(x)
	}
	return fmt.Sprint(v)
}

type entry struct {
	op    uint8
	to    common.Address
	value *big.Int
	data  []byte
}

// unpackMultiSend splits MultiSend's packed transactions: per entry
// operation (1 byte), to (20), value (32), data length (32), data.
func unpackMultiSend(b []byte) ([]entry, error) {
	var out []entry
	for i := 0; i < len(b); {
		if len(out) == MaxBatch {
			return nil, fmt.Errorf("batch of more than %d entries", MaxBatch)
		}
		if len(b)-i < 85 {
			return nil, fmt.Errorf("batch entry %d is truncated (%d bytes left, a header is 85)", len(out), len(b)-i)
		}
		op := b[i]
		if op > 1 {
			return nil, fmt.Errorf("batch entry %d has operation %d", len(out), op)
		}
		to := common.BytesToAddress(b[i+1 : i+21])
		value := new(big.Int).SetBytes(b[i+21 : i+53])
		n := new(big.Int).SetBytes(b[i+53 : i+85])
		i += 85
		if !n.IsInt64() || n.Int64() > int64(len(b)-i) {
			return nil, fmt.Errorf("batch entry %d claims %s bytes of data, %d are left", len(out), n, len(b)-i)
		}
		out = append(out, entry{op, to, value, b[i : i+int(n.Int64())]})
		i += int(n.Int64())
	}
	return out, nil
}

// PackMultiSend packs entries for multiSend(bytes) (what a coordinator
// builds; tests use it too).
func PackMultiSend(calls []BatchCall) []byte {
	var b []byte
	for _, c := range calls {
		b = append(b, c.Operation)
		b = append(b, c.To[:]...)
		b = append(b, word(c.Value)...)
		b = append(b, word(big.NewInt(int64(len(c.Data))))...)
		b = append(b, c.Data...)
	}
	m := methods[[4]byte(crypto.Keccak256([]byte("multiSend(bytes)"))[:4])]
	packed, _ := m.args.Pack(b)
	return append(m.selector[:], packed...)
}

// BatchCall is one entry of a MultiSend batch.
type BatchCall struct {
	Operation uint8
	To        common.Address
	Value     *big.Int
	Data      []byte
}
