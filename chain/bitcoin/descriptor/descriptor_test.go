package descriptor

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"
)

var accountPath = []uint32{48 + hardened, 1 + hardened, hardened, 2 + hardened}

// testAccounts returns three signers' account keys (m/48'/1'/0'/2', tpub)
// with their true master fingerprints, and the account private keys.
func testAccounts(t testing.TB) ([]KeySpec, []*hdkeychain.ExtendedKey) {
	t.Helper()
	var specs []KeySpec
	var privs []*hdkeychain.ExtendedKey
	for s := byte(1); s <= 3; s++ {
		m, err := hdkeychain.NewMaster(bytes.Repeat([]byte{s}, 32), &chaincfg.RegressionNetParams)
		if err != nil {
			t.Fatal(err)
		}
		mpub, _ := m.ECPubKey()
		k := m
		for _, p := range accountPath {
			if k, err = k.Derive(p); err != nil {
				t.Fatal(err)
			}
		}
		n, err := k.Neuter()
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, KeySpec{
			Fingerprint: [4]byte(address.Hash160(mpub.SerializeCompressed())[:4]),
			Path:        slices.Clone(accountPath),
			XPub:        n.String(),
		})
		privs = append(privs, k)
	}
	return specs, privs
}

func testVault(t testing.TB) *Descriptor {
	t.Helper()
	specs, _ := testAccounts(t)
	d, err := NewSortedMultiWSH(2, specs)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func childPub(t testing.TB, k *hdkeychain.ExtendedKey, path ...uint32) []byte {
	t.Helper()
	for _, p := range path {
		var err error
		if k, err = k.Derive(p); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := k.ECPubKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub.SerializeCompressed()
}

func TestDeriveSortedMultiWSHMatchesManual(t *testing.T) {
	specs, privs := testAccounts(t)
	d := testVault(t)
	if d.PathCount() != 2 || !d.IsRange() || d.Network() != Testnet || d.HasPrivateKeys() {
		t.Fatalf("descriptor %s: PathCount %d, IsRange %v, Network %s", d, d.PathCount(), d.IsRange(), d.Network())
	}
	if k, n, ok := d.Threshold(); k != 2 || n != 3 || !ok {
		t.Fatalf("Threshold() = %d, %d, %v", k, n, ok)
	}
	for branch := uint32(0); branch < 2; branch++ {
		x, err := d.Derive(int(branch), 5)
		if err != nil {
			t.Fatal(err)
		}
		// The keys, derived by hand from the account private keys.
		var pubs [][]byte
		for i, acct := range privs {
			pub := childPub(t, acct, branch, 5)
			pubs = append(pubs, pub)
			dk := x.Keys[i]
			if !bytes.Equal(dk.PubKey, pub) || dk.Fingerprint != specs[i].Fingerprint ||
				!slices.Equal(dk.Path, append(slices.Clone(accountPath), branch, 5)) {
				t.Fatalf("branch %d key %d: %x %x %v", branch, i, dk.PubKey, dk.Fingerprint, dk.Path)
			}
		}
		slices.SortFunc(pubs, bytes.Compare)
		b := txscript.NewScriptBuilder().AddOp(txscript.OP_2)
		for _, p := range pubs {
			b.AddData(p)
		}
		ws, err := b.AddOp(txscript.OP_3).AddOp(txscript.OP_CHECKMULTISIG).Script()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x.WitnessScript, ws) {
			t.Fatalf("witness script %x, want %x", x.WitnessScript, ws)
		}
		h := sha256.Sum256(ws)
		if !bytes.Equal(x.ScriptPubKey, append([]byte{txscript.OP_0, 32}, h[:]...)) || x.RedeemScript != nil {
			t.Fatalf("scriptPubKey %x is not OP_0 SHA256(witness script)", x.ScriptPubKey)
		}
		for i, dk := range x.Keys {
			key, mp, idx, ok := d.MatchPubKey(dk.PubKey, dk.Fingerprint, dk.Path)
			if !ok || key != i || mp != int(branch) || idx != 5 {
				t.Fatalf("MatchPubKey(key %d) = key %d at %d/%d %v, want %d/5", i, key, mp, idx, ok, branch)
			}
		}
		addr, err := d.Address(int(branch), 5, &chaincfg.RegressionNetParams)
		if err != nil {
			t.Fatal(err)
		}
		_, addrs, _, err := txscript.ExtractPkScriptAddrs(x.ScriptPubKey, &chaincfg.RegressionNetParams)
		if err != nil || len(addrs) != 1 || addrs[0].EncodeAddress() != addr || !strings.HasPrefix(addr, "bcrt1q") {
			t.Fatalf("Address() = %s, script gives %v (%v)", addr, addrs, err)
		}
	}
}

func TestMatchRefusesForeignPath(t *testing.T) {
	specs, privs := testAccounts(t)
	d := testVault(t)
	base := specs[0].Path
	at := func(p ...uint32) []uint32 { return append(slices.Clone(base), p...) }
	fp := specs[0].Fingerprint
	good := childPub(t, privs[0], 1, 7)
	if key, mp, idx, ok := d.MatchPubKey(good, fp, at(1, 7)); !ok || key != 0 || mp != 1 || idx != 7 {
		t.Fatalf("the genuine claim: %d/%d %v", mp, idx, ok)
	}
	for name, c := range map[string]struct {
		pub  []byte
		fp   [4]byte
		path []uint32
	}{
		"other fingerprint":        {good, [4]byte{9, 9, 9, 9}, at(1, 7)},
		"branch 2":                 {good, fp, at(2, 7)},
		"hardened index":           {good, fp, at(1, 7+hardened)},
		"too short":                {good, fp, at(1)},
		"too long":                 {good, fp, at(1, 7, 0)},
		"other account":            {good, fp, []uint32{48 + hardened, 1 + hardened, 1 + hardened, 2 + hardened, 1, 7}},
		"pubkey of another index":  {childPub(t, privs[0], 1, 8), fp, at(1, 7)},
		"pubkey of another signer": {childPub(t, privs[1], 1, 7), fp, at(1, 7)},
		"no pubkey":                {nil, fp, at(1, 7)},
		"overlong path":            {good, fp, make([]uint32, MaxPathLength+1)},
	} {
		if _, mp, idx, ok := d.MatchPubKey(c.pub, c.fp, c.path); ok {
			t.Errorf("%s: matched branch %d index %d", name, mp, idx)
		}
		if name != "pubkey of another index" && name != "pubkey of another signer" && name != "no pubkey" {
			if _, _, ok := d.Match(c.fp, c.path); ok {
				t.Errorf("%s: Match accepted the path", name)
			}
		}
	}
}

// TestMatchRefusesClaimsThatNameNoBranch: a key without a multipath group
// fits every branch, so a claim on it cannot say which one is meant.
func TestMatchRefusesClaimsThatNameNoBranch(t *testing.T) {
	specs, privs := testAccounts(t)
	d, err := Parse("wsh(multi(1,[" + hexFP(specs[0]) + "/48'/1'/0'/2']" + specs[0].XPub + "/<0;1>/*,[" + hexFP(specs[1]) + "/48'/1'/0'/2']" + specs[1].XPub + "/0/*))")
	if err != nil {
		t.Fatal(err)
	}
	path := append(slices.Clone(accountPath), 0, 3)
	if _, _, _, ok := d.MatchPubKey(childPub(t, privs[1], 0, 3), specs[1].Fingerprint, path); ok {
		t.Fatal("a claim on the key without multipath group named a branch")
	}
	if key, mp, idx, ok := d.MatchPubKey(childPub(t, privs[0], 0, 3), specs[0].Fingerprint, path); !ok || key != 0 || mp != 0 || idx != 3 {
		t.Fatalf("claim on the multipath key: %d/%d %v", mp, idx, ok)
	}
}

func hexFP(k KeySpec) string { return hex.EncodeToString(k.Fingerprint[:]) }

func TestParseRefusesDuplicateKeys(t *testing.T) {
	specs, privs := testAccounts(t)
	x0, x1 := specs[0].XPub, specs[1].XPub
	child := func(i uint32) string {
		c, err := privs[0].Derive(i)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := c.Neuter()
		return n.String()
	}
	const pub = "03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd"
	for name, desc := range map[string]string{
		"same hex key":             "wsh(multi(1," + pub + "," + pub + "))",
		"same hex key as WIF":      "wsh(multi(1,L4rK1yDtCWekvXuE6oXD9jCYfFNV2cWRpVuPLBcCU2z8TrisoyY1," + pub + "))",
		"same xpub":                "wsh(sortedmulti(2," + x0 + "/<0;1>/*," + x0 + "/<0;1>/*," + x1 + "/<0;1>/*))",
		"same xpub on other paths": "wsh(sortedmulti(2," + x0 + "/<0;1>/*," + x0 + "/<2;3>/*," + x1 + "/<0;1>/*))",
		"xpub and its child xpub":  "wsh(multi(2," + x0 + "/0/*," + child(0) + "/*))",
		"equal on branch 1 only":   "wsh(multi(2," + x0 + "/<0;1>/*," + child(1) + "/*))",
		"one origin, two keys":     "wsh(multi(2,[01020304/1]" + x0 + "/*,[01020304/1]" + x1 + "/*))",
		"xpub and its xprv":        "wsh(multi(2," + x0 + "/*," + privs[0].String() + "/*))",
	} {
		if _, err := Parse(desc); err == nil {
			t.Errorf("%s: accepted", name)
		} else if name != "one origin, two keys" && !errors.Is(err, ErrDuplicateKey) {
			t.Errorf("%s: %v, want ErrDuplicateKey", name, err)
		}
	}
	// The same account key under two fingerprints, through the builder.
	dup := slices.Clone(specs)
	dup[2] = dup[0]
	dup[2].Fingerprint = [4]byte{7, 7, 7, 7}
	if _, err := NewSortedMultiWSH(2, dup); !errors.Is(err, ErrDuplicateKey) {
		t.Errorf("NewSortedMultiWSH with a repeated xpub: %v", err)
	}
	// A fixed key equal to a ranged key's child 5: distinct at child 0, so
	// parsing accepts it, but Derive refuses child 5.
	five := childPub(t, privs[0], 0, 5)
	d, err := Parse("wsh(multi(2," + x0 + "/0/*," + hex.EncodeToString(five) + "))")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Derive(0, 5); !errors.Is(err, ErrDuplicateKey) {
		t.Errorf("Derive at the colliding child: %v", err)
	}
	if _, err := d.Derive(0, 4); err != nil {
		t.Errorf("Derive elsewhere: %v", err)
	}
}

func TestParseRefusesThresholdZero(t *testing.T) {
	const a, b = "03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd", "0260b2003c386519fc9eadf2b5cf124dd8eea4c4e68d5e154050a9346ea98ce600"
	for _, desc := range []string{
		"multi(0," + a + "," + b + ")",
		"sortedmulti(0," + a + "," + b + ")",
		"wsh(sortedmulti(0," + a + "," + b + "))",
		"wsh(multi(00," + a + "," + b + "))",
		"wsh(multi(3," + a + "," + b + "))",
		"wsh(multi(-1," + a + "," + b + "))",
		"wsh(multi(01," + a + "," + b + "))",
		"wsh(multi(1))",
		"wsh(multi(," + a + "))",
	} {
		if _, err := Parse(desc); err == nil {
			t.Errorf("%s accepted", desc)
		}
	}
	specs, _ := testAccounts(t)
	for _, k := range []int{0, -1, 4} {
		if _, err := NewSortedMultiWSH(k, specs); err == nil {
			t.Errorf("NewSortedMultiWSH(%d, 3 keys) accepted", k)
		}
	}
}

func TestParseRefusesBadChecksum(t *testing.T) {
	s := testVault(t).String()
	body, sum, _ := strings.Cut(s, "#")
	flip := []byte(sum)
	flip[7] = checksumCharset[(strings.IndexByte(checksumCharset, flip[7])+1)%32]
	for _, bad := range []string{
		body + "#" + string(flip),
		body + "#" + strings.ToUpper(sum),
		body + "#" + sum[:7],
		body + "#" + sum + "q",
		body + "#",
		body[:len(body)-3] + "1" + body[len(body)-2:] + "#" + sum,
	} {
		if _, err := Parse(bad); !errors.Is(err, ErrBadChecksum) {
			t.Errorf("%s: %v, want ErrBadChecksum", bad, err)
		}
	}
	if _, err := ParseStrict(body); !errors.Is(err, ErrBadChecksum) {
		t.Fatalf("ParseStrict without checksum: %v", err)
	}
	if _, err := Parse(body); err != nil {
		t.Fatalf("Parse without checksum: %v", err)
	}
	if d, err := ParseStrict(s); err != nil || d.String() != s {
		t.Fatalf("ParseStrict(%s): %v", s, err)
	}
}

func TestParseRefusesOversize(t *testing.T) {
	if _, err := Parse(strings.Repeat("a", MaxLength+1)); err == nil {
		t.Fatal("oversize descriptor accepted")
	}
	if _, err := ParseKey(strings.Repeat("a", MaxLength+1)); err == nil {
		t.Fatal("oversize key accepted")
	}
}
