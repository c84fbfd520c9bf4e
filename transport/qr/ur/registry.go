package ur

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Registered types for Ethereum signers (EIP-4527, BCR-2020-006).
const (
	TypeEthSignRequest = "eth-sign-request"
	TypeEthSignature   = "eth-signature"
)

// CBOR tags of the registry.
const (
	tagUUID    = 37
	tagKeypath = 304
)

// Data types of an eth-sign-request.
const (
	EthTransaction      = 1
	EthTypedData        = 2
	EthPersonalMessage  = 3
	EthTypedTransaction = 4
)

// EthSignRequest asks an Ethereum signer to sign (EIP-4527).
type EthSignRequest struct {
	RequestID   []byte // 16 bytes (a UUID), optional
	SignData    []byte
	DataType    int
	ChainID     int64 // 0: absent (the default, 1)
	Path        []uint32
	Fingerprint uint32 // source fingerprint of the key path
	Address     []byte // 20 bytes, optional
	Origin      string
}

// EthSignature is a signer's answer.
type EthSignature struct {
	RequestID []byte
	Signature []byte // r || s || v
	Origin    string
}

// ErrRegistry wraps malformed registry items.
var ErrRegistry = errors.New("ur: invalid registry item")

func keypath(path []uint32, fp uint32) cbor.Tag {
	comps := make([]any, 0, 2*len(path))
	for _, p := range path {
		comps = append(comps, uint64(p&^0x80000000), p&0x80000000 != 0)
	}
	m := map[int]any{1: comps}
	if fp != 0 {
		m[2] = uint64(fp)
	}
	return cbor.Tag{Number: tagKeypath, Content: m}
}

// CBOR encodes the request as its UR payload.
func (r *EthSignRequest) CBOR() ([]byte, error) {
	if len(r.SignData) == 0 || r.DataType < 1 || r.DataType > 4 {
		return nil, fmt.Errorf("%w: eth-sign-request needs sign data and a data type 1..4", ErrRegistry)
	}
	m := map[int]any{2: r.SignData, 3: r.DataType, 5: keypath(r.Path, r.Fingerprint)}
	if r.RequestID != nil {
		m[1] = cbor.Tag{Number: tagUUID, Content: r.RequestID}
	}
	if r.ChainID != 0 {
		m[4] = r.ChainID
	}
	if r.Address != nil {
		m[6] = r.Address
	}
	if r.Origin != "" {
		m[7] = r.Origin
	}
	return partEnc.Marshal(m)
}

var registryDec, _ = cbor.DecOptions{
	DupMapKey: cbor.DupMapKeyEnforcedAPF, IndefLength: cbor.IndefLengthForbidden,
	MaxNestedLevels: 8, MaxArrayElements: 256, MaxMapPairs: 16, DefaultMapType: nil,
}.DecMode()

// ParseEthSignRequest decodes an eth-sign-request payload.
func ParseEthSignRequest(b []byte) (*EthSignRequest, error) {
	var m map[int]cbor.RawMessage
	if err := registryDec.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRegistry, err)
	}
	r := &EthSignRequest{}
	for k, v := range m {
		var err error
		switch k {
		case 1:
			r.RequestID, err = uuid(v)
		case 2:
			err = registryDec.Unmarshal(v, &r.SignData)
		case 3:
			err = registryDec.Unmarshal(v, &r.DataType)
		case 4:
			err = registryDec.Unmarshal(v, &r.ChainID)
		case 5:
			r.Path, r.Fingerprint, err = parseKeypath(v)
		case 6:
			err = registryDec.Unmarshal(v, &r.Address)
		case 7:
			err = registryDec.Unmarshal(v, &r.Origin)
		default:
			err = fmt.Errorf("unknown key %d", k)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: eth-sign-request key %d: %v", ErrRegistry, k, err)
		}
	}
	if len(r.SignData) == 0 || r.DataType < 1 || r.DataType > 4 || m[5] == nil {
		return nil, fmt.Errorf("%w: eth-sign-request lacks sign data, data type or path", ErrRegistry)
	}
	return r, nil
}

func uuid(v cbor.RawMessage) ([]byte, error) {
	var t cbor.Tag
	if err := registryDec.Unmarshal(v, &t); err != nil || t.Number != tagUUID {
		return nil, errors.New("request id is not a tagged UUID")
	}
	b, ok := t.Content.([]byte)
	if !ok || len(b) != 16 {
		return nil, errors.New("request id is not 16 bytes")
	}
	return b, nil
}

func parseKeypath(v cbor.RawMessage) ([]uint32, uint32, error) {
	var t cbor.Tag
	if err := registryDec.Unmarshal(v, &t); err != nil || t.Number != tagKeypath {
		return nil, 0, errors.New("derivation path is not a tagged crypto-keypath")
	}
	m, ok := t.Content.(map[any]any)
	if !ok {
		return nil, 0, errors.New("crypto-keypath is not a map")
	}
	var path []uint32
	comps, _ := m[uint64(1)].([]any)
	if len(comps)%2 != 0 || len(comps) > 64 {
		return nil, 0, errors.New("crypto-keypath components malformed")
	}
	for i := 0; i < len(comps); i += 2 {
		idx, ok1 := comps[i].(uint64)
		hard, ok2 := comps[i+1].(bool)
		if !ok1 || !ok2 || idx >= 0x80000000 {
			return nil, 0, errors.New("crypto-keypath component malformed")
		}
		p := uint32(idx)
		if hard {
			p |= 0x80000000
		}
		path = append(path, p)
	}
	var fp uint32
	if f, ok := m[uint64(2)]; ok {
		n, ok := f.(uint64)
		if !ok || n > 0xffffffff {
			return nil, 0, errors.New("crypto-keypath fingerprint malformed")
		}
		fp = uint32(n)
	}
	return path, fp, nil
}

// CBOR encodes the signature as its UR payload.
func (s *EthSignature) CBOR() ([]byte, error) {
	if len(s.Signature) == 0 {
		return nil, fmt.Errorf("%w: empty eth-signature", ErrRegistry)
	}
	m := map[int]any{2: s.Signature}
	if s.RequestID != nil {
		m[1] = cbor.Tag{Number: tagUUID, Content: s.RequestID}
	}
	if s.Origin != "" {
		m[3] = s.Origin
	}
	return partEnc.Marshal(m)
}

// ParseEthSignature decodes an eth-signature payload.
func ParseEthSignature(b []byte) (*EthSignature, error) {
	var m map[int]cbor.RawMessage
	if err := registryDec.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRegistry, err)
	}
	s := &EthSignature{}
	for k, v := range m {
		var err error
		switch k {
		case 1:
			s.RequestID, err = uuid(v)
		case 2:
			err = registryDec.Unmarshal(v, &s.Signature)
		case 3:
			err = registryDec.Unmarshal(v, &s.Origin)
		default:
			err = fmt.Errorf("unknown key %d", k)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: eth-signature key %d: %v", ErrRegistry, k, err)
		}
	}
	if len(s.Signature) == 0 {
		return nil, fmt.Errorf("%w: eth-signature without a signature", ErrRegistry)
	}
	return s, nil
}
