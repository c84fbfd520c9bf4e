package descriptor

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// Keys from the BIP vectors: BIP-32 test vector 2's master key pair, and
// one point written compressed, uncompressed and as WIF.
const (
	tv2XPrv = "xprv9s21ZrQH143K31xYSDQpPDxsXRTUcvj2iNHm5NUtrGiGG5e2DtALGdso3pGz6ssrdK4PFmM8NSpSBHNqPqm55Qn3LqFtT2emdEXVYsCzC2U"
	tv2XPub = "xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB"
	pubC    = "03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd"
	pubU    = "04a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd5b8dec5235a0fa8722476c7709c02559e3aa73aa03918ba2d492eea75abea235"
	pubC2   = "0260b2003c386519fc9eadf2b5cf124dd8eea4c4e68d5e154050a9346ea98ce600"
	wifU    = "5KYZdUEo39z3FPrtuX2QbbwGnNP5zTd7yyr2SC1j299sBCnWjss"
)

func mustParse(t *testing.T, s string) *Descriptor {
	t.Helper()
	d, err := Parse(s)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return d
}

func refuse(t *testing.T, want error, descs ...string) {
	t.Helper()
	for _, s := range descs {
		_, err := Parse(s)
		if err == nil {
			t.Errorf("%s: accepted", s)
		} else if want != nil && !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", s, err, want)
		}
	}
}

func TestParseRefusesUncompressedUnderSegwit(t *testing.T) {
	refuse(t, nil,
		"wsh(multi(1,"+pubC+","+pubU+"))",
		"sh(wsh(sortedmulti(1,"+pubC+","+wifU+")))",
		"sh(wsh(pkh("+pubU+")))",
		"wpkh(["+"deadbeef/0h]"+pubU+")",
	)
	mustParse(t, "sh(multi(1,"+pubC2+","+pubU+"))")
	mustParse(t, "pkh("+wifU+")")
}

func TestParseRefusesHardenedBelowXPub(t *testing.T) {
	refuse(t, ErrHardenedPublic,
		"pkh("+tv2XPub+"/0h/*)",
		"pkh("+tv2XPub+"/0/*')",
		"wpkh("+tv2XPub+"/<0;1h>/*)",
		"wsh(multi(1,"+pubC+","+tv2XPub+"/1/2'))",
	)
	mustParse(t, "pkh("+tv2XPrv+"/0h/<0;1h>/*h)")
	if _, err := ParseKey(tv2XPub + "/0h/*"); err != nil {
		t.Fatalf("ParseKey checks syntax only, as BIP-380 does: %v", err)
	}
}

func TestParseRefusesMixedNetworks(t *testing.T) {
	specs, _ := testAccounts(t)
	priv, _ := btcec.PrivKeyFromBytes(append(make([]byte, 31), 1))
	w, err := btcutil.NewWIF(priv, &chaincfg.TestNet3Params, true)
	if err != nil {
		t.Fatal(err)
	}
	testnetWIF := w.String()
	refuse(t, nil,
		"wsh(multi(1,"+tv2XPub+"/*,"+specs[0].XPub+"/*))",
		"wsh(multi(1,"+testnetWIF+","+tv2XPub+"))",
	)
	if n := mustParse(t, "pkh("+testnetWIF+")").Network(); n != Testnet {
		t.Errorf("testnet WIF: %s", n)
	}
	if n := mustParse(t, "pkh("+tv2XPub+")").Network(); n != Mainnet {
		t.Errorf("xpub: %s", n)
	}
	if n := mustParse(t, "pkh("+pubC+")").Network(); n != AnyNetwork {
		t.Errorf("hex key: %s", n)
	}
	vault := testVault(t)
	if _, err := vault.Address(0, 0, &chaincfg.MainNetParams); err == nil {
		t.Error("tpub vault gave a mainnet address")
	}
	for _, p := range []*chaincfg.Params{&chaincfg.TestNet3Params, &chaincfg.TestNet4Params, &chaincfg.SigNetParams, &chaincfg.RegressionNetParams} {
		if _, err := vault.Address(0, 0, p); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
	}
}

func TestParseRefusesMismatchedMultipath(t *testing.T) {
	specs, _ := testAccounts(t)
	refuse(t, nil,
		"wsh(sortedmulti(2,"+specs[0].XPub+"/<0;1>/*,"+specs[1].XPub+"/<0;1;2>/*))",
		"wsh(sortedmulti(2,"+specs[0].XPub+"/<0;1>/<0;1>/*,"+specs[1].XPub+"/<0;1>/*))",
		"wsh(sortedmulti(2,"+specs[0].XPub+"/<0;0>/*,"+specs[1].XPub+"/<0;1>/*))",
		"pkh("+tv2XPub+"/<0>/*)",
		"pkh("+tv2XPub+"/<0;1>/<*;2>)",
		"pkh("+tv2XPub+"/<0;1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16>)",
	)
}

func TestParseRefusesHardenedMarkerH(t *testing.T) {
	refuse(t, nil,
		"pkh("+tv2XPrv+"/0H)",
		"pkh("+tv2XPrv+"/*H)",
		"pkh([deadbeef/0H]"+pubC+")",
		"pkh("+tv2XPrv+"/<0H;1>)",
	)
}

// TestParseRefusesStrayText: leading zeros, whitespace, trailing or missing
// characters are refused rather than skipped, so that what is checked is
// exactly what String prints.
func TestParseRefusesStrayText(t *testing.T) {
	refuse(t, nil,
		"pkh("+tv2XPub+"/01)",
		"pkh([deadbeef/00h]"+pubC+")",
		"pkh("+pubC+")x",
		"pkh("+pubC+"))",
		"pkh("+pubC,
		" pkh("+pubC+")",
		"pkh( "+pubC+")",
		"pkh()",
		"",
		"PKH("+pubC+")",
		"pkh("+pubC+",)",
		"pkh("+pubC+","+pubC2+")",
	)
}

// TestParseRefusesForeignExtendedKeys: SLIP-132 versions, a version that
// disagrees with the key data, and a master key with a parent (BIP-32 test
// vector 5) are not BIP-32 xpubs; hdkeychain would let them through.
func TestParseRefusesForeignExtendedKeys(t *testing.T) {
	master, err := hdkeychain.NewKeyFromString(tv2XPrv)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := master.Neuter()
	zpub, _ := pub.CloneWithVersion([]byte{0x04, 0xb2, 0x47, 0x46})
	xpubVersionPrivData, _ := master.CloneWithVersion(chaincfg.MainNetParams.HDPublicKeyID[:])
	key, _ := pub.ECPubKey()
	orphan := hdkeychain.NewExtendedKey(chaincfg.MainNetParams.HDPublicKeyID[:], key.SerializeCompressed(), pub.ChainCode(), []byte{1, 2, 3, 4}, 0, 0, false)
	for name, k := range map[string]string{
		"zpub":                      zpub.String(),
		"xpub version on a private": xpubVersionPrivData.String(),
		"depth 0 with a parent":     orphan.String(),
	} {
		if _, err := Parse("pkh(" + k + ")"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestMultisigKeyLimits: BIP-383's bounds on n per context, and the P2SH
// redeemScript limit that makes uncompressed keys count more.
func TestMultisigKeyLimits(t *testing.T) {
	multi := func(n int, key string) string {
		return "multi(1" + strings.Repeat(","+key, n) + ")"
	}
	// Distinct keys: children of one key, written as hex.
	master, err := hdkeychain.NewKeyFromString(tv2XPrv)
	if err != nil {
		t.Fatal(err)
	}
	keys := func(n int) string {
		var b strings.Builder
		b.WriteString("sortedmulti(1")
		for i := range uint32(n) {
			b.WriteString("," + hex.EncodeToString(childPub(t, master, i)))
		}
		b.WriteString(")")
		return b.String()
	}
	mustParse(t, keys(3))
	mustParse(t, "sh("+keys(15)+")")
	mustParse(t, "wsh("+keys(20)+")")
	refuse(t, nil, keys(4), "sh("+keys(16)+")", "wsh("+keys(21)+")", "sh(wsh("+keys(21)+"))")
	// Eight uncompressed keys make a 531-byte redeemScript.
	refuse(t, nil, "sh("+multi(8, pubU)+")")
}

// TestUnsupportedExpressionsWrapErrUnsupported: valid syntax of other BIPs
// is refused as unsupported, and where their BIP forbids it, as invalid.
func TestUnsupportedExpressionsWrapErrUnsupported(t *testing.T) {
	for _, s := range []string{"combo(" + pubC + ")", "tr(" + pubC + ",pk(musig(" + pubC + "," + pubC2 + ")))", "wsh(or_i(pk(" + pubC + "),pk(" + pubC2 + ")))", "wsh(and_v(v:pk(" + pubC + "),after(10)))", "tr(" + pubC + ",s:pk(" + pubC + "))"} {
		if _, err := Parse(s); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", s, err)
		}
	}
	for _, s := range []string{"tr(" + pubC + ")", "rawtr(" + pubC + ")", "combo(" + pubC + ")", "raw(00)", "addr(bc1q)"} {
		if _, err := Parse("sh(" + s + ")"); err == nil || errors.Is(err, ErrUnsupported) {
			t.Errorf("sh(%s): %v, want an invalid-descriptor error", s, err)
		}
	}
	if _, err := Parse("wsh(multi_a(1," + pubC + "))"); err == nil || errors.Is(err, ErrUnsupported) {
		t.Errorf("multi_a in wsh: %v", err)
	}
	if _, err := Parse("frob(" + pubC + ")"); err == nil || errors.Is(err, ErrUnsupported) {
		t.Errorf("unknown function: %v", err)
	}
}
