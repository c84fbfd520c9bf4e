package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/proposal"
)

// verify checks a threshold proof end to end against the workspace's
// verified chain of policy versions (proposal.VerifyProof). Exit 3 when it
// does not verify.
func (e *env) verify(args []string) error {
	fs := e.flags("verify")
	propFile := fs.String("proposal", "", "the proposal the proof is for (default: the one this workspace holds)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("verify: want one threshold proof file")
	}
	pe, err := envelope.ReadFile(pos[0])
	if err != nil {
		return err
	}
	if pe.Type != envelope.TypeProof {
		return withHint(fmt.Errorf("verify: %s holds %s; verify checks threshold proofs", pos[0], pe.Type), "'airlock inspect FILE' reads any artifact; 'airlock audit check-proof' checks audit-log proofs")
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	envs, err := ws.Policies()
	if err != nil {
		return err
	}
	versions, err := proposal.Versions(envs, reg)
	if err != nil {
		return err
	}
	pr, err := proposal.DecodeProof(pe)
	if err != nil {
		return err
	}
	var prop *envelope.Envelope
	if *propFile != "" {
		if prop, err = envelope.ReadFile(*propFile); err != nil {
			return err
		}
	} else if prop, err = ws.Proposal(hex.EncodeToString(pr.Proposal)); err != nil {
		return withHint(err, "give the proposal the proof is for with --proposal FILE")
	}
	rep, err := proposal.VerifyProof(pe, versions, prop, reg)
	if errors.Is(err, proposal.ErrProofInvalid) {
		return &refusedError{err.Error()}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			Verified      bool     `json:"verified"`
			Proposal      string   `json:"proposal"`
			Vault         string   `json:"vault"`
			PolicyVersion uint64   `json:"policyVersion"`
			Coordinator   string   `json:"coordinator"`
			Approvals     []string `json:"approvals"`
			Endorsements  []string `json:"endorsements"`
			TxID          string   `json:"txid"`
			Rule          string   `json:"rule,omitempty"`
		}{true, prop.IDHex(), pr.Vault, rep.Policy.Version, rep.Coordinator, orEmpty(rep.Approvals), orEmpty(rep.Endorsements), rep.TxID, pr.Rule})
	}
	fmt.Fprintf(e.stdout, "threshold proof verified: proposal %s, vault %s, policy %s version %d, signed by coordinator %s\n", prop.IDHex()[:16], pr.Vault, rep.Policy.Name, rep.Policy.Version, rep.Coordinator)
	fmt.Fprintf(e.stdout, "approvals: %s (threshold %d)", strings.Join(rep.Approvals, ", "), pr.Threshold)
	if len(rep.Endorsements) > 0 {
		fmt.Fprintf(e.stdout, "; endorsements: %s", strings.Join(rep.Endorsements, ", "))
	}
	fmt.Fprintf(e.stdout, "\nfinal transaction %s: exactly what the approvals assemble\n", rep.TxID)
	return nil
}
