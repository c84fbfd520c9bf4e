package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/airlock-vault/airlock/transport/qr/ur"
)

// A stand-in hardware wallet for Safe owners (a Ledger, a Keystone): its
// key is keccak256 of a seed phrase the script names, outside airlock.
func ethWalletKey(ts *testscript.TestScript, seed string) ([]byte, common.Address) {
	k := crypto.Keccak256([]byte(seed))
	pk, err := crypto.ToECDSA(k)
	ts.Check(err)
	return k, crypto.PubkeyToAddress(pk.PublicKey)
}

// eth-wallet SEED ID FILE writes the policy entry of an external Safe
// owner device holding SEED's key: kind external, its address.
func cmdEthWallet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: eth-wallet SEED ID FILE")
	}
	_, addr := ethWalletKey(ts, args[0])
	entry := fmt.Sprintf("      - id: %s\n        kind: external\n        vendor: Ledger\n        model: Nano X\n        ethereum: \"%s\"\n", args[1], addr.Hex())
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte(entry), 0o644))
}

// eth-wallet-sign SEED REQUEST FORMAT OUT does what the wallet does with
// an ur:eth-sign-request it scanned (REQUEST: the --json output of
// "qr show --eth-sign-request"): it hashes the typed data itself
// (go-ethereum's EIP-712 code), signs it, and writes the answer as FORMAT:
// hex (a Ledger through a wallet app), ur (an ur:eth-signature, as a
// Keystone shows it) or confirmation (the Transaction Service's
// confirmation JSON).
func cmdEthWalletSign(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: eth-wallet-sign SEED REQUEST FORMAT OUT")
	}
	key, addr := ethWalletKey(ts, args[0])
	var shown struct {
		Frames []string `json:"frames"`
	}
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &shown))
	var d ur.URDecoder
	for _, f := range shown.Frames {
		ts.Check(d.Receive(f))
	}
	if !d.Complete() || d.Type != ur.TypeEthSignRequest {
		ts.Fatalf("the frames are no complete eth-sign-request (%s)", d.Type)
	}
	req, err := ur.ParseEthSignRequest(d.Result())
	ts.Check(err)
	if req.DataType != ur.EthTypedData || !strings.EqualFold(hex.EncodeToString(req.Address), hex.EncodeToString(addr.Bytes())) {
		ts.Fatalf("the request is not typed data for this wallet's address %s", addr.Hex())
	}
	var typed apitypes.TypedData
	ts.Check(json.Unmarshal(req.SignData, &typed))
	h, _, err := apitypes.TypedDataAndHash(typed)
	ts.Check(err)
	pk, err := crypto.ToECDSA(key)
	ts.Check(err)
	sig, err := crypto.Sign(h, pk)
	ts.Check(err)
	sig[64] += 27
	var out string
	switch args[2] {
	case "hex":
		out = "0x" + hex.EncodeToString(sig) + "\n"
	case "ur":
		b, err := (&ur.EthSignature{RequestID: req.RequestID, Signature: sig, Origin: "stand-in wallet"}).CBOR()
		ts.Check(err)
		parts, err := ur.Encode(ur.TypeEthSignature, b, 1000, 1)
		ts.Check(err)
		out = parts[0] + "\n"
	case "confirmation":
		b, _ := json.Marshal(map[string]string{"owner": addr.Hex(), "signature": "0x" + hex.EncodeToString(sig), "signatureType": "EOA", "submissionDate": "2026-12-04T09:00:00Z"})
		out = string(b) + "\n"
	default:
		ts.Fatalf("format %q: want hex, ur or confirmation", args[2])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[3]), []byte(out), 0o644))
}
