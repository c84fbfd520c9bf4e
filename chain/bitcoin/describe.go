package bitcoin

import (
	"encoding/hex"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/v2"
	"github.com/btcsuite/btcd/txscript/v2"

	"github.com/airlock-vault/airlock/chain/bitcoin/psbt"
	"github.com/airlock-vault/airlock/keys"
)

// PSBTJSON is a PSBT's contents as an auditor reads them, without any vault
// context: nothing here is proven, it is what the PSBT says.
type PSBTJSON struct {
	TxID     string       `json:"txid"`
	Version  int32        `json:"version"`
	LockTime uint32       `json:"locktime"`
	XPubs    int          `json:"globalXpubs"`
	Unknowns int          `json:"globalUnknownFields"`
	Inputs   []PSBTInput  `json:"inputs"`
	Outputs  []PSBTOutput `json:"outputs"`
}

type PSBTInput struct {
	Outpoint       string       `json:"outpoint"`
	Sequence       uint32       `json:"sequence"`
	WitnessUTXO    *PSBTOutput  `json:"witnessUtxo,omitempty"`
	NonWitnessUTXO string       `json:"nonWitnessUtxoTxid,omitempty"`
	PartialSigs    []string     `json:"partialSigsByPubkey,omitempty"`
	SighashType    *uint32      `json:"sighashType,omitempty"`
	WitnessScript  string       `json:"witnessScript,omitempty"`
	RedeemScript   string       `json:"redeemScript,omitempty"`
	Derivations    []Derivation `json:"bip32Derivations,omitempty"`
	Final          bool         `json:"finalized"`
	Unknowns       int          `json:"unknownFields"`
}

type PSBTOutput struct {
	Amount      int64        `json:"amount"`
	Script      string       `json:"script"`
	Address     string       `json:"address,omitempty"`
	Derivations []Derivation `json:"bip32Derivations,omitempty"`
}

type Derivation struct {
	PubKey      string `json:"pubkey"`
	Fingerprint string `json:"fingerprint"`
	Path        string `json:"path"`
}

// DescribePSBT decodes a PSBT (base64 or binary) for inspection. Addresses
// are rendered for net when it is not nil.
func DescribePSBT(raw []byte, net *chaincfg.Params) (*PSBTJSON, error) {
	pkt, err := psbt.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("bitcoin: %v", err)
	}
	tx := pkt.UnsignedTx
	out := &PSBTJSON{TxID: tx.TxHash().String(), Version: tx.Version, LockTime: tx.LockTime, XPubs: len(pkt.XPubs), Unknowns: len(pkt.Unknowns)}
	addr := func(script []byte) string {
		if net == nil {
			return ""
		}
		_, as, _, err := txscript.ExtractPkScriptAddrs(script, net)
		if err != nil || len(as) != 1 {
			return ""
		}
		return as[0].EncodeAddress()
	}
	derivs := func(ds []psbt.Bip32Derivation) []Derivation {
		var o []Derivation
		for _, d := range ds {
			o = append(o, Derivation{hex.EncodeToString(d.PubKey), keys.FormatFingerprint(d.Fingerprint), keys.FormatPath(d.Path)})
		}
		return o
	}
	for i, in := range tx.TxIn {
		p := &pkt.Inputs[i]
		row := PSBTInput{Outpoint: in.PreviousOutPoint.String(), Sequence: in.Sequence, Unknowns: len(p.Unknowns),
			WitnessScript: hex.EncodeToString(p.WitnessScript), RedeemScript: hex.EncodeToString(p.RedeemScript),
			Derivations: derivs(p.Bip32Derivations), Final: len(p.FinalScriptSig) > 0 || len(p.FinalScriptWitness) > 0}
		if p.WitnessUtxo != nil {
			row.WitnessUTXO = &PSBTOutput{Amount: p.WitnessUtxo.Value, Script: hex.EncodeToString(p.WitnessUtxo.PkScript), Address: addr(p.WitnessUtxo.PkScript)}
		}
		if p.NonWitnessUtxo != nil {
			row.NonWitnessUTXO = p.NonWitnessUtxo.TxHash().String()
		}
		for _, s := range p.PartialSigs {
			row.PartialSigs = append(row.PartialSigs, hex.EncodeToString(s.PubKey))
		}
		if p.HasSighashType {
			st := p.SighashType
			row.SighashType = &st
		}
		out.Inputs = append(out.Inputs, row)
	}
	for i, o := range tx.TxOut {
		out.Outputs = append(out.Outputs, PSBTOutput{Amount: o.Value, Script: hex.EncodeToString(o.PkScript), Address: addr(o.PkScript), Derivations: derivs(pkt.Outputs[i].Bip32Derivations)})
	}
	return out, nil
}
