package setup

import (
	"fmt"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/btcsuite/btcd/address/v2/base58"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/cosmos/go-bip39"
)

// reversion re-encodes an extended key with other version bytes.
func reversion(t testing.TB, key string, v [4]byte) string {
	t.Helper()
	b := base58.Decode(key)
	if len(b) != 82 {
		t.Fatalf("bad key %s", key)
	}
	p := append(v[:], b[4:78]...)
	return base58.Encode(append(p, chainhash.DoubleHashB(p)[:4]...))
}

func TestConvertSLIP132(t *testing.T) {
	// BIP-84's account 0 zpub for "abandon ... about": m/84'/0'/0'.
	seed := bip39.NewSeed("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about", "")
	m, err := hdkeychain.NewMaster(seed, &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []uint32{h + 84, h, h} {
		m, _ = m.Derive(p)
	}
	acct, _ := m.Neuter()
	const zpub = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
	if got, err := ConvertSLIP132(zpub); err != nil || got != acct.String() {
		t.Fatalf("ConvertSLIP132(BIP-84 zpub) = %s, %v; want %s", got, err, acct.String())
	}

	main := testKeys(t, 1, &chaincfg.MainNetParams, 2)[0].XPub
	test := testKeys(t, 1, &chaincfg.TestNet3Params, 2)[0].XPub
	for v, e := range slip132 {
		src, want := main, main
		if e.to == tpubVersion {
			src, want = test, test
		}
		in := reversion(t, src, v)
		if !strings.HasPrefix(in, e.name) {
			t.Fatalf("%x encodes as %s, table says %s", v, in[:4], e.name)
		}
		got, err := ConvertSLIP132(in)
		if e.private {
			if err == nil || !strings.Contains(err.Error(), "private") {
				t.Errorf("%s: err = %v, want a private-key error", e.name, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s: ConvertSLIP132 = %s, %v", e.name, got, err)
		}
	}
	for _, bad := range []string{"", "xpub", main[:len(main)-1] + "x", reversion(t, main, [4]byte{1, 2, 3, 4}), strings.Repeat("1", 200)} {
		if _, err := ConvertSLIP132(bad); err == nil || !strings.HasPrefix(err.Error(), "setup: ") {
			t.Errorf("ConvertSLIP132(%.20q) = %v", bad, err)
		}
	}
}

func TestColdcardRoundTrip(t *testing.T) {
	for _, net := range []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.TestNet3Params} {
		for _, f := range coldcardFormats {
			script := uint32(2)
			if f.label != "P2WSH" {
				script = 1
			}
			keys := testKeys(t, 3, net, script)
			d, err := f.build(2, keys)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(net.Name+"/"+f.label, func(t *testing.T) {
				text, err := ExportColdcard("Vault 7", d)
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{"# Coldcard Multisig setup file", "Name: Vault 7\n", "Policy: 2 of 3\n",
					"Derivation: " + formatPath(keys[0].Path) + "\n", "Format: " + f.label + "\n",
					fmt.Sprintf("%X: %s\n", keys[1].Fingerprint[:], keys[1].XPub)} {
					if !strings.Contains(text, want) {
						t.Errorf("export lacks %q:\n%s", want, text)
					}
				}
				back, name, err := ImportColdcard(text, net)
				if err != nil {
					t.Fatalf("%v\n%s", err, text)
				}
				if name != "Vault 7" || back.String() != d.String() {
					t.Errorf("round trip:\n got %s %s\nwant %s", name, back, d)
				}
			})
		}
	}
}

func TestColdcardPathsDiffer(t *testing.T) {
	net := &chaincfg.TestNet3Params
	keys := testKeys(t, 2, net, 2)
	keys = append(keys, newTestSigner(t, 9, net).account(t, []uint32{h + 45}))
	d, err := descriptor.NewSortedMultiWSH(2, keys)
	if err != nil {
		t.Fatal(err)
	}
	text, err := ExportColdcard("mixed", d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(text, "Derivation: ") != 3 {
		t.Errorf("want one Derivation line per key:\n%s", text)
	}
	back, _, err := ImportColdcard(text, net)
	if err != nil || back.String() != d.String() {
		t.Fatalf("round trip = %v, %v\n%s", back, err, text)
	}

	// The "# derivation:" comment form (Electrum, Sparrow), SLIP-132 keys,
	// lower-case fingerprints, a Coldcard header and inline comments.
	var b strings.Builder
	b.WriteString("# Coldcard Multisig setup file (created on 0F056943)\n#\nName: mixed\nPolicy: 2/3 # two of three\nFormat: p2wsh\n\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "# derivation: %s\n%x: %s\n\n", strings.ReplaceAll(formatPath(k.Path), "'", "h"), k.Fingerprint[:],
			reversion(t, k.XPub, [4]byte{0x02, 0x57, 0x54, 0x83})) // Vpub
	}
	back, name, err := ImportColdcard(b.String(), net)
	if err != nil || back.String() != d.String() || name != "mixed" {
		t.Fatalf("comment form = %v %q, %v\n%s", back, name, err, b.String())
	}
}

func TestColdcardRefused(t *testing.T) {
	net := &chaincfg.TestNet3Params
	keys := testKeys(t, 3, net, 2)
	d, _ := descriptor.NewSortedMultiWSH(2, keys)
	good, err := ExportColdcard("ok", d)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ImportColdcard(good, net); err != nil {
		t.Fatal(err)
	}
	keyLine := func(i int) string { return fmt.Sprintf("%X: %s\n", keys[i].Fingerprint[:], keys[i].XPub) }
	other := newTestSigner(t, 7, net).account(t, keys[0].Path)
	mainKey := testKeys(t, 1, &chaincfg.MainNetParams, 2)[0]
	tprv := func() string {
		k := newTestSigner(t, 1, net).master
		for _, p := range keys[0].Path {
			k, _ = k.Derive(p)
		}
		return k.String()
	}()
	cases := []struct{ name, text, want string }{
		{"wrong count", strings.Replace(good, "2 of 3", "2 of 4", 1), "policy 2 of 4, but the file has 3 keys"},
		{"missing key", strings.Replace(good, keyLine(2), "", 1), "the file has 2 keys"},
		{"threshold above n", strings.Replace(good, "2 of 3", "4 of 3", 1), "not a threshold"},
		{"zero threshold", strings.Replace(good, "2 of 3", "0 of 3", 1), "not a threshold"},
		{"no policy", strings.Replace(good, "Policy: 2 of 3\n", "", 1), "no Policy"},
		{"bad policy", strings.Replace(good, "2 of 3", "two of three", 1), "bad or second Policy"},
		{"duplicate fingerprint", strings.Replace(good, keyLine(2), fmt.Sprintf("%X: %s\n", keys[0].Fingerprint[:], other.XPub), 1), "fingerprint " + fmt.Sprintf("%X", keys[0].Fingerprint[:]) + " twice"},
		{"duplicate key", strings.Replace(good, keyLine(2), fmt.Sprintf("%X: %s\n", keys[2].Fingerprint[:], keys[0].XPub), 1), "given twice"},
		{"bad xpub checksum", strings.Replace(good, keys[1].XPub, keys[1].XPub[:50]+"x"+keys[1].XPub[51:], 1), "bad checksum"},
		{"bad xpub", strings.Replace(good, keys[1].XPub, "tpubnonsense", 1), "not an extended key"},
		{"private key", strings.Replace(good, keys[1].XPub, tprv, 1), "private key"},
		{"unknown format", strings.Replace(good, "Format: P2WSH", "Format: P2TR", 1), "unknown Format"},
		{"second format", strings.Replace(good, "Format: P2WSH", "Format: P2WSH\nFormat: P2SH", 1), "second Format"},
		{"another network", strings.Replace(good, keys[1].XPub, mainKey.XPub, 1), "is not for testnet3"},
		{"depth mismatch", strings.Replace(good, "Derivation: m/48'/1'/0'/2'", "Derivation: m/48'/1'/0'", 1), "depth 4"},
		{"no derivation", strings.Replace(good, "Derivation: m/48'/1'/0'/2'\n", "", 1), "no derivation path"},
		{"bad derivation", strings.Replace(good, "m/48'/1'/0'/2'", "m/48'/x/0'/2'", 1), "not a derivation step"},
		{"unknown label", strings.Replace(good, "Name: ok", "Name: ok\nColour: red", 1), "unknown label"},
		{"no colon", strings.Replace(good, "Name: ok", "Name: ok\njunk", 1), "not \"label: value\""},
		{"long name", strings.Replace(good, "Name: ok", "Name: "+strings.Repeat("n", 21), 1), "1 to 20"},
		{"dangling comment", good + "# derivation: m/48'/1'/0'/2'\n", "ends with"},
		{"empty", "", "no Policy"},
		{"too large", strings.Repeat("#", MaxInput+1), "exceeds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ImportColdcard(c.text, net)
			if err == nil {
				t.Fatalf("accepted:\n%s", c.text)
			}
			if !strings.HasPrefix(err.Error(), "setup: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to say %q", err, c.want)
			}
		})
	}
	// Mainnet keys are refused on testnet and the other way round.
	if _, _, err := ImportColdcard(good, &chaincfg.MainNetParams); err == nil || !strings.Contains(err.Error(), "not for mainnet") {
		t.Errorf("testnet file on mainnet: %v", err)
	}
}

func TestExportColdcardRefused(t *testing.T) {
	net := &chaincfg.TestNet3Params
	keys := testKeys(t, 3, net, 2)
	wsh, _ := descriptor.NewSortedMultiWSH(2, keys)
	tr, _ := descriptor.NewSortedMultiTaproot(2, keys)
	multi, err := descriptor.Parse(strings.Replace(strings.Split(wsh.String(), "#")[0], "sortedmulti", "multi", 1))
	if err != nil {
		t.Fatal(err)
	}
	single, err := descriptor.Parse(strings.ReplaceAll(strings.Split(wsh.String(), "#")[0], "/<0;1>/*", "/0/*"))
	if err != nil {
		t.Fatal(err)
	}
	big, err := descriptor.NewSortedMultiWSH(2, testKeys(t, 16, net, 2))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		d    *descriptor.Descriptor
		want string
	}{
		{"16 keys", big, "at most 15"},
		{"taproot", tr, "sortedmulti() in wsh()"},
		{"multi", multi, "sortedmulti() in wsh()"},
		{"no multipath", single, "/<0;1>/*"},
		{"long name", wsh, "1 to 20"},
		{"newline in name", wsh, "printable"},
	}
	for _, c := range cases {
		name := "v"
		switch c.name {
		case "long name":
			name = strings.Repeat("v", 21)
		case "newline in name":
			name = "v\nFormat: P2SH"
		}
		if _, err := ExportColdcard(name, c.d); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}
