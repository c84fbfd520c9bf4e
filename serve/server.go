// Package serve is the coordinator as an HTTP service ("airlock serve"):
// an http.Handler over the coordinator library and its workspace, with
// an API under /v1/ described by an embedded OpenAPI document
// (openapi.yaml, served at /v1/openapi.yaml), errors as RFC 9457 problem
// details, and every /v1 request but the document signed by an identity
// key the policy lists (RFC 9421 with RFC 9530's Content-Digest; see
// sig.go and auth.go). The policy's roles decide what each signer may do.
//
// The handler changes nothing itself: every change is one call of the
// coordinator library, one store transaction with its audit entry. A
// workspace is used by one goroutine at a time, so requests that touch it
// are served one at a time.
package serve

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/store/sqlstore"
)

//go:embed openapi.yaml
var openapiDoc []byte

// OpenAPI is the API's OpenAPI 3 document.
func OpenAPI() []byte { return bytes.Clone(openapiDoc) }

// MaxBody bounds a request body: an artifact (envelope.MaxSize) in
// base64 inside JSON, with room for the other fields.
const MaxBody = envelope.MaxSize/3*4 + 64<<10

// Defaults of Config.
const (
	DefaultWindow = 5 * time.Minute
	DefaultSkew   = time.Minute
)

// Config is what a Server needs.
type Config struct {
	Coord *coordinator.Coordinator
	// Identity is the coordinator's identity key: it signs proposals,
	// releases, proofs and checkpoints.
	Identity keys.Identity
	// Log hears one line per request (default slog.Default()).
	Log *slog.Logger
	// Window bounds a request signature's validity (expires - created);
	// Skew is the clock difference tolerated on either side. A nonce is
	// remembered until its signature expires plus Skew.
	Window, Skew time.Duration
	// Now is the clock signatures are checked against (default the
	// coordinator's).
	Now func() time.Time
	// ExpireEvery is how often Background expires proposals
	// (DefaultExpireEvery when 0).
	ExpireEvery time.Duration
	// Node, when set, is the Bitcoin node finalized transactions are
	// broadcast to (POST /v1/proposals/{id}/broadcast).
	Node *coordinator.Node
	// Ethereum and Executor, both set, execute finalized Safe
	// transactions (POST /v1/proposals/{id}/broadcast): the node's
	// JSON-RPC, and the account that sends execTransaction and pays its
	// gas.
	Ethereum *coordinator.EthNode
	Executor coordinator.Executor
	// Webhooks are the endpoints told of proposal events, Hooks how
	// (webhook.go; Deliver runs them).
	Webhooks []string
	Hooks    WebhookOptions
	// Leader reports whether this process is the one replica that
	// follows the audit log: it delivers the webhooks and counts the
	// metrics read from the log. nil: always (one process on SQLite).
	// With replicas on PostgreSQL it is the holder of a lease.
	Leader func(context.Context) bool
	// Dashboard is the read-only web dashboard's configuration
	// (dashboard.go); it is served unless Dashboard.Off.
	Dashboard Dashboard
}

// Server is the service's handler.
type Server struct {
	cfg Config
	mux *http.ServeMux
	ver *verifier
	met *metrics
	// hooks deliver the webhooks (webhook.go).
	hooks []*hook
	// mu serializes the requests that use the workspace.
	mu sync.Mutex
	// shared is the database replicas share, when there is one.
	shared sharedStore

	leaseMu sync.Mutex
	leases  map[int64]*sqlstore.Lease

	// dash is the dashboard's memory (dashboard.go), under mu.
	dash dashState

	// queue holds verified hand-ins waiting to be recorded; the
	// committer records all of them in one commit (record).
	qmu   sync.Mutex
	queue []*recording
	// committing: a hand-in is committing the queue (record).
	committing bool
	// executing are the Safe proposals being executed (broadcastSafe).
	executing inFlight
	// signers are the policy in effect and its signers as last read
	// under mu.
	signers atomic.Pointer[signers]
	// opened are the proposals hand-ins were verified against.
	opened openedCache
}

// signers is a policy and who may sign requests under it.
type signers struct {
	pol *policy.Policy
	ps  map[string]*Principal
}

// sharedStore is a store several replicas of the service share
// (sqlstore on PostgreSQL): nonces every replica sees, and leases.
type sharedStore interface {
	Shared() bool
	nonceStore
	Lease(key int64) *sqlstore.Lease
}

// New builds the handler.
func New(cfg Config) (*Server, error) {
	if cfg.Coord == nil || cfg.Identity == nil {
		return nil, errors.New("serve: a coordinator and its identity key are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Window <= 0 || cfg.Window > DefaultWindow {
		cfg.Window = DefaultWindow
	}
	if cfg.Skew <= 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.Now == nil {
		cfg.Now = cfg.Coord.Now
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), ver: &verifier{window: cfg.Window, skew: cfg.Skew, now: cfg.Now, started: cfg.Now()}}
	if sh, ok := cfg.Coord.WS.Store.(sharedStore); ok && sh.Shared() {
		s.shared = sh
		s.ver.shared = sh
	}
	s.leases = map[int64]*sqlstore.Lease{}
	if s.cfg.Node != nil && s.cfg.Dashboard.Balance == nil {
		s.cfg.Dashboard.Balance = NodeBalance(*s.cfg.Node)
	}
	if s.cfg.Leader == nil && s.shared != nil {
		// Replicas: the holder of the webhooks' lease follows the log.
		s.cfg.Leader = func(ctx context.Context) bool { return s.Leader(ctx, LeaseWebhooks) }
	}
	s.met = newMetrics(s)
	if err := s.setupFollowers(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	s.mux.ServeHTTP(rec, r)
	s.met.observe(r, rec.status, time.Since(start))
	attrs := []any{"method", r.Method, "path", r.URL.Path, "status", rec.status, "bytes", rec.n,
		"duration_ms", time.Since(start).Milliseconds(), "remote", r.RemoteAddr}
	if rec.who != "" {
		attrs = append(attrs, "principal", rec.who)
	}
	if rec.problem != "" {
		attrs = append(attrs, "problem", rec.problem)
	}
	level := slog.LevelInfo
	if rec.status >= 500 {
		level = slog.LevelError
	}
	s.cfg.Log.Log(r.Context(), level, "request", attrs...)
}

// recorder keeps what the request log tells.
type recorder struct {
	http.ResponseWriter
	status       int
	n            int
	who, problem string
	errText      string
}

func (r *recorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }
func (r *recorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.n += n
	return n, err
}

// op is one API operation.
type op struct {
	// roles may call it (none: any signer may; reading).
	roles []string
	// input: an error of fn that maps to nothing more precise is the
	// client's artifact refused (422), not an internal error.
	input bool
	// unlocked: fn takes the workspace's lock itself (enter), for the
	// parts that use the workspace, and works outside it otherwise.
	unlocked bool
	fn       func(*call) (*reply, error)
}

// call is one request as an operation sees it.
type call struct {
	ctx  context.Context
	r    *http.Request
	body []byte
	who  *Principal
	// roles are those the operation needs.
	roles []string
}

// enter takes the workspace's lock for c and looks its signer up again
// in the policy in effect now: a key revoked or a role taken away since
// the signature was verified is refused. On success the caller holds
// s.mu and must unlock it.
func (s *Server) enter(c *call) error {
	s.mu.Lock()
	if err := s.still(c.who, c.roles); err != nil {
		s.mu.Unlock()
		return err
	}
	return nil
}

// principals are the signers of the policy in effect as last read: a
// request's signature is verified against them outside s.mu, and its
// signer looked up again under it (still).
func (s *Server) principals() (*signers, error) {
	if sg := s.signers.Load(); sg != nil {
		return sg, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current()
}

// current, under s.mu, reads the signers of the policy in effect now.
func (s *Server) current() (*signers, error) {
	pol, _, err := s.cfg.Coord.WS.Policy(s.cfg.Coord.Reg)
	if err != nil {
		return nil, err
	}
	sg := &signers{pol: pol, ps: principals(pol)}
	s.signers.Store(sg)
	return sg, nil
}

// with is the signers, and the key a participant delegated to when the
// request carries the delegation (header): the delegate, as that
// participant, with the roles the delegation grants.
func (s *Server) with(sg *signers, header string) (map[string]*Principal, error) {
	if header == "" {
		return sg.ps, nil
	}
	d, err := delegated(header, sg.pol, sg.ps, s.cfg.Now(), s.cfg.Skew)
	if err != nil {
		return nil, err
	}
	d.delegation = header
	ps := maps.Clone(sg.ps)
	ps[keyID(d.Key)] = d
	return ps, nil
}

// still says, under s.mu, whether who may still do what needs roles.
func (s *Server) still(who *Principal, roles []string) error {
	sg, err := s.current()
	if err != nil {
		return err
	}
	return s.stillIn(sg, who, roles)
}

// stillIn says whether who may do what needs roles as signers sg say
// (a delegate's delegation checked again against them).
func (s *Server) stillIn(sg *signers, who *Principal, roles []string) error {
	ps, err := s.with(sg, who.delegation)
	if err != nil {
		return err
	}
	now, ok := ps[keyID(who.Key)]
	if !ok || !bytes.Equal(now.Key, who.Key) {
		return fmt.Errorf("%w: keyid %q", ErrUnknownKey, keyID(who.Key))
	}
	if !now.May(roles...) {
		return problem("forbidden", fmt.Sprintf("%s (roles %v) may not do this; it needs one of %v", now.ID, now.Roles, roles))
	}
	return nil
}

// reply is an operation's answer: JSON (Value) or bytes (Raw).
type reply struct {
	status int
	value  any
	raw    []byte
	ctype  string
	header map[string]string
}

func jsonReply(status int, v any) *reply { return &reply{status: status, value: v} }

// handle authenticates, authorizes and runs o.
func (s *Server) handle(o op) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec, _ := w.(*recorder)
		fail := func(p *Problem, err error) {
			if rec != nil {
				rec.problem = strings.TrimPrefix(p.Type, ProblemBase)
				if p.Status >= 500 && err != nil {
					s.cfg.Log.Error("request failed", "path", r.URL.Path, "err", err)
				}
			}
			writeProblem(w, p)
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
		if err != nil {
			fail(classify(err, true), err)
			return
		}
		// The request's signature is verified outside the workspace's
		// lock, against the policy as it was a moment ago; who signed is
		// looked up again under the lock (enter).
		sg, err := s.principals()
		if err != nil {
			fail(classify(err, false), err)
			return
		}
		ps, err := s.with(sg, r.Header.Get(DelegationHeader))
		if err != nil {
			fail(classify(err, false), err)
			return
		}
		who, err := s.ver.verify(r.Context(), r, body, ps)
		if err != nil {
			fail(classify(err, false), err)
			return
		}
		if rec != nil {
			rec.who = who.ID
			if who.Via != "" {
				rec.who += " via " + who.Via
			}
		}
		if !who.May(o.roles...) {
			fail(problem("forbidden", fmt.Sprintf("%s (roles %v) may not do this; it needs one of %v", who.ID, who.Roles, o.roles)), nil)
			return
		}
		c := &call{ctx: r.Context(), r: r, body: body, who: who, roles: o.roles}
		var out *reply
		if o.unlocked {
			out, err = o.fn(c)
		} else if err = s.enter(c); err == nil {
			out, err = o.fn(c)
			s.mu.Unlock()
		}
		if err != nil {
			p := classify(err, o.input)
			s.met.refuse(r.Pattern, strings.TrimPrefix(p.Type, ProblemBase))
			fail(p, err)
			return
		}
		s.met.done(r.Pattern)
		for k, v := range out.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Cache-Control", "no-store")
		if out.raw != nil || out.ctype != "" {
			w.Header().Set("Content-Type", out.ctype)
			w.WriteHeader(out.status)
			w.Write(out.raw)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(out.status)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(out.value)
	}
}

// decodeJSON reads a request body strictly: one JSON value, no unknown
// fields, nothing after it.
func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return problem("malformed", "the body: "+err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return problem("malformed", "the body: more than one JSON value")
	}
	// encoding/json matches names without regard to case; the API's
	// names are exact.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return problem("malformed", "the body is not a JSON object")
	}
	known := jsonNames(reflect.TypeOf(v).Elem())
	for k := range fields {
		if !known[k] {
			return problem("malformed", fmt.Sprintf("the body: unknown field %q", k))
		}
	}
	return nil
}

// jsonNames are the JSON names of a struct's fields.
func jsonNames(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		out[name] = true
	}
	return out
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	m.HandleFunc("GET /readyz", s.ready)
	// Open like the health checks: Prometheus does not sign requests.
	// It tells counts, vault names and timings, nothing to act on; bind
	// the service to loopback or a private network (docs/service.md).
	m.Handle("GET /metrics", s.metricsHandler())
	m.HandleFunc("GET /v1/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(openapiDoc)
	})
	anyone := []string(nil)
	write := func(roles ...string) []string { return roles }
	m.Handle("POST /v1/proposals", s.handle(op{roles: write(RoleInitiator), input: true, fn: s.propose}))
	m.Handle("GET /v1/proposals", s.handle(op{roles: anyone, fn: s.list}))
	m.Handle("GET /v1/proposals/{id}", s.handle(op{roles: anyone, fn: s.get}))
	m.Handle("GET /v1/proposals/{id}/envelope", s.handle(op{roles: anyone, fn: s.envelope}))
	m.Handle("POST /v1/proposals/{id}/decisions", s.handle(op{roles: write(RoleApprover), input: true, unlocked: true, fn: s.handIn}))
	m.Handle("POST /v1/proposals/{id}/withdraw", s.handle(op{roles: write(RoleInitiator), fn: s.withdraw}))
	m.Handle("POST /v1/proposals/{id}/finalize", s.handle(op{roles: write(RoleInitiator, RoleApprover), fn: s.finalize}))
	m.Handle("POST /v1/proposals/{id}/broadcast", s.handle(op{roles: write(RoleInitiator, RoleApprover), unlocked: true, fn: s.broadcast}))
	m.Handle("GET /v1/transfers", s.handle(op{roles: anyone, fn: s.transfers}))
	m.Handle("GET /v1/reconciliation", s.handle(op{roles: anyone, fn: s.reconciliation}))
	m.Handle("GET /v1/audit/entries", s.handle(op{roles: anyone, fn: s.auditEntries}))
	m.Handle("GET /v1/audit/consistency", s.handle(op{roles: anyone, fn: s.consistency}))
	m.Handle("GET /v1/audit/checkpoint", s.handle(op{roles: anyone, fn: s.checkpoint}))
	m.Handle("GET /v1/audit/proofs/{index}", s.handle(op{roles: anyone, fn: s.proof}))
	s.dashboardRoutes(m)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, problem("not-found", "no route "+r.Method+" "+r.URL.Path))
	})
}

// ready answers 200 once the workspace's store and policy can be read.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	_, _, err := s.cfg.Coord.WS.Policy(s.cfg.Coord.Reg)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err != nil {
		s.cfg.Log.Warn("not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "not ready\n")
		return
	}
	io.WriteString(w, "ready\n")
}
