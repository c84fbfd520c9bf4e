package qr

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/btcsuite/btcd/address/v2"
	"github.com/btcsuite/btcd/btcutil/v2/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/chainhash/v2"
	"github.com/btcsuite/btcd/txscript/v2"
	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/proposal"
)

// vaultPSBT builds a realistic unsigned PSBT of about size bytes: a 2-of-3
// P2WSH vault spending n coins, each from its own funding transaction (one
// P2WPKH input with its witness, the vault output and change), with full
// UTXO information, witness scripts and every signer's derivation.
func vaultPSBT(b *testing.B, size int) []byte {
	b.Helper()
	v := chain.Vault{Name: "ops", Chain: "bitcoin", Network: "regtest", Threshold: 2}
	for s := byte(1); s <= 3; s++ {
		m, _ := hdkeychain.NewMaster(bytes.Repeat([]byte{s}, 32), &chaincfg.RegressionNetParams)
		pub, _ := m.ECPubKey()
		k := m
		for _, p := range []uint32{48 + keys.HardenedOffset, 1 + keys.HardenedOffset, keys.HardenedOffset, 2 + keys.HardenedOffset} {
			k, _ = k.Derive(p)
		}
		n, _ := k.Neuter()
		v.Keys = append(v.Keys, fmt.Sprintf("[%x/48'/1'/0'/2']%s", address.Hash160(pub.SerializeCompressed())[:4], n.String()))
	}
	v, err := bitcoin.Adapter{}.PrepareVault(v)
	if err != nil {
		b.Fatal(err)
	}
	dest, _ := bitcoin.DemoDestination("regtest")
	da, _ := address.DecodeAddress(dest, &chaincfg.RegressionNetParams)
	destScript, _ := txscript.PayToAddrScript(da)
	for n := 1; ; n++ {
		var sp bitcoin.Spend
		for i := 0; i < n; i++ {
			addr, _ := bitcoin.Address(v, 0, uint32(i))
			va, _ := address.DecodeAddress(addr, &chaincfg.RegressionNetParams)
			vs, _ := txscript.PayToAddrScript(va)
			h := chainhash.Hash(sha256.Sum256([]byte(fmt.Sprint("funding", i))))
			f := wire.NewMsgTx(2)
			// A signature and a pubkey as random as real ones.
			sig := sha256.Sum256([]byte(fmt.Sprint("sig", i)))
			sig2 := sha256.Sum256(sig[:])
			pk := sha256.Sum256([]byte(fmt.Sprint("pk", i)))
			in := wire.NewTxIn(wire.NewOutPoint(&h, 1), nil, wire.TxWitness{append(append(append([]byte{0x30, 0x44, 0x02, 0x20}, sig[:]...), 0x02, 0x20), append(sig2[:], 0x01)...), append([]byte{2}, pk[:]...)})
			f.AddTxIn(in)
			f.AddTxOut(wire.NewTxOut(1_000_000, vs))
			f.AddTxOut(wire.NewTxOut(5_000_000+int64(i), append([]byte{0, 20}, address.Hash160([]byte{byte(i)})...)))
			sp.Funding = append(sp.Funding, f)
			sp.Coins = append(sp.Coins, bitcoin.Coin{Tx: i, Vout: 0, Branch: 0, Index: uint32(i)})
		}
		sp.Outputs = []*wire.TxOut{wire.NewTxOut(int64(n)*1_000_000/2, destScript)}
		sp.ChangeAmount, sp.ChangeIndex = int64(n)*1_000_000/2-1_000*int64(n), 3
		raw, err := bitcoin.BuildPSBT(v, sp)
		if err != nil {
			b.Fatal(err)
		}
		if len(raw) >= size {
			return raw
		}
	}
}

func proposalEnvelope(b *testing.B, psbt []byte) []byte {
	policyID := sha256.Sum256([]byte("policy"))
	nonce := sha256.Sum256([]byte("nonce"))
	p := &proposal.Proposal{Format: 1, Chain: "bitcoin", Vault: "ops", Policy: policyID[:], PolicyVersion: 1,
		Payload: psbt, Created: time.Now().Unix(), Expires: time.Now().Add(time.Hour).Unix(), Coordinator: "coord", Nonce: nonce[:16]}
	e, err := proposal.Seal(p, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)))
	if err != nil {
		b.Fatal(err)
	}
	raw, err := e.Encode()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := envelope.Decode(raw); err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkFrames measures, for PSBT proposals of 1, 10 and 100 KB and UR
// fragments of 100, 200 and 400 bytes, the frames and QR version of a plain
// ur:crypto-psbt beside those of the airlock envelope (DEFLATE inside, every
// byte kept), and the time to encode and decode the envelope's frames.
// ratio = envelope frames / PSBT frames; the goal is at most 0.75.
func BenchmarkFrames(b *testing.B) {
	for _, size := range []int{1 << 10, 10 << 10, 100 << 10} {
		psbt := vaultPSBT(b, size)
		env := proposalEnvelope(b, psbt)
		for _, frag := range []int{100, 200, 400} {
			b.Run(fmt.Sprintf("psbt=%dKB/fragment=%d", size>>10, frag), func(b *testing.B) {
				plain, err := Frames(Artifact{Kind: "psbt", Data: psbt}, UR, frag, 0)
				if err != nil {
					b.Fatal(err)
				}
				_, vPlain, _ := Codes(plain[:1])
				var frames []string
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					frames, err = Frames(Artifact{Kind: "envelope", Data: env}, UR, frag, 0)
					if err != nil {
						b.Fatal(err)
					}
					var r Reader
					for _, f := range frames {
						if err := r.Add(f); err != nil {
							b.Fatal(err)
						}
					}
					a, err := r.Artifact()
					if err != nil || !bytes.Equal(a.Data, env) {
						b.Fatal("round trip failed")
					}
				}
				b.StopTimer()
				_, vEnv, _ := Codes(frames[:1])
				b.ReportMetric(float64(len(plain)), "frames-psbt")
				b.ReportMetric(float64(len(frames)), "frames-envelope")
				b.ReportMetric(float64(len(frames))/float64(len(plain)), "ratio")
				b.ReportMetric(float64(vPlain), "qrver-psbt")
				b.ReportMetric(float64(vEnv), "qrver-envelope")
				b.ReportMetric(float64(len(psbt)), "psbt-bytes")
				b.ReportMetric(float64(len(env)), "envelope-bytes")
			})
		}
	}
}
