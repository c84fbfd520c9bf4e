package safe

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// Operations.
const (
	OpCall         uint8 = 0
	OpDelegateCall uint8 = 1
)

// Bounds on a payload.
const (
	MaxData    = 1 << 20 // bytes of calldata in a SafeTx
	MaxPayload = 3 << 20 // bytes of JSON
)

// Tx is a Safe transaction, the fields getTransactionHash takes.
type Tx struct {
	To             common.Address
	Value          *big.Int
	Data           []byte
	Operation      uint8
	SafeTxGas      *big.Int
	BaseGas        *big.Int
	GasPrice       *big.Int
	GasToken       common.Address
	RefundReceiver common.Address
	Nonce          *big.Int
}

// Payload is what a Safe proposal carries: a transaction, or a message to
// sign (EIP-191 text, an EIP-712 digest, or a bare hash), as JSON with the
// Safe Transaction Service's field names. ClaimedHash is the safeTxHash (or
// message hash) the source claims; the station recomputes it and blocks on
// a difference.
type Payload struct {
	Tx          *Tx
	Message     *Message
	ClaimedHash *common.Hash
	// Safe is the Safe address the source names, if it does.
	Safe *common.Address
}

// Message is an off-chain message a Safe signs (EIP-1271).
type Message struct {
	Text   *string      // EIP-191 personal message
	Typed  *common.Hash // an EIP-712 digest computed by the requester
	Bare   *common.Hash // a bare 32-byte hash to eth_sign: always flagged
	Digest []byte       // the message bytes SafeMessage covers
}

// ErrPayload wraps every refusal of a malformed payload.
var ErrPayload = errors.New("safe: malformed payload")

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrPayload, fmt.Sprintf(format, a...))
}

// wire is the JSON form; pointers tell absent from zero.
type wire struct {
	To             *string          `json:"to,omitempty"`
	Value          *json.RawMessage `json:"value,omitempty"`
	Data           *string          `json:"data,omitempty"`
	Operation      *json.RawMessage `json:"operation,omitempty"`
	SafeTxGas      *json.RawMessage `json:"safeTxGas,omitempty"`
	BaseGas        *json.RawMessage `json:"baseGas,omitempty"`
	GasPrice       *json.RawMessage `json:"gasPrice,omitempty"`
	GasToken       *string          `json:"gasToken,omitempty"`
	RefundReceiver *string          `json:"refundReceiver,omitempty"`
	Nonce          *json.RawMessage `json:"nonce,omitempty"`
	SafeTxHash     *string          `json:"safeTxHash,omitempty"`
	Safe           *string          `json:"safe,omitempty"`
	// Messages.
	Message     *string `json:"message,omitempty"`      // EIP-191 text
	TypedDigest *string `json:"eip712Digest,omitempty"` // 32-byte EIP-712 digest
	Hash        *string `json:"hash,omitempty"`         // a bare hash (eth_sign request)
	MessageHash *string `json:"messageHash,omitempty"`  // the claimed Safe message hash
}

// Parse reads a payload strictly: unknown fields, duplicate keys, missing
// fields, numbers that are negative, fractional, hexadecimal or over 256
// bits, malformed addresses or data are refused, each with its field named.
func Parse(b []byte) (*Payload, error) {
	if len(b) > MaxPayload {
		return nil, bad("%d bytes, over %d", len(b), MaxPayload)
	}
	if err := noDuplicateKeys(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wire
	if err := dec.Decode(&w); err != nil {
		return nil, bad("%v", err)
	}
	if dec.More() {
		return nil, bad("trailing data after the JSON object")
	}
	p := &Payload{}
	if w.Safe != nil {
		a, err := address("safe", *w.Safe)
		if err != nil {
			return nil, err
		}
		p.Safe = &a
	}
	isMsg := w.Message != nil || w.TypedDigest != nil || w.Hash != nil
	if isMsg {
		return parseMessage(&w, p)
	}
	tx := &Tx{}
	var err error
	if w.To == nil {
		return nil, bad("missing field to")
	}
	if tx.To, err = address("to", *w.To); err != nil {
		return nil, err
	}
	if tx.Value, err = uint256("value", w.Value, false); err != nil {
		return nil, err
	}
	if w.Data != nil {
		if tx.Data, err = hexBytes("data", *w.Data, MaxData); err != nil {
			return nil, err
		}
	}
	op, err := uint256("operation", w.Operation, false)
	if err != nil {
		return nil, err
	}
	if !op.IsUint64() || op.Uint64() > 1 {
		return nil, bad("operation %s: want 0 (call) or 1 (delegatecall)", op)
	}
	tx.Operation = uint8(op.Uint64())
	if tx.SafeTxGas, err = uint256("safeTxGas", w.SafeTxGas, true); err != nil {
		return nil, err
	}
	if tx.BaseGas, err = uint256("baseGas", w.BaseGas, true); err != nil {
		return nil, err
	}
	if tx.GasPrice, err = uint256("gasPrice", w.GasPrice, true); err != nil {
		return nil, err
	}
	if tx.GasToken, err = optAddress("gasToken", w.GasToken); err != nil {
		return nil, err
	}
	if tx.RefundReceiver, err = optAddress("refundReceiver", w.RefundReceiver); err != nil {
		return nil, err
	}
	if tx.Nonce, err = uint256("nonce", w.Nonce, false); err != nil {
		return nil, err
	}
	if w.SafeTxHash != nil {
		h, err := hash32("safeTxHash", *w.SafeTxHash)
		if err != nil {
			return nil, err
		}
		p.ClaimedHash = &h
	}
	if w.MessageHash != nil {
		return nil, bad("messageHash belongs to a message, not a transaction")
	}
	p.Tx = tx
	return p, nil
}

func parseMessage(w *wire, p *Payload) (*Payload, error) {
	n := 0
	for _, s := range []*string{w.Message, w.TypedDigest, w.Hash} {
		if s != nil {
			n++
		}
	}
	if n != 1 {
		return nil, bad("a message payload holds exactly one of message, eip712Digest or hash")
	}
	if w.To != nil || w.Value != nil || w.Data != nil || w.Operation != nil || w.Nonce != nil || w.SafeTxGas != nil ||
		w.BaseGas != nil || w.GasPrice != nil || w.GasToken != nil || w.RefundReceiver != nil || w.SafeTxHash != nil {
		return nil, bad("a message payload carries transaction fields")
	}
	m := &Message{}
	switch {
	case w.Message != nil:
		if len(*w.Message) > MaxData {
			return nil, bad("message of %d bytes, over %d", len(*w.Message), MaxData)
		}
		m.Text = w.Message
		m.Digest = TextMessage(*w.Message)
	case w.TypedDigest != nil:
		h, err := hash32("eip712Digest", *w.TypedDigest)
		if err != nil {
			return nil, err
		}
		m.Typed, m.Digest = &h, h.Bytes()
	default:
		h, err := hash32("hash", *w.Hash)
		if err != nil {
			return nil, err
		}
		m.Bare, m.Digest = &h, h.Bytes()
	}
	if w.MessageHash != nil {
		h, err := hash32("messageHash", *w.MessageHash)
		if err != nil {
			return nil, err
		}
		p.ClaimedHash = &h
	}
	p.Message = m
	return p, nil
}

// Encode writes p canonically (what a proposal carries).
func (p *Payload) Encode() ([]byte, error) {
	w := wire{}
	if p.Safe != nil {
		s := p.Safe.Hex()
		w.Safe = &s
	}
	str := func(s string) *string { return &s }
	num := func(v *big.Int) *json.RawMessage {
		r := json.RawMessage(`"` + v.String() + `"`)
		return &r
	}
	if p.ClaimedHash != nil {
		if p.Tx != nil {
			w.SafeTxHash = str(p.ClaimedHash.Hex())
		} else {
			w.MessageHash = str(p.ClaimedHash.Hex())
		}
	}
	switch {
	case p.Tx != nil:
		tx := p.Tx
		w.To, w.Value, w.Data = str(tx.To.Hex()), num(tx.Value), str("0x"+hex.EncodeToString(tx.Data))
		op := json.RawMessage(fmt.Sprint(tx.Operation))
		w.Operation = &op
		w.SafeTxGas, w.BaseGas, w.GasPrice = num(tx.SafeTxGas), num(tx.BaseGas), num(tx.GasPrice)
		w.GasToken, w.RefundReceiver, w.Nonce = str(tx.GasToken.Hex()), str(tx.RefundReceiver.Hex()), num(tx.Nonce)
	case p.Message != nil && p.Message.Text != nil:
		w.Message = p.Message.Text
	case p.Message != nil && p.Message.Typed != nil:
		w.TypedDigest = str(p.Message.Typed.Hex())
	case p.Message != nil && p.Message.Bare != nil:
		w.Hash = str(p.Message.Bare.Hex())
	default:
		return nil, errors.New("safe: empty payload")
	}
	return json.MarshalIndent(w, "", "  ")
}

var maxUint256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// uint256 reads a JSON number or decimal string; optional fields default
// to zero.
func uint256(name string, raw *json.RawMessage, optional bool) (*big.Int, error) {
	if raw == nil || string(*raw) == "null" {
		if optional {
			return new(big.Int), nil
		}
		return nil, bad("missing field %s", name)
	}
	s := strings.TrimSpace(string(*raw))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(*raw, &s); err != nil {
			return nil, bad("%s: %v", name, err)
		}
	}
	if s == "" || len(s) > 78 {
		return nil, bad("%s %q: want a decimal integer", name, s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return nil, bad("%s %q: want a non-negative decimal integer", name, s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return nil, bad("%s %q: leading zeros", name, s)
	}
	v, _ := new(big.Int).SetString(s, 10)
	if v.Cmp(maxUint256) > 0 {
		return nil, bad("%s is over 2^256-1", name)
	}
	return v, nil
}

func address(name, s string) (common.Address, error) {
	if !common.IsHexAddress(s) || !strings.HasPrefix(s, "0x") {
		return common.Address{}, bad("%s %q: want a 0x-prefixed 20-byte address", name, s)
	}
	a := common.HexToAddress(s)
	// Mixed case must be the EIP-55 checksum: a typo is caught, not signed.
	if s[2:] != strings.ToLower(s[2:]) && s[2:] != strings.ToUpper(s[2:]) && a.Hex() != s {
		return common.Address{}, bad("%s %q: bad EIP-55 checksum (want %s)", name, s, a.Hex())
	}
	return a, nil
}

func optAddress(name string, s *string) (common.Address, error) {
	if s == nil {
		return common.Address{}, nil
	}
	return address(name, *s)
}

func hexBytes(name, s string, max int) ([]byte, error) {
	h, ok := strings.CutPrefix(s, "0x")
	if !ok {
		return nil, bad("%s: want 0x-prefixed hex", name)
	}
	if len(h) > 2*max {
		return nil, bad("%s: %d bytes, over %d", name, len(h)/2, max)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, bad("%s: %v", name, err)
	}
	return b, nil
}

func hash32(name, s string) (common.Hash, error) {
	b, err := hexBytes(name, s, 32)
	if err != nil {
		return common.Hash{}, err
	}
	if len(b) != 32 {
		return common.Hash{}, bad("%s: %d bytes, want 32", name, len(b))
	}
	return common.BytesToHash(b), nil
}

// noDuplicateKeys refuses a JSON object that names a key twice (Go's
// decoder would keep the last, another parser the first).
func noDuplicateKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	t, err := dec.Token()
	if err != nil {
		return bad("%v", err)
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return bad("want a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return bad("%v", err)
		}
		k, _ := t.(string)
		if seen[k] {
			return bad("duplicate key %q", k)
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return bad("%v", err)
		}
	}
	return nil
}
