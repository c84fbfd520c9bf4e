package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/serve"
	"github.com/airlock-vault/airlock/workspace"
)

// delegationFile is where a client workspace keeps the delegation it
// acts under.
const delegationFile = "delegation"

// defaultDelegation is how long a delegation lasts unless told.
const defaultDelegation = 90 * 24 * time.Hour

// keyDelegate is "key delegate": at a station, sign a delegation to a
// client's key (offline, like any signature the station makes); at a
// client, take one in.
func (e *env) keyDelegate(args []string) error {
	fs := e.flags("key delegate")
	to := fs.String("to", "", "station: the client's identity (ed25519:…, from 'airlock -C CLIENT key show')")
	roles := fs.String("roles", "", "station: the service roles it may use, comma-separated (initiator, approver, auditor, admin); default: all the policy gives you")
	lifetime := fs.Duration("lifetime", defaultDelegation, "station: how long it lasts (at most a year)")
	out := fs.String("out", "", "station: where to write it (default: NAME.delegation)")
	sec := e.secretFlags(fs)
	asJSON := jsonFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	ws, err := e.open()
	if err != nil {
		return err
	}
	defer ws.Close()
	switch ws.Config.Role {
	case workspace.Client:
		if len(pos) != 1 || *to != "" || *roles != "" || *out != "" {
			return usagef("key delegate (client): want one delegation FILE")
		}
		return e.installDelegation(ws, pos[0], *asJSON)
	case workspace.Station:
	default:
		return withHint(fmt.Errorf("%s is a %s workspace: a participant delegates at their station", e.dir, ws.Config.Role), "a coordinator's identity signs requests itself; pass -C for a station or a client")
	}
	if len(pos) != 0 || *to == "" {
		return usagef("key delegate (station): want --to ed25519:KEY [--roles R,...] [--lifetime D] [--out F]")
	}
	pub, err := policy.DecodeIdentity(*to)
	if err != nil {
		return usagef("key delegate: --to %q: %v", *to, err)
	}
	var rs []string
	if *roles != "" {
		for _, r := range strings.Split(*roles, ",") {
			rs = append(rs, strings.TrimSpace(r))
		}
	}
	ks, err := e.unlock(ws, sec)
	if err != nil {
		return err
	}
	defer ks.Close()
	d, err := serve.Delegate(ws.Config.Name, pub, rs, e.now(), *lifetime, ks.Identity)
	if err != nil {
		return usagef("key delegate: %v", strings.TrimPrefix(err.Error(), "serve: "))
	}
	dd, err := serve.DecodeDelegation(d)
	if err != nil {
		return err
	}
	if *out == "" {
		*out = ws.Config.Name + ".delegation"
	}
	if err := writeEnvelope(*out, d); err != nil {
		return err
	}
	if err := e.logger(ws, ks)("delegation.created", d.IDHex(), map[string]string{
		"delegate": *to, "roles": strings.Join(rs, ","), "expires": dd.ExpiresTime().Format(time.RFC3339), "file": filepath.Base(*out),
	}); err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e.stdout, delegationJSON(d, dd, *out))
	}
	fmt.Fprintf(e.stdout, "delegated to %s (key %s) for %s, roles %s, until %s\n", *to, envelope.KeyID(pub), ws.Config.Name, rolesText(rs), dd.ExpiresTime().Format(time.RFC3339))
	fmt.Fprintf(e.stdout, "wrote %s: carry it to the online machine ('airlock -C CLIENT key delegate %s' there)\n", *out, *out)
	return nil
}

// installDelegation keeps a delegation in a client workspace, once it is
// known to name this workspace's key. Its signature is the service's to
// judge, against the policy it runs under.
func (e *env) installDelegation(ws *workspace.Workspace, file string, asJSON bool) error {
	d, err := envelope.ReadFile(file)
	if err != nil {
		return err
	}
	dd, err := serve.DecodeDelegation(d)
	if err != nil {
		return err
	}
	own, err := policy.DecodeIdentity(ws.Config.Identity)
	if err != nil {
		return err
	}
	if !ed25519.PublicKey(dd.Delegate).Equal(own) {
		return withHint(fmt.Errorf("%s delegates to key %s, not to this workspace's (%s)", file, envelope.KeyID(dd.Delegate), envelope.KeyID(own)),
			"the station signs for the identity 'airlock -C "+shellJoin([]string{ws.Dir})+" key show' prints")
	}
	if !e.now().Before(dd.ExpiresTime()) {
		return fmt.Errorf("%s expired %s: the participant's station signs a new one", file, dd.ExpiresTime().Format(time.RFC3339))
	}
	dst := filepath.Join(ws.Dir, delegationFile)
	if err := writeEnvelope(dst, d); err != nil {
		return err
	}
	if err := ws.Log(context.Background(), "delegation.installed", d.IDHex(), map[string]string{
		"participant": dd.Participant, "roles": strings.Join(dd.Roles, ","), "expires": dd.ExpiresTime().Format(time.RFC3339),
	}); err != nil {
		return err
	}
	if asJSON {
		return printJSON(e.stdout, delegationJSON(d, dd, dst))
	}
	fmt.Fprintf(e.stdout, "this client acts for %s, roles %s, until %s: 'airlock -C %s --coordinator URL …' signs with it\n",
		dd.Participant, rolesText(dd.Roles), dd.ExpiresTime().Format(time.RFC3339), shellJoin([]string{ws.Dir}))
	return nil
}

func rolesText(rs []string) string {
	if len(rs) == 0 {
		return "all the policy gives"
	}
	return strings.Join(rs, ", ")
}

func delegationJSON(d *envelope.Envelope, dd *serve.Delegation, file string) any {
	return struct {
		Delegation  string   `json:"delegation"`
		Participant string   `json:"participant"`
		Delegate    string   `json:"delegate"`
		DelegateKey string   `json:"delegateKeyId"`
		Roles       []string `json:"roles"`
		Created     string   `json:"created"`
		Expires     string   `json:"expires"`
		File        string   `json:"file"`
	}{d.IDHex(), dd.Participant, policy.EncodeIdentity(dd.Delegate), envelope.KeyID(dd.Delegate), orEmpty(dd.Roles),
		time.Unix(dd.Created, 0).UTC().Format(time.RFC3339), dd.ExpiresTime().Format(time.RFC3339), file}
}

// clientDelegation reads the delegation a client workspace acts under.
func clientDelegation(ws *workspace.Workspace) ([]byte, *serve.Delegation, error) {
	b, err := os.ReadFile(filepath.Join(ws.Dir, delegationFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, withHint(fmt.Errorf("client %s acts for nobody yet: it holds no delegation", ws.Config.Name),
			fmt.Sprintf("the participant signs one at their station ('airlock -C STATION key delegate --to %s'), then 'airlock -C %s key delegate FILE' here", ws.Config.Identity, shellJoin([]string{ws.Dir})))
	}
	if err != nil {
		return nil, nil, err
	}
	d, err := envelope.Decode(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", filepath.Join(ws.Dir, delegationFile), err)
	}
	dd, err := serve.DecodeDelegation(d)
	if err != nil {
		return nil, nil, err
	}
	return b, dd, nil
}
