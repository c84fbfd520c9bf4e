package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

// ProposeRequest is the body of POST /v1/proposals.
type ProposeRequest struct {
	Vault string `json:"vault"`
	// PSBT is an unsigned PSBT in base64; SafeTx, instead, a Safe
	// transaction as the Safe Transaction Service's JSON names its fields.
	PSBT   string          `json:"psbt,omitempty"`
	SafeTx json.RawMessage `json:"safe_tx,omitempty"`
	Intent string          `json:"intent,omitempty"`
	// Lifetime is a Go duration ("24h"); empty: the policy's maximum.
	Lifetime string `json:"lifetime,omitempty"`
	// Template names the policy's template the payment is made under.
	// With a PSBT it constrains it; with To, Amount and Nonce instead,
	// the service builds the Safe payment itself (as "propose --template
	// --to --amount --nonce"), and Vault may be left out.
	Template string  `json:"template,omitempty"`
	To       string  `json:"to,omitempty"`
	Amount   string  `json:"amount,omitempty"`
	Nonce    *uint64 `json:"nonce,omitempty"`
	// Urgent marks an emergency: every station shows it.
	Urgent bool `json:"urgent,omitempty"`
}

// Proposal is a proposal as the API shows it.
type Proposal struct {
	ID         string            `json:"id"`
	Vault      string            `json:"vault"`
	Chain      string            `json:"chain"`
	TxID       string            `json:"txid"`
	State      string            `json:"state"`
	Intent     string            `json:"intent,omitempty"`
	Created    time.Time         `json:"created"`
	Expires    time.Time         `json:"expires"`
	Threshold  int               `json:"threshold"`
	Signers    int               `json:"signers"`
	Tally      string            `json:"tally"`
	Approvals  []string          `json:"approvals"`
	Rejections map[string]string `json:"rejections"`
	WaitingFor []string          `json:"waiting_for"`
	Note       string            `json:"note,omitempty"`
	Duplicates []string          `json:"duplicates,omitempty"`
	// Only for one proposal:
	Decisions    []Decision      `json:"decisions,omitempty"`
	Review       *Review         `json:"review,omitempty"`
	Verdict      *policy.Verdict `json:"verdict,omitempty"`
	VerdictError string          `json:"verdict_error,omitempty"`
}

// Decision is one participant's stored decision.
type Decision struct {
	Participant string `json:"participant"`
	Decision    string `json:"decision"`
	Reason      string `json:"reason,omitempty"`
	Approval    string `json:"approval"` // the envelope id
}

// Review is the coordinator's decoding of the payload.
type Review struct {
	Lines   []string     `json:"lines"`
	Flags   []chain.Flag `json:"flags"`
	Spends  []string     `json:"spends"`
	Details any          `json:"details,omitempty"`
}

// HandIn is the answer to a hand-in: the decisions it recorded (several
// for a PSBT signed by several external devices).
type HandIn struct {
	Proposal  string     `json:"proposal"`
	Decisions []Decision `json:"decisions"`
}

// Finalized is the answer to finalize.
type Finalized struct {
	Proposal    string `json:"proposal"`
	TxID        string `json:"txid"`
	Transaction string `json:"transaction"` // hex
	Proof       string `json:"proof"`       // the threshold proof envelope, base64
	ProofID     string `json:"proof_id"`
	Again       bool   `json:"again"`
}

// WithdrawRequest is the body of withdraw.
type WithdrawRequest struct {
	Reason string `json:"reason"`
}

// Withdrawn is the answer to withdraw.
type Withdrawn struct {
	Proposal string `json:"proposal"`
	State    string `json:"state"`
	Release  string `json:"release"` // the signed release envelope, base64
}

// Entry is one audit log entry.
type Entry struct {
	Index   int64             `json:"index"`
	Time    time.Time         `json:"time"`
	Kind    string            `json:"kind"`
	Subject string            `json:"subject,omitempty"`
	Detail  map[string]string `json:"detail,omitempty"`
}

// Entries is a page of the audit log.
type Entries struct {
	Size    int64   `json:"size"`
	Entries []Entry `json:"entries"`
	// Next is the index to ask for next; absent at the end.
	Next *int64 `json:"next,omitempty"`
}

// Page is a page of proposals.
type Page struct {
	Proposals []Proposal `json:"proposals"`
	// NextPageToken, when set, asks for the next page (page_token).
	NextPageToken string `json:"next_page_token,omitempty"`
}

func (s *Server) coord() *coordinator.Coordinator { return s.cfg.Coord }

func (s *Server) propose(c *call) (*reply, error) {
	var req ProposeRequest
	if err := decodeJSON(c.body, &req); err != nil {
		return nil, err
	}
	pay := req.To != "" || req.Amount != "" || req.Nonce != nil
	switch {
	case pay && (req.Template == "" || req.To == "" || req.Amount == "" || req.Nonce == nil || req.PSBT != "" || len(req.SafeTx) != 0):
		return nil, problem("malformed", "a payment under a template wants template, to, amount and nonce, and no psbt or safe_tx")
	case !pay && (req.Vault == "" || (req.PSBT == "") == (len(req.SafeTx) == 0)):
		return nil, problem("malformed", "want vault and one of psbt (base64) or safe_tx, or template, to, amount and nonce")
	}
	prm := coordinator.ProposeParams{Vault: req.Vault, Intent: req.Intent, Template: req.Template, Urgent: req.Urgent}
	if req.Lifetime != "" {
		d, err := time.ParseDuration(req.Lifetime)
		if err != nil || d <= 0 {
			return nil, problem("malformed", fmt.Sprintf("lifetime %q is not a positive duration", req.Lifetime))
		}
		prm.Lifetime = d
	}
	if pay {
		pol, _, err := s.coord().WS.Policy(s.coord().Reg)
		if err != nil {
			return nil, err
		}
		v, payload, err := coordinator.SafePayment(pol, req.Template, req.To, req.Amount, *req.Nonce)
		if err != nil {
			return nil, problem("denied", err.Error())
		}
		if req.Vault != "" && req.Vault != v {
			return nil, problem("malformed", fmt.Sprintf("template %q pays from vault %q, not %q", req.Template, v, req.Vault))
		}
		prm.Vault, prm.Payload = v, payload
	} else if req.PSBT != "" {
		b, err := base64.StdEncoding.DecodeString(req.PSBT)
		if err != nil {
			return nil, problem("malformed", "psbt is not base64: "+err.Error())
		}
		prm.Payload = b
	} else {
		prm.SafeTx = req.SafeTx
	}
	pe, _, err := s.coord().Propose(c.ctx, prm, s.cfg.Identity)
	if err != nil {
		return nil, err
	}
	s.met.proposed(pe)
	s.cfg.Log.Info("proposal created", "proposal", pe.IDHex(), "vault", prm.Vault, "principal", c.who.ID)
	v, err := s.view(c, pe, false)
	if err != nil {
		return nil, err
	}
	out := jsonReply(http.StatusCreated, v)
	out.header = map[string]string{"Location": "/v1/proposals/" + pe.IDHex()}
	return out, nil
}

// rows are the coordinator's status rows by proposal id.
func (s *Server) rows(c *call) (map[string]coordinator.Row, error) {
	rs, err := s.coord().Status(c.ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]coordinator.Row, len(rs))
	for _, r := range rs {
		out[r.ID] = r
	}
	return out, nil
}

// view builds the API's account of a proposal; full adds decisions,
// review and verdict.
func (s *Server) view(c *call, pe *envelope.Envelope, full bool) (*Proposal, error) {
	rows, err := s.rows(c)
	if err != nil {
		return nil, err
	}
	pol, _, err := s.coord().WS.Policy(s.coord().Reg)
	if err != nil {
		return nil, err
	}
	return s.viewRow(c, pe, rows[pe.IDHex()], pol, full)
}

func (s *Server) viewRow(c *call, pe *envelope.Envelope, row coordinator.Row, pol *policy.Policy, full bool) (*Proposal, error) {
	p, err := proposal.Decode(pe)
	if err != nil {
		return nil, err
	}
	v := &Proposal{
		ID: pe.IDHex(), Vault: p.Vault, Chain: p.Chain, TxID: row.TxID, State: string(row.State), Intent: p.Intent,
		Created: p.CreatedTime(), Expires: p.ExpiresTime(), Threshold: row.Threshold, Signers: row.Signers,
		Tally: row.Decisions, Approvals: nonNil(row.Approvals), Rejections: row.Rejects, Note: row.Note,
		Duplicates: row.Duplicates, WaitingFor: []string{},
	}
	if v.Rejections == nil {
		v.Rejections = map[string]string{}
	}
	if row.State == proposal.StateOpen {
		if vault, ok := pol.Vault(p.Vault); ok {
			for _, ref := range vault.Signers {
				who, _, _ := strings.Cut(ref, "/")
				if _, rej := v.Rejections[who]; !rej && !slices.Contains(v.Approvals, who) && !slices.Contains(v.WaitingFor, who) {
					v.WaitingFor = append(v.WaitingFor, who)
				}
			}
		}
	}
	if !full {
		return v, nil
	}
	ds, err := s.coord().WS.Approvals(pe.ID())
	if err != nil {
		return nil, err
	}
	for _, who := range workspace.SortedKeys(ds) {
		d, err := decision(ds[who])
		if err != nil {
			return nil, err
		}
		v.Decisions = append(v.Decisions, d)
	}
	if rv, err := proposal.Review(c.ctx, s.coord().Reg, p, pol); err == nil {
		v.Review = &Review{Lines: nonNil(rv.Lines), Flags: rv.Flags, Spends: nonNil(rv.Spends), Details: rv.Details}
		if v.Review.Flags == nil {
			v.Review.Flags = []chain.Flag{}
		}
	}
	if vd, err := s.coord().Verdict(c.ctx, pe); err != nil {
		v.VerdictError = err.Error()
	} else {
		v.Verdict = vd
	}
	return v, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func decision(e *envelope.Envelope) (Decision, error) {
	ap, err := proposal.DecodeApproval(e)
	if err != nil {
		return Decision{}, err
	}
	return Decision{Participant: ap.Participant, Decision: ap.Decision, Reason: ap.Reason, Approval: e.IDHex()}, nil
}

// lookup finds a proposal by its id (or a unique prefix of at least 8 hex
// digits).
func (s *Server) lookup(c *call) (*envelope.Envelope, error) {
	ref := c.r.PathValue("id")
	if len(ref) < 8 || len(ref) > 64 {
		return nil, problem("malformed", "a proposal id is 8 to 64 hex digits")
	}
	id, err := hex.DecodeString(ref[:len(ref)&^1])
	if err != nil {
		return nil, problem("malformed", "a proposal id is hex")
	}
	if len(ref) < 64 {
		return s.coord().WS.Proposal(ref)
	}
	// A whole id is looked up by its index, not matched against every
	// proposal's as a prefix is.
	var raw []byte
	err = s.coord().WS.View(c.ctx, func(r store.Reader) error {
		sp, err := r.Proposal([32]byte(id))
		raw = sp.Envelope
		return err
	})
	if err != nil {
		return nil, err
	}
	return envelope.Decode(raw)
}

func (s *Server) get(c *call) (*reply, error) {
	pe, err := s.lookup(c)
	if err != nil {
		return nil, err
	}
	v, err := s.view(c, pe, true)
	if err != nil {
		return nil, err
	}
	return jsonReply(http.StatusOK, v), nil
}

// MaxPageSize bounds page_size.
const MaxPageSize = 200

func (s *Server) list(c *call) (*reply, error) {
	q := c.r.URL.Query()
	for k := range q {
		switch k {
		case "state", "vault", "waiting_for", "page_size", "page_token":
		default:
			return nil, problem("malformed", fmt.Sprintf("unknown query parameter %q", k))
		}
	}
	size := 50
	if ps := q.Get("page_size"); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > MaxPageSize {
			return nil, problem("malformed", fmt.Sprintf("page_size is 1 to %d", MaxPageSize))
		}
		size = n
	}
	after := ""
	if tok := q.Get("page_token"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) != 32 {
			return nil, problem("malformed", "page_token is not one this service gave")
		}
		after = hex.EncodeToString(b)
	}
	if st := q.Get("state"); st != "" && !slices.Contains(proposal.States, proposal.State(st)) {
		return nil, problem("malformed", fmt.Sprintf("state %q is none of %v", st, proposal.States))
	}
	rows, err := s.rows(c)
	if err != nil {
		return nil, err
	}
	pol, _, err := s.coord().WS.Policy(s.coord().Reg)
	if err != nil {
		return nil, err
	}
	es, err := s.coord().WS.Proposals()
	if err != nil {
		return nil, err
	}
	// Ordered by id: a page token is the last id given, so proposals made
	// meanwhile never shift a page.
	sort.Slice(es, func(i, j int) bool { return es[i].IDHex() < es[j].IDHex() })
	page := Page{Proposals: []Proposal{}}
	for _, pe := range es {
		if pe.IDHex() <= after {
			continue
		}
		v, err := s.viewRow(c, pe, rows[pe.IDHex()], pol, false)
		if err != nil {
			return nil, err
		}
		if (q.Get("state") != "" && v.State != q.Get("state")) || (q.Get("vault") != "" && v.Vault != q.Get("vault")) ||
			(q.Get("waiting_for") != "" && !slices.Contains(v.WaitingFor, q.Get("waiting_for"))) {
			continue
		}
		if len(page.Proposals) == size {
			last, _ := hex.DecodeString(page.Proposals[size-1].ID)
			page.NextPageToken = base64.RawURLEncoding.EncodeToString(last)
			break
		}
		page.Proposals = append(page.Proposals, *v)
	}
	return jsonReply(http.StatusOK, page), nil
}

func (s *Server) envelope(c *call) (*reply, error) {
	pe, err := s.lookup(c)
	if err != nil {
		return nil, err
	}
	etag := `"` + pe.IDHex() + `"`
	if c.r.Header.Get("If-None-Match") == etag {
		return &reply{status: http.StatusNotModified, raw: []byte{}, ctype: "application/octet-stream", header: map[string]string{"ETag": etag}}, nil
	}
	raw, err := pe.Encode()
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK, raw: raw, ctype: "application/octet-stream", header: map[string]string{
		"ETag": etag, "Content-Disposition": `attachment; filename="` + pe.IDHex()[:16] + `.proposal"`,
	}}, nil
}

// handIn takes a decision: the bytes "airlock collect" takes (an
// approval or rejection envelope, or a PSBT signed by an external device).
// The same approval handed in again is answered as the first time,
// recording nothing.
//
// A station's envelope is taken in three steps (coordinator.Pending):
// its proposal and policy are read under the workspace's lock; its
// signatures, the identity signature and every chain signature, are
// verified outside it, beside other requests on every core; then it is
// checked again and recorded under the lock, in one commit with the
// hand-ins that were verified meanwhile (record).
func (s *Server) handIn(c *call) (*reply, error) {
	if len(c.body) == 0 {
		if err := s.enter(c); err != nil {
			return nil, err
		}
		_, err := s.lookup(c)
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return nil, problem("malformed", "the body is empty: want an approval envelope or a signed PSBT")
	}
	e, err := envelope.Decode(c.body)
	if err != nil {
		if err := s.enter(c); err != nil {
			return nil, err
		}
		defer s.mu.Unlock()
		return s.handInExternal(c)
	}
	pd, again, err := s.pend(c, e)
	if err != nil || again != nil {
		return again, err
	}
	if err := pd.Verify(); err != nil {
		return nil, err
	}
	ch := pd.Checked()
	out := HandIn{Proposal: hex.EncodeToString(ch.Approval.Proposal), Decisions: []Decision{{
		Participant: ch.Participant.ID, Decision: ch.Approval.Decision, Reason: ch.Approval.Reason, Approval: hex.EncodeToString(ch.ID[:]),
	}}}
	switch err := s.record(c, pd); {
	case errors.Is(err, coordinator.ErrAlreadyCollected):
		// The same approval, in flight twice at once: the other one
		// recorded it.
		return jsonReply(http.StatusOK, out), nil
	case err != nil:
		return nil, err
	}
	s.met.handedIn(pd.Proposal(), []string{ch.Approval.Decision}, pd.State, s.cfg.Now())
	s.cfg.Log.Info("decision handed in", "proposal", out.Proposal, "principal", c.who.ID, "decisions", len(out.Decisions))
	return jsonReply(http.StatusCreated, out), nil
}

// pend makes a hand-in ready to verify. A proposal met before (its id
// whole in the path) is taken from memory, without the workspace's lock:
// what may have changed since, the proposal finalized, the participant
// decided, the signer revoked, record checks under the lock. Otherwise
// the proposal is read under the lock (prepare).
func (s *Server) pend(c *call, e *envelope.Envelope) (*coordinator.Pending, *reply, error) {
	if id, err := hex.DecodeString(c.r.PathValue("id")); err == nil && len(id) == 32 {
		if o := s.opened.get([32]byte(id)); o != nil {
			ap, err := proposal.DecodeApproval(e)
			if err != nil {
				return nil, nil, err
			}
			if !bytes.Equal(ap.Proposal, id) {
				return nil, nil, problem("invalid", fmt.Sprintf("the approval is for proposal %x, not %x", ap.Proposal, id))
			}
			pd, err := s.coord().Pend(c.body, o)
			return pd, nil, err
		}
	}
	if err := s.enter(c); err != nil {
		return nil, nil, err
	}
	defer s.mu.Unlock()
	return s.prepare(c, e)
}

// prepare, under s.mu, finds the proposal of the path and checks the
// approval is for it; an approval stored already is answered as the
// first time (again).
func (s *Server) prepare(c *call, e *envelope.Envelope) (pd *coordinator.Pending, again *reply, err error) {
	pe, err := s.lookup(c)
	if err != nil {
		return nil, nil, err
	}
	ap, err := proposal.DecodeApproval(e)
	if err != nil {
		return nil, nil, err
	}
	if hex.EncodeToString(ap.Proposal) != pe.IDHex() {
		return nil, nil, problem("invalid", fmt.Sprintf("the approval is for proposal %x, not %s", ap.Proposal, pe.IDHex()))
	}
	if ds, err := s.coord().WS.Approvals(pe.ID()); err == nil {
		if prev, ok := ds[ap.Participant]; ok && prev.ID() == e.ID() {
			d, err := decision(prev)
			if err != nil {
				return nil, nil, err
			}
			return nil, jsonReply(http.StatusOK, HandIn{Proposal: pe.IDHex(), Decisions: []Decision{d}}), nil
		}
	}
	o, err := s.coord().Open(ap.Proposal)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.coord().WS.Final(o.ID()); err == nil {
		return nil, nil, fmt.Errorf("coordinator: proposal %s is already finalized", pe.IDHex()[:12])
	}
	s.opened.put(o)
	pd, err = s.coord().Pend(c.body, o)
	return pd, nil, err
}

// openedCache keeps the proposals hand-ins were verified against
// (coordinator.Opened: fixed by their ids), bounded.
type openedCache struct {
	mu sync.RWMutex
	m  map[[32]byte]*coordinator.Opened
}

// maxOpened bounds openedCache; past it, it starts again empty.
const maxOpened = 1 << 16

func (oc *openedCache) get(id [32]byte) *coordinator.Opened {
	oc.mu.RLock()
	defer oc.mu.RUnlock()
	return oc.m[id]
}

func (oc *openedCache) put(o *coordinator.Opened) {
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if oc.m == nil || len(oc.m) >= maxOpened {
		oc.m = map[[32]byte]*coordinator.Opened{}
	}
	oc.m[o.ID()] = o
}

// recording is a verified hand-in waiting for its commit.
type recording struct {
	pd   *coordinator.Pending
	who  *Principal
	done chan error
}

// record records a verified hand-in: queued, then recorded by the
// committer together with every hand-in queued by then, in one store
// transaction (a savepoint each, so each is kept or refused alone) and
// one commit. The first hand-in to find no committer at work becomes it
// and commits batch after batch, each gathered while the one before was
// committing, until the queue is empty; the others only wait for their
// answer. (Each taking s.mu in turn would commit one at a time: a
// convoy, one fsync per hand-in.) Each signer is looked up again in the
// policy in effect.
func (s *Server) record(c *call, pd *coordinator.Pending) error {
	r := &recording{pd: pd, who: c.who, done: make(chan error, 1)}
	s.qmu.Lock()
	s.queue = append(s.queue, r)
	lead := !s.committing
	s.committing = true
	s.qmu.Unlock()
	if lead {
		// Not one client's context: its cancel would undo the others'.
		s.commitQueued(context.WithoutCancel(c.ctx))
	}
	return <-r.done
}

// commitQueued commits the queued hand-ins, batch after batch, until
// none is left; then the next hand-in leads.
func (s *Server) commitQueued(ctx context.Context) {
	for {
		s.mu.Lock()
		s.qmu.Lock()
		batch := s.queue
		s.queue = nil
		if len(batch) == 0 {
			s.committing = false
			s.qmu.Unlock()
			s.mu.Unlock()
			return
		}
		s.qmu.Unlock()
		var pds []*coordinator.Pending
		var at []*recording
		sg, perr := s.current()
		for _, b := range batch {
			err := perr
			if err == nil {
				err = s.stillIn(sg, b.who, []string{RoleApprover})
			}
			if err != nil {
				b.done <- err
				continue
			}
			pds = append(pds, b.pd)
			at = append(at, b)
		}
		if len(pds) > 0 {
			for i, err := range s.coord().Record(ctx, pds) {
				at[i].done <- err
			}
		}
		s.mu.Unlock()
	}
}

// handInExternal takes, under s.mu, a PSBT an external device signed.
func (s *Server) handInExternal(c *call) (*reply, error) {
	pe, err := s.lookup(c)
	if err != nil {
		return nil, err
	}
	// For this proposal: a PSBT or a Service transaction must be its
	// transaction; a Safe owner's bare signature, confirmation or
	// ur:eth-signature is taken for it.
	got, err := s.coord().CollectAnyFor(c.ctx, pe.IDHex(), c.body, func() (keys.Identity, error) { return s.cfg.Identity, nil })
	if err != nil {
		return nil, err
	}
	out := HandIn{Proposal: pe.IDHex()}
	for _, g := range got {
		if hex.EncodeToString(g.Approval.Proposal) != pe.IDHex() {
			// CollectExternal matched another proposal; it is stored,
			// and the answer says so.
			out.Proposal = hex.EncodeToString(g.Approval.Proposal)
		}
		out.Decisions = append(out.Decisions, Decision{Participant: g.Participant.ID, Decision: g.Approval.Decision, Reason: g.Approval.Reason, Approval: hex.EncodeToString(g.ID[:])})
	}
	var ds []string
	for _, d := range out.Decisions {
		ds = append(ds, d.Decision)
	}
	var state string
	if err := s.coord().WS.View(c.ctx, func(r store.Reader) error {
		sp, err := r.Proposal(pe.ID())
		state = sp.State
		return err
	}); err != nil {
		state = ""
	}
	if p, err := proposal.Decode(pe); err == nil {
		s.met.handedIn(p, ds, proposal.State(state), s.cfg.Now())
	}
	s.cfg.Log.Info("decision handed in", "proposal", out.Proposal, "principal", c.who.ID, "decisions", len(out.Decisions))
	return jsonReply(http.StatusCreated, out), nil
}

func (s *Server) withdraw(c *call) (*reply, error) {
	var req WithdrawRequest
	if err := decodeJSON(c.body, &req); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Reason) == "" {
		return nil, problem("malformed", "withdrawing a proposal needs a reason")
	}
	pe, err := s.lookup(c)
	if err != nil {
		return nil, err
	}
	rel, err := s.coord().Withdraw(c.ctx, pe.IDHex(), req.Reason+" (by "+c.who.ID+")", s.cfg.Identity)
	if err != nil {
		return nil, err
	}
	raw, err := rel.Encode()
	if err != nil {
		return nil, err
	}
	return jsonReply(http.StatusOK, Withdrawn{Proposal: pe.IDHex(), State: string(proposal.StateWithdrawn), Release: base64.StdEncoding.EncodeToString(raw)}), nil
}

func (s *Server) finalize(c *call) (*reply, error) {
	if len(c.body) > 0 && string(c.body) != "{}" {
		return nil, problem("malformed", "finalize takes an empty body or {}")
	}
	pe, err := s.lookup(c)
	if err != nil {
		return nil, err
	}
	f, err := s.coord().Finalize(c.ctx, pe.IDHex(), s.cfg.Identity)
	if err != nil {
		return nil, err
	}
	raw, err := f.Env.Encode()
	if err != nil {
		return nil, err
	}
	return jsonReply(http.StatusOK, Finalized{Proposal: pe.IDHex(), TxID: f.Final.TxID, Transaction: hex.EncodeToString(f.Final.Raw),
		Proof: base64.StdEncoding.EncodeToString(raw), ProofID: f.Env.IDHex(), Again: f.Again}), nil
}

// MaxEntries bounds a page of the audit log.
const MaxEntries = 1000

// logPage reads the from and limit parameters of a page of the log.
func logPage(c *call) (from, limit int64, err error) {
	from, limit = 0, 100
	for k, vs := range c.r.URL.Query() {
		n, err := strconv.ParseInt(vs[0], 10, 64)
		switch {
		case k != "from" && k != "limit":
			return 0, 0, problem("malformed", fmt.Sprintf("unknown query parameter %q", k))
		case err != nil || n < 0 || (k == "limit" && (n < 1 || n > MaxEntries)):
			return 0, 0, problem("malformed", fmt.Sprintf("%s is a number (limit 1 to %d)", k, MaxEntries))
		case k == "from":
			from = n
		default:
			limit = n
		}
	}
	return from, limit, nil
}

func (s *Server) auditEntries(c *call) (*reply, error) {
	from, limit, err := logPage(c)
	if err != nil {
		return nil, err
	}
	out := Entries{Entries: []Entry{}}
	err = s.coord().WS.AuditLog(c.ctx, func(l *audit.Log) error {
		out.Size = l.Size()
		end := min(from+limit, out.Size)
		for i := from; i < end; i++ {
			e, err := l.Entry(i)
			if err != nil {
				return err
			}
			out.Entries = append(out.Entries, Entry{Index: i, Time: e.Event.Time, Kind: e.Event.Kind, Subject: e.Event.Subject, Detail: e.Event.Detail})
		}
		if end < out.Size {
			out.Next = &end
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return jsonReply(http.StatusOK, out), nil
}

// covering returns the latest checkpoint, signing a fresh one first when
// the latest does not cover entry index (or the whole log, index < 0).
// A checkpoint is no log entry: the log's size does not change.
func (s *Server) covering(ctx context.Context, index int64) ([]byte, error) {
	var cp []byte
	var size, covered int64
	err := s.coord().WS.AuditLog(ctx, func(l *audit.Log) error {
		size = l.Size()
		var err error
		if cp, err = l.LatestCheckpoint(); err != nil && !errors.Is(err, audit.ErrNoCheckpoint) {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if index >= size {
		return nil, problem("not-found", fmt.Sprintf("no entry %d in a log of %d", index, size))
	}
	if cp != nil {
		pub, err := keys.IdentityPublic(s.cfg.Identity)
		if err != nil {
			return nil, err
		}
		if ck, err := audit.OpenCheckpoint(cp, s.coord().WS.Config.LogOrigin(), pub); err == nil {
			covered = ck.Size
		}
	}
	if cp == nil || covered < size && (index < 0 || index >= covered) {
		return s.coord().WS.Checkpoint(ctx, s.cfg.Identity)
	}
	return cp, nil
}

func (s *Server) checkpoint(c *call) (*reply, error) {
	cp, err := s.covering(c.ctx, -1)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK, raw: cp, ctype: "text/plain; charset=utf-8"}, nil
}

func (s *Server) proof(c *call) (*reply, error) {
	n, err := strconv.ParseInt(c.r.PathValue("index"), 10, 64)
	if err != nil || n < 0 {
		return nil, problem("malformed", "an entry index is a number from 0")
	}
	if _, err := s.covering(c.ctx, n); err != nil {
		return nil, err
	}
	var proof []byte
	err = s.coord().WS.AuditLog(c.ctx, func(l *audit.Log) (err error) {
		proof, err = l.Prove(n)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK, raw: proof, ctype: "text/plain; charset=utf-8"}, nil
}
