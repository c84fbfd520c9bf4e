// Package vault is the Bitcoin vault of a workspace: a vault of the
// workspace's policy resolved to its descriptor, and what coordinators and
// stations do with it outside the signing workflow. It takes bytes,
// strings and requests and returns typed results; reading files, prompting
// and printing are the caller's.
//
// # Registration with hardware signers
//
// A hardware signer registers a vault from a descriptor, a Coldcard
// multisig file or a BIP-129 (BSMS) descriptor record: Vault.Descriptor
// gives the vault's, and Descriptor.Coldcard and Descriptor.BSMS write
// them. Import reads any of the three back, checks its keys are for the
// network, and recomputes the first address. Descriptor.Place says where
// a station's own key sits, compared exactly (origin and key, never the
// fingerprint alone, BIP-129 round 2); a vault without it is ErrKeyNotHeld,
// and a station that registered it would let the others spend without it.
//
// # BSMS round 1: key records
//
// A Signer's key record (PrepareKeyRecord, then UnsignedKeyRecord.Sign)
// is its key, signed by that key's own private key, which stays in the
// keystore or the token. A Coordinator verifies records one at a time
// (KeyRecords.Add): the MAC when encrypted, the TOKEN line, the signature
// by KEY itself and KEY's network, and a key counts once. Then
// KeyRecords.CheckPolicy ties a policy to them: every key a Bitcoin vault
// signs with must be proven by a record, and every record must be one of
// those keys, so a key swapped in a policy entry on its way to the
// coordinator is caught before the policy is sealed.
//
// # Spending
//
// Vault.Synthetic and Vault.Build write unsigned PSBTs through package
// chain/bitcoin; a recovery spend carries a node's maturity proof, fetched
// here over JSON-RPC. ProposalPSBT gives a proposal's PSBT, as proposed, to
// an external signing device.
//
// Errors keep the wording the airlock command prints; those of the chain
// packages pass through with their own prefixes.
package vault

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/chain/bitcoin/setup"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/workspace"
)

// Vault is a vault of a policy, as the chain adapters see it.
type Vault struct {
	cv chain.Vault
}

// Resolve finds the vault name in the workspace's current policy.
func Resolve(ws *workspace.Workspace, reg *chain.Registry, name string) (*Vault, error) {
	p, _, err := ws.Policy(reg)
	if err != nil {
		return nil, err
	}
	return FromPolicy(p, name)
}

// FromPolicy finds the vault name in policy p.
func FromPolicy(p *policy.Policy, name string) (*Vault, error) {
	v, ok := p.Vault(name)
	if !ok {
		return nil, fmt.Errorf("policy %s has no vault %q", p.Name, name)
	}
	cv, err := p.ChainVault(v)
	if err != nil {
		return nil, err
	}
	return &Vault{cv: cv}, nil
}

// Name is the vault's name in its policy.
func (v *Vault) Name() string { return v.cv.Name }

// Address is the vault's address at branch (0 receive, 1 change) and
// index.
func (v *Vault) Address(branch int, index uint32) (string, error) {
	return bitcoin.Address(v.cv, branch, index)
}

// Descriptor is the vault's descriptor, to register with hardware signers.
// A vault of another chain has none.
func (v *Vault) Descriptor() (*Descriptor, error) {
	if v.cv.Chain != "bitcoin" {
		return nil, fmt.Errorf("vault %q is a %s vault; only Bitcoin vaults are registered on hardware signers this way", v.cv.Name, v.cv.Chain)
	}
	d, err := descriptor.ParseStrict(v.cv.Descriptor)
	if err != nil {
		return nil, err
	}
	net, err := bitcoin.Network(v.cv.Network)
	if err != nil {
		return nil, err
	}
	return &Descriptor{desc: d, net: net}, nil
}

// CheckNetwork refuses a network name airlock does not know: mainnet,
// testnet3, testnet4, signet or regtest.
func CheckNetwork(name string) error {
	_, err := bitcoin.Network(name)
	return err
}

// Descriptor is a Bitcoin vault's output descriptor on a network.
type Descriptor struct {
	desc *descriptor.Descriptor
	net  *chaincfg.Params
}

// String is the descriptor with its checksum.
func (d *Descriptor) String() string { return d.desc.String() }

// Threshold is how many of how many signers spend; for a vault with a
// recovery path, those of the primary path.
func (d *Descriptor) Threshold() (k, n int) {
	if rp, ok := d.desc.Recovery(); ok {
		return rp.K, len(rp.Primary)
	}
	k, n, _ = d.desc.Threshold()
	return k, n
}

// Recovery is the vault's recovery key and the older() lock after which it
// spends alone; ok is false for a vault without one.
func (d *Descriptor) Recovery() (key string, older uint32, ok bool) {
	rp, ok := d.desc.Recovery()
	if !ok {
		return "", 0, false
	}
	return rp.Recovery.String(), rp.Older, true
}

// Keys are the descriptor's key expressions, in textual order.
func (d *Descriptor) Keys() []string {
	var out []string
	for _, k := range d.desc.Keys() {
		out = append(out, k.String())
	}
	return out
}

// Address is the vault's address at branch (0 receive, 1 change) and
// index.
func (d *Descriptor) Address(branch int, index uint32) (string, error) {
	return d.desc.Address(branch, index, d.net)
}

// Coldcard writes the vault as a Coldcard multisig setup file named name.
func (d *Descriptor) Coldcard(name string) ([]byte, error) {
	text, err := setup.ExportColdcard(name, d.desc)
	if err != nil {
		return nil, err
	}
	return []byte(text), nil
}

// BSMS writes the vault as a BIP-129 descriptor record (round 2),
// encrypted under token when it has 8 or 16 bytes, in clear when it is
// empty or 00.
func (d *Descriptor) BSMS(token []byte) ([]byte, error) {
	rec, err := setup.NewDescriptorRecord(d.desc, d.net)
	if err != nil {
		return nil, err
	}
	return rec.Encode(token)
}

// ErrKeyNotHeld is Place's answer for a vault that does not hold the key.
var ErrKeyNotHeld = errors.New("vault: the vault does not hold the key")

// Place is where a key sits in a vault.
type Place struct {
	// Recovery is set when the key is the vault's recovery key, which
	// spends alone after older(Older).
	Recovery bool
	Older    uint32
	// Signers are the key's positions among the vault's (primary)
	// signers, counted from 1, out of Of.
	Signers []int
	Of      int
}

// Place finds key, "[fingerprint/path]key", in the vault. Keys are
// compared by origin and key, ignoring the steps after the key (a vault's
// "/<0;1>/*"): a key with the station's fingerprint but another path or
// another key is not the station's.
func (d *Descriptor) Place(key string) (*Place, error) {
	own, err := descriptor.ParseKey(key)
	if err != nil {
		return nil, err
	}
	signers := d.desc.Keys()
	if rp, ok := d.desc.Recovery(); ok {
		if sameKeyOrigin(rp.Recovery, own) {
			return &Place{Recovery: true, Older: rp.Older}, nil
		}
		signers = rp.Primary
	}
	p := &Place{Of: len(signers)}
	for i, k := range signers {
		if sameKeyOrigin(k, own) {
			p.Signers = append(p.Signers, i+1)
		}
	}
	if len(p.Signers) == 0 {
		return nil, ErrKeyNotHeld
	}
	return p, nil
}

// Source is the kind of file Import read.
type Source int

const (
	// SourceDescriptor is a descriptor or a BIP-388 wallet policy.
	SourceDescriptor Source = iota
	// SourceColdcard is a Coldcard multisig setup file.
	SourceColdcard
	// SourceBSMS is a BIP-129 descriptor record.
	SourceBSMS
)

// Imported is a vault read from a hardware signer's setup file.
type Imported struct {
	*Descriptor
	Source Source
	// Name is a Coldcard file's Name line.
	Name string
	// FirstAddress is the address at index 0 of the receive branch,
	// recomputed from the descriptor.
	FirstAddress string
}

// Import reads a vault for network: a BSMS descriptor record when data
// starts "BSMS" or token is not empty (8 or 16 bytes decrypt it), a
// Coldcard multisig file when it has a "Policy:" line or a "# Coldcard"
// comment, otherwise a descriptor or a BIP-388 wallet policy. Keys for
// another network, private keys and a BSMS record whose FIRST ADDRESS is
// not the descriptor's are refused.
func Import(data []byte, network string, token []byte) (*Imported, error) {
	net, err := bitcoin.Network(network)
	if err != nil {
		return nil, err
	}
	text := string(data)
	var d *descriptor.Descriptor
	im := &Imported{Source: SourceDescriptor}
	switch {
	case strings.HasPrefix(text, "BSMS") || len(token) > 0:
		im.Source = SourceBSMS
		rec, err := setup.ParseDescriptorRecord(data, token, net)
		if err != nil {
			return nil, err
		}
		if d, err = rec.Multipath(); err != nil {
			return nil, err
		}
	case strings.Contains(text, "Policy:") || strings.Contains(text, "# Coldcard"):
		im.Source = SourceColdcard
		if d, im.Name, err = setup.ImportColdcard(text, net); err != nil {
			return nil, err
		}
	default:
		if d, err = setup.ImportDescriptor(strings.TrimSpace(text), net); err != nil {
			return nil, err
		}
	}
	if d == nil {
		return nil, errors.New("vault import: nothing describes a vault")
	}
	im.Descriptor = &Descriptor{desc: d, net: net}
	if im.FirstAddress, err = im.Address(0, 0); err != nil {
		return nil, err
	}
	return im, nil
}

// sameKey compares two key expressions exactly: same origin, same key,
// not the fingerprint alone.
func sameKey(a, b string) bool {
	ka, err1 := descriptor.ParseKey(a)
	kb, err2 := descriptor.ParseKey(b)
	return err1 == nil && err2 == nil && sameKeyOrigin(ka, kb)
}

// sameKeyOrigin compares keys by origin and key, ignoring the steps after
// the key (a vault's "/<0;1>/*").
func sameKeyOrigin(a, b *descriptor.Key) bool {
	return a.Origin != nil && b.Origin != nil &&
		a.Origin.Fingerprint == b.Origin.Fingerprint && slices.Equal(a.Origin.Path, b.Origin.Path) &&
		a.IsExtended() == b.IsExtended() && a.ExtendedKey() == b.ExtendedKey() &&
		bytes.Equal(a.PubKey(), b.PubKey())
}
