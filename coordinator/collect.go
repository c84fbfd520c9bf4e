package coordinator

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"

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
// decision (an airlock envelope), or a PSBT an external signing device
// (Coldcard, Sparrow, Keystone) signed, in binary or base64. Only for the
// latter is identity called: the coordinator records the device's
// signatures as an approval under its own key. Each call is its own
// transaction; a refusal leaves nothing.
func (c *Coordinator) CollectAny(ctx context.Context, raw []byte, identity func() (keys.Identity, error)) ([]Collected, error) {
	if _, envErr := envelope.Decode(raw); envErr != nil {
		signed := raw
		if !bytes.HasPrefix(raw, []byte("psbt\xff")) {
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
			if err != nil || !bytes.HasPrefix(b, []byte("psbt\xff")) {
				return nil, fmt.Errorf("neither an airlock approval (%v) nor a signed PSBT", envErr)
			}
			signed = b
		}
		id, err := identity()
		if err != nil {
			return nil, err
		}
		checked, err := c.CollectExternal(ctx, signed, id)
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
