package safe

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/keys"
)

// Adapter is the chain.Adapter for Safe vaults ("ethereum" in a policy).
type Adapter struct{}

var _ chain.Adapter = Adapter{}

// Chain returns "ethereum".
func (Adapter) Chain() string { return "ethereum" }

// vaultInfo is a Safe vault parsed once.
type vaultInfo struct {
	name       string
	safe       common.Address
	chainID    *big.Int
	version    string
	threshold  int
	owners     []*OwnerKey
	keys       []string
	trusted    map[common.Address]string
	pinned     []chain.Trusted         // the policy's pins, with their code hashes
	modules    map[common.Address]bool // the modules the policy expects on the Safe
	severities map[string]chain.Severity
	ethSign    bool
	known      map[common.Address]bool // the policy's address book for the vault
	// policyVersion is the policy version the vault is read from.
	policyVersion uint64
	// delay is the Delay modifier an emergency Safe queues in (delay.go).
	delay *delayInfo
}

func parseVault(v chain.Vault) (*vaultInfo, error) {
	acc := v.Account
	if acc == nil {
		return nil, fmt.Errorf("safe: vault %q has no Safe (address, chain id, version)", v.Name)
	}
	safe, err := address("safe", acc.Address)
	if err != nil {
		return nil, fmt.Errorf("safe: vault %q: %v", v.Name, err)
	}
	if _, err := versionIndex(acc.Version); err != nil {
		return nil, fmt.Errorf("safe: vault %q: %w", v.Name, err)
	}
	if acc.ChainID == 0 {
		return nil, fmt.Errorf("safe: vault %q: chain id 0", v.Name)
	}
	vi := &vaultInfo{name: v.Name, safe: safe, chainID: new(big.Int).SetUint64(acc.ChainID), version: acc.Version,
		threshold: v.Threshold, keys: v.Keys, trusted: map[common.Address]string{}, severities: map[string]chain.Severity{}, ethSign: acc.AllowEthSign, policyVersion: v.PolicyVersion}
	seen := map[common.Address]bool{}
	for _, k := range v.Keys {
		o, err := ParseOwnerKey(k)
		if err != nil {
			return nil, err
		}
		if seen[o.Address] {
			return nil, fmt.Errorf("safe: vault %q: owner %s twice", v.Name, o.Address.Hex())
		}
		if o.Address == safe {
			return nil, fmt.Errorf("safe: vault %q: the Safe cannot own itself", v.Name)
		}
		seen[o.Address] = true
		vi.owners = append(vi.owners, o)
	}
	if len(vi.owners) == 0 || v.Threshold < 1 || v.Threshold > len(vi.owners) {
		return nil, fmt.Errorf("safe: vault %q: threshold %d of %d owners", v.Name, v.Threshold, len(vi.owners))
	}
	for _, t := range acc.Trusted {
		a, err := address("trusted contract "+t.Name, t.Address)
		if err != nil {
			return nil, fmt.Errorf("safe: vault %q: %v", v.Name, err)
		}
		if t.Name == "" {
			return nil, fmt.Errorf("safe: vault %q: trusted contract %s has no name", v.Name, t.Address)
		}
		if _, err := hash32("code hash of "+t.Name, t.CodeHash); err != nil {
			return nil, fmt.Errorf("safe: vault %q: %v", v.Name, err)
		}
		if a == safe {
			return nil, fmt.Errorf("safe: vault %q: the Safe itself cannot be a delegatecall target", v.Name)
		}
		vi.trusted[a] = t.Name
		vi.pinned = append(vi.pinned, t)
	}
	vi.modules = map[common.Address]bool{}
	for _, m := range acc.Modules {
		a, err := address("module", m)
		if err != nil {
			return nil, fmt.Errorf("safe: vault %q: %v", v.Name, err)
		}
		vi.modules[a] = true
	}
	if acc.Delay != nil {
		if vi.delay, err = parseDelay(acc.Delay, safe); err != nil {
			return nil, fmt.Errorf("safe: vault %q: %v", v.Name, err)
		}
	}
	for code, sev := range acc.Severities {
		if _, ok := DefaultSeverity[code]; !ok {
			return nil, fmt.Errorf("safe: vault %q: unknown flag %q", v.Name, code)
		}
		switch sev {
		case chain.Info, chain.Warn, chain.Block:
		default:
			return nil, fmt.Errorf("safe: vault %q: flag %s severity %q, want info, warn or block", v.Name, code, sev)
		}
		if hardFlags[code] && sev != chain.Block {
			return nil, fmt.Errorf("safe: vault %q: flag %s always blocks", v.Name, code)
		}
		vi.severities[code] = sev
	}
	if vi.known, err = addressBook(v.Name, acc.AddressBook); err != nil {
		return nil, err
	}
	return vi, nil
}

// load parses the vault and reviews the payload for it.
func load(v chain.Vault, payload []byte) (*vaultInfo, *analysis, error) {
	vi, err := parseVault(v)
	if err != nil {
		return nil, nil, err
	}
	a, err := analyse(vi, payload)
	if err != nil {
		return nil, nil, err
	}
	return vi, a, nil
}

// PrepareVault checks a Safe vault: the address, chain id and version, the
// owners (one per signer, no repeats), the pinned contracts and the flag
// severities.
func (Adapter) PrepareVault(v chain.Vault) (chain.Vault, error) {
	if v.Descriptor != "" {
		return v, fmt.Errorf("safe: vault %q: a Safe has no descriptor", v.Name)
	}
	_, err := parseVault(v)
	return v, err
}

// Review decodes the payload and reports what it does.
func (Adapter) Review(ctx context.Context, v chain.Vault, payload []byte) (*chain.Review, error) {
	vi, a, err := load(v, payload)
	if err != nil {
		return nil, err
	}
	r := &chain.Review{Chain: "ethereum", Vault: v.Name, TxID: a.hashes.SafeTx.Hex(), Details: a.details, Lines: a.lines, Flags: a.flags, Effects: a.effects()}
	if a.payload.Tx != nil {
		r.Spends = []string{nonceKey(vi.chainID, vi.safe, a.payload.Tx.Nonce)}
	}
	return r, nil
}

// Signature kinds, by the v byte the Safe contract reads.
const (
	sigContract     = 0  // EIP-1271: r = owner contract, s = offset of the signature data
	sigApprovedHash = 1  // r = owner, who called approveHash on the Safe
	sigEIP712       = 27 // or 28
	sigEthSign      = 31 // or 32: eth_sign of the safeTxHash
)

// Sign signs the safeTxHash (or Safe message hash) with the owner key
// written as key: EIP-712, v 27/28. It refuses a payload with a blocking
// flag and a device whose key is not the owner's.
func (Adapter) Sign(v chain.Vault, payload []byte, key string, s keys.ChainSigner) ([]chain.Signature, error) {
	vi, a, err := load(v, payload)
	if err != nil {
		return nil, err
	}
	for _, f := range a.flags {
		if f.Severity == chain.Block {
			return nil, fmt.Errorf("safe: refusing to sign: %s: %s", f.Code, f.Message)
		}
	}
	o, err := vi.owner(key)
	if err != nil {
		return nil, err
	}
	sig, err := SignHash(s, o, a.hashes.SafeTx)
	if err != nil {
		return nil, err
	}
	return []chain.Signature{{Input: 0, PubKey: o.Address.Bytes(), Sig: sig}}, nil
}

func (vi *vaultInfo) owner(key string) (*OwnerKey, error) {
	for i, k := range vi.keys {
		if k == key {
			return vi.owners[i], nil
		}
	}
	return nil, fmt.Errorf("safe: key %s is not an owner of vault %q", key, vi.name)
}

// SignHash signs a 32-byte hash with the device holding owner o and
// returns r||s||v with v 27/28. It checks the device's key is the owner's
// (a swapped device is refused), and that the signature recovers to it.
func SignHash(s keys.ChainSigner, o *OwnerKey, h common.Hash) ([]byte, error) {
	if o.Fingerprint == nil {
		return nil, fmt.Errorf("safe: owner %s has no key origin: an external wallet or a contract signs it, not this station", o.Address.Hex())
	}
	if s.MasterFingerprint() != *o.Fingerprint {
		return nil, fmt.Errorf("safe: the device's master fingerprint %s is not owner %s's %s: wrong device", keys.FormatFingerprint(s.MasterFingerprint()), o.Address.Hex(), keys.FormatFingerprint(*o.Fingerprint))
	}
	pub, err := s.PublicKey(o.Path)
	if err != nil {
		return nil, err
	}
	pk, err := crypto.DecompressPubkey(pub)
	if err != nil {
		return nil, fmt.Errorf("safe: device key: %v", err)
	}
	if got := crypto.PubkeyToAddress(*pk); got != o.Address {
		return nil, fmt.Errorf("safe: the device's key at %s is address %s, not owner %s: wrong device or seed", keys.FormatPath(o.Path), got.Hex(), o.Address.Hex())
	}
	der, err := s.SignECDSA(o.Path, h[:])
	if err != nil {
		return nil, err
	}
	rs, err := derToRS(der)
	if err != nil {
		return nil, err
	}
	for v := byte(0); v < 2; v++ {
		sig := append(append([]byte{}, rs...), v)
		rec, err := crypto.Ecrecover(h[:], sig)
		if err == nil && bytes.Equal(rec, crypto.FromECDSAPub(pk)) {
			sig[64] += 27
			return sig, nil
		}
	}
	return nil, errors.New("safe: the device's signature recovers to no owner: faulty device")
}

// derToRS converts a DER ECDSA signature (low S) to r||s, 64 bytes.
func derToRS(der []byte) ([]byte, error) {
	// SEQUENCE { INTEGER r, INTEGER s }
	if len(der) < 8 || der[0] != 0x30 || int(der[1]) != len(der)-2 {
		return nil, errors.New("safe: malformed DER signature from the device")
	}
	rest := der[2:]
	var out []byte
	for i := 0; i < 2; i++ {
		if len(rest) < 2 || rest[0] != 0x02 || int(rest[1]) > len(rest)-2 {
			return nil, errors.New("safe: malformed DER signature from the device")
		}
		n := int(rest[1])
		x := bytes.TrimLeft(rest[2:2+n], "\x00")
		if len(x) > 32 {
			return nil, errors.New("safe: malformed DER signature from the device")
		}
		out = append(out, common.LeftPadBytes(x, 32)...)
		rest = rest[2+n:]
	}
	if len(rest) != 0 {
		return nil, errors.New("safe: trailing bytes in the device's signature")
	}
	return out, nil
}

// secp256k1 half order, for the low-S rule (the Safe contract does not
// enforce it, but malleable signatures are refused here).
var halfN = new(big.Int).Rsh(crypto.S256().Params().N, 1)

// Recover returns the owner address a 65-byte EIP-712 (v 27/28) or eth_sign
// (v 31/32) signature over h recovers to.
func Recover(h common.Hash, sig []byte, allowEthSign bool) (common.Address, error) {
	if len(sig) != 65 {
		return common.Address{}, fmt.Errorf("safe: signature of %d bytes, want 65", len(sig))
	}
	digest := h[:]
	v := sig[64]
	switch v {
	case 27, 28:
	case 31, 32:
		if !allowEthSign {
			return common.Address{}, errors.New("safe: an eth_sign signature (v 31/32), which this vault's policy does not allow")
		}
		digest, v = ethSignDigest(h), v-4
	default:
		return common.Address{}, fmt.Errorf("safe: signature v %d: want 27/28 (EIP-712) or 31/32 (eth_sign)", v)
	}
	if new(big.Int).SetBytes(sig[32:64]).Cmp(halfN) > 0 {
		return common.Address{}, errors.New("safe: signature has a high S (malleable)")
	}
	rs := append(append([]byte{}, sig[:64]...), v-27)
	pub, err := crypto.SigToPub(digest, rs)
	if err != nil {
		return common.Address{}, fmt.Errorf("safe: signature does not recover: %v", err)
	}
	return crypto.PubkeyToAddress(*pub), nil
}

// Verify checks that sigs is exactly one signature by owner key over the
// payload's safeTxHash.
func (Adapter) Verify(v chain.Vault, payload []byte, key string, sigs []chain.Signature) ([]chain.Verified, error) {
	vi, a, err := load(v, payload)
	if err != nil {
		return nil, err
	}
	o, err := vi.owner(key)
	if err != nil {
		return nil, err
	}
	if len(sigs) != 1 || sigs[0].Input != 0 {
		return nil, fmt.Errorf("safe: %d signatures, want exactly one", len(sigs))
	}
	got, err := Recover(a.hashes.SafeTx, sigs[0].Sig, vi.ethSign)
	if err != nil {
		return nil, err
	}
	if got != o.Address || !bytes.Equal(sigs[0].PubKey, o.Address.Bytes()) {
		return nil, fmt.Errorf("safe: the signature recovers to %s, not owner %s", got.Hex(), o.Address.Hex())
	}
	return []chain.Verified{{Input: 0, PubKey: o.Address.Bytes(), Digest: a.hashes.SafeTx.Bytes(), KeyPath: o.Address.Hex()}}, nil
}

// Assemble sorts the owners' signatures by address (the contract requires
// ascending owners), checks the threshold, and returns the execTransaction
// calldata (or, for a message, the signature bytes isValidSignature takes).
func (Adapter) Assemble(v chain.Vault, payload []byte, sets map[string][]chain.Signature) (*chain.Final, error) {
	vi, a, err := load(v, payload)
	if err != nil {
		return nil, err
	}
	var parts []OwnerSignature
	for key, sigs := range sets {
		if _, err := (Adapter{}).Verify(v, payload, key, sigs); err != nil {
			return nil, err
		}
		o, _ := vi.owner(key)
		parts = append(parts, OwnerSignature{Owner: o.Address, Sig: sigs[0].Sig})
	}
	if len(parts) < vi.threshold {
		return nil, fmt.Errorf("safe: %d signatures, the threshold is %d", len(parts), vi.threshold)
	}
	sigBytes, err := EncodeSignatures(parts)
	if err != nil {
		return nil, err
	}
	f := &chain.Final{TxID: a.hashes.SafeTx.Hex()}
	if a.payload.Tx == nil {
		f.Raw, f.RawKind = sigBytes, "signature bytes for isValidSignature"
		f.Lines = []string{fmt.Sprintf("signatures for isValidSignature on %s: %d bytes", vi.safe.Hex(), len(sigBytes))}
		return f, nil
	}
	f.Raw, err = ExecCalldata(a.payload.Tx, sigBytes)
	if err != nil {
		return nil, err
	}
	f.RawKind = "execTransaction calldata hex"
	f.Unsigned, err = json.MarshalIndent(map[string]string{
		"chainId": vi.chainID.String(), "to": vi.safe.Hex(), "value": "0", "data": "0x" + hex.EncodeToString(f.Raw),
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	var who []string
	for _, p := range parts {
		who = append(who, p.Owner.Hex())
	}
	sort.Strings(who)
	f.Lines = []string{
		fmt.Sprintf("execTransaction on Safe %s (chain %s), nonce %s, safeTxHash %s", vi.safe.Hex(), vi.chainID, a.payload.Tx.Nonce, a.hashes.SafeTx.Hex()),
		fmt.Sprintf("signed by %d owners (sorted): %s", len(parts), strings.Join(who, ", ")),
	}
	return f, nil
}

// Inspect reviews a payload for a Safe without a policy: the stateless
// check of `airlock inspect safe`. Owners are unknown, so nothing is
// signed; hashes, calls and flags are as a station computes them.
func Inspect(acc chain.Account, payload []byte) (*chain.Review, error) {
	v := chain.Vault{Name: "inspect", Chain: "ethereum", Account: &acc, Threshold: 1,
		Keys: []string{"0x0000000000000000000000000000000000000001"}}
	vi, err := parseVault(v)
	if err != nil {
		return nil, err
	}
	vi.owners, vi.keys, vi.threshold = nil, nil, 0
	a, err := analyse(vi, payload)
	if err != nil {
		return nil, err
	}
	return &chain.Review{Chain: "ethereum", Vault: acc.Address, TxID: a.hashes.SafeTx.Hex(), Details: a.details, Lines: a.lines, Flags: a.flags, Effects: a.effects()}, nil
}
