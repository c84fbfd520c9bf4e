package setup

import (
	"bytes"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// TestBSMSSession runs a whole 2-of-3 session on testnet in every mode:
// signers make key records, the coordinator reads them and builds the
// vault, and every signer reads the descriptor record back.
func TestBSMSSession(t *testing.T) {
	net := &chaincfg.TestNet3Params
	for _, mode := range []Mode{NoEncryption, Standard, Extended} {
		t.Run(mode.String(), func(t *testing.T) {
			var specs []descriptor.KeySpec
			tokens := make([][]byte, 3)
			for i := range 3 {
				token, err := NewToken(mode)
				if err != nil {
					t.Fatal(err)
				}
				if mode == Standard && i > 0 {
					token = tokens[0] // one token for all
				}
				tokens[i] = token
				s := newTestSigner(t, byte(i+1), net)
				spec := s.account(t, bip48(1, 2))
				priv := s.master
				for _, p := range spec.Path {
					priv, _ = priv.Derive(p)
				}
				ecPriv, _ := priv.ECPrivKey()
				rec := &KeyRecord{Token: token, Key: formatKeyOrigin(spec) + spec.XPub, Description: "signer"}
				if err := SignKeyRecord(rec, ecPriv); err != nil {
					t.Fatal(err)
				}
				data, err := rec.Encode(token)
				if err != nil {
					t.Fatal(err)
				}
				if mode != NoEncryption && bytes.Contains(data, []byte(spec.XPub)) {
					t.Fatal("encrypted record shows the xpub")
				}
				got, err := ParseKeyRecord(data, token)
				if err != nil || got.Key != rec.Key || got.Signature != rec.Signature {
					t.Fatalf("ParseKeyRecord = %+v, %v", got, err)
				}
				specs = append(specs, spec)
			}
			vault, err := descriptor.NewSortedMultiWSH(2, specs)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := NewDescriptorRecord(vault, net)
			if err != nil {
				t.Fatal(err)
			}
			if rec.PathRestrictions != "/0/*,/1/*" || !strings.Contains(rec.Descriptor, "/**") {
				t.Errorf("record %+v", rec)
			}
			for i, token := range tokens {
				data, err := rec.Encode(token)
				if err != nil {
					t.Fatal(err)
				}
				got, err := ParseDescriptorRecord(data, token, net)
				if err != nil || *got != *rec {
					t.Fatalf("signer %d: ParseDescriptorRecord = %+v, %v", i+1, got, err)
				}
				mp, err := got.Multipath()
				if err != nil || mp.String() != vault.String() {
					t.Errorf("Multipath = %v, %v; want %s", mp, err, vault)
				}
			}
		})
	}
}

func formatKeyOrigin(k descriptor.KeySpec) string {
	return "[" + hexFP(k.Fingerprint) + strings.TrimPrefix(formatPath(k.Path), "m") + "]"
}

func hexFP(fp [4]byte) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for i, c := range fp {
		b[2*i], b[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(b)
}

func TestKeyRecordRefused(t *testing.T) {
	v := loadBIP129(t)
	good := v.Modes[1].Round1.Signers[0].KeyRecord // NO_ENCRYPTION, xpub
	std := v.Modes[2].Round1.Signers[0]
	stdToken := []byte{0xa5, 0x40, 0x44, 0x30, 0x8c, 0xea, 0xc9, 0xb7}
	cases := []struct {
		name  string
		data  string
		token []byte
		want  string
	}{
		{"trailing newline is fine", good + "\n", nil, ""},
		{"version", strings.Replace(good, "BSMS 1.0", "BSMS 2.0", 1), nil, "version"},
		{"crlf", strings.ReplaceAll(good, "\n", "\r\n"), nil, "carriage"},
		{"extra line", good + "\nmore", nil, "6 lines"},
		{"token line", strings.Replace(good, "\n00\n", "\n0000\n", 1), nil, "TOKEN line"},
		{"other token", std.KeyRecord, nil, "another token"},
		{"plaintext with token", std.KeyRecord, stdToken, "not hex"},
		{"encrypted without token", std.Encryption.EncryptedFileHex, nil, "lines"},
		{"bad token size", good, []byte{1, 2, 3}, "token of 3 bytes"},
		{"no origin", strings.Replace(good, "[1cf0bf7e/48'/0'/0'/2']", "", 1), nil, "origin"},
		{"steps", strings.Replace(good, "Yz\n", "Yz/0/*\n", 1), nil, "derivation steps"},
		{"depth", strings.Replace(good, "/48'/0'/0'/2'", "/48'/0'/0'", 1), nil, "depth 4"},
		{"long description", strings.Replace(good, "Signer 1 key", strings.Repeat("d", 81), 1), nil, "80"},
		{"bad base64", strings.Replace(good, "IB7v", "!B7v", 1), nil, "base64"},
		{"short signature", good[:len(good)-8] + "AAAAAAA=", nil, "signature"},
		{"too large", strings.Repeat("x", MaxInput+1), nil, "exceeds"},
		{"truncated", good[:len(good)/2], nil, "lines"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseKeyRecord([]byte(c.data), c.token)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "setup: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}

	// Encode refuses what it could not read back.
	r, err := ParseKeyRecord([]byte(good), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Encode(stdToken); err == nil {
		t.Error("Encode under another token than the record's")
	}
	bad := *r
	bad.Description = "changed"
	if _, err := bad.Encode(nil); err == nil {
		t.Error("Encode with a stale signature")
	}
	bad = *r
	bad.Description = "two\nlines"
	k, _ := btcec.NewPrivateKey()
	if err := SignKeyRecord(&bad, k); err == nil {
		t.Error("signed a description with a newline")
	}
}

func TestDescriptorRecordRefused(t *testing.T) {
	v := loadBIP129(t)
	good := v.Modes[1].Round2.Coordinator.DescriptorRecord
	withSum := v.Modes[0].Round2.Coordinator.DescriptorRecord
	main := &chaincfg.MainNetParams
	cases := []struct{ name, data, want string }{
		{"address", good[:len(good)-1] + "q", "first address"},
		{"restrictions hardened", strings.Replace(good, "/0/*,/1/*", "/0'/*,/1/*", 1), "hardened"},
		{"restrictions slash", strings.Replace(good, "/0/*,/1/*", "0/*,/1/*", 1), "start with /"},
		{"restrictions repeated", strings.Replace(good, "/0/*,/1/*", "/0/*,/0/*", 1), "twice"},
		{"restrictions without template", strings.Replace(withSum, "No path restrictions", "/0/*", 1), "not a template"},
		{"template without restrictions", strings.Replace(good, "/0/*,/1/*", NoPathRestrictions, 1), "template without path restrictions"},
		{"checksum", strings.Replace(withSum, "#rzx9dffd", "#rzx9dffe", 1), "checksum"},
		{"template checksum", strings.Replace(good, "/**))\n", "/**))#aaaaaaaa\n", 1), "checksum mismatch"},
		{"lines", good + "\nextra", "5 lines"},
		{"version", strings.Replace(good, "BSMS 1.0", "BSMS 1.1", 1), "version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseDescriptorRecord([]byte(c.data), nil, main)
			if err == nil || !strings.HasPrefix(err.Error(), "setup: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
	// The template's checksum, when given, is accepted if right.
	body := strings.Split(good, "\n")[1]
	sum, _ := descriptor.Checksum(body)
	if _, err := ParseDescriptorRecord([]byte(strings.Replace(good, body, body+"#"+sum, 1)), nil, main); err != nil {
		t.Errorf("template with its checksum: %v", err)
	}
}
