package setup

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/internal/testvectors"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/v2"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

type bip129Payload struct {
	ToSigner         int    `json:"to_signer"`
	HMACKeyHex       string `json:"hmac_key_hex"`
	MACHex           string `json:"mac_hex"`
	IVHex            string `json:"iv_hex"`
	CiphertextHex    string `json:"ciphertext_hex"`
	EncryptedFileHex string `json:"encrypted_file_hex"`
}

type bip129Token struct {
	Signer           int    `json:"signer"`
	TokenHex         string `json:"token_hex"`
	TokenDecimal     string `json:"token_decimal"`
	EncryptionKeyHex string `json:"encryption_key_hex"`
}

type bip129Vectors struct {
	Modes []struct {
		Heading    string `json:"heading"`
		Encryption string `json:"encryption"`
		Round1     struct {
			Coordinator struct {
				MofN             string        `json:"m_of_n"`
				AddressType      string        `json:"address_type"`
				Token            string        `json:"token"`
				TokenHex         string        `json:"token_hex"`
				TokenDecimal     string        `json:"token_decimal"`
				TokenMnemonic    string        `json:"token_mnemonic"`
				EncryptionKeyHex string        `json:"encryption_key_hex"`
				Tokens           []bip129Token `json:"tokens"`
			} `json:"coordinator"`
			Signers []struct {
				Signer         int            `json:"signer"`
				Fingerprint    string         `json:"master_key_fingerprint"`
				WIF            string         `json:"private_key_wif"`
				DerivationPath string         `json:"derivation_path"`
				PublicKey      string         `json:"public_key"`
				XPub           string         `json:"xpub"`
				KeyRecord      string         `json:"key_record"`
				Encryption     *bip129Payload `json:"encryption"`
			} `json:"signers"`
		} `json:"round1"`
		Round2 struct {
			Coordinator struct {
				DescriptorRecord    string          `json:"descriptor_record"`
				Encryption          *bip129Payload  `json:"encryption"`
				EncryptionPerSigner []bip129Payload `json:"encryption_per_signer"`
			} `json:"coordinator"`
		} `json:"round2"`
	} `json:"modes"`
}

func loadBIP129(t testing.TB) *bip129Vectors {
	t.Helper()
	var v bip129Vectors
	if err := json.Unmarshal(testvectors.Read(t, "bip129.json"), &v); err != nil {
		t.Fatalf("bip129.json: %v", err)
	}
	if len(v.Modes) != 4 {
		t.Fatalf("bip129.json: %d modes, want 4", len(v.Modes))
	}
	return &v
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkPayload checks one encrypted payload of the BIP against plaintext.
func checkPayload(t *testing.T, token []byte, plaintext string, p *bip129Payload) {
	t.Helper()
	key, err := EncryptionKey(token)
	if err != nil {
		t.Fatal(err)
	}
	hk := sha256Sum(key)
	if hex.EncodeToString(hk) != p.HMACKeyHex {
		t.Errorf("HMAC key %x, want %s", hk, p.HMACKeyHex)
	}
	if !strings.HasPrefix(p.MACHex, p.IVHex) || p.EncryptedFileHex != p.MACHex+p.CiphertextHex {
		t.Fatal("vector: IV is not MAC[:16] or .dat is not MAC||ciphertext")
	}
	got, err := Encrypt(token, []byte(plaintext))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != p.EncryptedFileHex {
		t.Errorf("Encrypt:\n got %s\nwant %s", got, p.EncryptedFileHex)
	}
	pt, err := Decrypt(token, []byte(p.EncryptedFileHex))
	if err != nil || string(pt) != plaintext {
		t.Errorf("Decrypt = %q, %v", pt, err)
	}
	// One flipped bit anywhere fails the MAC.
	for _, i := range []int{0, 40, 64, len(p.EncryptedFileHex) - 1} {
		bad := []byte(p.EncryptedFileHex)
		bad[i] ^= 1
		if bad[i] == 'g' || bad[i] == '/' {
			bad[i] ^= 3
		}
		if _, err := Decrypt(token, bad); err == nil {
			t.Errorf("Decrypt accepted a record with byte %d changed", i)
		}
	}
}

func TestBIP129(t *testing.T) {
	v := loadBIP129(t)
	cases := 0
	for mi, m := range v.Modes {
		mode := m.Encryption
		c := m.Round1.Coordinator
		// The token each signer uses.
		tokenFor := func(signer int) []byte {
			switch mode {
			case "NO_ENCRYPTION":
				if c.Token != "0x00" {
					t.Fatalf("token %q", c.Token)
				}
				return []byte{0}
			case "STANDARD":
				return mustHex(t, c.TokenHex)
			case "EXTENDED":
				for _, tk := range c.Tokens {
					if tk.Signer == signer {
						return mustHex(t, tk.TokenHex)
					}
				}
			}
			t.Fatalf("no token for %s signer %d", mode, signer)
			return nil
		}
		name := fmt.Sprintf("mode%d_%s", mi+1, strings.ReplaceAll(m.Heading[len("Mode: "):], " ", "_"))

		// Tokens: hex, decimal, mnemonic and derived key.
		var toks []bip129Token
		switch mode {
		case "STANDARD":
			toks = []bip129Token{{TokenHex: c.TokenHex, TokenDecimal: c.TokenDecimal, EncryptionKeyHex: c.EncryptionKeyHex}}
		case "EXTENDED":
			toks = c.Tokens
		}
		for i, tk := range toks {
			cases++
			t.Run(fmt.Sprintf("%s/token%d", name, i+1), func(t *testing.T) {
				token := mustHex(t, tk.TokenHex)
				md, err := TokenMode(token)
				if err != nil || md.String() != mode {
					t.Fatalf("TokenMode = %v, %v", md, err)
				}
				key, err := EncryptionKey(token)
				if err != nil || hex.EncodeToString(key) != tk.EncryptionKeyHex {
					t.Errorf("ENCRYPTION_KEY = %x, %v; want %s", key, err, tk.EncryptionKeyHex)
				}
				if d, _ := TokenDecimal(token); d != tk.TokenDecimal {
					t.Errorf("TokenDecimal = %s, want %s", d, tk.TokenDecimal)
				}
				if got, err := ParseTokenDecimal(tk.TokenDecimal, md); err != nil || !bytes.Equal(got, token) {
					t.Errorf("ParseTokenDecimal = %x, %v", got, err)
				}
				if mode == "STANDARD" {
					if w, err := TokenMnemonic(token); err != nil || w != c.TokenMnemonic {
						t.Errorf("TokenMnemonic = %q, %v; want %q", w, err, c.TokenMnemonic)
					}
					if got, err := ParseTokenMnemonic(c.TokenMnemonic); err != nil || !bytes.Equal(got, token) {
						t.Errorf("ParseTokenMnemonic = %x, %v", got, err)
					}
				}
			})
		}

		for _, s := range m.Round1.Signers {
			token := tokenFor(s.Signer)
			cases++
			t.Run(fmt.Sprintf("%s/signer%d_key_record", name, s.Signer), func(t *testing.T) {
				r, err := parseKeyRecordText([]byte(s.KeyRecord))
				if err != nil {
					t.Fatal(err)
				}
				key := s.XPub
				if key == "" {
					key = s.PublicKey
				}
				wantKey := "[" + s.Fingerprint + strings.TrimPrefix(s.DerivationPath, "m") + "]" + key
				if r.Key != wantKey || !bytes.Equal(r.Token, token) || r.Description != fmt.Sprintf("Signer %d key", s.Signer) {
					t.Errorf("record = %+v", r)
				}
				// Signing again with the BIP's private key gives the
				// BIP's signature (RFC 6979), and Encode the BIP's text.
				wif, err := btcutil.DecodeWIF(s.WIF)
				if err != nil {
					t.Fatal(err)
				}
				again := &KeyRecord{Token: token, Key: r.Key, Description: r.Description}
				if err := SignKeyRecord(again, wif.PrivKey); err != nil {
					t.Fatal(err)
				}
				if again.Signature != r.Signature {
					t.Errorf("signature %s, want %s", again.Signature, r.Signature)
				}
				if mode == "NO_ENCRYPTION" {
					got, err := ParseKeyRecord([]byte(s.KeyRecord), nil)
					if err != nil || !reflect.DeepEqual(got, r) {
						t.Errorf("ParseKeyRecord = %+v, %v", got, err)
					}
					enc, err := again.Encode(nil)
					if err != nil || string(enc) != s.KeyRecord {
						t.Errorf("Encode = %q, %v", enc, err)
					}
				}
				// A changed description breaks the signature.
				tampered := strings.Replace(s.KeyRecord, "key\n", "kex\n", 1)
				if _, err := parseKeyRecordText([]byte(tampered)); err == nil {
					t.Error("tampered record accepted")
				}
				// Another signer's key does not verify.
				other, _ := btcec.NewPrivateKey()
				if err := SignKeyRecord(&KeyRecord{Token: token, Key: r.Key}, other); err == nil {
					t.Error("signed with a foreign key")
				}
			})
			if s.Encryption == nil {
				continue
			}
			cases++
			t.Run(fmt.Sprintf("%s/signer%d_encrypted", name, s.Signer), func(t *testing.T) {
				checkPayload(t, token, s.KeyRecord, s.Encryption)
				r, err := ParseKeyRecord([]byte(s.Encryption.EncryptedFileHex), token)
				if err != nil {
					t.Fatal(err)
				}
				enc, err := r.Encode(token)
				if err != nil || string(enc) != s.Encryption.EncryptedFileHex {
					t.Errorf("Encode = %s, %v", enc, err)
				}
				if _, err := ParseKeyRecord([]byte(s.Encryption.EncryptedFileHex), nil); err == nil {
					t.Error("encrypted record parsed without its token")
				}
				wrong := bytes.Clone(token)
				wrong[0] ^= 1
				if _, err := ParseKeyRecord([]byte(s.Encryption.EncryptedFileHex), wrong); err == nil {
					t.Error("encrypted record parsed with a wrong token")
				}
			})
		}

		rec := m.Round2.Coordinator.DescriptorRecord
		cases++
		t.Run(name+"/descriptor_record", func(t *testing.T) {
			// A descriptor record has no TOKEN line: the plaintext of
			// every mode reads with the encryption layer off.
			r, err := ParseDescriptorRecord([]byte(rec), nil, &chaincfg.MainNetParams)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := r.Descriptors()
			if err != nil {
				t.Fatal(err)
			}
			k, n, ok := ds[0].Threshold()
			if want := strings.Replace(c.MofN, "/", " ", 1); !ok || fmt.Sprintf("%d %d", k, n) != want {
				t.Errorf("threshold %d/%d, want %s", k, n, c.MofN)
			}
			// Every signer finds its key, exactly, at its place.
			for i, s := range m.Round1.Signers {
				kr, _ := parseKeyRecordText([]byte(s.KeyRecord))
				if pos, err := r.KeyPositions(kr.Key); err != nil || !reflect.DeepEqual(pos, []int{i}) {
					t.Errorf("signer %d: KeyPositions = %v, %v", s.Signer, pos, err)
				}
			}
			// Not a look-alike: same origin, another signer's key.
			other, _ := parseKeyRecordText([]byte(m.Round1.Signers[1].KeyRecord))
			first, _ := parseKeyRecordText([]byte(m.Round1.Signers[0].KeyRecord))
			fake := first.Key[:strings.IndexByte(first.Key, ']')+1] + other.Key[strings.IndexByte(other.Key, ']')+1:]
			if _, err := r.KeyPositions(fake); err == nil {
				t.Error("KeyPositions matched a key by its origin alone")
			}
			if r.PathRestrictions != NoPathRestrictions {
				if len(ds) != 2 {
					t.Fatalf("%d descriptors, want 2", len(ds))
				}
				mp, err := r.Multipath()
				if err != nil || mp.PathCount() != 2 {
					t.Fatalf("Multipath = %v, %v", mp, err)
				}
				a, _ := mp.Address(0, 0, &chaincfg.MainNetParams)
				if a != r.FirstAddress {
					t.Errorf("multipath first address %s", a)
				}
				// NewDescriptorRecord writes the BIP's template back.
				back, err := NewDescriptorRecord(mp, &chaincfg.MainNetParams)
				if err != nil || *back != *r {
					t.Errorf("NewDescriptorRecord = %+v, %v", back, err)
				}
			}
			if mode == "NO_ENCRYPTION" {
				if enc, err := r.Encode(nil); err != nil || string(enc) != rec {
					t.Errorf("Encode = %q, %v", enc, err)
				}
			}
			// A wrong first address, or the right one on another network,
			// is refused.
			bad := *r
			bad.FirstAddress = strings.Replace(r.FirstAddress, r.FirstAddress[len(r.FirstAddress)-1:], "q", 1)
			if _, err := bad.check(&chaincfg.MainNetParams); err == nil {
				t.Error("wrong first address accepted")
			}
			if _, err := r.check(&chaincfg.TestNet3Params); err == nil {
				t.Error("mainnet record accepted on testnet")
			}
		})

		payloads := m.Round2.Coordinator.EncryptionPerSigner
		if p := m.Round2.Coordinator.Encryption; p != nil {
			payloads = append(payloads, *p)
		}
		for i, p := range payloads {
			signer := p.ToSigner
			if signer == 0 {
				signer = 1 // STANDARD: one payload under the common token
			}
			token := tokenFor(signer)
			cases++
			t.Run(fmt.Sprintf("%s/descriptor_record_encrypted%d", name, i+1), func(t *testing.T) {
				checkPayload(t, token, rec, &p)
				r, err := ParseDescriptorRecord([]byte(p.EncryptedFileHex), token, &chaincfg.MainNetParams)
				if err != nil {
					t.Fatal(err)
				}
				enc, err := r.Encode(token)
				if err != nil || string(enc) != p.EncryptedFileHex {
					t.Errorf("Encode = %s, %v", enc, err)
				}
			})
		}
	}
	// 4 tokens (1 STANDARD, 3 EXTENDED), 9 key records, 4 descriptor
	// records, and 9 encrypted payloads (5 key records, 4 descriptor
	// records).
	if want := 4 + 9 + 4 + 5 + 4; cases != want {
		t.Errorf("%d vector cases, want %d", cases, want)
	}
}
