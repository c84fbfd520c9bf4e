package bitcoin

import (
	"context"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/address/v2/base58"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
	"github.com/airlock-vault/airlock/keys"
)

// rawXPub is the 78-byte serialization a PSBT's global xpub holds.
func rawXPub(t *testing.T, k *hdkeychain.ExtendedKey) []byte {
	t.Helper()
	b := base58.Decode(k.String())
	return b[:len(b)-4]
}

func (s *seedSigner) accountXPub(t *testing.T, net *chaincfg.Params) *hdkeychain.ExtendedKey {
	k, err := s.derive(accountPath).Neuter()
	if err != nil {
		t.Fatal(err)
	}
	if net != nil {
		if k, err = k.CloneWithVersion(net.HDPublicKeyID[:]); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

func TestGlobalXPubsChecked(t *testing.T) {
	f := newFixture(t, 2)
	review := func(fn func(p *psbt.Packet)) *chain.Review {
		r, err := Adapter{}.Review(context.Background(), f.vault, f.edit(t, fn))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// The vault's own xpubs: nothing to say.
	r := review(func(p *psbt.Packet) {
		for _, s := range f.signers {
			p.XPubs = append(p.XPubs, psbt.XPub{ExtendedKey: rawXPub(t, s.accountXPub(t, nil)), Fingerprint: s.fp, Path: accountPath})
		}
	})
	if len(r.Flags) != 0 {
		t.Fatalf("the vault's own xpubs flagged: %v", r.Flags)
	}
	// A stranger's xpub.
	stranger := newSeedSigner(t, 9)
	r = review(func(p *psbt.Packet) {
		p.XPubs = append(p.XPubs, psbt.XPub{ExtendedKey: rawXPub(t, stranger.accountXPub(t, nil)), Fingerprint: stranger.fp, Path: accountPath})
	})
	if !hasFlag(r, FlagXPubMismatch, chain.Block) {
		t.Fatalf("flags %v", r.Flags)
	}
	// The vault's key, as a mainnet xpub.
	r = review(func(p *psbt.Packet) {
		s := f.signers[0]
		p.XPubs = append(p.XPubs, psbt.XPub{ExtendedKey: rawXPub(t, s.accountXPub(t, &chaincfg.MainNetParams)), Fingerprint: s.fp, Path: accountPath})
	})
	if !hasFlag(r, FlagNetworkMismatch, chain.Block) {
		t.Fatalf("flags %v", r.Flags)
	}
	// Two different keys under one master fingerprint.
	r = review(func(p *psbt.Packet) {
		d := p.Inputs[0].Bip32Derivations
		d[1].Fingerprint, d[1].Path = d[0].Fingerprint, d[0].Path
	})
	if !hasFlag(r, FlagDuplicateFingerprint, chain.Block) {
		t.Fatalf("flags %v", r.Flags)
	}
}

func TestVaultFromDescriptor(t *testing.T) {
	f := newFixture(t, 2)
	v, err := VaultFromDescriptor(f.vault.Descriptor, "regtest")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Adapter{}.Review(context.Background(), v, f.payload)
	if err != nil || len(r.Blocking()) != 0 {
		t.Fatalf("review from the descriptor alone: %v %v", err, r)
	}
	if _, err := VaultFromDescriptor(f.vault.Descriptor, "mainnet"); err == nil {
		t.Fatal("test keys accepted for mainnet")
	}
}

// A key written in SLIP-132 form (Vpub: testnet P2WSH multisig) is the
// same key as its tpub.
func TestParseAccountKeySLIP132(t *testing.T) {
	s := newSeedSigner(t, 1)
	tpub := s.accountXPub(t, nil)
	b := base58.Decode(tpub.String())
	raw := append([]byte{0x02, 0x57, 0x54, 0x83}, b[4:len(b)-4]...) // Vpub version bytes
	vpub := encodeXPub(raw)
	if !strings.HasPrefix(vpub, "Vpub") {
		t.Fatalf("made %s", vpub)
	}
	net, _ := Network("regtest")
	k, err := ParseAccountKey("["+keys.FormatFingerprint(s.fp)+"/48'/1'/0'/2']"+vpub, net)
	if err != nil {
		t.Fatal(err)
	}
	if k.XPub != tpub.String() {
		t.Fatalf("got %s, want %s", k.XPub, tpub)
	}
}
