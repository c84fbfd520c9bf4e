package envelope

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// The CBOR modes every airlock payload uses. Encoding is RFC 8949 core
// deterministic (§4.2.1): shortest integer forms, definite lengths, map keys
// sorted bytewise. Decoding is strict: duplicate map keys, indefinite
// lengths, tags, unknown struct fields and deep nesting are errors.
var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   16,
		MaxArrayElements:  1 << 16,
		MaxMapPairs:       1 << 12,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Marshal encodes v as deterministic CBOR.
func Marshal(v any) ([]byte, error) {
	b, err := encMode.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("envelope: encode: %v", trimCBOR(err))
	}
	return b, nil
}

// errNonCanonical reports input that decodes but is not the deterministic
// encoding of what it decodes to.
var errNonCanonical = errors.New("not in deterministic CBOR form")

// Unmarshal decodes deterministic CBOR into v strictly: besides the decoder's
// own checks, the input must be exactly the canonical encoding of the
// decoded value, with nothing trailing.
func Unmarshal(b []byte, v any) error {
	rest, err := decMode.UnmarshalFirst(b, v)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d trailing bytes", len(rest))
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return err
	}
	if !bytes.Equal(again, b) {
		return errNonCanonical
	}
	return nil
}
