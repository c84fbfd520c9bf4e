// Package chain is the seam between airlock's workflow and the chains it
// signs for. An Adapter is the only code that knows a chain: it decodes a
// payload on its own, says what the transaction does and what is risky about
// it, signs it with a device's chain key, checks others' signatures, and
// assembles the final transaction. The workflow (package proposal) handles
// envelopes, policies, expiry and double-sign records for every chain alike.
package chain

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/airlock-vault/airlock/keys"
)

// StateReviewer is an Adapter that checks the on-chain state a proposal
// attests (a Safe's owners, modules, guard and nonce proven against a
// block header, chain/safe/stateproof) against the vault. ReviewState
// adds its flags and lines to r, the adapter's Review of payload; a nil
// state is itself flagged, and so is one read long before created, the
// proposal's creation time. An error means the vault or payload could
// not be read, never that the state is wrong.
type StateReviewer interface {
	ReviewState(v Vault, payload, state []byte, created time.Time, r *Review) error
}

// Severity grades a Flag.
type Severity string

const (
	Info  Severity = "info"
	Warn  Severity = "warn"
	Block Severity = "block"
)

// Flag is one finding of a review. Codes are stable and documented in
// docs/flags.md; messages are for people.
type Flag struct {
	Code     string   `json:"code"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// Vault is what an adapter needs to know of a vault; the policy holds it.
type Vault struct {
	Name      string
	Chain     string
	Network   string
	Threshold int
	// Descriptor is the Bitcoin output descriptor (with checksum).
	Descriptor string
	// Script is a Bitcoin vault's script type: "p2wsh" (the default when
	// empty), "p2sh-p2wsh" or "p2sh".
	Script string
	// Keys are the signers' chain keys in the chain's own notation (for
	// Bitcoin, "[fingerprint/path]xpub"), in policy order.
	Keys []string
	// Limits are the policy's caps; zero means the adapter's default.
	Limits Limits
	// Account describes a contract-account vault (a Safe); nil for
	// Bitcoin.
	Account *Account
	// Recovery is a Bitcoin vault's time-locked recovery path; nil for
	// none.
	Recovery *Recovery
	// PolicyVersion is the version of the policy the vault is read from
	// (0: none), named in reviews of a Safe rotation.
	PolicyVersion uint64
}

// Recovery is a recovery path: Key (in the chain's notation, like Keys)
// may spend alone once the vault's coins are After blocks old (a BIP-68
// relative lock).
type Recovery struct {
	Key   string
	After uint32
}

// Account is a contract-account vault: a Safe at Address on chain ChainID,
// of a contract version, with the contracts it may delegatecall pinned.
type Account struct {
	Address string
	ChainID uint64
	Version string
	// Trusted are the contracts a delegatecall may target, each pinned by
	// address and runtime code hash.
	Trusted []Trusted
	// Severities overrides flag severities for this vault (the policy's
	// choice; absent codes keep the adapter's default).
	Severities map[string]Severity
	// AllowEthSign lets stations sign with eth_sign (v 31/32) instead of
	// EIP-712 when asked.
	AllowEthSign bool
	// AddressBook are the addresses the policy's address book lists for
	// this vault: a gas refund to one of them does not block.
	AddressBook []string
	// Delay is, for an emergency Safe, the Zodiac Delay modifier it
	// queues transactions in; nil for none.
	Delay *Delay
	// Modules are the modules the policy expects enabled on this Safe
	// (the Delay modifier of an emergency path targeting it): an
	// attested state showing any other blocks.
	Modules []string
}

// Delay is a Zodiac Delay modifier at Address that executes, after its
// cooldown, as the Safe at Avatar (both EIP-55 or lower-case hex).
type Delay struct {
	Address string
	Avatar  string
}

// Trusted is a pinned contract.
type Trusted struct {
	Name     string
	Address  string
	CodeHash string
}

// Limits are per-vault caps a review enforces.
type Limits struct {
	MaxFee        int64   // absolute fee, smallest unit
	MaxFeeRate    float64 // per virtual byte
	MaxFeePercent float64 // fee as a percentage of the amount leaving the vault
}

// Review is what a signer station computes from a payload by itself.
type Review struct {
	Chain string `json:"chain"`
	Vault string `json:"vault"`
	// TxID identifies the transaction being signed (a txid, a safeTxHash).
	TxID string `json:"txid"`
	// Details is the chain's own account of the transaction, rendered as
	// JSON for auditors.
	Details any `json:"details"`
	// Lines is the same account for a person, one line each.
	Lines []string `json:"-"`
	Flags []Flag   `json:"flags"`
	// Spends names what this transaction consumes that must never be
	// signed away twice (Bitcoin outpoints, Safe nonces), as
	// "chain:network:resource" strings.
	Spends []string `json:"spends"`
	// Effects is what the transaction does in chain-neutral terms, the
	// input of the policy's rules (package policy). The adapter computes
	// it from its own decoding, never from what a proposal claims.
	Effects *Effects `json:"effects,omitempty"`
}

// Effects is what a transaction does to a vault, in terms every chain
// shares: what leaves it, to whom, and which sensitive actions it takes.
type Effects struct {
	// Transfers are the values leaving the vault, in the order the
	// transaction moves them, change back to the vault excluded.
	Transfers []Transfer `json:"transfers"`
	// Fee is what the transaction pays for its execution, in the chain's
	// native asset's smallest unit. For Bitcoin it is inputs less
	// outputs, nil when an input's amount is unproven (a blocking flag
	// says why); for a Safe, the most its gas refund in ETH may pay, nil
	// when it pays none (a refund in a token is a Transfer of the token).
	Fee *big.Int `json:"fee,omitempty"`
	// Actions are the sensitive things the transaction does besides
	// moving value, each one of the Action constants, sorted and without
	// repeats (AddAction keeps them so).
	Actions []Action `json:"actions"`
}

// Transfer is one value leaving a vault.
type Transfer struct {
	// Asset is "BTC", "ETH", or "erc20:0x<checksummed address>".
	Asset string `json:"asset"`
	// To is the destination in the chain's canonical notation (a Bitcoin
	// address; an EIP-55 checksummed Ethereum address). A destination
	// with no address is named so that no address can equal it:
	// "script:<hex>" for a Bitcoin output script that pays no address
	// (OP_RETURN, bare multisig), "tx.origin" for a Safe gas refund paid
	// to whoever executes the transaction.
	To string `json:"to"`
	// Amount is in the asset's smallest unit (satoshi, wei, token units);
	// never nil or negative, possibly zero.
	Amount *big.Int `json:"amount"`
}

// Action is a sensitive operation a transaction performs.
type Action string

// Actions the adapters report.
const (
	ActionDelegateCall    Action = "delegatecall"     // code of another contract runs as the vault
	ActionOwnerChange     Action = "owner-change"     // add, remove or swap an owner
	ActionThresholdChange Action = "threshold-change" // the on-chain threshold changes
	ActionModuleChange    Action = "module-change"    // a module enabled or disabled
	ActionGuardChange     Action = "guard-change"     // the transaction guard set or removed
	ActionHandlerChange   Action = "handler-change"   // the fallback handler set
	ActionContractCall    Action = "contract-call"    // a call with data to a contract (not a plain token transfer)
	ActionRecoveryPath    Action = "recovery-path"    // a Bitcoin vault's time-locked recovery path is used
	ActionTokenApproval   Action = "token-approval"   // someone else may move the vault's tokens (approve, increaseAllowance, setApprovalForAll)
	ActionSignMessage     Action = "sign-message"     // the vault signs an off-chain message (EIP-1271), not a transaction
	// ActionRotation is an owner or threshold change that moves a Safe
	// toward exactly the owners and threshold the cited policy version
	// lists for the vault (reported instead of owner-change and
	// threshold-change; any other such change keeps those and blocks).
	ActionRotation Action = "rotation"
	// ActionDelayed is a transaction queued in a delay modifier: what it
	// queues, reported as the other effects, runs as another vault (the
	// modifier's avatar) after a cooldown, unless that vault's owners
	// veto it.
	ActionDelayed Action = "delayed"
	// ActionCancel is a transaction that does nothing but use its nonce
	// (a Safe's on-chain rejection): it cancels any other transaction
	// signed for that nonce, and moves nothing.
	ActionCancel Action = "cancel"
)

// Has reports whether the effects include action a.
func (e *Effects) Has(a Action) bool {
	if e == nil {
		return false
	}
	for _, x := range e.Actions {
		if x == a {
			return true
		}
	}
	return false
}

// AddAction adds actions, keeping Actions sorted and free of repeats.
func (e *Effects) AddAction(as ...Action) {
	for _, a := range as {
		i := sort.Search(len(e.Actions), func(i int) bool { return e.Actions[i] >= a })
		if i < len(e.Actions) && e.Actions[i] == a {
			continue
		}
		e.Actions = append(e.Actions, "")
		copy(e.Actions[i+1:], e.Actions[i:])
		e.Actions[i] = a
	}
}

// Totals sums the transfers per asset. The fee is not included: rules
// weigh it on its own. The sums are new values the caller may change.
func (e *Effects) Totals() map[string]*big.Int {
	out := map[string]*big.Int{}
	if e == nil {
		return out
	}
	for _, t := range e.Transfers {
		sum, ok := out[t.Asset]
		if !ok {
			sum = new(big.Int)
			out[t.Asset] = sum
		}
		if t.Amount != nil {
			sum.Add(sum, t.Amount)
		}
	}
	return out
}

// Blocking returns the flags of severity block.
func (r *Review) Blocking() []Flag {
	var out []Flag
	for _, f := range r.Flags {
		if f.Severity == Block {
			out = append(out, f)
		}
	}
	return out
}

// Signature is one chain signature in an approval: for Bitcoin, a partial
// signature for one input (DER plus sighash byte) by one public key.
type Signature struct {
	Input  int    `cbor:"1,keyasint" json:"input"`
	PubKey []byte `cbor:"2,keyasint" json:"pubkey"`
	Sig    []byte `cbor:"3,keyasint" json:"sig"`
}

// Verified says what a checked signature covers.
type Verified struct {
	Input   int    `cbor:"1,keyasint" json:"input"`
	PubKey  []byte `cbor:"2,keyasint" json:"pubkey"`
	Digest  []byte `cbor:"3,keyasint" json:"digest"` // the sighash the signature verified against
	KeyPath string `cbor:"4,keyasint" json:"keyPath"`
}

// Final is an assembled, fully signed transaction.
type Final struct {
	Raw   []byte // the network serialisation (for a Safe, the execTransaction calldata)
	TxID  string
	Lines []string
	// RawKind says what Raw is, for people ("raw transaction hex").
	RawKind string
	// Unsigned is, where the chain needs a sender, the unsigned
	// transaction any account may sign and send (JSON).
	Unsigned []byte
}

// Adapter knows one chain.
type Adapter interface {
	// Chain is the adapter's name as policies write it ("bitcoin").
	Chain() string
	// PrepareVault checks a vault definition and fills what can be derived
	// from it (for Bitcoin, the descriptor built from the keys).
	PrepareVault(v Vault) (Vault, error)
	// Review decodes payload independently and reports what it does.
	Review(ctx context.Context, v Vault, payload []byte) (*Review, error)
	// Sign signs every part of payload that key may sign for vault v.
	Sign(v Vault, payload []byte, key string, signer keys.ChainSigner) ([]Signature, error)
	// Verify checks sigs made by the holder of key (one of v.Keys) and
	// reports what each covers. Every input key can sign must be signed.
	Verify(v Vault, payload []byte, key string, sigs []Signature) ([]Verified, error)
	// Assemble merges verified signature sets, one per approving key, into
	// the final transaction and checks it before returning.
	Assemble(v Vault, payload []byte, sets map[string][]Signature) (*Final, error)
}

// KeyProver is implemented by adapters whose keys can prove possession
// outside a transaction, for device health checks.
type KeyProver interface {
	// KeyPublic returns the path from the signer's master to the vault key
	// written as key, and the public key there, so a station can ask its
	// device for exactly that key and compare.
	KeyPublic(network, key string) (path []uint32, pub []byte, err error)
	// VerifyKeyProof checks sig, made by the device holding key over a
	// 32-byte digest.
	VerifyKeyProof(network, key string, digest, sig []byte) error
}

// ExternalCollector is implemented by adapters whose external devices
// (Coldcard, Sparrow, Keystone) sign the chain's own format and return it.
type ExternalCollector interface {
	// SameTransaction says whether signed is for the transaction payload holds.
	SameTransaction(payload, signed []byte) (bool, error)
	// ExternalSignatures takes the signatures by key out of signed.
	ExternalSignatures(v Vault, payload, signed []byte, key string) ([]Signature, error)
}

// Registry holds the adapters a build knows.
type Registry struct{ adapters map[string]Adapter }

// NewRegistry returns a registry of the given adapters.
func NewRegistry(as ...Adapter) *Registry {
	r := &Registry{adapters: map[string]Adapter{}}
	for _, a := range as {
		r.adapters[a.Chain()] = a
	}
	return r
}

// ErrUnknownChain is returned for a chain no adapter serves.
var ErrUnknownChain = errors.New("chain: unknown chain")

// Lookup returns the adapter for name.
func (r *Registry) Lookup(name string) (Adapter, error) {
	a, ok := r.adapters[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknownChain, name, r.Names())
	}
	return a, nil
}

// Names lists the chains served, sorted.
func (r *Registry) Names() []string {
	var n []string
	for k := range r.adapters {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// KeyProver returns the adapter that knows key (a device key in its
// chain's notation) and can check proofs of possession by it.
func (r *Registry) KeyProver(network, key string) (KeyProver, error) {
	for _, name := range r.Names() {
		kp, ok := r.adapters[name].(KeyProver)
		if !ok {
			continue
		}
		if _, _, err := kp.KeyPublic(network, key); err == nil {
			return kp, nil
		}
	}
	return nil, fmt.Errorf("chain: no adapter can prove possession of key %s", key)
}
