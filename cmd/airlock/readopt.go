package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/workspace"
)

// readopt takes back, at the coordinator, a proposal it signed and lost
// (a restore of its database): coordinator.Readopt decides.
func (e *env) readopt(args []string) error {
	fs := e.flags("readopt")
	reason := fs.String("reason", coordinator.ReasonRestore, "why it was lost (recorded in the log)")
	secrets := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("readopt: want one proposal file")
	}
	pe, err := envelope.ReadFile(pos[0])
	if err != nil {
		return err
	}
	// An operator's deliberate step, made with the coordinator's key,
	// which signs a checkpoint of the log once the change is made.
	ws, ks, done, err := e.unlocked(workspace.Coordinator, secrets)
	if err != nil {
		return err
	}
	defer done()
	type result struct {
		Proposal string `json:"proposal"`
		Result   string `json:"result"` // readopted, already-known
		Vault    string `json:"vault"`
		TxID     string `json:"txid"`
		Expires  string `json:"expires"`
		State    string `json:"state"`
		Reason   string `json:"reason"`
	}
	got, err := e.coordinator(ws).Readopt(context.Background(), pe, *reason)
	switch {
	case errors.Is(err, coordinator.ErrAlreadyKnown):
		if *asJSON {
			return printJSON(e.stdout, result{Proposal: pe.IDHex(), Result: "already-known", State: "known", Reason: *reason})
		}
		fmt.Fprintf(e.stdout, "proposal %s is already known; nothing changed\n", pe.IDHex()[:16])
		return nil
	case errors.Is(err, coordinator.ErrNotReadoptable):
		return withHint(&refusedError{err.Error()}, "nothing was recorded")
	case err != nil:
		return err
	}
	if err := e.checkpoint(ws, ks); err != nil {
		return err
	}
	p := got.Proposal
	if *asJSON {
		return printJSON(e.stdout, result{pe.IDHex(), "readopted", p.Vault, got.TxID, p.ExpiresTime().Format(time.RFC3339), "open", *reason})
	}
	fmt.Fprintf(e.stdout, "re-adopted proposal %s (vault %s, txid %s, expires %s): open\n", pe.IDHex()[:16], p.Vault, got.TxID, p.ExpiresTime().Format(time.RFC3339))
	fmt.Fprintf(e.stdout, "hand in the stations' decisions again: 'airlock -C STATION export %s --out F' there, 'airlock collect F' here\n", pe.IDHex()[:16])
	return nil
}
