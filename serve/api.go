package serve

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

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
