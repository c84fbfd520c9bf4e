package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/airlock-vault/airlock/chain/bitcoin/setup"
	"github.com/airlock-vault/airlock/workspace"
)

// vault exports a Bitcoin vault so that hardware signers can register it
// (a descriptor, a Coldcard multisig file, a BIP-129 BSMS descriptor
// record), or reads one of those back and says what it describes.
func (e *env) vault(args []string) error {
	if len(args) == 0 {
		return usagef("vault: want export or import")
	}
	switch args[0] {
	case "export":
		return e.vaultExport(args[1:])
	case "import":
		return e.vaultImport(args[1:])
	case "key-records":
		return e.vaultKeyRecords(args[1:])
	}
	return usagef("vault: unknown subcommand %q", args[0])
}

func (e *env) vaultExport(args []string) error {
	fs := e.flags("vault export")
	name := fs.String("vault", "", "vault name")
	format := fs.String("format", "descriptor", "descriptor, coldcard or bsms")
	token := fs.String("token", "", "BSMS: the session token in hex (8 or 16 bytes encrypts; empty or 00 writes the record in clear)")
	out := fs.String("out", "", "where to write it (default: standard output)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 || *name == "" {
		return usagef("vault export: want --vault NAME [--format descriptor|coldcard|bsms] [--token HEX] [--out F]")
	}
	cv, err := e.chainVault(*name)
	if err != nil {
		return err
	}
	if cv.Chain != "bitcoin" {
		return fmt.Errorf("vault %q is a %s vault; only Bitcoin vaults are registered on hardware signers this way", *name, cv.Chain)
	}
	d, err := descriptor.ParseStrict(cv.Descriptor)
	if err != nil {
		return err
	}
	net, err := bitcoin.Network(cv.Network)
	if err != nil {
		return err
	}
	var data []byte
	switch *format {
	case "descriptor":
		data = []byte(d.String() + "\n")
	case "coldcard":
		text, err := setup.ExportColdcard(*name, d)
		if err != nil {
			return err
		}
		data = []byte(text)
	case "bsms":
		tok, err := hex.DecodeString(*token)
		if err != nil {
			return usagef("vault export: --token: %v", err)
		}
		rec, err := setup.NewDescriptorRecord(d, net)
		if err != nil {
			return err
		}
		if data, err = rec.Encode(tok); err != nil {
			return err
		}
	default:
		return usagef("vault export: --format %q: want descriptor, coldcard or bsms", *format)
	}
	if *out == "" {
		_, err := e.stdout.Write(data)
		return err
	}
	if err := workspace.WriteFileAtomic(*out, data, 0o644); err != nil {
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
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("vault import: want one file")
	}
	net, err := bitcoin.Network(*network)
	if err != nil {
		return usagef("vault import: %v", err)
	}
	raw, err := os.ReadFile(pos[0])
	if err != nil {
		return err
	}
	text := string(raw)
	var d *descriptor.Descriptor
	kind := "descriptor"
	switch {
	case strings.HasPrefix(text, "BSMS") || *token != "":
		kind = "BSMS descriptor record"
		tok, err := hex.DecodeString(*token)
		if err != nil {
			return usagef("vault import: --token: %v", err)
		}
		rec, err := setup.ParseDescriptorRecord(raw, tok, net)
		if err != nil {
			return err
		}
		if d, err = rec.Multipath(); err != nil {
			return err
		}
	case strings.Contains(text, "Policy:") || strings.Contains(text, "# Coldcard"):
		kind = "Coldcard multisig file"
		var name string
		if d, name, err = setup.ImportColdcard(text, net); err != nil {
			return err
		}
		kind += fmt.Sprintf(" (%q)", name)
	default:
		if d, err = setup.ImportDescriptor(strings.TrimSpace(text), net); err != nil {
			return err
		}
	}
	if d == nil {
		return errors.New("vault import: nothing describes a vault")
	}
	k, n, _ := d.Threshold()
	paths := ""
	if rp, ok := d.Recovery(); ok {
		k, n = rp.K, len(rp.Primary)
		paths = fmt.Sprintf(", or the recovery key %s alone after older(%d)", rp.Recovery.String(), rp.Older)
	}
	addr, err := d.Address(0, 0, net)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %d of %d%s\ndescriptor %s\nfirst address %s\n", kind, k, n, paths, d.String(), addr)
	for _, key := range d.Keys() {
		fmt.Fprintf(e.stdout, "key %s\n", key.String())
	}
	return e.reportOwnKey(d)
}
