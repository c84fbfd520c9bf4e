package serve

// The web dashboard: server-rendered pages outside /v1 for people with a
// browser (docs/service.md, "Dashboard"). It reads, it never changes: no
// route takes anything but GET (and HEAD), every change stays a signed
// /v1 request. Pages are html/template with one stylesheet and one
// script, embedded (web/); a strict Content-Security-Policy allows
// nothing but the service's own origin, no inline script, no framing.

import (
	"bytes"
	"context"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
)

// Dashboard configures the web dashboard. The zero value serves it.
type Dashboard struct {
	// Off leaves the dashboard out: its paths answer 404 like any other
	// unknown path.
	Off bool
	// Hosts are the host names (without port) the dashboard answers to
	// over plain HTTP besides IP literals and "localhost": a request
	// naming any other host is refused (421), so a web page that rebinds
	// its own name to this service's address (DNS rebinding) reads
	// nothing. Over TLS the certificate pins the name and any Host is
	// taken.
	Hosts []string
	// Balance, when set, tells a vault's balance as its node sees it;
	// nil: the vault page says no node is configured. With Config.Node
	// set and Balance nil, a Bitcoin vault's balance is read from that
	// node (NodeBalance).
	Balance func(ctx context.Context, pol *policy.Policy, v *policy.Vault) (string, error)
}

//go:embed web
var webFiles embed.FS

// dashboardCSP lets a page load nothing but the service's own files: no
// inline script or style, no other origin, no framing, no form posting
// elsewhere.
const dashboardCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// verifyReuse is how long a verification of the audit log is shown again
// rather than run again: a browser (or anyone who reaches the port)
// cannot keep the workspace busy recomputing the log.
const verifyReuse = 10 * time.Second

// dashboardRows bounds the proposals a group of the front page lists.
const dashboardRows = 200

// auditPage is the audit page's default number of entries.
const auditPage = 50

var pages = parsePages("index.html", "proposal.html", "audit.html", "vault.html", "error.html")

var pageFuncs = template.FuncMap{
	"short": func(s string) string {
		if len(s) > 16 {
			return s[:16]
		}
		return s
	},
	"utc": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"seconds": func(d time.Duration) int64 {
		return int64(d / time.Second)
	},
	"left": left,
	"join": strings.Join,
	// hexhash writes a tree hash as 'airlock audit verify' does.
	"hexhash": func(h [32]byte) string { return hex.EncodeToString(h[:]) },
	"count": func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.Itoa(n) + " " + many
	},
}

// left writes the time to an expiry as the page's script counts it down:
// "1d 2h 3m 4s", "5m 0s", "expired".
func left(d time.Duration) string {
	s := int64(d / time.Second)
	if s <= 0 {
		return "expired"
	}
	days, h, m, sec := s/86400, s%86400/3600, s%3600/60, s%60
	out := ""
	if days > 0 {
		out = fmt.Sprintf("%dd ", days)
	}
	if days > 0 || h > 0 {
		out += fmt.Sprintf("%dh ", h)
	}
	return out + fmt.Sprintf("%dm %ds", m, sec)
}

func parsePages(names ...string) map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, n := range names {
		out[n] = template.Must(template.New(n).Funcs(pageFuncs).ParseFS(webFiles, "web/layout.html", "web/"+n))
	}
	return out
}

// page is what every page's layout shows.
type page struct {
	Title string
	Nav   string
	// Coordinator is the workspace's origin ("coordinator/coord").
	Coordinator string
	Now         time.Time
	Data        any
}

// dashboardRoutes registers the dashboard's pages and files, unless off.
func (s *Server) dashboardRoutes(m *http.ServeMux) {
	if s.cfg.Dashboard.Off {
		return
	}
	m.Handle("GET /{$}", s.page("proposals", s.indexPage))
	m.Handle("GET /proposals/{id}", s.page("proposals", s.proposalPage))
	m.Handle("GET /audit", s.page("audit", s.auditPage))
	m.Handle("GET /audit/verify", s.dashboardOnly(s.auditVerify))
	m.Handle("GET /vaults/{name}", s.page("vaults", s.vaultPage))
	static, _ := fs.Sub(webFiles, "web")
	files := http.FileServerFS(static)
	for _, f := range []string{"dashboard.css", "dashboard.js"} {
		m.Handle("GET /static/"+f, s.dashboardOnly(func(w http.ResponseWriter, r *http.Request) {
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/" + f
			files.ServeHTTP(w, r2)
		}))
	}
}

// dashboardOnly sets the dashboard's security headers and refuses a
// Host the dashboard does not answer to.
func (s *Server) dashboardOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", dashboardCSP)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		if !s.dashboardHost(r) {
			hd.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusMisdirectedRequest)
			fmt.Fprintf(w, "the dashboard does not answer to host %q: open it by IP address or localhost, or list the name in the service's dashboard hosts\n", r.Host)
			return
		}
		h(w, r)
	}
}

// dashboardHost says whether the dashboard answers to r's Host.
func (s *Server) dashboardHost(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if net.ParseIP(strings.Trim(host, "[]")) != nil || host == "localhost" {
		return true
	}
	for _, h := range s.cfg.Dashboard.Hosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return true
		}
	}
	return false
}

// errPage is a page's refusal: a status and what to tell.
type errPage struct {
	status int
	msg    string
}

func (e *errPage) Error() string { return e.msg }

// page serves a page: it holds the workspace, as the API does, while fn
// reads, then renders the page's template.
func (s *Server) page(nav string, fn func(c *call) (string, any, error)) http.HandlerFunc {
	return s.dashboardOnly(func(w http.ResponseWriter, r *http.Request) {
		c := &call{ctx: r.Context(), r: r}
		s.mu.Lock()
		title, data, err := fn(c)
		s.mu.Unlock()
		name := "error.html"
		status := http.StatusOK
		if err != nil {
			status = http.StatusInternalServerError
			var ep *errPage
			var p *Problem
			switch {
			case errors.As(err, &ep):
				status = ep.status
			case errors.As(err, &p):
				status = p.Status
			default:
				if cp := classify(err, false); cp.Status < 500 {
					status = cp.Status
				}
			}
			title, data = http.StatusText(status), err.Error()
			if status >= 500 {
				// The reason stays in the service's log: an unsigned
				// reader learns nothing of the machine's insides.
				s.cfg.Log.Error("dashboard page failed", "path", r.URL.Path, "err", err)
				data = "the coordinator could not read this page; the service's log says why"
			}
		} else {
			name = nav2page(nav, r)
		}
		var buf bytes.Buffer
		if err := pages[name].ExecuteTemplate(&buf, "layout", page{Title: title, Nav: nav,
			Coordinator: s.coord().WS.Config.Origin(), Now: s.cfg.Now().UTC(), Data: data}); err != nil {
			s.cfg.Log.Error("dashboard template", "page", name, "err", err)
			http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		w.Write(buf.Bytes())
	})
}

// nav2page is the template of a route.
func nav2page(nav string, r *http.Request) string {
	switch {
	case r.Pattern == "GET /proposals/{id}":
		return "proposal.html"
	case nav == "audit":
		return "audit.html"
	case nav == "vaults":
		return "vault.html"
	}
	return "index.html"
}

// query reads a page's query parameters: only the names given, each at
// most once.
func query(r *http.Request, names ...string) (map[string]string, error) {
	out := map[string]string{}
	for k, vs := range r.URL.Query() {
		if !slices.Contains(names, k) {
			return nil, &errPage{http.StatusBadRequest, fmt.Sprintf("unknown query parameter %q", k)}
		}
		if len(vs) > 1 {
			return nil, &errPage{http.StatusBadRequest, fmt.Sprintf("query parameter %q given twice", k)}
		}
		out[k] = vs[0]
	}
	return out, nil
}

// proposalGroup is one section of the front page.
type proposalGroup struct {
	ID, Name, Empty string
	Proposals       []Proposal
	// More is how many were left off (dashboardRows).
	More int
}

type indexData struct {
	State, Vault string
	States       []proposal.State
	Vaults       []string
	Groups       []*proposalGroup
}

// indexPage lists the proposals: waiting for approvals (soonest expiry
// first), approved and to be finalized, and done (newest first).
func (s *Server) indexPage(c *call) (string, any, error) {
	q, err := query(c.r, "state", "vault")
	if err != nil {
		return "", nil, err
	}
	if st := q["state"]; st != "" && !slices.Contains(proposal.States, proposal.State(st)) {
		return "", nil, &errPage{http.StatusBadRequest, fmt.Sprintf("state %q is none of %v", st, proposal.States)}
	}
	rows, err := s.rows(c)
	if err != nil {
		return "", nil, err
	}
	pol, _, err := s.coord().WS.Policy(s.coord().Reg)
	if err != nil {
		return "", nil, err
	}
	es, err := s.coord().WS.Proposals()
	if err != nil {
		return "", nil, err
	}
	d := &indexData{State: q["state"], Vault: q["vault"], States: proposal.States}
	for _, v := range pol.Vaults {
		d.Vaults = append(d.Vaults, v.Name)
	}
	waiting := &proposalGroup{ID: "waiting", Name: "Waiting for approvals", Empty: "Nothing waits for approvals."}
	approved := &proposalGroup{ID: "approved", Name: "Approved, to finalize", Empty: "Nothing approved waits to be finalized."}
	done := &proposalGroup{ID: "done", Name: "Done", Empty: "No proposal has ended yet."}
	for _, pe := range es {
		v, err := s.viewRow(c, pe, rows[pe.IDHex()], pol, false)
		if err != nil {
			return "", nil, err
		}
		if (d.State != "" && v.State != d.State) || (d.Vault != "" && v.Vault != d.Vault) {
			continue
		}
		switch proposal.State(v.State) {
		case proposal.StateOpen:
			waiting.Proposals = append(waiting.Proposals, *v)
		case proposal.StateApproved:
			approved.Proposals = append(approved.Proposals, *v)
		default:
			done.Proposals = append(done.Proposals, *v)
		}
	}
	soonest := func(a, b Proposal) int { return a.Expires.Compare(b.Expires) }
	newest := func(a, b Proposal) int { return b.Created.Compare(a.Created) }
	slices.SortStableFunc(waiting.Proposals, soonest)
	slices.SortStableFunc(approved.Proposals, soonest)
	slices.SortStableFunc(done.Proposals, newest)
	for _, g := range []*proposalGroup{waiting, approved, done} {
		if len(g.Proposals) > dashboardRows {
			g.More = len(g.Proposals) - dashboardRows
			g.Proposals = g.Proposals[:dashboardRows]
		}
		d.Groups = append(d.Groups, g)
	}
	return "Proposals", d, nil
}

type proposalData struct {
	P *Proposal
	// Live: open or approved, so the expiry counts down.
	Live bool
	// Left is the time to expiry at the coordinator's clock.
	Left time.Duration
	// Flags are the coordinator's decoding's flags, then the verdict's.
	Flags []flagRow
}

type flagRow struct {
	Source string
	chain.Flag
}

// proposalPage shows one proposal as the API's view of it.
func (s *Server) proposalPage(c *call) (string, any, error) {
	if _, err := query(c.r); err != nil {
		return "", nil, err
	}
	pe, err := s.lookup(c)
	if err != nil {
		return "", nil, err
	}
	v, err := s.view(c, pe, true)
	if err != nil {
		return "", nil, err
	}
	d := &proposalData{P: v}
	if v.State == string(proposal.StateOpen) || v.State == string(proposal.StateApproved) {
		d.Live, d.Left = true, v.Expires.Sub(s.cfg.Now())
	}
	if v.Review != nil {
		for _, f := range v.Review.Flags {
			d.Flags = append(d.Flags, flagRow{"decoding", f})
		}
	}
	if v.Verdict != nil {
		for _, f := range v.Verdict.Flags {
			d.Flags = append(d.Flags, flagRow{"policy", f})
		}
	}
	return "Proposal " + v.ID[:16], d, nil
}

// dashState is what the dashboard keeps between requests, under s.mu.
type dashState struct {
	lastVerify *AuditVerification
}
