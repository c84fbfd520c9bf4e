package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/airlock-vault/airlock/vault"
	"github.com/airlock-vault/airlock/workspace"
)

func (e *env) vaultExport(args []string) error {
	fs := e.flags("vault export")
	name := fs.String("vault", "", "vault name")
	format := fs.String("format", "descriptor", "descriptor, coldcard or bsms")
	token := fs.String("token", "", "BSMS: the session token in hex (8 or 16 bytes encrypts; empty or 00 writes the record in clear)")
	out := fs.String("out", "", "where to write it (default: standard output)")
	asJSON := jsonFlag(fs)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || *name == "" {
		return usagef("vault export: want --vault NAME [--format descriptor|coldcard|bsms] [--token HEX] [--out F]")
	}
	v, err := e.resolveVault(*name)
	if err != nil {
		return err
	}
	d, err := v.Descriptor()
	if err != nil {
		return err
	}
	var data []byte
	switch *format {
	case "descriptor":
		data = []byte(d.String() + "\n")
	case "coldcard":
		if data, err = d.Coldcard(*name); err != nil {
			return err
		}
	case "bsms":
		tok, err := hex.DecodeString(*token)
		if err != nil {
			return usagef("vault export: --token: %v", err)
		}
		if data, err = d.BSMS(tok); err != nil {
			return err
		}
	default:
		return usagef("vault export: --format %q: want descriptor, coldcard or bsms", *format)
	}
	if *out != "" {
		if err := workspace.WriteFileAtomic(*out, data, 0o644); err != nil {
			return err
		}
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			Vault      string `json:"vault"`
			Format     string `json:"format"`
			Descriptor string `json:"descriptor"`
			File       string `json:"file,omitempty"`
			Data       string `json:"data"`
		}{*name, *format, d.String(), *out, string(data)})
	}
	if *out == "" {
		_, err := e.stdout.Write(data)
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s: vault %s as %s\n", *out, *name, *format)
	return nil
}

// vaultImport reads a descriptor, a Coldcard multisig file or a BSMS
// descriptor record and prints the descriptor and its keys, checked.
func (e *env) vaultImport(args []string) error {
	fs := e.flags("vault import")
	network := fs.String("network", "regtest", "the network the keys are for")
	token := fs.String("token", "", "BSMS: the session token in hex")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("vault import: want one file")
	}
	if err := vault.CheckNetwork(*network); err != nil {
		return usagef("vault import: %v", err)
	}
	raw, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	tok, err := hex.DecodeString(*token)
	if err != nil {
		return usagef("vault import: --token: %v", err)
	}
	im, err := vault.Import(raw, *network, tok)
	if err != nil {
		return err
	}
	kind := "descriptor"
	switch im.Source {
	case vault.SourceBSMS:
		kind = "BSMS descriptor record"
	case vault.SourceColdcard:
		kind = fmt.Sprintf("Coldcard multisig file (%q)", im.Name)
	}
	k, n := im.Threshold()
	if *asJSON {
		// The station's own-key check runs as in text mode; only its
		// sentence is not printed.
		text := e.stdout
		e.stdout = io.Discard
		err := e.reportOwnKey(im.Descriptor)
		e.stdout = text
		if err != nil {
			return err
		}
		rk, older, hasRecovery := im.Recovery()
		return printJSON(e.stdout, struct {
			Source        string   `json:"source"`
			Name          string   `json:"name,omitempty"`
			Threshold     int      `json:"threshold"`
			Signers       int      `json:"signers"`
			Keys          []string `json:"keys"`
			Descriptor    string   `json:"descriptor"`
			FirstAddress  string   `json:"firstAddress"`
			RecoveryKey   string   `json:"recoveryKey,omitempty"`
			RecoveryOlder uint32   `json:"recoveryAfterBlocks,omitempty"`
			Recovery      bool     `json:"recovery"`
		}{fmt.Sprint(im.Source), im.Name, k, n, orEmpty(im.Keys()), im.String(), im.FirstAddress, rk, older, hasRecovery})
	}
	paths := ""
	if key, older, ok := im.Recovery(); ok {
		paths = fmt.Sprintf(", or the recovery key %s alone after older(%d)", key, older)
	}
	fmt.Fprintf(e.stdout, "%s: %d of %d%s\ndescriptor %s\nfirst address %s\n", kind, k, n, paths, im.String(), im.FirstAddress)
	for _, key := range im.Keys() {
		fmt.Fprintf(e.stdout, "key %s\n", key)
	}
	return e.reportOwnKey(im.Descriptor)
}
