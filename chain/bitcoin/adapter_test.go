package bitcoin

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
	"github.com/airlock-vault/airlock/keys"
)

// seedSigner is a keys.ChainSigner over a fixed test seed. Like
// keys/keystore.Keystore it keeps the parent node of the keys it derives,
// so that signing many inputs costs one derivation each.
type seedSigner struct {
	master  *hdkeychain.ExtendedKey
	fp      [4]byte
	mu      sync.Mutex
	parents map[string]*hdkeychain.ExtendedKey
}

func newSeedSigner(t testing.TB, seed byte) *seedSigner {
	t.Helper()
	m, err := hdkeychain.NewMaster(bytes.Repeat([]byte{seed}, 32), &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := m.ECPubKey()
	s := &seedSigner{master: m}
	copy(s.fp[:], address.Hash160(pub.SerializeCompressed())[:4])
	return s
}

func (s *seedSigner) derive(path []uint32) *hdkeychain.ExtendedKey {
	if len(path) == 0 {
		return s.master
	}
	id := fmt.Sprint(path[:len(path)-1])
	s.mu.Lock()
	parent, ok := s.parents[id]
	if !ok {
		parent = s.master
		for _, i := range path[:len(path)-1] {
			parent, _ = parent.Derive(i)
		}
		_, _ = parent.ECPubKey() // memoized under the lock
		if s.parents == nil {
			s.parents = map[string]*hdkeychain.ExtendedKey{}
		}
		s.parents[id] = parent
	}
	s.mu.Unlock()
	k, _ := parent.Derive(path[len(path)-1])
	return k
}

func (s *seedSigner) MasterFingerprint() [4]byte { return s.fp }

func (s *seedSigner) PublicKey(path []uint32) ([]byte, error) {
	pub, err := s.derive(path).ECPubKey()
	if err != nil {
		return nil, err
	}
	return pub.SerializeCompressed(), nil
}

func (s *seedSigner) SignECDSA(path []uint32, digest []byte) ([]byte, error) {
	priv, err := s.derive(path).ECPrivKey()
	if err != nil {
		return nil, err
	}
	return ecdsa.Sign((*btcec.PrivateKey)(priv), digest).Serialize(), nil
}

var accountPath = []uint32{48 + keys.HardenedOffset, 1 + keys.HardenedOffset, 0 + keys.HardenedOffset, 2 + keys.HardenedOffset}

func (s *seedSigner) keyExpr() string {
	n, _ := s.derive(accountPath).Neuter()
	return "[" + keys.FormatFingerprint(s.fp) + "/48'/1'/0'/2']" + n.String()
}

type fixture struct {
	vault   chain.Vault
	signers []*seedSigner
	payload []byte
}

func newFixture(t testing.TB, k int) *fixture {
	t.Helper()
	f := &fixture{}
	v := chain.Vault{Name: "ops", Chain: "bitcoin", Network: "regtest", Threshold: k}
	for i := byte(1); i <= 3; i++ {
		s := newSeedSigner(t, i)
		f.signers = append(f.signers, s)
		v.Keys = append(v.Keys, s.keyExpr())
	}
	v, err := Adapter{}.PrepareVault(v)
	if err != nil {
		t.Fatal(err)
	}
	f.vault = v
	_, f.payload, err = Synthetic(v, 5, "", 30_000_000, 2_000)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) edit(t testing.TB, fn func(p *psbt.Packet)) []byte {
	t.Helper()
	p, err := psbt.Decode(f.payload)
	if err != nil {
		t.Fatal(err)
	}
	fn(p)
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hasFlag(r *chain.Review, code string, sev chain.Severity) bool {
	for _, fl := range r.Flags {
		if fl.Code == code && fl.Severity == sev {
			return true
		}
	}
	return false
}

func TestReviewProvesInputsAndChange(t *testing.T) {
	f := newFixture(t, 2)
	r, err := Adapter{}.Review(context.Background(), f.vault, f.payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Blocking()) != 0 {
		t.Fatalf("clean PSBT has blocking flags: %v", r.Flags)
	}
	d := r.Details.(Details)
	if !d.Inputs[0].Vault || d.Inputs[0].Path != "0/5" || d.Inputs[0].Amount != 100_000_000 {
		t.Fatalf("input not proven: %+v", d.Inputs[0])
	}
	if d.Outputs[0].Change || !d.Outputs[1].Change || d.Outputs[1].Path != "1/5" {
		t.Fatalf("change not proven: %+v", d.Outputs)
	}
	if d.Fee != 2_000 || d.Sending != 30_000_000 || d.VSize < 150 || d.VSize > 300 {
		t.Fatalf("fee %d, sending %d, vsize %d", d.Fee, d.Sending, d.VSize)
	}
	if len(r.Spends) != 1 || !strings.HasPrefix(r.Spends[0], "bitcoin:regtest:") {
		t.Fatalf("spends %v", r.Spends)
	}
}

func TestReviewFlagsChangeToForeignScript(t *testing.T) {
	f := newFixture(t, 2)
	attacker := bytes.Repeat([]byte{0xaa}, 32)
	bad := f.edit(t, func(p *psbt.Packet) {
		// Keep the change output's vault derivations, swap its script.
		p.UnsignedTx.TxOut[1].PkScript = append([]byte{0x00, 0x20}, attacker...)
	})
	r, err := Adapter{}.Review(context.Background(), f.vault, bad)
	if err != nil {
		t.Fatal(err)
	}
	if !hasFlag(r, FlagForeignChange, chain.Block) {
		t.Fatalf("flags %v, want foreign-change", r.Flags)
	}
}

func TestReviewFlagsDerivationPointingElsewhere(t *testing.T) {
	f := newFixture(t, 2)
	bad := f.edit(t, func(p *psbt.Packet) {
		// Claim index 6 instead of 5 for one key: derivations disagree.
		d := &p.Inputs[0].Bip32Derivations[0]
		d.Path = append(append([]uint32{}, d.Path[:len(d.Path)-1]...), 6)
	})
	r, err := Adapter{}.Review(context.Background(), f.vault, bad)
	if err != nil {
		t.Fatal(err)
	}
	if !hasFlag(r, FlagForeignInput, chain.Block) {
		t.Fatalf("flags %v, want foreign-input", r.Flags)
	}
}

func TestReviewFlagsUTXOMismatch(t *testing.T) {
	f := newFixture(t, 2)
	bad := f.edit(t, func(p *psbt.Packet) {
		p.Inputs[0].WitnessUtxo = wire.NewTxOut(p.Inputs[0].WitnessUtxo.Value*2, p.Inputs[0].WitnessUtxo.PkScript)
	})
	r, err := Adapter{}.Review(context.Background(), f.vault, bad)
	if err != nil {
		t.Fatal(err)
	}
	if !hasFlag(r, FlagUTXOMismatch, chain.Block) {
		t.Fatalf("flags %v, want utxo-mismatch", r.Flags)
	}
}

func TestReviewFlagsMissingUTXO(t *testing.T) {
	f := newFixture(t, 2)
	bad := f.edit(t, func(p *psbt.Packet) {
		p.Inputs[0].WitnessUtxo, p.Inputs[0].NonWitnessUtxo = nil, nil
	})
	r, err := Adapter{}.Review(context.Background(), f.vault, bad)
	if err != nil {
		t.Fatal(err)
	}
	if !hasFlag(r, FlagMissingUTXO, chain.Block) {
		t.Fatalf("flags %v, want missing-utxo", r.Flags)
	}
}

func TestReviewFlagsFeeOverCap(t *testing.T) {
	f := newFixture(t, 2)
	f.vault.Limits.MaxFee = 1_000
	r, err := Adapter{}.Review(context.Background(), f.vault, f.payload)
	if err != nil {
		t.Fatal(err)
	}
	if !hasFlag(r, FlagFeeHigh, chain.Block) {
		t.Fatalf("flags %v, want fee-high", r.Flags)
	}
	_, greedy, err := Synthetic(newFixture(t, 2).vault, 9, "", 1_000_000, 5_000_000)
	if err != nil {
		t.Fatal(err)
	}
	r, _ = Adapter{}.Review(context.Background(), newFixture(t, 2).vault, greedy)
	if !hasFlag(r, FlagFeeHigh, chain.Block) {
		t.Fatalf("a 5 BTC-cent fee on a 1 BTC-cent payment passed: %v", r.Flags)
	}
}

func TestReviewFlagsNonstandardSighash(t *testing.T) {
	f := newFixture(t, 2)
	bad := f.edit(t, func(p *psbt.Packet) {
		p.Inputs[0].SighashType, p.Inputs[0].HasSighashType = 0x83, true
	})
	r, _ := Adapter{}.Review(context.Background(), f.vault, bad)
	if !hasFlag(r, FlagSighashNonstandard, chain.Block) {
		t.Fatalf("flags %v, want sighash-nonstandard", r.Flags)
	}
	if _, err := (Adapter{}).Sign(f.vault, bad, f.vault.Keys[0], f.signers[0]); err == nil {
		t.Fatal("signed a PSBT asking for SIGHASH_SINGLE|ANYONECANPAY")
	}
}

func TestSignRefusesSwappedDevice(t *testing.T) {
	f := newFixture(t, 2)
	impostor := newSeedSigner(t, 99)
	impostor.fp = f.signers[0].fp // same fingerprint, different seed
	_, err := Adapter{}.Sign(f.vault, f.payload, f.vault.Keys[0], impostor)
	if err == nil || !strings.Contains(err.Error(), "wrong device or wrong seed") {
		t.Fatalf("got %v", err)
	}
}

func TestRoundTripAssemblesAndVerifies(t *testing.T) {
	f := newFixture(t, 2)
	sets := map[string][]chain.Signature{}
	for _, i := range []int{2, 0} {
		sigs, err := Adapter{}.Sign(f.vault, f.payload, f.vault.Keys[i], f.signers[i])
		if err != nil {
			t.Fatal(err)
		}
		ver, err := Adapter{}.Verify(f.vault, f.payload, f.vault.Keys[i], sigs)
		if err != nil || len(ver) != 1 || len(ver[0].Digest) != 32 {
			t.Fatalf("verify: %v %+v", err, ver)
		}
		sets[f.vault.Keys[i]] = sigs
	}
	final, err := Adapter{}.Assemble(f.vault, f.payload, sets)
	if err != nil {
		t.Fatal(err)
	}
	var tx wire.MsgTx
	if err := tx.Deserialize(bytes.NewReader(final.Raw)); err != nil {
		t.Fatal(err)
	}
	w := tx.TxIn[0].Witness
	if len(w) != 4 || len(w[0]) != 0 {
		t.Fatalf("witness %x: want empty dummy, 2 signatures, witness script", w)
	}
}

func TestAssembleRefusesTooFewOrTamperedSignatures(t *testing.T) {
	f := newFixture(t, 2)
	sigs, err := Adapter{}.Sign(f.vault, f.payload, f.vault.Keys[0], f.signers[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Adapter{}).Assemble(f.vault, f.payload, map[string][]chain.Signature{f.vault.Keys[0]: sigs}); err == nil {
		t.Fatal("assembled with one of two signatures")
	}
	other, _ := Adapter{}.Sign(f.vault, f.payload, f.vault.Keys[1], f.signers[1])
	bad := []chain.Signature{{Input: 0, PubKey: other[0].PubKey, Sig: bytes.Clone(other[0].Sig)}}
	bad[0].Sig[10] ^= 1
	_, err = Adapter{}.Assemble(f.vault, f.payload, map[string][]chain.Signature{f.vault.Keys[0]: sigs, f.vault.Keys[1]: bad})
	if err == nil {
		t.Fatal("assembled with a tampered signature")
	}
	// A valid signature presented as another key's is refused.
	if _, err := (Adapter{}).Verify(f.vault, f.payload, f.vault.Keys[0], other); err == nil {
		t.Fatal("bob's signature verified as alice's")
	}
}

func TestPrepareVaultRefusesBadKeys(t *testing.T) {
	f := newFixture(t, 2)
	cases := map[string][]string{
		"duplicate":   {f.vault.Keys[0], f.vault.Keys[0], f.vault.Keys[1]},
		"no origin":   {f.vault.Keys[0][strings.Index(f.vault.Keys[0], "]")+1:], f.vault.Keys[1]},
		"wrong depth": {strings.Replace(f.vault.Keys[0], "/48'/1'/0'/2'", "/48'/1'/0'", 1), f.vault.Keys[1]},
		"garbage":     {"[00000000]xyz", f.vault.Keys[1]},
	}
	for name, ks := range cases {
		t.Run(name, func(t *testing.T) {
			v := f.vault
			v.Keys, v.Descriptor, v.Threshold = ks, "", 1
			if _, err := (Adapter{}).PrepareVault(v); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	v := f.vault
	v.Network = "mainnet"
	if _, err := (Adapter{}).PrepareVault(v); err == nil || !strings.Contains(err.Error(), "not for mainnet") {
		t.Fatalf("tpubs accepted on mainnet: %v", err)
	}
}
