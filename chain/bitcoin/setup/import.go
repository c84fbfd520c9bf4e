package setup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/airlock-vault/airlock/chain/bitcoin/descriptor"
	"github.com/btcsuite/btcd/chaincfg/v2"
)

// WalletPolicyJSON is the JSON form of a BIP-388 wallet policy that
// ImportDescriptor reads.
type WalletPolicyJSON struct {
	Name               string   `json:"name,omitempty"`
	DescriptorTemplate string   `json:"descriptor_template"`
	KeysInfo           []string `json:"keys_info"`
}

// ImportDescriptor reads a descriptor for network net: either descriptor
// text, which must carry its checksum, or a BIP-388 wallet policy as JSON
// ({"descriptor_template": ..., "keys_info": [...]}, "name" optional).
// Private keys, keys for another network and unknown JSON fields are
// refused.
func ImportDescriptor(text string, net *chaincfg.Params) (*descriptor.Descriptor, error) {
	if len(text) > MaxInput {
		return nil, fmt.Errorf("setup: descriptor of %d bytes exceeds %d", len(text), MaxInput)
	}
	text = strings.TrimSpace(text)
	var d *descriptor.Descriptor
	if strings.HasPrefix(text, "{") {
		var p WalletPolicyJSON
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("setup: wallet policy JSON: %v", err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, errors.New("setup: data after the wallet policy JSON")
		}
		w, err := descriptor.NewWalletPolicy(p.DescriptorTemplate, p.KeysInfo)
		if err != nil {
			return nil, fmt.Errorf("setup: wallet policy: %w", err)
		}
		if d, err = w.Descriptor(); err != nil {
			return nil, fmt.Errorf("setup: wallet policy: %w", err)
		}
	} else {
		if !strings.Contains(text, "#") {
			return nil, errors.New("setup: descriptor without checksum (append #checksum)")
		}
		var err error
		if d, err = descriptor.ParseStrict(text); err != nil {
			if bytes.ContainsAny([]byte(text), "\r\n") {
				return nil, errors.New("setup: descriptor spans several lines")
			}
			return nil, fmt.Errorf("setup: %w", err)
		}
	}
	if d.HasPrivateKeys() {
		return nil, errors.New("setup: descriptor holds private keys; import public keys only")
	}
	if !d.Network().Allows(net) {
		return nil, fmt.Errorf("setup: descriptor keys are for %s, not %s", d.Network(), net.Name)
	}
	return d, nil
}
