package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// authFailure says whether a problem concerns the request, not the file
// it carried: a batch stops there, no other file would fare better.
func authFailure(err error) bool {
	var p *serve.Problem
	if !errors.As(err, &p) {
		return true // the service could not be reached, or answered nonsense
	}
	switch p.Kind() {
	case "unsigned", "bad-signature", "unknown-key", "bad-delegation", "replayed", "signature-expired", "forbidden", "busy", "internal", "halted":
		return true
	}
	return false
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
		b, err := readArtifact(safeTx)
		if err != nil {
			return err
		}
		if !json.Valid(b) {
			return fmt.Errorf("%s is not JSON: the service takes a Safe transaction as the Safe Transaction Service's JSON", safeTx)
		}
		req.SafeTx = b
	} else {
		b, err := readArtifact(psbtFile)
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
	pe, err := r.proposal(ctx, v.ID)
	if err != nil {
		return err
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
	if asJSON {
		return printJSON(e.stdout, struct {
			Proposal string       `json:"proposal"`
			Vault    string       `json:"vault"`
			Chain    string       `json:"chain"`
			TxID     string       `json:"txid"`
			Created  string       `json:"created"`
			Expires  string       `json:"expires"`
			Template string       `json:"template,omitempty"`
			Flags    []chain.Flag `json:"flags"`
			File     string       `json:"file"`
		}{pe.IDHex(), p.Vault, p.Chain, v.TxID, p.CreatedTime().Format(time.RFC3339), p.ExpiresTime().Format(time.RFC3339), p.Template, flags, out})
	}
	fmt.Fprintf(e.stdout, "proposal %s\n", pe.IDHex())
	fmt.Fprintf(e.stdout, "vault %s, txid %s, expires %s\n", p.Vault, v.TxID, p.ExpiresTime().Format(time.RFC3339))
	if p.Template != "" {
		fmt.Fprintf(e.stdout, "template %s\n", p.Template)
	}
	for _, f := range flags {
		if f.Code == "duplicate-proposal" || f.Code == "conflicting-proposal" {
			fmt.Fprintf(e.stderr, "airlock: warning: %s: %s\n", f.Code, f.Message)
		}
	}
	fmt.Fprintf(e.stdout, "wrote %s: carry it to each signer station\n", out)
	return nil
}

// proposal downloads a proposal's envelope and checks it is the one asked
// for: its id is the hash of what was received.
func (r *remote) proposal(ctx context.Context, id string) (*envelope.Envelope, error) {
	raw, err := r.Envelope(ctx, id)
	if err != nil {
		return nil, r.fail(err)
	}
	pe, err := envelope.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("the coordinator's proposal envelope: %w", err)
	}
	if !strings.HasPrefix(pe.IDHex(), id) {
		return nil, fmt.Errorf("the coordinator gave proposal %s when asked for %s", pe.IDHex(), id)
	}
	return pe, nil
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
	if len(ps) == 0 {
		fmt.Fprintln(e.stdout, "no proposals")
	}
	for _, p := range ps {
		when := ""
		switch l := left(p); {
		case l > 0:
			when = "  " + l.String() + " left"
		case p.State == string(proposal.StateExpired):
			when = "  expired " + p.Expires.Format(time.RFC3339)
		}
		fmt.Fprintf(e.stdout, "%s  vault %s  %s  %s approvals (%s)%s\n", p.ID[:16], p.Vault, p.State, p.Tally, list(p.Approvals), when)
		fmt.Fprintf(e.stdout, "    txid %s\n", p.TxID)
		if p.Note != "" {
			fmt.Fprintf(e.stdout, "    %s\n", p.Note)
		}
		for _, who := range workspace.SortedKeys(p.Rejections) {
			fmt.Fprintf(e.stdout, "    rejected by %s: %q\n", who, p.Rejections[who])
		}
		for _, d := range p.Duplicates {
			fmt.Fprintf(e.stdout, "    warning: proposal %s is live for the same transaction; withdraw one of them\n", d[:16])
		}
		if proposal.State(p.State).Releases() {
			fmt.Fprintf(e.stdout, "    ended: 'airlock release %s --out FILE' at the coordinator gives the signed release that frees the stations' claims\n", p.ID[:16])
		}
	}
	return nil
}

// handInTarget is the proposal a file is handed in for: an approval
// names its proposal; a PSBT signed by an external device is matched by
// the service itself to the open proposal of its transaction, so any
// open proposal's URL takes it.
func (r *remote) handInTarget(ctx context.Context, raw []byte) (id string, ap *proposal.Approval, err error) {
	if e, derr := envelope.Decode(raw); derr == nil {
		ap, err := proposal.DecodeApproval(e)
		if err != nil {
			return "", nil, err
		}
		return hex.EncodeToString(ap.Proposal), ap, nil
	}
	for _, st := range []proposal.State{proposal.StateOpen, proposal.StateApproved} {
		page, err := r.List(ctx, url.Values{"state": {string(st)}, "page_size": {"1"}})
		if err != nil {
			return "", nil, &serviceError{err}
		}
		if len(page.Proposals) > 0 {
			return page.Proposals[0].ID, nil, nil
		}
	}
	return "", nil, errors.New("neither an approval envelope nor, with no proposal open at the coordinator, a signed PSBT it could take")
}

func (e *env) collectRemote(sec *secrets, files []string, asJSON bool) error {
	r, done, err := e.remote(sec)
	if err != nil {
		return err
	}
	defer done()
	ctx := context.Background()
	type decided struct {
		Proposal           string `json:"proposal"`
		Participant        string `json:"participant"`
		Device             string `json:"device"`
		Decision           string `json:"decision"`
		Endorsement        bool   `json:"endorsement"`
		External           bool   `json:"external"`
		SignaturesVerified int    `json:"signaturesVerified"`
		Reason             string `json:"reason,omitempty"`
	}
	type fileResult struct {
		File      string    `json:"file"`
		Result    string    `json:"result"`
		Reason    string    `json:"reason,omitempty"`
		Decisions []decided `json:"decisions"`
	}
	results := []fileResult{}
	var refused []string
	collected, again := 0, 0
	say := func(w io.Writer, format string, args ...any) {
		if !asJSON {
			fmt.Fprintf(w, format, args...)
		}
	}
	refuse := func(path, msg string) {
		say(e.stderr, "airlock: %s: refused: %s\n", path, msg)
		refused = append(refused, path)
		results = append(results, fileResult{path, "refused", msg, []decided{}})
	}
	for _, path := range files {
		raw, err := readArtifact(path)
		if err != nil {
			refuse(path, err.Error())
			continue
		}
		id, ap, err := r.handInTarget(ctx, raw)
		var se *serviceError
		if errors.As(err, &se) {
			return r.fail(se.err)
		}
		if err != nil {
			refuse(path, err.Error())
			continue
		}
		got, was, err := r.HandIn(ctx, id, raw)
		switch {
		case err != nil && authFailure(err):
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
			refuse(path, msg)
			continue
		case was:
			say(e.stdout, "%s: already collected; nothing changed\n", path)
			again++
			results = append(results, fileResult{path, "already-collected", "", []decided{}})
			continue
		}
		collected++
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
				say(e.stdout, "collected approval by %s (external device, signed PSBT) for proposal %s at the coordinator\n", d.Participant, short)
			case d.Decision == proposal.Approve && dd.Endorsement:
				say(e.stdout, "collected endorsement by %s for proposal %s at the coordinator (counts for the policy's groups, not toward the threshold)\n", d.Participant, short)
			case d.Decision == proposal.Approve:
				say(e.stdout, "collected approval by %s/%s for proposal %s at the coordinator: %d signatures verified\n", d.Participant, dd.Device, short, dd.SignaturesVerified)
			default:
				say(e.stdout, "collected rejection by %s for proposal %s at the coordinator: %q\n", d.Participant, short, d.Reason)
			}
		}
		results = append(results, fr)
	}
	if asJSON {
		if err := printJSON(e.stdout, struct {
			Files            []fileResult `json:"files"`
			Collected        int          `json:"collected"`
			AlreadyCollected int          `json:"alreadyCollected"`
			Refused          int          `json:"refused"`
		}{results, collected, again, len(refused)}); err != nil {
			return err
		}
	} else if len(files) > 1 {
		fmt.Fprintf(e.stdout, "%d files: %d collected, %d already collected, %d refused\n", len(files), collected, again, len(refused))
	}
	if len(refused) > 0 {
		return withHint(&refusedError{fmt.Sprintf("collect: %d of %d files refused: %s", len(refused), len(files), strings.Join(refused, ", "))},
			"each refusal is above with its reason; the other files were handled and need not be handed in again")
	}
	return nil
}

// serviceError is the service's failure to answer a question asked on
// the way, as opposed to a file found wanting here.
type serviceError struct{ err error }

func (e *serviceError) Error() string { return e.err.Error() }

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
	fz, err := r.Finalize(context.Background(), id)
	if err != nil {
		return r.fail(err)
	}
	raw, err := base64.StdEncoding.DecodeString(fz.Proof)
	if err != nil {
		return fmt.Errorf("the coordinator's threshold proof is not base64: %v", err)
	}
	env, err := envelope.Decode(raw)
	if err != nil {
		return fmt.Errorf("the coordinator's threshold proof: %w", err)
	}
	pf, err := proposal.DecodeProof(env)
	if err != nil {
		return fmt.Errorf("the coordinator's threshold proof: %w", err)
	}
	tx, err := hex.DecodeString(fz.Transaction)
	if err != nil {
		return fmt.Errorf("the coordinator's transaction is not hex: %v", err)
	}
	// The proof records the transaction: what was sent must be it, for
	// the proposal asked for.
	if !strings.HasPrefix(hex.EncodeToString(pf.Proposal), id) || pf.TxID != fz.TxID || !bytes.Equal(pf.Transaction, tx) {
		return fmt.Errorf("the coordinator's answer does not hold together: its threshold proof is for proposal %x, transaction %s, not what it sent", pf.Proposal, pf.TxID)
	}
	if fz.Again && !asJSON {
		fmt.Fprintf(e.stdout, "proposal %s was finalized before: giving back the stored transaction and threshold proof (nothing new signed)\n", hex.EncodeToString(pf.Proposal[:8]))
	}
	f := &coordinator.Finalized{Final: &chain.Final{Raw: tx, TxID: fz.TxID}, Proof: pf, Env: env, Again: fz.Again}
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
	w, err := r.Withdraw(context.Background(), id, reason)
	if err != nil {
		return r.fail(err)
	}
	raw, err := base64.StdEncoding.DecodeString(w.Release)
	if err != nil {
		return fmt.Errorf("the coordinator's release is not base64: %v", err)
	}
	rel, err := envelope.Decode(raw)
	if err != nil {
		return fmt.Errorf("the coordinator's release: %w", err)
	}
	if rr, err := proposal.DecodeRelease(rel); err != nil || !strings.HasPrefix(hex.EncodeToString(rr.Proposal), id) {
		return fmt.Errorf("the coordinator's release is not one of proposal %s", id)
	}
	if !asJSON {
		fmt.Fprintf(e.stdout, "withdrew proposal %s: %q\n", w.Proposal, reason)
	}
	return e.writeRelease(rel, out, asJSON)
}
