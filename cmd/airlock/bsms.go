package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/vault"
	"github.com/airlock-vault/airlock/workspace"
)

// BIP-129 (BSMS) round 1: each Signer sends the Coordinator a key record,
// its key signed with that key and, with a token, encrypted (docs/bsms.md).
// Round 2 is 'vault export --format bsms' and 'vault import'.

// bsmsToken reads a --token value: hex, 8 or 16 bytes to encrypt, empty or
// 00 for a record in clear.
func bsmsToken(cmd, s string) ([]byte, error) {
	tok, err := hex.DecodeString(s)
	if err != nil {
		return nil, usagef("%s: --token %q is not hex", cmd, s)
	}
	if _, err := vault.EncryptionMode(tok); err != nil {
		return nil, usagef("%s: --token: %v", cmd, err)
	}
	return tok, nil
}

func tokenModeName(tok []byte) string {
	m, _ := vault.EncryptionMode(tok)
	return m
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
	asJSON := jsonFlag(fs)
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
	if *desc == "" {
		*desc = c.Name + "/" + c.Device
	}
	// Check the record before asking for the passphrase or PIN.
	rec, err := vault.PrepareKeyRecord(c.Key, *desc, tok)
	if err != nil {
		return err
	}
	ks, err := e.unlock(ws, sec)
	if err != nil {
		return err
	}
	defer ks.Close()
	data, err := rec.Sign(ks.Chain)
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
	if *asJSON {
		return printJSON(e.stdout, struct {
			Key         string `json:"key"`
			Description string `json:"description"`
			Encryption  string `json:"encryption"`
			SHA256      string `json:"sha256"`
			File        string `json:"file,omitempty"`
			Record      string `json:"record"`
		}{c.Key, *desc, tokenModeName(tok), hex.EncodeToString(sum[:]), *out, string(data)})
	}
	if *out == "" {
		_, err := e.stdout.Write(append(data, '\n'))
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s: BSMS key record (%s)\nkey %s\ndescription %s\n", *out, tokenModeName(tok), c.Key, *desc)
	return nil
}

// vaultKeyRecords verifies key records, as a Coordinator does in BSMS
// round 1, and prints each key to put in the policy.
func (e *env) vaultKeyRecords(args []string) error {
	fs := e.flags("vault key-records")
	token := fs.String("token", "", "the session token in hex (empty or 00: records in clear)")
	network := fs.String("network", "regtest", "the network the keys are for")
	asJSON := jsonFlag(fs)
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
	recs, err := vault.NewKeyRecords(tok, *network)
	if err != nil {
		return usagef("vault key-records: %v", err)
	}
	if err := recs.AddFiles(pos); err != nil {
		return err
	}
	if *asJSON {
		type rec struct {
			Name        string `json:"file"`
			Description string `json:"description"`
			Key         string `json:"key"`
		}
		out := []rec{}
		for _, r := range recs.Records() {
			out = append(out, rec{r.Name, r.Description, r.Key})
		}
		return printJSON(e.stdout, struct {
			Encryption string `json:"encryption"`
			Records    []rec  `json:"records"`
		}{tokenModeName(tok), out})
	}
	for _, r := range recs.Records() {
		fmt.Fprintf(e.stdout, "%s: BSMS key record verified (%s), description %q\nkey %s\n", r.Name, tokenModeName(tok), r.Description, r.Key)
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
	recs, err := vault.NewKeyRecords(tok, p.Network)
	if err != nil {
		return err
	}
	if err := recs.AddFiles(b.records); err != nil {
		return err
	}
	proven, err := recs.CheckPolicy(p)
	var unproven *vault.UnprovenSignerError
	if errors.As(err, &unproven) {
		return withHint(err, "every Bitcoin signer sends a key record: airlock key bsms --token HEX --out FILE")
	}
	if err != nil {
		return err
	}
	for _, s := range proven {
		fmt.Fprintf(e.stdout, "signer %s: key proven by BSMS key record %s (%q)\n", s.Signer, s.Record.Name, s.Record.Description)
	}
	return nil
}

// reportOwnKey, at a station, says whether an imported vault holds the
// station's key, compared exactly (BIP-129 round 2: a Signer checks its
// KEY is in the descriptor). Outside a workspace it says nothing.
func (e *env) reportOwnKey(d *vault.Descriptor) error {
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
	place, err := d.Place(ws.Config.Key)
	if errors.Is(err, vault.ErrKeyNotHeld) {
		return &refusedError{fmt.Sprintf("the vault does not hold this station's key %s: do not register it", ws.Config.Key)}
	}
	if err != nil {
		return fmt.Errorf("the workspace's key %q: %w", ws.Config.Key, err)
	}
	if place.Recovery {
		fmt.Fprintf(e.stdout, "this station's key is the vault's recovery key (alone after older(%d))\n", place.Older)
		return nil
	}
	pos := make([]string, len(place.Signers))
	for i, p := range place.Signers {
		pos[i] = fmt.Sprint(p)
	}
	fmt.Fprintf(e.stdout, "this station's key is signer %s of %d\n", strings.Join(pos, ","), place.Of)
	return nil
}
