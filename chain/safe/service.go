package safe

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain"
)

// ServiceTx is a multisig transaction as the Safe Transaction Service
// returns it (GET /api/v1/multisig-transactions/{safeTxHash}/, v1 and v2):
// the transaction, the Service's safeTxHash, its confirmations, and what
// else it says (dataDecoded, proposer, …), kept to show, never trusted.
type ServiceTx struct {
	// Payload is the transaction alone, with the Service's safeTxHash as
	// the claimed hash: the review recomputes it and blocks a mismatch.
	Payload *Payload
	// Confirmations are the owners' signatures the Service holds.
	Confirmations []Confirmation
	// Method is dataDecoded.method, the Service's own decoding, if any.
	Method string
}

// Confirmation is one owner's signature as the Service lists it.
type Confirmation struct {
	Owner         common.Address
	Signature     []byte
	SignatureType string // EOA, ETH_SIGN, APPROVED_HASH, CONTRACT_SIGNATURE
}

// serviceFields are the Service's fields that are not the transaction's;
// every one is read for display or ignored. A response with any other
// field is refused: an unknown field might be one that changes meaning.
var serviceFields = map[string]bool{
	"executionDate": true, "submissionDate": true, "modified": true, "blockNumber": true, "transactionHash": true,
	"proposer": true, "proposedByDelegate": true, "executor": true, "isExecuted": true, "isSuccessful": true,
	"ethGasPrice": true, "maxFeePerGas": true, "maxPriorityFeePerGas": true, "gasUsed": true, "fee": true,
	"origin": true, "dataDecoded": true, "confirmationsRequired": true, "confirmations": true, "trusted": true,
	"signatures": true, "txType": true, "txHash": true, "ethereumTxHash": true, "nonceString": true,
}

// txFields are the transaction's: in a Service response every one must be
// present (no defaults), with safe and safeTxHash.
var txFields = []string{"safe", "to", "value", "data", "operation", "safeTxGas", "baseGas", "gasPrice", "gasToken", "refundReceiver", "nonce", "safeTxHash"}

// IsServiceJSON says whether b looks like a Service multisig transaction
// (a transaction with a field of the Service's own) rather than airlock's
// plain payload or a lone confirmation.
func IsServiceJSON(b []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	if _, ok := m["to"]; !ok {
		return false
	}
	for k := range m {
		if serviceFields[k] {
			return true
		}
	}
	return false
}

// ParseService reads a Service response: the transaction's fields strictly
// (all present, as Parse reads them), the Service's own fields by name, any
// other field refused.
func ParseService(b []byte) (*ServiceTx, error) {
	if len(b) > MaxPayload {
		return nil, bad("%d bytes, over %d", len(b), MaxPayload)
	}
	if err := noDuplicateKeys(b); err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, bad("%v", err)
	}
	if dec.More() {
		return nil, bad("trailing data after the JSON object")
	}
	tx := map[string]json.RawMessage{}
	for _, k := range txFields {
		v, ok := m[k]
		if !ok {
			return nil, bad("a Transaction Service response without %s", k)
		}
		if k == "data" && string(v) == "null" {
			continue
		}
		tx[k] = v
	}
	for k := range m {
		if !serviceFields[k] && !contains(txFields, k) {
			return nil, bad("unknown field %q in a Transaction Service response", k)
		}
	}
	plain, err := json.Marshal(tx)
	if err != nil {
		return nil, bad("%v", err)
	}
	p, err := Parse(plain)
	if err != nil {
		return nil, err
	}
	if p.Tx == nil || p.ClaimedHash == nil || p.Safe == nil {
		return nil, bad("a Transaction Service response is a transaction of a Safe with its safeTxHash")
	}
	out := &ServiceTx{Payload: p}
	if raw, ok := m["confirmations"]; ok && string(raw) != "null" {
		var cs []struct {
			Owner         string  `json:"owner"`
			Signature     *string `json:"signature"`
			SignatureType string  `json:"signatureType"`
		}
		if err := json.Unmarshal(raw, &cs); err != nil {
			return nil, bad("confirmations: %v", err)
		}
		if len(cs) > 64 {
			return nil, bad("%d confirmations, over 64", len(cs))
		}
		for i, c := range cs {
			owner, err := address(fmt.Sprintf("confirmations[%d].owner", i), c.Owner)
			if err != nil {
				return nil, err
			}
			var sig []byte
			if c.Signature != nil {
				if sig, err = hexBytes(fmt.Sprintf("confirmations[%d].signature", i), *c.Signature, 4096); err != nil {
					return nil, err
				}
			}
			out.Confirmations = append(out.Confirmations, Confirmation{Owner: owner, Signature: sig, SignatureType: c.SignatureType})
		}
	}
	if raw, ok := m["dataDecoded"]; ok && string(raw) != "null" {
		var d struct {
			Method string `json:"method"`
		}
		if json.Unmarshal(raw, &d) == nil && len(d.Method) <= 128 {
			out.Method = d.Method
		}
	}
	return out, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// externalSignatures reads what an external owner's wallet gives back: a
// 65-byte signature in hex, a Service confirmation ({"owner",
// "signature", …}), or a Service multisig transaction whose
// confirmations carry signatures. tx is the transaction when the artifact
// carries one.
func externalSignatures(signed []byte) (sigs [][]byte, tx *ServiceTx, err error) {
	s := strings.TrimSpace(string(signed))
	if !strings.HasPrefix(s, "{") {
		b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))
		if err != nil || len(b) != 65 {
			return nil, nil, bad("an external signature is 65 bytes in hex (r, s, v), a Transaction Service confirmation or transaction JSON")
		}
		return [][]byte{b}, nil, nil
	}
	if IsServiceJSON(signed) {
		st, err := ParseService(signed)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range st.Confirmations {
			if len(c.Signature) == 65 {
				sigs = append(sigs, c.Signature)
			}
		}
		return sigs, st, nil
	}
	// A confirmation, as the Service lists it.
	var loose map[string]json.RawMessage
	if err := json.Unmarshal(signed, &loose); err != nil {
		return nil, nil, bad("a confirmation: %v", err)
	}
	for k := range loose {
		switch k {
		case "owner", "signature", "signatureType", "submissionDate", "transactionHash":
		default:
			return nil, nil, bad("unknown field %q in a confirmation", k)
		}
	}
	var c struct {
		Owner         string  `json:"owner"`
		Signature     *string `json:"signature"`
		SignatureType string  `json:"signatureType"`
	}
	if err := json.Unmarshal(signed, &c); err != nil {
		return nil, nil, bad("a confirmation: %v", err)
	}
	if c.Signature == nil {
		return nil, nil, bad("a confirmation without a signature")
	}
	b, err := hexBytes("signature", *c.Signature, 65)
	if err != nil || len(b) != 65 {
		return nil, nil, bad("a confirmation's signature is 65 bytes (r, s, v)")
	}
	return [][]byte{b}, nil, nil
}

// SameTransaction implements chain.ExternalCollector: a Service
// transaction JSON names its transaction; a bare signature or a
// confirmation does not (collect it with its proposal named).
func (Adapter) SameTransaction(payload, signed []byte) (bool, error) {
	_, st, err := externalSignatures(signed)
	if err != nil || st == nil {
		return false, err
	}
	ours, err := Parse(payload)
	if err != nil || ours.Tx == nil {
		return false, err
	}
	theirs := *st.Payload
	theirs.ClaimedHash, theirs.Safe = nil, nil
	a, err1 := (&Payload{Tx: ours.Tx}).Encode()
	b, err2 := theirs.Encode()
	if err1 != nil || err2 != nil {
		return false, nil
	}
	return bytes.Equal(a, b), nil
}

// ExternalSignatures implements chain.ExternalCollector: the one signature
// in signed by owner key (an external wallet's address in the policy)
// over the payload's safeTxHash, recomputed here. A Service transaction
// whose safeTxHash is not the recomputed one is refused whole.
func (Adapter) ExternalSignatures(v chain.Vault, payload, signed []byte, key string) ([]chain.Signature, error) {
	vi, a, err := load(v, payload)
	if err != nil {
		return nil, err
	}
	if a.payload.Tx == nil {
		return nil, bad("external signatures are taken for transactions, not messages")
	}
	o, err := vi.owner(key)
	if err != nil {
		return nil, err
	}
	sigs, st, err := externalSignatures(signed)
	if err != nil {
		return nil, err
	}
	if st != nil {
		if *st.Payload.ClaimedHash != a.hashes.SafeTx {
			return nil, fmt.Errorf("safe: the Transaction Service's safeTxHash %s is not the %s airlock computes for this transaction", st.Payload.ClaimedHash.Hex(), a.hashes.SafeTx.Hex())
		}
		if *st.Payload.Safe != vi.safe {
			return nil, fmt.Errorf("safe: the Transaction Service response is for Safe %s, not the vault's %s", st.Payload.Safe.Hex(), vi.safe.Hex())
		}
	}
	var seen []string
	for _, sig := range sigs {
		sig = normalizeV(sig)
		got, err := Recover(a.hashes.SafeTx, sig, vi.ethSign)
		if err != nil {
			seen = append(seen, err.Error())
			continue
		}
		if got == o.Address {
			return []chain.Signature{{Input: 0, PubKey: o.Address.Bytes(), Sig: sig}}, nil
		}
		seen = append(seen, "a signature by "+got.Hex())
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("safe: no signature of owner %s", o.Address.Hex())
	}
	return nil, fmt.Errorf("safe: no signature of owner %s over safeTxHash %s (%s)", o.Address.Hex(), a.hashes.SafeTx.Hex(), strings.Join(seen, "; "))
}

// normalizeV turns a recovery id 0/1 (as some devices return it) into
// 27/28.
func normalizeV(sig []byte) []byte {
	if len(sig) == 65 && sig[64] < 2 {
		out := bytes.Clone(sig)
		out[64] += 27
		return out
	}
	return sig
}

var _ chain.ExternalCollector = Adapter{}
