package coordinator

import (
	"crypto/ecdsa"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Executor is the Ethereum account that sends execTransaction and pays
// its gas. The Safe does not care who relays: the executor's key moves
// no funds of the Safe, only the executor's own ether for gas; it is
// still a key worth keeping on a token.
type Executor interface {
	// Address is the account's address.
	Address() common.Address
	// SignRecoverable signs a 32-byte digest: r || s || v, s low and v
	// the recovery id in {0, 1}.
	SignRecoverable(digest []byte) ([]byte, error)
}

// KeyExecutor is an executor whose key is in memory (an Ethereum V3
// keystore file, decrypted).
type KeyExecutor struct{ Key *ecdsa.PrivateKey }

// Address is the key's account.
func (k KeyExecutor) Address() common.Address { return crypto.PubkeyToAddress(k.Key.PublicKey) }

// SignRecoverable signs with the key in memory.
func (k KeyExecutor) SignRecoverable(digest []byte) ([]byte, error) {
	return crypto.Sign(digest, k.Key)
}

// RecoverableSigner is a secp256k1 key that signs recoverably where it
// lives (a PKCS#11 token's key: pkcs11.ECKey).
type RecoverableSigner interface {
	// PublicKey is the compressed public key.
	PublicKey() []byte
	SignRecoverable(digest []byte) ([]byte, error)
}

// TokenExecutor is an executor whose key stays on a token.
func TokenExecutor(k RecoverableSigner) (Executor, error) {
	pub, err := crypto.DecompressPubkey(k.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("coordinator: the executor's key: %v", err)
	}
	return tokenExecutor{k: k, addr: crypto.PubkeyToAddress(*pub)}, nil
}

type tokenExecutor struct {
	k    RecoverableSigner
	addr common.Address
}

func (t tokenExecutor) Address() common.Address { return t.addr }

// SignRecoverable signs on the token and checks the signature recovers
// to the executor's address.
func (t tokenExecutor) SignRecoverable(digest []byte) ([]byte, error) {
	sig, err := t.k.SignRecoverable(digest)
	if err != nil {
		return nil, err
	}
	pub, err := crypto.SigToPub(digest, sig)
	if err != nil || crypto.PubkeyToAddress(*pub) != t.addr {
		return nil, errors.New("coordinator: the token's signature does not recover to the executor's address")
	}
	return sig, nil
}
