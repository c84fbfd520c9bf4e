package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/inspect"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/workspace"
)

// policyRefused turns what a policy version is refused for into a
// refusal (exit 3), keeping its reason.
func policyRefused(err error) error {
	if errors.Is(err, policy.ErrInvalid) || errors.Is(err, policy.ErrTooSoon) || errors.Is(err, policy.ErrBrokenChain) {
		return withHint(&refusedError{err.Error()}, "fix the file and run 'airlock policy propose' again; nothing was written")
	}
	return err
}

func (e *env) policyPropose(args []string) error {
	fs := e.flags("policy propose")
	out := fs.String("out", "", "where to write the unsigned version (default: NAME-vN.policy)")
	nb := fs.String("not-before", "", "when it takes effect (RFC 3339); default: the earliest it may")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("policy propose: want one policy file (YAML or JSON; 'airlock policy show --yaml' prints the version in effect)")
	}
	var notBefore time.Time
	if *nb != "" {
		if notBefore, err = time.Parse(time.RFC3339, *nb); err != nil {
			return usagef("policy propose: --not-before %q is not an RFC 3339 time", *nb)
		}
	}
	src, err := envelope.ReadArtifact(pos[0])
	if err != nil {
		return err
	}
	f, err := policy.ParseFile(src)
	if err != nil {
		return policyRefused(fmt.Errorf("%w: %v", policy.ErrInvalid, strings.TrimPrefix(err.Error(), "policy: ")))
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	c, err := ws.PolicyChain(reg)
	if err != nil {
		return err
	}
	prev, _ := c.Newest()
	p, changes, err := policy.Next(prev, f, reg, ws.Now(), notBefore)
	if err != nil {
		return policyRefused(err)
	}
	return e.writeVersion(prev, p, changes, *out, *asJSON)
}

func (e *env) policyRevoke(args []string) error {
	fs := e.flags("policy revoke")
	out := fs.String("out", "", "where to write the unsigned version (default: NAME-vN.policy)")
	device := fs.String("device", "", "the device to revoke, PARTICIPANT/DEVICE")
	participant := fs.String("participant", "", "the participant to revoke (every device of theirs)")
	reason := fs.String("reason", "", "why (recorded in the policy)")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || (*device == "") == (*participant == "") || *reason == "" {
		return usagef("policy revoke: want --device P/D or --participant P, and --reason R")
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	c, err := ws.PolicyChain(reg)
	if err != nil {
		return err
	}
	prev, _ := c.Newest()
	f := policy.ToFile(prev)
	if err := revokeIn(f, *participant, *device, *reason); err != nil {
		return err
	}
	p, changes, err := policy.Next(prev, f, reg, ws.Now(), time.Time{})
	if err != nil {
		return policyRefused(err)
	}
	return e.writeVersion(prev, p, changes, *out, *asJSON)
}

// revokeIn marks a participant or a device ("p/d") revoked in f.
func revokeIn(f *policy.File, participant, device, reason string) error {
	pid, did := participant, ""
	if device != "" {
		var ok bool
		if pid, did, ok = strings.Cut(device, "/"); !ok {
			return usagef("policy revoke: --device %q: want PARTICIPANT/DEVICE", device)
		}
	}
	err := f.Revoke(pid, did, reason)
	switch {
	case errors.Is(err, policy.ErrNoDevice):
		return withHint(err, "'airlock policy show' lists the devices")
	case errors.Is(err, policy.ErrNoParticipant):
		return withHint(err, "'airlock policy show' lists the participants")
	}
	return err
}

// writeVersion writes version p (after prev) unsigned, and prints what
// it changes and when it takes effect.
func (e *env) writeVersion(prev, p *policy.Policy, changes []policy.Change, out string, asJSON bool) error {
	if out == "" {
		out = fmt.Sprintf("%s-v%d.policy", p.Name, p.Version)
	}
	env, err := policy.Seal(p)
	if err != nil {
		return err
	}
	if _, err := os.Stat(out); err == nil {
		return withHint(fmt.Errorf("%s exists; nothing was written", out), "choose another --out or remove it")
	}
	if err := writeEnvelope(out, env); err != nil {
		return err
	}
	if asJSON {
		return printJSON(e.stdout, versionJSON{File: out, Name: p.Name, Version: p.Version, ID: env.IDHex(), Previous: hex.EncodeToString(p.Previous),
			Changes: changesOrEmpty(changes), Loosens: len(policy.Loosening(changes)) > 0, NotBefore: time.Unix(p.NotBefore, 0).UTC().Format(time.RFC3339),
			SignaturesNeeded: prev.PolicyThreshold, Signed: []string{}})
	}
	fmt.Fprintf(e.stdout, "wrote %s: policy %s version %d, id %s\n", out, p.Name, p.Version, env.IDHex())
	inspect.ChangesText(e.stdout, prev, p, changes)
	fmt.Fprintf(e.stdout, "%d of version %d's participants must now sign it: airlock policy sign %s\n", prev.PolicyThreshold, prev.Version, out)
	return nil
}

// versionBefore finds, in the workspace at dir, the version p follows
// (nil when the workspace does not hold it).
func versionBefore(ws *workspace.Workspace, p *policy.Policy) *policy.Policy {
	if p.Version < 2 {
		return nil
	}
	c, err := ws.PolicyChain(reg)
	if err != nil || len(c.Versions) < int(p.Version)-1 {
		return nil
	}
	return c.Versions[p.Version-2]
}

// checkSignTime refuses (exit 3) to co-sign a version made in the
// future or back-dated by this station's clock (policy.CheckSignTime).
func checkSignTime(p *policy.Policy, now time.Time) error {
	err := policy.CheckSignTime(p, now)
	switch {
	case errors.Is(err, policy.ErrBackdated):
		return withHint(&refusedError{err.Error()}, "ask for the version to be proposed again ('airlock policy propose')")
	case err != nil:
		return &refusedError{err.Error()}
	}
	return nil
}

// versionJSON is what policy init, propose, revoke, sign and import print
// under --json (docs/schemas/policy-version.schema.json).
type versionJSON struct {
	File             string          `json:"file,omitempty"`
	Name             string          `json:"name"`
	Version          uint64          `json:"version"`
	ID               string          `json:"id"`
	Previous         string          `json:"previous"`
	Changes          []policy.Change `json:"changes"`
	Loosens          bool            `json:"loosens"`
	NotBefore        string          `json:"notBefore,omitempty"`
	InEffect         *bool           `json:"inEffect,omitempty"`
	Signed           []string        `json:"signed"`
	SignaturesNeeded int             `json:"signaturesNeeded"`
	Complete         bool            `json:"complete"`
	Vaults           []string        `json:"vaults,omitempty"`
}

func changesOrEmpty(c []policy.Change) []policy.Change {
	if c == nil {
		return []policy.Change{}
	}
	return c
}
