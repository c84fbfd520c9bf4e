package vault

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/chain/bitcoin/setup"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
)

// BIP-129 (BSMS) round 1: each Signer sends the Coordinator a key record,
// its key signed with that key and, with a session token, encrypted
// (docs/bsms.md). The record's format and cryptography are package
// chain/bitcoin/setup's; this file makes a station's record and checks a
// session's records against each other and against a policy.

// MaxKeyRecord bounds a key record: five short lines in clear, twice that
// plus a MAC as hex when encrypted.
const MaxKeyRecord = 4 << 10

// EncryptionMode names the BSMS mode a session token selects:
// NO_ENCRYPTION for an empty token or 00, STANDARD for 8 bytes, EXTENDED
// for 16. Any other token is refused.
func EncryptionMode(token []byte) (string, error) {
	m, err := setup.TokenMode(token)
	if err != nil {
		return "", err
	}
	return m.String(), nil
}

// UnsignedKeyRecord is a station's key record, checked, before its key
// signs it.
type UnsignedKeyRecord struct {
	rec   *setup.KeyRecord
	key   *descriptor.Key
	token []byte
}

// PrepareKeyRecord makes a station's key record for its Bitcoin account
// key, "[fingerprint/path]xpub" (or a token's static key), with a
// DESCRIPTION of at most 80 characters, for the session token. It checks
// the record before anyone is asked for a passphrase or a PIN.
func PrepareKeyRecord(key, description string, token []byte) (*UnsignedKeyRecord, error) {
	if key == "" {
		return nil, errors.New("this station has no Bitcoin key to put in a key record")
	}
	if _, err := setup.TokenMode(token); err != nil {
		return nil, err
	}
	k, err := descriptor.ParseKey(key)
	if err != nil || k.Origin == nil {
		return nil, fmt.Errorf("the workspace's key %q has no origin: %v", key, err)
	}
	rec := &setup.KeyRecord{Token: token, Key: key, Description: description}
	if _, err := rec.PubKey(); err != nil {
		return nil, err
	}
	return &UnsignedKeyRecord{rec: rec, key: k, token: token}, nil
}

// Sign signs the record with the key's private key, which signer holds at
// the key's origin path and never exports (it signs the legacy
// signed-message digest), and encodes it: encrypted when the token has 8
// or 16 bytes. A signer whose master fingerprint or key at that path is
// not the record's is refused before it signs.
func (u *UnsignedKeyRecord) Sign(signer keys.ChainSigner) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("this station's keys hold no chain key")
	}
	key := u.rec.Key
	path := u.key.Origin.Path
	if fp := signer.MasterFingerprint(); fp != u.key.Origin.Fingerprint {
		return nil, fmt.Errorf("the workspace's key %s is not under this station's master key (fingerprint %x)", key, fp)
	}
	if pub, err := signer.PublicKey(path); err != nil {
		return nil, err
	} else if !bytes.Equal(pub, u.key.PubKey()) {
		return nil, fmt.Errorf("the station's key at %s is not the workspace's key %s", key[:strings.IndexByte(key, ']')+1], key)
	}
	if err := setup.SignKeyRecordWith(u.rec, func(digest []byte) ([]byte, error) {
		return signer.SignECDSA(path, digest)
	}); err != nil {
		return nil, err
	}
	return u.rec.Encode(u.token)
}

// KeyRecord is a verified key record.
type KeyRecord struct {
	// Name says where the record came from (its file), in errors too.
	Name        string
	Key         string // "[fingerprint/path]xpub" or "[fingerprint/path]pubkey"
	Description string
}

// KeyRecords are the verified key records of one BSMS session: one token,
// one network.
type KeyRecords struct {
	token []byte
	mode  setup.Mode
	net   *chaincfg.Params
	recs  []KeyRecord
}

// NewKeyRecords starts verifying the key records of the session with
// token on network.
func NewKeyRecords(token []byte, network string) (*KeyRecords, error) {
	m, err := setup.TokenMode(token)
	if err != nil {
		return nil, err
	}
	net, err := bitcoin.Network(network)
	if err != nil {
		return nil, err
	}
	return &KeyRecords{token: bytes.Clone(token), mode: m, net: net}, nil
}

// Add verifies one key record, data as its file holds it (a final newline,
// and around an encrypted record's hex any space, are ignored): the MAC
// when encrypted, the TOKEN line, the signature by KEY itself, and KEY's
// network. A key already added is refused: a key counts once.
func (s *KeyRecords) Add(name string, data []byte) (KeyRecord, error) {
	if len(data) > MaxKeyRecord {
		return KeyRecord{}, fmt.Errorf("%s is larger than %d bytes; a key record is smaller", name, MaxKeyRecord)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	if s.mode != setup.NoEncryption {
		data = bytes.TrimSpace(data)
	}
	rec, err := setup.ParseKeyRecord(data, s.token)
	if err != nil {
		return KeyRecord{}, fmt.Errorf("%s: %w", name, err)
	}
	if err := rec.CheckNetwork(s.net); err != nil {
		return KeyRecord{}, fmt.Errorf("%s: %w", name, err)
	}
	for _, o := range s.recs {
		if sameKey(o.Key, rec.Key) {
			return KeyRecord{}, fmt.Errorf("%s and %s hold the same key %s", o.Name, name, rec.Key)
		}
	}
	r := KeyRecord{Name: name, Key: rec.Key, Description: rec.Description}
	s.recs = append(s.recs, r)
	return r, nil
}

// Records are the records added so far, in order.
func (s *KeyRecords) Records() []KeyRecord { return slices.Clone(s.recs) }

// ProvenSigner is a policy's Bitcoin signer whose key a record proves.
type ProvenSigner struct {
	Signer string // "participant/device"
	Vault  string // the first vault it signs for
	Record KeyRecord
}

// UnprovenSignerError is a Bitcoin signer of a policy whose key no key
// record proves.
type UnprovenSignerError struct {
	Signer, Vault, Key string
}

func (e *UnprovenSignerError) Error() string {
	return fmt.Sprintf("no BSMS key record proves the key of %s (vault %s): %s", e.Signer, e.Vault, e.Key)
}

// UnusedKeyRecordError is a key record whose key no Bitcoin vault of a
// policy signs with.
type UnusedKeyRecordError struct {
	Name, Key string
}

func (e *UnusedKeyRecordError) Error() string {
	return fmt.Sprintf("%s: the key %s is not the key of any Bitcoin vault signer in the policy", e.Name, e.Key)
}

// CheckPolicy ties policy p's Bitcoin signers to the records: every key a
// Bitcoin vault signs with must be proven by a record, compared exactly,
// and every record must be one of those keys. It returns each signer once,
// in policy order, with the record that proves its key.
func (s *KeyRecords) CheckPolicy(p *policy.Policy) ([]ProvenSigner, error) {
	if net, err := bitcoin.Network(p.Network); err != nil {
		return nil, err
	} else if net.Name != s.net.Name {
		return nil, fmt.Errorf("the key records were verified for %s, but policy %s is for %s", s.net.Name, p.Name, net.Name)
	}
	used := make([]bool, len(s.recs))
	seen := map[string]bool{}
	var out []ProvenSigner
	for i := range p.Vaults {
		v := &p.Vaults[i]
		if v.Chain != "bitcoin" {
			continue
		}
		signers, err := p.Signers(v)
		if err != nil {
			return nil, err
		}
		for _, sg := range signers {
			ref := sg.Participant.ID + "/" + sg.Device.ID
			if seen[ref] {
				continue
			}
			seen[ref] = true
			j := slices.IndexFunc(s.recs, func(r KeyRecord) bool { return sameKey(r.Key, sg.Device.Key) })
			if j < 0 {
				return nil, &UnprovenSignerError{Signer: ref, Vault: v.Name, Key: sg.Device.Key}
			}
			used[j] = true
			out = append(out, ProvenSigner{Signer: ref, Vault: v.Name, Record: s.recs[j]})
		}
	}
	for j, u := range used {
		if !u {
			return nil, &UnusedKeyRecordError{Name: s.recs[j].Name, Key: s.recs[j].Key}
		}
	}
	return out, nil
}
