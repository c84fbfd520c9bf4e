package setup

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/address/v2/base58"
	"github.com/btcsuite/btcd/chainhash/v2"
)

// slip132 maps SLIP-132 version bytes to the BIP-32 ones they stand for.
var slip132 = map[[4]byte]struct {
	name    string
	to      [4]byte
	private bool
}{
	{0x04, 0x88, 0xb2, 0x1e}: {"xpub", xpubVersion, false},
	{0x04, 0x9d, 0x7c, 0xb2}: {"ypub", xpubVersion, false},
	{0x02, 0x95, 0xb4, 0x3f}: {"Ypub", xpubVersion, false},
	{0x04, 0xb2, 0x47, 0x46}: {"zpub", xpubVersion, false},
	{0x02, 0xaa, 0x7e, 0xd3}: {"Zpub", xpubVersion, false},
	{0x04, 0x35, 0x87, 0xcf}: {"tpub", tpubVersion, false},
	{0x04, 0x4a, 0x52, 0x62}: {"upub", tpubVersion, false},
	{0x02, 0x42, 0x89, 0xef}: {"Upub", tpubVersion, false},
	{0x04, 0x5f, 0x1c, 0xf6}: {"vpub", tpubVersion, false},
	{0x02, 0x57, 0x54, 0x83}: {"Vpub", tpubVersion, false},
	{0x04, 0x88, 0xad, 0xe4}: {"xprv", [4]byte{}, true},
	{0x04, 0x9d, 0x78, 0x78}: {"yprv", [4]byte{}, true},
	{0x02, 0x95, 0xb0, 0x05}: {"Yprv", [4]byte{}, true},
	{0x04, 0xb2, 0x43, 0x0c}: {"zprv", [4]byte{}, true},
	{0x02, 0xaa, 0x7a, 0x99}: {"Zprv", [4]byte{}, true},
	{0x04, 0x35, 0x83, 0x94}: {"tprv", [4]byte{}, true},
	{0x04, 0x4a, 0x4e, 0x28}: {"uprv", [4]byte{}, true},
	{0x02, 0x42, 0x85, 0xb5}: {"Uprv", [4]byte{}, true},
	{0x04, 0x5f, 0x18, 0xbc}: {"vprv", [4]byte{}, true},
	{0x02, 0x57, 0x50, 0x48}: {"Vprv", [4]byte{}, true},
}

var (
	xpubVersion = [4]byte{0x04, 0x88, 0xb2, 0x1e}
	tpubVersion = [4]byte{0x04, 0x35, 0x87, 0xcf}
)

// ConvertSLIP132 rewrites an extended public key in any SLIP-132 encoding
// (xpub, ypub, Ypub, zpub, Zpub; tpub, upub, Upub, vpub, Vpub) as the BIP-32
// xpub or tpub with the same key. Private keys and unknown versions are
// refused. The key itself is not validated; parse the result for that.
func ConvertSLIP132(s string) (string, error) {
	if len(s) > 120 {
		return "", errors.New("setup: extended key too long")
	}
	b := base58.Decode(s)
	if len(b) != 82 {
		return "", fmt.Errorf("setup: %q is not an extended key", short(s))
	}
	payload := b[:78]
	if !bytes.Equal(chainhash.DoubleHashB(payload)[:4], b[78:]) {
		return "", fmt.Errorf("setup: extended key %q has a bad checksum", short(s))
	}
	v, ok := slip132[[4]byte(payload[:4])]
	switch {
	case !ok:
		return "", fmt.Errorf("setup: extended key version %x is not a known SLIP-132 version", payload[:4])
	case v.private:
		return "", fmt.Errorf("setup: %s is a private key, only public keys are accepted", v.name)
	}
	out := append(v.to[:], payload[4:]...)
	return base58.Encode(append(out, chainhash.DoubleHashB(out)[:4]...)), nil
}
