package safe

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// OwnerSignature is one owner's part of a Safe signature blob.
type OwnerSignature struct {
	Owner common.Address
	// Sig is a 65-byte ECDSA signature (v 27/28 or 31/32). Leave it empty
	// for an approved hash (v 1) or a contract signature (v 0).
	Sig []byte
	// ApprovedHash marks an owner that called approveHash on the Safe, or
	// is the executor.
	ApprovedHash bool
	// Contract is an owner contract's EIP-1271 signature data (v 0): for a
	// Safe that owns this Safe, its owners' signatures over its own message
	// hash.
	Contract []byte
	// IsContract marks a contract signature even when Contract is empty
	// (a message the owner Safe signed on chain).
	IsContract bool
}

// EncodeSignatures writes the Safe's signature blob: owners sorted in
// ascending address order (checkNSignatures requires it), 65 bytes each
// ({r}{s}{v}), then the dynamic data of contract signatures, each as a
// 32-byte length and the bytes, at the offset its s points to.
func EncodeSignatures(parts []OwnerSignature) ([]byte, error) {
	ps := append([]OwnerSignature(nil), parts...)
	sort.Slice(ps, func(i, j int) bool { return bytes.Compare(ps[i].Owner[:], ps[j].Owner[:]) < 0 })
	var static, dynamic []byte
	for i, p := range ps {
		if i > 0 && ps[i-1].Owner == p.Owner {
			return nil, fmt.Errorf("safe: owner %s signs twice", p.Owner.Hex())
		}
		switch {
		case p.IsContract || p.Contract != nil:
			offset := big.NewInt(int64(65*len(ps) + len(dynamic)))
			static = append(static, common.LeftPadBytes(p.Owner[:], 32)...)
			static = append(static, word(offset)...)
			static = append(static, sigContract)
			dynamic = append(dynamic, word(big.NewInt(int64(len(p.Contract))))...)
			dynamic = append(dynamic, p.Contract...)
		case p.ApprovedHash:
			static = append(static, common.LeftPadBytes(p.Owner[:], 32)...)
			static = append(static, make([]byte, 32)...)
			static = append(static, sigApprovedHash)
		default:
			if len(p.Sig) != 65 {
				return nil, fmt.Errorf("safe: owner %s: signature of %d bytes, want 65", p.Owner.Hex(), len(p.Sig))
			}
			static = append(static, p.Sig...)
		}
	}
	return append(static, dynamic...), nil
}

var execTransaction = mustMethod("execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)")

// ExecCalldata packs execTransaction for tx with the signature blob.
func ExecCalldata(tx *Tx, signatures []byte) ([]byte, error) {
	if len(signatures) == 0 {
		return nil, errors.New("safe: no signatures")
	}
	return execTransaction.pack(tx.To, tx.Value, tx.Data, tx.Operation, tx.SafeTxGas, tx.BaseGas, tx.GasPrice, tx.GasToken, tx.RefundReceiver, signatures)
}

// ApproveHashCalldata is approveHash(h), which a Safe that owns another
// Safe executes on it to approve one of its transactions (v 1).
func ApproveHashCalldata(h common.Hash) []byte {
	b, _ := methods[[4]byte(crypto.Keccak256([]byte("approveHash(bytes32)"))[:4])].args.Pack(h)
	return append(crypto.Keccak256([]byte("approveHash(bytes32)"))[:4], b...)
}

type packer struct {
	selector []byte
	args     abi.Arguments
}

func mustMethod(sig string) packer {
	open := bytes.IndexByte([]byte(sig), '(')
	var args abi.Arguments
	for _, t := range bytes.Split([]byte(sig[open+1:len(sig)-1]), []byte(",")) {
		typ, err := abi.NewType(string(t), "", nil)
		if err != nil {
			panic(err)
		}
		args = append(args, abi.Argument{Type: typ})
	}
	return packer{crypto.Keccak256([]byte(sig))[:4], args}
}

func (p packer) pack(vals ...any) ([]byte, error) {
	b, err := p.args.Pack(vals...)
	if err != nil {
		return nil, fmt.Errorf("safe: %v", err)
	}
	return append(append([]byte{}, p.selector...), b...), nil
}

// ContractSignatureMessage is what a Safe that owns another Safe must sign
// as a message (its SafeMessage) for an EIP-1271 contract signature on the
// outer Safe's transaction with hashes h: before 1.5.0 the outer Safe asks
// isValidSignature(bytes) about the EIP-712 preimage 0x1901 || domain ||
// structHash; from 1.5.0 it asks isValidSignature(bytes32) about the
// safeTxHash, which the fallback handler checks as the 32-byte message.
func ContractSignatureMessage(version string, h Hashes) []byte {
	if i, err := versionIndex(version); err == nil && i >= 4 {
		return h.SafeTx.Bytes()
	}
	return append(append([]byte{0x19, 0x01}, h.Domain[:]...), h.Message[:]...)
}
