package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/chain/bitcoin/setup"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/workspace"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// BIP-129 (BSMS) round 1: each Signer sends the Coordinator a key record,
// its key signed with that key and, with a token, encrypted (docs/bsms.md).
// Round 2 is 'vault export --format bsms' and 'vault import'.

// maxKeyRecord bounds a key record file: five short lines in clear, twice
// that plus a MAC as hex when encrypted.
const maxKeyRecord = 4 << 10

// bsmsToken reads a --token value: hex, 8 or 16 bytes to encrypt, empty or
// 00 for a record in clear.
func bsmsToken(cmd, s string) ([]byte, error) {
	tok, err := hex.DecodeString(s)
	if err != nil {
		return nil, usagef("%s: --token %q is not hex", cmd, s)
	}
	if _, err := setup.TokenMode(tok); err != nil {
		return nil, usagef("%s: --token: %v", cmd, err)
	}
	return tok, nil
}

func tokenModeName(tok []byte) string {
	m, _ := setup.TokenMode(tok)
	return m.String()
}

// keyBSMS writes the station's BIP-129 key record: its Bitcoin account key
// with origin, signed with that key's private key (never exported: the
// keystore or the token signs the message digest), encrypted with the
// session token when it has 8 or 16 bytes.
func (e *env) keyBSMS(args []string) error {
	fs := e.flags("key bsms")
	token := fs.String("token", "", "the session token in hex: 8 or 16 bytes encrypt the record; empty or 00 writes it in clear")
	desc := fs.String("description", "", "DESCRIPTION line, at most 80 characters (default: participant/device)")
	out := fs.String("out", "", "where to write the record (default: standard output)")
	sec := e.secretFlags(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("key bsms: unexpected argument %q", pos[0])
	}
	tok, err := bsmsToken("key bsms", *token)
	if err != nil {
		return err
	}
	ws, err := e.openRole(workspace.Station)
	if err != nil {
		return err
	}
	defer ws.Close()
	c := ws.Config
	if c.Key == "" {
		return errors.New("this station has no Bitcoin key to put in a key record")
	}
	if *desc == "" {
		*desc = c.Name + "/" + c.Device
	}
	key, err := descriptor.ParseKey(c.Key)
	if err != nil || key.Origin == nil {
		return fmt.Errorf("the workspace's key %q has no origin: %v", c.Key, err)
	}
	rec := &setup.KeyRecord{Token: tok, Key: c.Key, Description: *desc}
	// Check the record before asking for the passphrase or PIN.
	if _, err := rec.PubKey(); err != nil {
		return err
	}
	ks, err := e.unlock(ws, sec)
	if err != nil {
		return err
	}
	defer ks.Close()
	if ks.Chain == nil {
		return errors.New("this station's keys hold no chain key")
	}
	path := key.Origin.Path
	if fp := ks.Chain.MasterFingerprint(); fp != key.Origin.Fingerprint {
		return fmt.Errorf("the workspace's key %s is not under this station's master key (fingerprint %x)", c.Key, fp)
	}
	if pub, err := ks.Chain.PublicKey(path); err != nil {
		return err
	} else if !bytes.Equal(pub, key.PubKey()) {
		return fmt.Errorf("the station's key at %s is not the workspace's key %s", c.Key[:strings.IndexByte(c.Key, ']')+1], c.Key)
	}
	if err := setup.SignKeyRecordWith(rec, func(digest []byte) ([]byte, error) {
		return ks.Chain.SignECDSA(path, digest)
	}); err != nil {
		return err
	}
	data, err := rec.Encode(tok)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	detail := map[string]string{"key": c.Key, "description": *desc, "encryption": tokenModeName(tok), "sha256": hex.EncodeToString(sum[:])}
	if *out != "" {
		if err := workspace.WriteFileAtomic(*out, data, 0o644); err != nil {
			return err
		}
		detail["file"] = *out
	}
	if err := e.logger(ws, ks)("key.bsms", c.Key, detail); err != nil {
		return err
	}
	if *out == "" {
		_, err := e.stdout.Write(append(data, '\n'))
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s: BSMS key record (%s)\nkey %s\ndescription %s\n", *out, tokenModeName(tok), c.Key, *desc)
	return nil
}

// keyRecordFile is one verified key record and where it came from.
type keyRecordFile struct {
	path string
	rec  *setup.KeyRecord
}

// readKeyRecords reads and verifies key records for one session token and
// network: the MAC when encrypted, the TOKEN line, the signature by KEY
// itself, and KEY's network. One bad record fails them all. The same key
// twice is refused: a key counts once.
func readKeyRecords(paths []string, tok []byte, net *chaincfg.Params) ([]keyRecordFile, error) {
	var out []keyRecordFile
	for _, p := range paths {
		data, err := readBounded(p, maxKeyRecord)
		if err != nil {
			return nil, err
		}
		data = bytes.TrimSuffix(data, []byte("\n"))
		if m, _ := setup.TokenMode(tok); m != setup.NoEncryption {
			data = bytes.TrimSpace(data)
		}
		rec, err := setup.ParseKeyRecord(data, tok)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if err := rec.CheckNetwork(net); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, o := range out {
			if sameKey(o.rec.Key, rec.Key) {
				return nil, fmt.Errorf("%s and %s hold the same key %s", o.path, p, rec.Key)
			}
		}
		out = append(out, keyRecordFile{p, rec})
	}
	return out, nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes; a key record is smaller", path, limit)
	}
	return b, nil
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

// vaultKeyRecords verifies key records, as a Coordinator does in BSMS
// round 1, and prints each key to put in the policy.
func (e *env) vaultKeyRecords(args []string) error {
	fs := e.flags("vault key-records")
	token := fs.String("token", "", "the session token in hex (empty or 00: records in clear)")
	network := fs.String("network", "regtest", "the network the keys are for")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("vault key-records: want one or more key record files")
	}
	tok, err := bsmsToken("vault key-records", *token)
	if err != nil {
		return err
	}
	net, err := bitcoin.Network(*network)
	if err != nil {
		return usagef("vault key-records: %v", err)
	}
	recs, err := readKeyRecords(pos, tok, net)
	if err != nil {
		return err
	}
	for _, r := range recs {
		fmt.Fprintf(e.stdout, "%s: BSMS key record verified (%s), description %q\nkey %s\n", r.path, tokenModeName(tok), r.rec.Description, r.rec.Key)
	}
	return nil
}

// bsmsFlags are policy init's round-1 inputs.
type bsmsFlags struct {
	records []string
	token   string
}

func (e *env) bsmsPolicyFlags(fs *flag.FlagSet) *bsmsFlags {
	b := &bsmsFlags{}
	fs.Func("bsms-key-record", "a BIP-129 key record that proves a signer's key (repeat for each)", func(s string) error {
		b.records = append(b.records, s)
		return nil
	})
	fs.StringVar(&b.token, "token", "", "with --bsms-key-record: the session token in hex")
	return b
}

// checkPolicyKeyRecords ties a policy's Bitcoin signer keys to BSMS key
// records: with any record given, every key a Bitcoin vault signs with
// must be proven by one, and every record must be one of those keys.
func (e *env) checkPolicyKeyRecords(p *policy.Policy, b *bsmsFlags) error {
	if len(b.records) == 0 {
		if b.token != "" {
			return usagef("policy init: --token goes with --bsms-key-record")
		}
		return nil
	}
	tok, err := bsmsToken("policy init", b.token)
	if err != nil {
		return err
	}
	net, err := bitcoin.Network(p.Network)
	if err != nil {
		return err
	}
	recs, err := readKeyRecords(b.records, tok, net)
	if err != nil {
		return err
	}
	used := make([]bool, len(recs))
	seen := map[string]bool{}
	var lines []string
	for i := range p.Vaults {
		v := &p.Vaults[i]
		if v.Chain != "bitcoin" {
			continue
		}
		signers, err := p.Signers(v)
		if err != nil {
			return err
		}
		for _, s := range signers {
			ref := s.Participant.ID + "/" + s.Device.ID
			if seen[ref] {
				continue
			}
			seen[ref] = true
			j := slices.IndexFunc(recs, func(r keyRecordFile) bool { return sameKey(r.rec.Key, s.Device.Key) })
			if j < 0 {
				return withHint(fmt.Errorf("no BSMS key record proves the key of %s (vault %s): %s", ref, v.Name, s.Device.Key), "every Bitcoin signer sends a key record: airlock key bsms --token HEX --out FILE")
			}
			used[j] = true
			lines = append(lines, fmt.Sprintf("signer %s: key proven by BSMS key record %s (%q)", ref, recs[j].path, recs[j].rec.Description))
		}
	}
	for j, u := range used {
		if !u {
			return fmt.Errorf("%s: the key %s is not the key of any Bitcoin vault signer in the policy", recs[j].path, recs[j].rec.Key)
		}
	}
	for _, l := range lines {
		fmt.Fprintln(e.stdout, l)
	}
	return nil
}

// reportOwnKey, at a station, says whether an imported vault holds the
// station's key, compared exactly (BIP-129 round 2: a Signer checks its
// KEY is in the descriptor). Outside a workspace it says nothing.
func (e *env) reportOwnKey(d *descriptor.Descriptor) error {
	ws, err := workspace.Open(e.dir, e.wsOptions())
	if errors.Is(err, workspace.ErrNotWorkspace) {
		return nil
	}
	if err != nil {
		return err
	}
	defer ws.Close()
	if ws.Config.Role != workspace.Station || ws.Config.Key == "" {
		return nil
	}
	own, err := descriptor.ParseKey(ws.Config.Key)
	if err != nil {
		return fmt.Errorf("the workspace's key %q: %w", ws.Config.Key, err)
	}
	signers := d.Keys()
	if rp, ok := d.Recovery(); ok {
		if sameKeyOrigin(rp.Recovery, own) {
			fmt.Fprintf(e.stdout, "this station's key is the vault's recovery key (alone after older(%d))\n", rp.Older)
			return nil
		}
		signers = rp.Primary
	}
	var pos []string
	for i, k := range signers {
		if sameKeyOrigin(k, own) {
			pos = append(pos, fmt.Sprint(i+1))
		}
	}
	if len(pos) == 0 {
		return &refusedError{fmt.Sprintf("the vault does not hold this station's key %s: do not register it", ws.Config.Key)}
	}
	fmt.Fprintf(e.stdout, "this station's key is signer %s of %d\n", strings.Join(pos, ","), len(signers))
	return nil
}
