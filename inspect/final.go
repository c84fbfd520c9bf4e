package inspect

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/airlock-vault/airlock/coordinator"
)

// FinalFiles are the files a finalized proposal was written to.
type FinalFiles struct {
	// Transaction holds the transaction, of Kind ("raw transaction hex",
	// and the Unsigned file's part where there is one).
	Transaction, Kind string
	// Unsigned holds the unsigned transaction any account may send, where
	// the chain has one ("" elsewhere).
	Unsigned string
	// Proof holds the threshold proof.
	Proof string
}

// approvers lists the approvals of a threshold proof, participant/device.
func approvers(f *coordinator.Finalized) []string {
	var who []string
	for _, a := range f.Proof.Approvals {
		who = append(who, a.Participant+"/"+a.Device)
	}
	return who
}

// Final is a finalized proposal as "airlock finalize --json" prints it
// (docs/schemas/finalize.schema.json).
func Final(f *coordinator.Finalized, files FinalFiles) any {
	var ens []string
	for _, a := range f.Proof.Endorsements {
		ens = append(ens, a.Participant)
	}
	path := f.Proof.Path
	if path == "" {
		path = "threshold"
	}
	return struct {
		Proposal      string   `json:"proposal"`
		Vault         string   `json:"vault"`
		TxID          string   `json:"txid"`
		Path          string   `json:"path"`
		Threshold     int      `json:"threshold"`
		PolicyVersion uint64   `json:"policyVersion"`
		Approvals     []string `json:"approvals"`
		Endorsements  []string `json:"endorsements"`
		Rule          string   `json:"rule,omitempty"`
		Transaction   string   `json:"transactionFile"`
		Kind          string   `json:"transactionKind"`
		Unsigned      string   `json:"unsignedFile,omitempty"`
		Proof         string   `json:"proofFile"`
		Again         bool     `json:"finalizedBefore"`
		Lines         []string `json:"lines"`
	}{hex.EncodeToString(f.Proof.Proposal), f.Proof.Vault, f.Final.TxID, path, f.Proof.Threshold, f.Proof.PolicyVersion,
		orEmpty(approvers(f)), orEmpty(ens), f.Proof.Rule, files.Transaction, files.Kind, files.Unsigned, files.Proof, f.Again, orEmpty(f.Final.Lines)}
}

// FinalText writes a finalized proposal as "airlock finalize" prints it:
// the chain adapter's lines, the path taken and by whom, and the files.
func FinalText(w io.Writer, f *coordinator.Finalized, files FinalFiles) {
	for _, l := range f.Final.Lines {
		fmt.Fprintln(w, l)
	}
	who := approvers(f)
	if f.Proof.Path == "recovery" {
		fmt.Fprintf(w, "recovery path taken under policy version %d, approved by the recovery signer %s alone\n", f.Proof.PolicyVersion, strings.Join(who, ", "))
	} else {
		fmt.Fprintf(w, "threshold %d met under policy version %d by %s\n", f.Proof.Threshold, f.Proof.PolicyVersion, strings.Join(who, ", "))
	}
	fmt.Fprintf(w, "wrote %s (%s) and %s (threshold proof)\n", files.Transaction, files.Kind, files.Proof)
}
