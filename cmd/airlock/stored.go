package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

// exportStored writes an output the workspace kept, at any later time: at
// a coordinator a finalized proposal's transaction and threshold proof, at
// a station its decision on a proposal, anywhere a kept decision, proof or
// manifest by its own id.
func (e *env) exportStored(ref, out string) error {
	ref, err := proposalID(ref)
	if err != nil {
		return err
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	ctx := context.Background()
	k, err := ws.Find(ctx, ref)
	switch {
	case errors.Is(err, workspace.ErrUndecided):
		return withHint(err, "review and sign it first")
	case errors.Is(err, workspace.ErrNotFound):
		return withHint(err, "'airlock audit log' lists what was made, with ids")
	case err != nil:
		return err
	}
	if k.Proposal != nil && ws.Config.Role == workspace.Coordinator {
		f, err := e.coordinator(ws).Stored(ctx, k.Proposal.ID())
		if errors.Is(err, store.ErrNotFound) {
			// Not finalized: the proposal itself.
			return e.writeKept(ws, k.Env, k.Kind, out)
		}
		if err != nil {
			return err
		}
		if err := ws.Log(ctx, "output.written", k.Proposal.IDHex(), map[string]string{"what": "final transaction and proof", "file": out}); err != nil {
			return err
		}
		return e.writeFinal(f, out, false)
	}
	return e.writeKept(ws, k.Env, k.Kind, out)
}

// exportProposal writes the proposal ref as kept (a station keeps each
// one it decided on; a coordinator every one it holds).
func (e *env) exportProposal(ref, out string) error {
	ref, err := proposalID(ref)
	if err != nil {
		return err
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	var pe *envelope.Envelope
	if ws.Config.Role == workspace.Station {
		pe, err = e.station(ws).KeptProposal(context.Background(), ref)
	} else {
		pe, err = ws.Proposal(ref)
	}
	switch {
	case errors.Is(err, workspace.ErrNotFound):
		return withHint(err, "'airlock audit log' lists what was made, with ids")
	case errors.Is(err, station.ErrReleased):
		return &refusedError{err.Error()}
	case err != nil:
		return err
	}
	return e.writeKept(ws, pe, "proposal", out)
}

func (e *env) writeKept(ws *workspace.Workspace, env *envelope.Envelope, kind, out string) error {
	if err := ws.Log(context.Background(), "output.written", env.IDHex(), map[string]string{"what": kind, "file": out}); err != nil {
		return err
	}
	if err := writeEnvelope(out, env); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s: the kept %s %s\n", out, kind, env.IDHex()[:16])
	return nil
}

// store runs the two acknowledged recoveries of a workspace's store.
func (e *env) store(args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fs := e.flags("store")
		fs.String("acknowledge", "", "why: recorded in the log and signed")
		e.secretFlags(fs)
		jsonFlag(fs)
		return &helpRequested{fs}
	}
	if len(args) == 0 || (args[0] != "reinit" && args[0] != "accept") {
		return usagef("store: want reinit or accept")
	}
	fs := e.flags("store " + args[0])
	ack := fs.String("acknowledge", "", "why: recorded in the log and signed")
	secrets := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	if pos, err := parse(fs, args[1:]); err != nil {
		return err
	} else if len(pos) > 0 || *ack == "" {
		return usagef("store %s: want --acknowledge REASON", args[0])
	}
	stub, err := workspace.Stub(e.dir)
	if err != nil {
		return err
	}
	if e.clockSet && !stub.Config.Drill {
		return errClockOverride()
	}
	ks, err := e.unlock(stub, secrets)
	if err != nil {
		return err
	}
	defer ks.Close()
	var ws *workspace.Workspace
	if args[0] == "reinit" {
		ws, err = workspace.Reinit(e.dir, *ack, ks.Identity, e.wsOptions())
	} else {
		ws, err = workspace.Accept(e.dir, *ack, ks.Identity, e.wsOptions())
	}
	if err != nil {
		return err
	}
	defer ws.Close()
	h, err := ws.CurrentHead(context.Background())
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, struct {
			Action       string `json:"action"`
			Workspace    string `json:"workspace"`
			Entries      int64  `json:"entries"`
			Acknowledged string `json:"acknowledged"`
			Forgot       bool   `json:"stationForgotApprovals"`
		}{args[0], e.dir, h.Size, *ack, args[0] == "reinit" && ws.Config.Role == workspace.Station})
	}
	if args[0] == "reinit" {
		fmt.Fprintf(e.stdout, "re-initialised the store of %s: a new log, its first entry records why (%q)\n", e.dir, *ack)
		if ws.Config.Role == workspace.Station {
			fmt.Fprintln(e.stdout, "warning: this station no longer remembers what it approved; check every proposal against the coordinator's record before signing")
		}
	} else {
		fmt.Fprintf(e.stdout, "accepted the store of %s as it is (%d entries); the log records why (%q)\n", e.dir, h.Size, *ack)
	}
	return nil
}
