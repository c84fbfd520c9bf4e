package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/inspect"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/workspace"
)

func writeEnvelope(path string, e *envelope.Envelope) error {
	b, err := e.Encode()
	if err != nil {
		return err
	}
	return workspace.WriteFileAtomic(path, b, 0o644)
}

func (e *env) policyInit(args []string) error {
	fs := e.flags("policy init")
	out := fs.String("out", "policy.airlock", "where to write the unsigned policy envelope")
	bsms := e.bsmsPolicyFlags(fs)
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("policy init: want one policy file (YAML or JSON)")
	}
	src, err := envelope.ReadArtifact(pos[0])
	if err != nil {
		return err
	}
	f, err := policy.ParseFile(src)
	if err != nil {
		return err
	}
	p, err := f.Genesis(reg)
	if err != nil {
		return err
	}
	if err := e.checkPolicyKeyRecords(p, bsms); err != nil {
		return err
	}
	env, err := policy.Seal(p)
	if err != nil {
		return err
	}
	if _, err := os.Stat(*out); err == nil {
		return withHint(fmt.Errorf("%s exists; nothing was written", *out), "choose another --out or remove it")
	}
	if err := writeEnvelope(*out, env); err != nil {
		return err
	}
	if *asJSON {
		var vs []string
		for _, v := range p.Vaults {
			vs = append(vs, v.Name)
		}
		return printJSON(e.stdout, versionJSON{File: *out, Name: p.Name, Version: p.Version, ID: env.IDHex(), Changes: []policy.Change{},
			Signed: []string{}, SignaturesNeeded: len(p.Participants), Vaults: vs})
	}
	fmt.Fprintf(e.stdout, "wrote %s: policy %s version 1, id %s\n", *out, p.Name, env.IDHex())
	for _, v := range p.Vaults {
		fmt.Fprintf(e.stdout, "vault %s: %d of %d, %s\n", v.Name, v.Threshold, len(v.Signers), v.Descriptor)
		if r := v.Recovery; r != nil {
			fmt.Fprintf(e.stdout, "vault %s: recovery by %s alone after %d blocks\n", v.Name, r.Signer, r.After)
		}
	}
	fmt.Fprintf(e.stdout, "every participant must now sign it: airlock policy sign %s\n", *out)
	return nil
}

func (e *env) policySign(args []string) error {
	fs := e.flags("policy sign")
	passFile := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("policy sign: want one policy file")
	}
	ws, err := e.openRole(workspace.Station)
	if err != nil {
		return err
	}
	defer ws.Close()
	env, err := envelope.ReadFile(pos[0])
	if err != nil {
		return err
	}
	var prev *policy.Policy
	if next, err := policy.Open(env); err == nil {
		prev = versionBefore(ws, next)
		if prev == nil && next.Version > 1 {
			return withHint(fmt.Errorf("policy %s version %d follows version %d, which this workspace does not hold; refusing to sign what cannot be compared", next.Name, next.Version, next.Version-1),
				"import the versions before it first ('airlock policy import')")
		}
	}
	st, err := policy.Check(env, prev, reg)
	if err != nil {
		return policyRefused(err)
	}
	p := st.Policy
	var changes []policy.Change
	if prev != nil {
		// Stations review the change offline before they co-sign.
		changes = policy.Diff(prev, p)
		if !*asJSON {
			inspect.ChangesText(e.stdout, prev, p, changes)
		}
		if err := checkSignTime(p, ws.Now()); err != nil {
			return err
		}
		if revoked, why := prev.RevokedDevice(ws.Config.Name, ws.Config.Device); revoked {
			return &refusedError{fmt.Sprintf("this station's key is revoked: %s; it signs nothing", why)}
		}
	}
	part, _, err := ws.Member(p)
	if prev != nil && err != nil {
		// A version that drops this station is signed by who it was.
		part, _, err = ws.Member(prev)
	}
	if err != nil {
		return fmt.Errorf("%w; refusing to sign", err)
	}
	ks, err := e.unlock(ws, passFile)
	if err != nil {
		return err
	}
	defer ks.Close()
	if err := env.Sign(ks.Identity); err != nil {
		return err
	}
	if err := writeEnvelope(pos[0], env); err != nil {
		return err
	}
	if err := e.logger(ws, ks)("policy.signed", env.IDHex(), map[string]string{"name": p.Name, "version": fmt.Sprint(p.Version)}); err != nil {
		return err
	}
	st, err = policy.Check(env, prev, reg)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, versionJSON{File: pos[0], Name: p.Name, Version: p.Version, ID: env.IDHex(), Previous: hex.EncodeToString(p.Previous),
			Changes: changesOrEmpty(changes), Loosens: len(policy.Loosening(changes)) > 0, Signed: orEmpty(st.Signed), SignaturesNeeded: st.Needed, Complete: st.Complete})
	}
	fmt.Fprintf(e.stdout, "signed policy %s version %d (%s) as %s: %d of %d signatures\n", p.Name, p.Version, env.IDHex()[:16], part.ID, len(st.Signed), st.Needed)
	return nil
}

func (e *env) policyImport(args []string) error {
	fs := e.flags("policy import")
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("policy import: want a policy file (or several, oldest first, for a participant who joins in a later version)")
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	var envs []*envelope.Envelope
	for _, f := range pos {
		env, err := envelope.ReadFile(f)
		if err != nil {
			return err
		}
		envs = append(envs, env)
	}
	var p *policy.Policy
	if len(envs) == 1 {
		p, err = ws.ImportPolicy(envs[0], reg)
	} else {
		var ps []*policy.Policy
		ps, err = ws.ImportPolicies(envs, reg)
		for _, q := range ps {
			p = q
			if q != ps[len(ps)-1] && !*asJSON {
				fmt.Fprintf(e.stdout, "imported policy %s version %d\n", q.Name, q.Version)
			}
		}
	}
	if errors.Is(err, policy.ErrIncomplete) {
		return withHint(err, "every participant must run 'airlock policy sign' on it first")
	}
	if err != nil {
		return err
	}
	env := envs[len(envs)-1]
	if id, err := policy.ID(p); err == nil {
		for _, x := range envs {
			if x.ID() == id {
				env = x
			}
		}
	}
	if *asJSON {
		in := p.InEffect(ws.Now())
		nb := ""
		if p.NotBefore != 0 {
			nb = p.EffectiveAt().Format(time.RFC3339)
		}
		return printJSON(e.stdout, versionJSON{Name: p.Name, Version: p.Version, ID: env.IDHex(), Previous: hex.EncodeToString(p.Previous),
			Changes: []policy.Change{}, NotBefore: nb, InEffect: &in, Signed: []string{}, Complete: true})
	}
	fmt.Fprintf(e.stdout, "imported policy %s version %d (%s)\n", p.Name, p.Version, env.IDHex()[:16])
	if p.Version > 1 {
		if p.InEffect(ws.Now()) {
			fmt.Fprintf(e.stdout, "version %d is in effect now\n", p.Version)
		} else {
			fmt.Fprintf(e.stdout, "version %d is pending: it takes effect at %s; until then version %d stays in effect (revocations in it apply at once)\n", p.Version, p.EffectiveAt().Format(time.RFC3339), p.Version-1)
		}
	}
	return nil
}

func (e *env) policyShow(args []string) error {
	fs := e.flags("policy show")
	asJSON := fs.Bool("json", false, "print JSON")
	asYAML := fs.Bool("yaml", false, "print the version the next one follows (in effect, or the newest pending) as editable YAML (for 'airlock policy propose')")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	var env *envelope.Envelope
	var prev *policy.Policy
	var pending []*policy.Policy
	var inEffect *policy.Policy
	switch len(pos) {
	case 1:
		if env, err = envelope.ReadFile(pos[0]); err != nil {
			return err
		}
		if ws, err := workspace.Open(e.dir, e.wsOptions()); err == nil {
			if p, err := policy.Open(env); err == nil {
				prev = versionBefore(ws, p)
			}
			ws.Close()
		}
	case 0:
		ws, err := e.open()
		if err != nil {
			return err
		}
		defer ws.Close()
		c, err := ws.PolicyChain(reg)
		if errors.Is(err, workspace.ErrNotFound) {
			return withHint(errors.New("this workspace holds no policy"), "run 'airlock policy import FILE'")
		}
		if err != nil {
			return err
		}
		vs, err := ws.Policies()
		if err != nil {
			return err
		}
		// The version in effect; later ones are pending.
		env, inEffect, pending = vs[c.InEffect], c.Current(), c.Pending()
		if c.InEffect > 0 {
			prev = c.Versions[c.InEffect-1]
		}
	default:
		return usagef("policy show: want at most one file")
	}
	st, err := policy.Check(env, prev, reg)
	if err != nil {
		return err
	}
	if *asYAML {
		// The version the next one follows: the version in effect, or
		// the newest pending one (said on stderr), so an edit of it
		// changes only what the person changes.
		p := st.Policy
		if inEffect != nil {
			p = inEffect
		}
		if len(pending) > 0 {
			p = pending[len(pending)-1]
			fmt.Fprintf(e.stderr, "airlock: note: version %d is pending (takes effect at %s); this is version %d, which the next version follows\n", p.Version, p.EffectiveAt().Format(time.RFC3339), p.Version)
		}
		b, err := policy.ToFile(p).YAML()
		if err != nil {
			return err
		}
		_, err = e.stdout.Write(b)
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, inspect.Policy(st))
	}
	p := st.Policy
	w := e.stdout
	defer func() {
		for _, q := range pending {
			fmt.Fprintf(w, "version %d pending: takes effect at %s\n", q.Version, q.EffectiveAt().Format(time.RFC3339))
		}
	}()
	if prev != nil && len(pos) == 1 {
		inspect.ChangesText(w, prev, p, policy.Diff(prev, p))
	}
	inspect.PolicyText(w, st)
	return nil
}

func list(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

var _ = time.Second

// proposalID turns a proposal reference into what the workspace looks up:
// a file holding the proposal becomes its id; an id or a unique prefix is
// kept as given.
func proposalID(ref string) (string, error) {
	fi, err := os.Stat(ref)
	if err != nil || !fi.Mode().IsRegular() {
		return ref, nil
	}
	env, err := envelope.ReadFile(ref)
	if err != nil {
		return "", err
	}
	return env.IDHex(), nil
}
