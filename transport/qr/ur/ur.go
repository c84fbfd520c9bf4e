// Package ur implements Uniform Resources (BCR-2020-005): binary data as
// text that fits QR codes, with Bytewords (BCR-2020-012), CRC-32 and, for
// data too large for one code, rateless fountain codes so that a camera can
// read animated frames in any order, with frames missing, until the message
// is whole.
//
//	ur:bytes/hdeymejtswhhylkepmyk…                      one part
//	ur:crypto-psbt/12-9/lpbbascfadaxcywenbpljkhdcah…    part 12 of a 9-fragment message
//
// Every part carries the message length and CRC-32, so a frame from
// another message, a corrupted frame or a frame of a foreign type is
// refused, and the assembled message is checked before it is returned.
package ur

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// Registered types airlock speaks.
const (
	TypeBytes      = "bytes"
	TypeCryptoPSBT = "crypto-psbt"
	TypePSBT       = "psbt"
	// TypeEnvelope carries an airlock envelope (its CBOR as a byte string).
	TypeEnvelope = "airlock-envelope"
)

// ErrUR wraps every malformed UR.
var ErrUR = errors.New("ur: malformed")

var typePattern = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

// WrapBytes is the CBOR byte string that URs of type bytes (and
// crypto-psbt, psbt) carry.
func WrapBytes(data []byte) []byte {
	b, _ := partEnc.Marshal(data)
	return b
}

// UnwrapBytes decodes a CBOR byte string strictly.
func UnwrapBytes(cborData []byte) ([]byte, error) {
	var b []byte
	if err := partDec.Unmarshal(cborData, &b); err != nil {
		return nil, fmt.Errorf("%w: payload is not a CBOR byte string: %v", ErrUR, err)
	}
	if again := WrapBytes(b); string(again) != string(cborData) {
		return nil, fmt.Errorf("%w: payload not in canonical form", ErrUR)
	}
	return b, nil
}

// Encode returns the parts of a UR for cborPayload: one "ur:type/…" string
// when it fits maxFragmentLen, else the first count fountain parts
// (count ≥ the fragment count; more parts make a lossy channel robust).
func Encode(urType string, cborPayload []byte, maxFragmentLen, count int) ([]string, error) {
	if !typePattern.MatchString(urType) {
		return nil, fmt.Errorf("ur: invalid type %q", urType)
	}
	e, err := NewEncoder(cborPayload, maxFragmentLen, min(10, maxFragmentLen), 0)
	if err != nil {
		return nil, err
	}
	if e.IsSinglePart() {
		return []string{"ur:" + urType + "/" + EncodeBytewords(cborPayload, Minimal)}, nil
	}
	if count < e.SeqLen() {
		count = e.SeqLen()
	}
	out := make([]string, 0, count)
	for i := 0; i < count; i++ {
		p := e.NextPart()
		b, err := p.CBOR()
		if err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("ur:%s/%d-%d/%s", urType, p.SeqNum, p.SeqLen, EncodeBytewords(b, Minimal)))
	}
	return out, nil
}

// URDecoder assembles a UR from its parts.
type URDecoder struct {
	Type    string
	single  []byte
	decoder Decoder
}

// Receive feeds one part ("ur:…", any case). A part of another type or
// message, or a malformed one, is refused and changes nothing.
func (u *URDecoder) Receive(s string) error {
	s = strings.ToLower(strings.TrimSpace(s))
	rest, ok := strings.CutPrefix(s, "ur:")
	if !ok {
		return fmt.Errorf("%w: no ur: scheme", ErrUR)
	}
	comps := strings.Split(rest, "/")
	if len(comps) < 2 || len(comps) > 3 || !typePattern.MatchString(comps[0]) {
		return fmt.Errorf("%w: want ur:type/[seq-len/]payload", ErrUR)
	}
	if u.Type != "" && comps[0] != u.Type {
		return fmt.Errorf("%w: a %s part while reading a %s", ErrInconsistent, comps[0], u.Type)
	}
	body, err := DecodeBytewords(comps[len(comps)-1], Minimal)
	if err != nil {
		return err
	}
	if len(comps) == 2 {
		u.Type, u.single = comps[0], body
		return nil
	}
	n, m, ok := strings.Cut(comps[1], "-")
	seq, err1 := strconv.ParseUint(n, 10, 32)
	total, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("%w: sequence %q", ErrUR, comps[1])
	}
	p, err := ParsePart(body)
	if err != nil {
		return err
	}
	if uint64(p.SeqNum) != seq || p.SeqLen != total {
		return fmt.Errorf("%w: part says %d-%d, its header %s", ErrPart, p.SeqNum, p.SeqLen, comps[1])
	}
	if err := u.decoder.Receive(p); err != nil {
		return err
	}
	u.Type = comps[0]
	return nil
}

// Complete reports whether the UR is whole.
func (u *URDecoder) Complete() bool { return u.single != nil || u.decoder.Complete() }

// Result is the UR's CBOR payload once complete.
func (u *URDecoder) Result() []byte {
	if u.single != nil {
		return u.single
	}
	return u.decoder.Message()
}

// Progress is the share of fragments known, 0..1.
func (u *URDecoder) Progress() float64 {
	if u.single != nil {
		return 1
	}
	return u.decoder.Progress()
}

// Processed counts the parts accepted.
func (u *URDecoder) Processed() int {
	if u.single != nil {
		return 1
	}
	return u.decoder.Processed
}

var _ = cbor.Marshal
