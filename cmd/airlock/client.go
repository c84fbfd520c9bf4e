package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/serve"
	"github.com/airlock-vault/airlock/workspace"
)

// "airlock --coordinator URL COMMAND": the round's commands as a client of
// "airlock serve". The work is the service's; this file signs the
// requests (package serve's Client), writes the same files and prints the
// same lines and JSON as the local commands. Stations never come here:
// a station workspace is refused before any request is made.

// remoteCommands are the commands --coordinator applies to.
var remoteCommands = map[string]bool{"propose": true, "status": true, "collect": true, "finalize": true, "withdraw": true, "broadcast": true, "help": true}

func remoteList() string { return "propose, status, collect, finalize and withdraw" }

// remote is a client of the service and the key that signs its requests.
type remote struct {
	*serve.Client
	// who names the signing key for hints: "coordinator coord, key
	// 139e3940e64b5491 (ed25519:…)".
	who   string
	keyID string
}

// requestTimeout bounds one request to the service.
const requestTimeout = 2 * time.Minute

// remote opens the client: the service's URL checked, and the identity
// key of the workspace (-C) unlocked. The workspace is only read (no
// lock, no store): the service may run in it.
func (e *env) remote(sec *secrets) (*remote, func(), error) {
	base, err := serve.CheckBase(e.service, e.insecureHTTP)
	if errors.Is(err, serve.ErrInsecureURL) {
		return nil, nil, &usageError{err.Error(), "signed requests and artifacts would cross the network in clear: use https://, or --insecure-http on a network you trust"}
	}
	if err != nil {
		return nil, nil, &usageError{err.Error(), "--coordinator (or $AIRLOCK_COORDINATOR) is the URL 'airlock serve' listens on, https://HOST:PORT"}
	}
	ws, err := workspace.Peek(e.dir)
	if errors.Is(err, workspace.ErrNotWorkspace) {
		return nil, nil, withHint(err, "pass -C DIR: the workspace whose identity key signs the requests")
	}
	if err != nil {
		return nil, nil, err
	}
	if ws.Config.Role == workspace.Station {
		return nil, nil, withHint(fmt.Errorf("%s is a station workspace: a station is offline and never talks to the service", e.dir),
			"carry the station's files to the online machine and hand them in there from a client workspace the participant delegated to ('key new --role client', 'key delegate'; docs/service.md, The CLI as a client)")
	}
	var delegation []byte
	for_ := ""
	if ws.Config.Role == workspace.Client {
		var dd *serve.Delegation
		if delegation, dd, err = clientDelegation(ws); err != nil {
			return nil, nil, err
		}
		for_ = fmt.Sprintf(" for %s (delegation until %s)", dd.Participant, dd.ExpiresTime().Format(time.RFC3339))
	}
	ks, err := e.unlock(ws, sec)
	if err != nil {
		return nil, nil, err
	}
	pub, err := keys.IdentityPublic(ks.Identity)
	if err != nil {
		ks.Close()
		return nil, nil, err
	}
	kid := envelope.KeyID(pub)
	var now func() time.Time // the requests' time: the real clock
	if e.clockSet && ws.Config.Drill {
		now = e.now // a rehearsal against a drill service on AIRLOCK_NOW
	}
	r := &remote{
		Client: &serve.Client{Base: base, Key: ks.Identity, HTTP: serve.NoRedirects(requestTimeout), Delegation: delegation, Now: now},
		who:    fmt.Sprintf("%s %s, key %s (%s)%s", ws.Config.Role, ws.Config.Name, kid, ws.Config.Identity, for_),
		keyID:  kid,
	}
	return r, ks.Close, nil
}

// fail turns the service's refusal into the CLI's error: its exit code
// (docs/cli.md) and a hint. Refusals of a verdict exit 3, as the local
// commands do; everything else 1.
func (r *remote) fail(err error) error {
	var p *serve.Problem
	if !errors.As(err, &p) {
		var ue *url.Error
		if errors.As(err, &ue) {
			return withHint(fmt.Errorf("the coordinator at %s: %v", r.Base, ue.Err), "is 'airlock serve' running there? check --coordinator or $AIRLOCK_COORDINATOR")
		}
		return err
	}
	msg := fmt.Sprintf("the coordinator refused (%d %s): %s", p.Status, p.Kind(), p.Title)
	if p.Detail != "" {
		msg += ": " + strings.TrimPrefix(p.Detail, "serve: ")
	}
	err = errors.New(msg)
	switch p.Kind() {
	case "unknown-key":
		return withHint(err, "it refused "+r.who+": the policy it runs under does not list that key; sign with a workspace whose identity the policy lists (-C DIR)")
	case "bad-signature":
		return withHint(err, "it could not verify "+r.who+"; a proxy must pass the Host header and the URL through unchanged (docs/service.md)")
	case "signature-expired":
		return withHint(err, "this machine's clock and the service's differ by more than a minute: a signed request is valid for 5 minutes")
	case "unsigned", "replayed":
		return withHint(err, "send the command again: each request is signed afresh with "+r.who)
	case "bad-delegation":
		return withHint(err, "it refused the delegation of "+r.who+"; the participant's station signs a new one ('airlock -C STATION key delegate --to IDENTITY')")
	case "forbidden":
		return withHint(err, "the roles the policy gives "+r.who+" do not allow this (docs/service.md, Roles)")
	case "not-found":
		return withHint(err, "'airlock --coordinator URL status' lists the proposals; an id is at least 8 hex digits")
	case "halted":
		return withHint(err, "the service's operator runs 'airlock audit verify', then 'airlock audit acknowledge --reason R' once repaired")
	case "busy":
		return withHint(err, "try again in a moment")
	case "denied", "blocked":
		return withHint(&refusedError{msg}, "stations would refuse it; the service never forces a proposal")
	case "invalid", "duplicate", "expired", "reverted":
		return &refusedError{msg}
	case "internal":
		return withHint(err, "the service logged why; ask its operator")
	}
	return err
}

// remoteID checks a proposal reference for the service: a file becomes
// its id; the API takes an id or a prefix of 8 to 64 hex digits.
func remoteID(ref string) (string, error) {
	id, err := proposalID(ref)
	if err != nil {
		return "", err
	}
	if _, herr := hex.DecodeString(id[:len(id)&^1]); herr != nil || len(id) < 8 || len(id) > 64 {
		return "", usagef("%q is not a proposal id for the service: give 8 to 64 hex digits of it, or its file", ref)
	}
	return strings.ToLower(id), nil
}

func (e *env) proposeRemote(sec *secrets, vault, psbtFile, safeTx, intent, out string, lifetime time.Duration, asJSON bool) error {
	req := serve.ProposeRequest{Vault: vault, Intent: intent}
	if lifetime != 0 {
		req.Lifetime = lifetime.String()
	}
	if safeTx != "" {
		b, err := envelope.ReadArtifact(safeTx)
		if err != nil {
			return err
		}
		if !json.Valid(b) {
			return fmt.Errorf("%s is not JSON: the service takes a Safe transaction as the Safe Transaction Service's JSON", safeTx)
		}
		req.SafeTx = b
	} else {
		b, err := envelope.ReadArtifact(psbtFile)
		if err != nil {
			return err
		}
		req.PSBT = base64.StdEncoding.EncodeToString(b)
	}
	r, done, err := e.remote(sec)
	if err != nil {
		return err
	}
	defer done()
	ctx := context.Background()
	v, err := r.Propose(ctx, req)
	if err != nil {
		return r.fail(err)
	}
	pe, err := r.ProposalEnvelope(ctx, v.ID)
	if err != nil {
		return r.fail(err)
	}
	full, err := r.Get(ctx, v.ID)
	if err != nil {
		return r.fail(err)
	}
	flags := []chain.Flag{}
	if full.Review != nil {
		flags = append(flags, full.Review.Flags...)
	}
	if out == "" {
		out = pe.IDHex()[:16] + ".proposal"
	}
	if err := writeEnvelope(out, pe); err != nil {
		return withHint(err, fmt.Sprintf("the proposal is made and kept by the service: 'airlock --coordinator URL' lists it; GET /v1/proposals/%s/envelope gives it again", pe.IDHex()[:16]))
	}
	p, err := proposal.Decode(pe)
	if err != nil {
		return err
	}
	return e.printProposed(pe, p, v.TxID, flags, nil, out, asJSON)
}

func (e *env) statusRemote(sec *secrets, asJSON bool) error {
	// Reading is signed too (docs/decisions.md): the identity key is
	// unlocked for it.
	r, done, err := e.remote(sec)
	if err != nil {
		return err
	}
	defer done()
	ps, err := r.ListAll(context.Background(), nil)
	if err != nil {
		return r.fail(err)
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Expires.Before(ps[j].Expires) })
	now := time.Now()
	left := func(p serve.Proposal) time.Duration {
		if p.State != string(proposal.StateOpen) && p.State != string(proposal.StateApproved) {
			return 0
		}
		return p.Expires.Sub(now).Truncate(time.Second)
	}
	if asJSON {
		type row struct {
			ID          string            `json:"id"`
			Vault       string            `json:"vault"`
			TxID        string            `json:"txid"`
			State       string            `json:"state"`
			Decisions   string            `json:"decisions"`
			Threshold   int               `json:"threshold"`
			Signers     int               `json:"signers"`
			Approvals   []string          `json:"approvals"`
			Rejects     map[string]string `json:"rejections"`
			Expires     time.Time         `json:"expires"`
			Note        string            `json:"note,omitempty"`
			Duplicates  []string          `json:"duplicates"`
			SecondsLeft int64             `json:"secondsLeft"`
		}
		out := []row{}
		for _, p := range ps {
			rj := p.Rejections
			if rj == nil {
				rj = map[string]string{}
			}
			out = append(out, row{p.ID, p.Vault, p.TxID, p.State, p.Tally, p.Threshold, p.Signers, orEmpty(p.Approvals), rj,
				p.Expires, p.Note, orEmpty(p.Duplicates), int64(left(p) / time.Second)})
		}
		return printJSON(e.stdout, struct {
			Proposals []row `json:"proposals"`
		}{out})
	}
	rows := make([]coordinator.Row, len(ps))
	for i, p := range ps {
		rows[i] = coordinator.Row{ID: p.ID, Vault: p.Vault, TxID: p.TxID, State: proposal.State(p.State), Decisions: p.Tally, Approvals: p.Approvals,
			Rejects: p.Rejections, Expires: p.Expires, Left: left(p), Note: p.Note, Duplicates: p.Duplicates}
	}
	e.printStatus(rows, " at the coordinator")
	return nil
}

func (e *env) collectRemote(sec *secrets, files []string, asJSON bool) error {
	r, done, err := e.remote(sec)
	if err != nil {
		return err
	}
	defer done()
	ctx := context.Background()
	b := &collectBatch{e: e, asJSON: asJSON}
	for _, path := range files {
		raw, err := envelope.ReadArtifact(path)
		if err != nil {
			b.refuse(path, err.Error())
			continue
		}
		id, ap, err := r.HandInTarget(ctx, raw)
		var se *serve.ServiceError
		if errors.As(err, &se) {
			return r.fail(se.Err)
		}
		if err != nil {
			b.refuse(path, err.Error())
			continue
		}
		got, was, err := r.HandIn(ctx, id, raw)
		switch {
		case err != nil && serve.RequestRefused(err):
			return r.fail(err)
		case err != nil:
			var p *serve.Problem
			errors.As(err, &p)
			msg := strings.TrimPrefix(p.Detail, "serve: ")
			if msg == "" {
				msg = p.Title
			}
			if p.Kind() == "duplicate" {
				msg += " (each participant decides once per proposal)"
			}
			b.refuse(path, msg)
			continue
		case was:
			b.already(path)
			continue
		}
		fr := fileResult{path, "collected", "", []decided{}}
		for _, d := range got.Decisions {
			dd := decided{Proposal: got.Proposal, Participant: d.Participant, Decision: d.Decision, Reason: d.Reason, External: ap == nil}
			if ap != nil && ap.Participant == d.Participant {
				dd.Device, dd.SignaturesVerified = ap.Device, len(ap.Signatures)
				dd.Endorsement = ap.Decision == proposal.Approve && len(ap.Signatures) == 0
			}
			fr.Decisions = append(fr.Decisions, dd)
			short := got.Proposal[:min(16, len(got.Proposal))]
			switch {
			case dd.External:
				b.say(e.stdout, "collected approval by %s (external device, signed PSBT) for proposal %s at the coordinator\n", d.Participant, short)
			case d.Decision == proposal.Approve && dd.Endorsement:
				b.say(e.stdout, "collected endorsement by %s for proposal %s at the coordinator (counts for the policy's groups, not toward the threshold)\n", d.Participant, short)
			case d.Decision == proposal.Approve:
				b.say(e.stdout, "collected approval by %s/%s for proposal %s at the coordinator: %d signatures verified\n", d.Participant, dd.Device, short, dd.SignaturesVerified)
			default:
				b.say(e.stdout, "collected rejection by %s for proposal %s at the coordinator: %q\n", d.Participant, short, d.Reason)
			}
		}
		b.collected(fr)
	}
	return b.finish(len(files))
}

func (e *env) finalizeRemote(sec *secrets, ref, out string, asJSON bool) error {
	id, err := remoteID(ref)
	if err != nil {
		return err
	}
	r, done, err := e.remote(sec)
	if err != nil {
		return err
	}
	defer done()
	f, err := r.FinalizeChecked(context.Background(), id)
	if err != nil {
		return r.fail(err)
	}
	if f.Again && !asJSON {
		fmt.Fprintf(e.stdout, "proposal %s was finalized before: giving back the stored transaction and threshold proof (nothing new signed)\n", hex.EncodeToString(f.Proof.Proposal[:8]))
	}
	return e.writeFinal(f, out, asJSON)
}

// broadcastRemote asks the service to send a finalized transaction
// (a Safe one: executed from its executor, answered once mined).
func (e *env) broadcastRemote(sec *secrets, ref string, asJSON bool) error {
	id, err := remoteID(ref)
	if err != nil {
		return err
	}
	r, done, err := e.remote(sec)
	if err != nil {
		return err
	}
	defer done()
	b, err := r.Broadcast(context.Background(), id)
	if err != nil {
		return r.fail(err)
	}
	if b.Safe != nil {
		return e.printSafeSent(b.Safe, asJSON)
	}
	if asJSON {
		return printJSON(e.stdout, struct {
			TxID string `json:"txid"`
			Node string `json:"node"`
		}{b.TxID, b.Node}) // as the local command prints it
	}
	fmt.Fprintf(e.stdout, "broadcast %s to %s (every input verified by btcd's script engine first)\n", b.TxID, b.Node)
	return nil
}

func (e *env) withdrawRemote(sec *secrets, ref, reason, out string, asJSON bool) error {
	id, err := remoteID(ref)
	if err != nil {
		return err
	}
	r, done, err := e.remote(sec)
	if err != nil {
		return err
	}
	defer done()
	w, rel, err := r.WithdrawChecked(context.Background(), id, reason)
	if err != nil {
		return r.fail(err)
	}
	if !asJSON {
		fmt.Fprintf(e.stdout, "withdrew proposal %s: %q\n", w.Proposal, reason)
	}
	return e.writeRelease(rel, out, asJSON)
}
