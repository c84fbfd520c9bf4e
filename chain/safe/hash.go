// Package safe is airlock's adapter for Safe (formerly Gnosis Safe)
// multisig accounts on Ethereum and EVM chains. A station decodes a SafeTx
// by itself: it recomputes the EIP-712 domain separator, the struct hash and
// the safeTxHash for the vault's contract version, unpacks what the call
// does (token transfers, Safe self-calls, MultiSend batches entry by entry,
// ownership and proxy upgrades), raises risk flags such as a delegatecall
// to a contract that is not pinned in the policy, and signs the safeTxHash
// with the owner's key. The coordinator checks each signature by recovering
// the owner, sorts them, and writes the execTransaction calldata.
package safe

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Versions this package knows, oldest first.
var Versions = []string{"1.1.1", "1.2.0", "1.3.0", "1.4.1", "1.5.0"}

// Type hashes (the Safe contracts' constants).
var (
	// domainTypeHashLegacy is keccak256("EIP712Domain(address verifyingContract)"),
	// used before 1.3.0.
	domainTypeHashLegacy = crypto.Keccak256Hash([]byte("EIP712Domain(address verifyingContract)"))
	// domainTypeHash is keccak256("EIP712Domain(uint256 chainId,address verifyingContract)"),
	// from 1.3.0.
	domainTypeHash = crypto.Keccak256Hash([]byte("EIP712Domain(uint256 chainId,address verifyingContract)"))
	// safeTxTypeHash is the SafeTx struct's type hash in every version
	// this package knows (1.0.0 named baseGas dataGas; it is not supported).
	safeTxTypeHash = crypto.Keccak256Hash([]byte("SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,uint256 baseGas,uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)"))
	// safeMsgTypeHash is keccak256("SafeMessage(bytes message)").
	safeMsgTypeHash = crypto.Keccak256Hash([]byte("SafeMessage(bytes message)"))
)

// ErrVersion is returned for a Safe version this package does not know.
var ErrVersion = errors.New("safe: unknown Safe version")

// versionIndex returns v's place in Versions.
func versionIndex(v string) (int, error) {
	for i, x := range Versions {
		if x == v {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w %q (want one of %v)", ErrVersion, v, Versions)
}

// hasChainID reports whether a version's domain includes the chain id
// (from 1.3.0; older Safes' signatures replay across chains).
func hasChainID(version string) (bool, error) {
	i, err := versionIndex(version)
	if err != nil {
		return false, err
	}
	return i >= 2, nil
}

// Domain is what a Safe signature is bound to.
type Domain struct {
	Version string
	ChainID *big.Int
	Safe    common.Address
}

// Separator is the EIP-712 domain separator the Safe contract computes.
func (d Domain) Separator() (common.Hash, error) {
	withChain, err := hasChainID(d.Version)
	if err != nil {
		return common.Hash{}, err
	}
	if !withChain {
		return crypto.Keccak256Hash(domainTypeHashLegacy[:], common.LeftPadBytes(d.Safe[:], 32)), nil
	}
	if d.ChainID == nil || d.ChainID.Sign() <= 0 {
		return common.Hash{}, errors.New("safe: chain id must be positive")
	}
	return crypto.Keccak256Hash(domainTypeHash[:], word(d.ChainID), common.LeftPadBytes(d.Safe[:], 32)), nil
}

// word is v as a 32-byte big-endian word; v must fit (callers bound it).
func word(v *big.Int) []byte {
	var b [32]byte
	v.FillBytes(b[:])
	return b[:]
}

// StructHash is hashStruct(SafeTx): the type hash and the fields, with
// data hashed, each as a 32-byte word.
func (tx *Tx) StructHash() common.Hash {
	op := make([]byte, 32)
	op[31] = tx.Operation
	return crypto.Keccak256Hash(
		safeTxTypeHash[:],
		common.LeftPadBytes(tx.To[:], 32),
		word(tx.Value),
		crypto.Keccak256(tx.Data),
		op,
		word(tx.SafeTxGas),
		word(tx.BaseGas),
		word(tx.GasPrice),
		common.LeftPadBytes(tx.GasToken[:], 32),
		common.LeftPadBytes(tx.RefundReceiver[:], 32),
		word(tx.Nonce),
	)
}

// Hashes are the three values a person compares with a hardware wallet's
// screen.
type Hashes struct {
	Domain  common.Hash `json:"domainHash"`
	Message common.Hash `json:"messageHash"` // the struct hash (SafeTx or SafeMessage)
	SafeTx  common.Hash `json:"safeTxHash"`  // the EIP-712 digest that owners sign
}

// TxHashes computes the domain separator, the SafeTx struct hash and the
// safeTxHash, as getTransactionHash returns it on chain.
func TxHashes(d Domain, tx *Tx) (Hashes, error) {
	sep, err := d.Separator()
	if err != nil {
		return Hashes{}, err
	}
	sh := tx.StructHash()
	return Hashes{Domain: sep, Message: sh, SafeTx: eip712(sep, sh)}, nil
}

func eip712(domain, structHash common.Hash) common.Hash {
	return crypto.Keccak256Hash([]byte{0x19, 0x01}, domain[:], structHash[:])
}

// MessageHashes computes a Safe message hash (getMessageHashForSafe of the
// CompatibilityFallbackHandler): the EIP-712 digest of SafeMessage(bytes
// message) under the Safe's domain. For an EIP-191 text message the message
// bytes are the 32-byte EIP-191 hash of the text (TextMessage); for an
// EIP-712 typed message, its 32-byte digest.
func MessageHashes(d Domain, message []byte) (Hashes, error) {
	sep, err := d.Separator()
	if err != nil {
		return Hashes{}, err
	}
	sh := crypto.Keccak256Hash(safeMsgTypeHash[:], crypto.Keccak256(message))
	return Hashes{Domain: sep, Message: sh, SafeTx: eip712(sep, sh)}, nil
}

// TextMessage is the EIP-191 (version 0x45) hash of a text message, as
// wallets sign it with personal_sign.
func TextMessage(text string) []byte {
	prefix := fmt.Sprintf("\x19Ethereum Signed Message:\n%d", len(text))
	return crypto.Keccak256([]byte(prefix), []byte(text))
}

// ethSignDigest is what an eth_sign signature (v 31/32) covers: the EIP-191
// hash of the 32-byte safeTxHash.
func ethSignDigest(h common.Hash) []byte {
	return crypto.Keccak256([]byte("\x19Ethereum Signed Message:\n32"), h[:])
}

// nonceKey names a Safe nonce as a resource no station signs away twice.
func nonceKey(chainID *big.Int, safe common.Address, nonce *big.Int) string {
	return fmt.Sprintf("ethereum:%s:%s:nonce:%s", chainID, safe.Hex(), nonce)
}
