package coordinator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/transport/qr/ur"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/proposal"
)

// Collected is one decision a collect took in.
type Collected struct {
	*proposal.Checked
	// External: a PSBT an external device signed, recorded under the
	// coordinator's own identity.
	External bool
}

// CollectAny takes in one thing carried back across the gap: a station's
// decision (an airlock envelope), or what an external signing device
// returned: a PSBT (Coldcard, Sparrow, Keystone) in binary or base64, or,
// for a Safe, a Transaction Service transaction JSON with confirmations.
// Only for the latter is identity called: the coordinator records the
// device's signatures as an approval under its own key. Each call is its
// own transaction; a refusal leaves nothing.
func (c *Coordinator) CollectAny(ctx context.Context, raw []byte, identity func() (keys.Identity, error)) ([]Collected, error) {
	return c.CollectAnyFor(ctx, "", raw, identity)
}

// CollectAnyFor is CollectAny for proposal ref (empty: found from what
// raw holds). With a proposal named, a Safe owner's external signature
// is taken in the forms that name no transaction: 65 bytes in hex, a
// Transaction Service confirmation JSON, an ur:eth-signature (EIP-4527,
// Keystone-style devices).
func (c *Coordinator) CollectAnyFor(ctx context.Context, ref string, raw []byte, identity func() (keys.Identity, error)) ([]Collected, error) {
	if _, envErr := envelope.Decode(raw); envErr != nil {
		signed, byRef, err := external(raw)
		if err != nil {
			return nil, fmt.Errorf("neither an airlock approval (%v) nor %v", envErr, err)
		}
		if byRef && ref == "" {
			return nil, errors.New("coordinator: an external signature names no transaction: collect it for its proposal (collect --proposal ID)")
		}
		id, err := identity()
		if err != nil {
			return nil, err
		}
		var checked []*proposal.Checked
		if ref != "" {
			checked, err = c.CollectExternalFor(ctx, ref, signed, id)
		} else {
			checked, err = c.CollectExternal(ctx, signed, id)
		}
		if err != nil {
			return nil, err
		}
		out := make([]Collected, len(checked))
		for i, ch := range checked {
			out[i] = Collected{Checked: ch, External: true}
		}
		return out, nil
	}
	ch, err := c.Collect(ctx, raw, nil)
	if err != nil {
		return nil, err
	}
	return []Collected{{Checked: ch}}, nil
}

// external reads what an external device returned: a PSBT (binary or
// base64); a Transaction Service transaction JSON; or, naming no
// transaction (byRef), a Service confirmation JSON, a 65-byte signature
// in hex, an ur:eth-signature.
func external(raw []byte) (signed []byte, byRef bool, err error) {
	if bytes.HasPrefix(raw, []byte("psbt\xff")) {
		return raw, false, nil
	}
	text := strings.TrimSpace(string(raw))
	if b, err := base64.StdEncoding.DecodeString(text); err == nil && bytes.HasPrefix(b, []byte("psbt\xff")) {
		return b, false, nil
	}
	switch {
	case strings.HasPrefix(text, "{"):
		return raw, !safe.IsServiceJSON(raw), nil
	case strings.HasPrefix(strings.ToLower(text), "ur:eth-signature/"):
		var d ur.URDecoder
		if err := d.Receive(text); err != nil || !d.Complete() {
			return nil, false, fmt.Errorf("an ur:eth-signature that does not decode (%v)", err)
		}
		s, err := ur.ParseEthSignature(d.Result())
		if err != nil {
			return nil, false, err
		}
		if len(s.Signature) != 65 {
			return nil, false, fmt.Errorf("an ur:eth-signature of %d bytes, want 65", len(s.Signature))
		}
		return []byte(hex.EncodeToString(s.Signature)), true, nil
	case len(strings.TrimPrefix(text, "0x")) == 130:
		return []byte(text), true, nil
	}
	return nil, false, errors.New("a signed PSBT, a Safe owner's signature (hex, Transaction Service JSON, ur:eth-signature)")
}
