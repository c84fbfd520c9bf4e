package policy

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/address/v2"
	"golang.org/x/crypto/sha3"

	"github.com/airlock-vault/airlock/keys/keystore"
)

// Addresses in the address book are checked when the policy is written
// and stored in the form chain adapters report destinations in (see
// chain.Transfer): a Bitcoin address as btcutil encodes it for the
// policy's network (bech32 in lower case), an Ethereum address with its
// EIP-55 checksum. So a rule compares strings, and a typo caught by a
// checksum at writing time can never become a live destination.

// CanonicalAddress checks addr as a destination on chain ("bitcoin" or
// "ethereum") and network (the policy's Bitcoin network), and returns it
// in canonical form. An Ethereum address in mixed case must carry a valid
// EIP-55 checksum; one in a single case has none and is given one.
func CanonicalAddress(chainName, network, addr string) (string, error) {
	switch chainName {
	case "bitcoin":
		net, err := keystore.NetworkByName(network)
		if err != nil {
			return "", fmt.Errorf("unknown network %q", network)
		}
		a, err := address.DecodeAddress(addr, net)
		if err != nil {
			return "", fmt.Errorf("%q is not a Bitcoin address: %v", addr, err)
		}
		if !a.IsForNet(net) {
			return "", fmt.Errorf("%q is not an address for %s", addr, network)
		}
		switch a.(type) {
		case *address.AddressPubKey:
			return "", fmt.Errorf("%q is a public key, not an address", addr)
		}
		return a.EncodeAddress(), nil
	case "ethereum":
		return checksumAddress(addr)
	}
	return "", fmt.Errorf("chain %q has no addresses here (want bitcoin or ethereum)", chainName)
}

// checksumAddress returns the EIP-55 form of a 0x-prefixed 20-byte hex
// address, refusing one in mixed case whose checksum is wrong.
func checksumAddress(addr string) (string, error) {
	h, ok := strings.CutPrefix(addr, "0x")
	if !ok || len(h) != 40 {
		return "", fmt.Errorf("%q is not an Ethereum address (0x and 40 hex digits)", addr)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("%q is not an Ethereum address (0x and 40 hex digits)", addr)
	}
	sum := eip55(h)
	if h != strings.ToLower(h) && h != strings.ToUpper(h) && "0x"+h != sum {
		return "", fmt.Errorf("%q has a bad EIP-55 checksum (want %s)", addr, sum)
	}
	return sum, nil
}

// eip55 writes 40 hex digits with the EIP-55 checksum: a letter is upper
// case when the matching nibble of keccak256(lower-case hex) is 8 or more.
func eip55(h string) string {
	lower := []byte(strings.ToLower(h))
	k := sha3.NewLegacyKeccak256()
	k.Write(lower)
	d := k.Sum(nil)
	for i, c := range lower {
		nibble := d[i/2] >> 4
		if i%2 == 1 {
			nibble = d[i/2] & 0xf
		}
		if c >= 'a' && nibble >= 8 {
			lower[i] = c - 'a' + 'A'
		}
	}
	return "0x" + string(lower)
}

// Asset ids are how chain.Transfer names an asset: "BTC", "ETH", or
// "erc20:" and the token's checksummed address.

// canonicalAsset returns the canonical id of an asset id, so that two
// spellings of one token are never counted apart.
func canonicalAsset(id string) (string, error) {
	switch id {
	case "BTC", "ETH":
		return id, nil
	}
	if tok, ok := strings.CutPrefix(id, "erc20:"); ok {
		a, err := checksumAddress(tok)
		if err != nil {
			return "", fmt.Errorf("asset %q: %v", id, err)
		}
		return "erc20:" + a, nil
	}
	return "", fmt.Errorf("asset %q: want BTC, ETH or erc20:0x<address>", id)
}
