package setup

import (
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// FuzzParse feeds one input to every reader: ParseKeyRecord (plain and
// under the BIP's STANDARD token), ParseDescriptorRecord, ImportColdcard
// and ImportDescriptor. None may panic, and whatever one accepts must
// encode or export again and read back the same. The seeds are the BIP-129
// vectors and Coldcard and descriptor exports.
func FuzzParse(f *testing.F) {
	v := loadBIP129(f)
	stdToken, _ := hex.DecodeString(v.Modes[2].Round1.Coordinator.TokenHex)
	for _, m := range v.Modes {
		for _, s := range m.Round1.Signers {
			f.Add([]byte(s.KeyRecord))
			if s.Encryption != nil {
				f.Add([]byte(s.Encryption.EncryptedFileHex))
			}
		}
		f.Add([]byte(m.Round2.Coordinator.DescriptorRecord))
		if p := m.Round2.Coordinator.Encryption; p != nil {
			f.Add([]byte(p.EncryptedFileHex))
		}
	}
	for _, net := range []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.TestNet3Params} {
		d, err := descriptor.NewSortedMultiShWsh(2, testKeys(f, 3, net, 1))
		if err != nil {
			f.Fatal(err)
		}
		text, err := ExportColdcard("fuzz", d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(text))
		f.Add([]byte(d.String()))
	}

	nets := []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.TestNet3Params}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, token := range [][]byte{nil, stdToken} {
			r, err := ParseKeyRecord(data, token)
			if err != nil {
				continue
			}
			enc, err := r.Encode(token)
			if err != nil {
				t.Fatalf("accepted key record does not encode: %v", err)
			}
			back, err := ParseKeyRecord(enc, token)
			if err != nil || !reflect.DeepEqual(back, r) {
				t.Fatalf("key record round trip: %+v, %v; want %+v", back, err, r)
			}
		}
		for _, net := range nets {
			if r, err := ParseDescriptorRecord(data, nil, net); err == nil {
				enc, err := r.Encode(nil)
				if err != nil {
					t.Fatalf("accepted descriptor record does not encode: %v", err)
				}
				back, err := ParseDescriptorRecord(enc, nil, net)
				if err != nil || *back != *r {
					t.Fatalf("descriptor record round trip: %+v, %v", back, err)
				}
			}
			if d, name, err := ImportColdcard(string(data), net); err == nil {
				text, err := ExportColdcard(name, d)
				if err != nil {
					t.Fatalf("imported coldcard file does not export: %v", err)
				}
				back, name2, err := ImportColdcard(text, net)
				if err != nil || back.String() != d.String() || name2 != name {
					t.Fatalf("coldcard round trip: %v %q, %v", back, name2, err)
				}
			}
			if d, err := ImportDescriptor(string(data), net); err == nil && d.HasPrivateKeys() {
				t.Fatal("imported a descriptor with private keys")
			}
		}
	})
}
