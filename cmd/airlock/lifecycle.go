package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/workspace"
)

// withdraw ends a proposal at the coordinator, with a reason, and writes
// the signed release for the stations.
func (e *env) withdraw(args []string) error {
	fs := e.flags("withdraw")
	reason := fs.String("reason", "", "why (recorded, signed, shown to the stations)")
	out := fs.String("out", "", "where to write the release (default: ID.release)")
	secrets := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || strings.TrimSpace(*reason) == "" {
		return usagef("withdraw: want ID --reason R")
	}
	if e.service != "" {
		return e.withdrawRemote(secrets, pos[0], *reason, *out, *asJSON)
	}
	ref, err := proposalID(pos[0])
	if err != nil {
		return err
	}
	ws, ks, done, err := e.unlocked(workspace.Coordinator, secrets)
	if err != nil {
		return err
	}
	defer done()
	rel, err := e.coordinator(ws).Withdraw(context.Background(), ref, *reason, ks.Identity)
	if err != nil {
		return err
	}
	if err := e.checkpoint(ws, ks); err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintf(e.stdout, "withdrew proposal %s: %q\n", ref, *reason)
	}
	return e.writeRelease(rel, *out, *asJSON)
}

// release gives a withdrawn, rejected or expired proposal's signed release
// (at a coordinator), or applies one (at a station).
func (e *env) release(args []string) error {
	fs := e.flags("release")
	out := fs.String("out", "", "coordinator: where to write the release (default: ID.release)")
	secrets := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("release: want a proposal id (coordinator) or a release file (station)")
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	ctx := context.Background()
	if ws.Config.Role == workspace.Station {
		raw, err := envelope.ReadArtifact(pos[0])
		if err != nil {
			return err
		}
		r, err := e.station(ws).ApplyRelease(ctx, raw, nil)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(e.stdout, struct {
				Proposal    string   `json:"proposal"`
				State       string   `json:"state"`
				Coordinator string   `json:"coordinator"`
				Reason      string   `json:"reason"`
				Freed       []string `json:"freedClaims"`
			}{hex.EncodeToString(r.ID[:]), string(r.Release.State), r.Release.Coordinator, r.Release.Reason, orEmpty(r.Claims)})
		}
		what := "freed nothing (this station claimed nothing for it)"
		if len(r.Claims) > 0 {
			what = fmt.Sprintf("freed %d claims: %s", len(r.Claims), strings.Join(r.Claims, ", "))
		}
		fmt.Fprintf(e.stdout, "release of proposal %s verified (%s by %s: %q); %s\n", hex.EncodeToString(r.ID[:8]), r.Release.State, r.Release.Coordinator, r.Release.Reason, what)
		return nil
	}
	ref, err := proposalID(pos[0])
	if err != nil {
		return err
	}
	ks, err := e.unlock(ws, secrets)
	if err != nil {
		return err
	}
	defer ks.Close()
	rel, err := e.coordinator(ws).Release(ctx, ref, ks.Identity)
	if err != nil {
		return err
	}
	if err := e.checkpoint(ws, ks); err != nil {
		return err
	}
	return e.writeRelease(rel, *out, *asJSON)
}

func (e *env) writeRelease(rel *envelope.Envelope, out string, asJSON bool) error {
	if out == "" {
		out = rel.IDHex()[:16] + ".release"
	}
	if err := writeEnvelope(out, rel); err != nil {
		return withHint(err, fmt.Sprintf("the release is kept: 'airlock export %s --out FILE' writes it again", rel.IDHex()[:16]))
	}
	if asJSON {
		r, err := proposal.DecodeRelease(rel)
		if err != nil {
			return err
		}
		return printJSON(e.stdout, struct {
			Proposal string `json:"proposal"`
			State    string `json:"state"`
			Reason   string `json:"reason"`
			Release  string `json:"release"`
			File     string `json:"file"`
		}{hex.EncodeToString(r.Proposal), string(r.State), r.Reason, rel.IDHex(), out})
	}
	fmt.Fprintf(e.stdout, "wrote %s: carry it to each station ('airlock release %s' there frees what it claimed)\n", out, out)
	return nil
}
