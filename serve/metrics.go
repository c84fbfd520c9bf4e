package serve

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/workspace"
)

// metrics are the service's Prometheus metrics (docs/service.md lists
// them), on GET /metrics.
//
// Two sources, so that replicas summed by Prometheus count nothing twice:
// what a request did (requests, refusals, verdicts, decisions handed in)
// is counted by the process that served it; what the audit log says
// happened to proposals (time to threshold and to broadcast, signing
// latency, rejections, expiries, disputes) is counted from the log by
// the one replica that is the leader (Config.Leader), at each scrape,
// for the entries appended since the process started.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	proposals *prometheus.CounterVec
	decisions *prometheus.CounterVec
	refused   *prometheus.CounterVec
	verdicts  *prometheus.CounterVec

	// From the audit log (follower).
	toThreshold *prometheus.HistogramVec
	toBroadcast *prometheus.HistogramVec
	signing     *prometheus.HistogramVec
	rejections  *prometheus.CounterVec
	expiries    *prometheus.CounterVec
	disputes    *prometheus.CounterVec
	resolved    *prometheus.CounterVec
	toResolve   *prometheus.HistogramVec
	leader      prometheus.Gauge

	deliveries *prometheus.CounterVec

	fol *follower
}

// slow are the buckets of people's times: a minute to about four months.
var slow = prometheus.ExponentialBuckets(60, 2, 18)

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_http_requests_total",
		Help: "Requests by route and status code."}, []string{"route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "airlock_http_request_duration_seconds",
		Help: "Request latency by route.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"route"})
	m.proposals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_proposals_created_total",
		Help: "Proposals made through the service, by vault and whether marked urgent."}, []string{"vault", "urgent"})
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_decisions_total",
		Help: "Decisions handed in and stored, by decision (approve, reject)."}, []string{"decision"})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_refused_total",
		Help: "Requests refused, by operation and problem kind (denied, blocked, halted, duplicate, invalid, ...)."}, []string{"operation", "problem"})
	m.verdicts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_policy_verdicts_total",
		Help: "The policy's verdicts on requests this process served, by stage (propose, finalize) and verdict (allow, deny)."}, []string{"stage", "verdict"})
	m.toThreshold = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "airlock_proposal_time_to_threshold_seconds",
		Help:    "Time from a proposal's creation to the entry that met its threshold (approved), by vault; from the audit log, leader only.",
		Buckets: slow}, []string{"vault"})
	m.toBroadcast = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "airlock_proposal_time_to_broadcast_seconds",
		Help:    "Time from a proposal's creation to its broadcast, by vault; from the audit log, leader only.",
		Buckets: slow}, []string{"vault"})
	m.signing = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "airlock_station_signing_latency_seconds",
		Help:    "Time from a proposal's first export to a participant's station (else its creation) to that participant's decision collected; from the audit log, leader only.",
		Buckets: slow}, []string{"participant"})
	m.rejections = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_rejections_total",
		Help: "Rejections collected, by vault; from the audit log, leader only."}, []string{"vault"})
	m.expiries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_expiries_total",
		Help: "Proposals expired, by vault; from the audit log, leader only."}, []string{"vault"})
	m.disputes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_disputes_opened_total",
		Help: "Disputes opened (a rejection of a proposal still open or approved), by vault; from the audit log, leader only."}, []string{"vault"})
	m.resolved = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_disputes_resolved_total",
		Help: "Disputes resolved, by vault and outcome (the state the proposal moved to next); from the audit log, leader only."}, []string{"vault", "outcome"})
	m.toResolve = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "airlock_dispute_resolution_seconds",
		Help:    "Time from a dispute's first rejection to the proposal's next state, by vault; from the audit log, leader only.",
		Buckets: slow}, []string{"vault"})
	m.leader = prometheus.NewGauge(prometheus.GaugeOpts{Name: "airlock_log_metrics_leader",
		Help: "1 while this process is the replica that counts the metrics read from the audit log."})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airlock_webhook_deliveries_total",
		Help: "Webhook POST attempts, by endpoint and result (delivered; retry: failed, to be tried again; failed: given up)."}, []string{"endpoint", "result"})
	m.reg.MustRegister(m.requests, m.duration, m.proposals, m.decisions, m.refused, m.verdicts,
		m.toThreshold, m.toBroadcast, m.signing, m.rejections, m.expiries, m.disputes, m.resolved, m.toResolve, m.leader,
		m.deliveries)
	// The scheduled self-verification's record (workspace.SelfCheck),
	// read at each scrape.
	selfcheck := func(pick func(*workspace.Verification) float64) func() float64 {
		return func() float64 {
			s.mu.Lock()
			defer s.mu.Unlock()
			v, err := s.cfg.Coord.WS.Record(context.Background())
			if err != nil {
				return -1
			}
			return pick(v)
		}
	}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "airlock_audit_last_verified_timestamp_seconds",
			Help: "When the scheduled self-verification last passed (unix seconds; 0: never)."},
			selfcheck(func(v *workspace.Verification) float64 {
				if v.LastOK.IsZero() {
					return 0
				}
				return float64(v.LastOK.Unix())
			})),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "airlock_audit_verify_failures",
			Help: "Self-verifications that failed, in all."},
			selfcheck(func(v *workspace.Verification) float64 { return float64(v.Failures) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "airlock_proposals_halted",
			Help: "1 while new proposals are halted by a failed self-verification."},
			selfcheck(func(v *workspace.Verification) float64 {
				if v.Halted != "" {
					return 1
				}
				return 0
			})),
	)
	return m
}

// handler serves the metrics, first reading the audit log's new entries.
func (s *Server) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(s.met.reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.followLog(r.Context()); err != nil {
			s.cfg.Log.Error("metrics: reading the audit log", "err", err)
		}
		h.ServeHTTP(w, r)
	})
}

// observe counts a finished request.
func (m *metrics) observe(r *http.Request, status int, took time.Duration) {
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(took.Seconds())
}

// Routes whose refusal as "denied" is the policy's verdict.
var verdictStage = map[string]string{
	"POST /v1/proposals":               "propose",
	"POST /v1/proposals/{id}/finalize": "finalize",
}

// refuse counts a refused request, and a policy's deny.
func (m *metrics) refuse(route, problem string) {
	m.refused.WithLabelValues(route, problem).Inc()
	if stage, ok := verdictStage[route]; ok && problem == "denied" {
		m.verdicts.WithLabelValues(stage, "deny").Inc()
	}
}

// done counts a request served: the policy's allow of a proposal or a
// finalization.
func (m *metrics) done(route string) {
	if stage, ok := verdictStage[route]; ok {
		m.verdicts.WithLabelValues(stage, "allow").Inc()
	}
}

// proposed counts a proposal made.
func (m *metrics) proposed(pe *envelope.Envelope) {
	if p, err := proposal.Decode(pe); err == nil {
		m.proposals.WithLabelValues(p.Vault, strconv.FormatBool(p.Urgent)).Inc()
	}
}

// handedIn counts stored decisions. (The time to the threshold is read
// from the audit log: follower.)
func (m *metrics) handedIn(_ *proposal.Proposal, decisions []string, _ proposal.State, _ time.Time) {
	for _, d := range decisions {
		m.decisions.WithLabelValues(d).Inc()
	}
}

// follower reads the audit log for the metrics of what happened to
// proposals. It replays the entries from before the process started to
// know each live proposal (vault, creation, exports, an open dispute)
// and counts only the entries after, and only while this process is the
// leader, so that replicas summed count each entry once. A takeover may
// miss the entries of at most one scrape interval of a leader that died;
// it never counts one twice.
type follower struct {
	mu    sync.Mutex
	start int64 // entries before start are replayed, not counted
	next  int64
	live  map[string]*tracked // by proposal id (hex)
}

// tracked is what the follower knows of a live proposal.
type tracked struct {
	vault    string
	created  time.Time
	exported map[string]time.Time // participant -> first export to its station
	disputed time.Time            // the first rejection of an open dispute
}

// followBatch bounds the entries read while holding the workspace.
const followBatch = 256

// followLog counts the audit log's entries appended since the last call.
func (s *Server) followLog(ctx context.Context) error {
	f := s.met.fol
	f.mu.Lock()
	defer f.mu.Unlock()
	lead := s.leader(ctx)
	if lead {
		s.met.leader.Set(1)
	} else {
		s.met.leader.Set(0)
	}
	for {
		es, err := s.readEntries(ctx, f.next, followBatch)
		if err != nil || len(es) == 0 {
			return err
		}
		for _, e := range es {
			s.met.apply(f, e, lead && e.Index >= f.start)
			f.next = e.Index + 1
		}
	}
}

// apply learns from one entry and, when count, counts it.
func (m *metrics) apply(f *follower, e audit.Entry, count bool) {
	ev := e.Event
	switch {
	case ev.Kind == "proposal.created":
		f.live[ev.Subject] = &tracked{vault: ev.Detail["vault"], created: ev.Time, exported: map[string]time.Time{}}
	case ev.Kind == "transfer.exported":
		t, ok := f.live[ev.Subject]
		who, station := strings.CutPrefix(ev.Detail["peer"], "station/")
		if ok && station {
			if _, seen := t.exported[who]; !seen {
				t.exported[who] = ev.Time
			}
		}
	case ev.Kind == "approval.collected":
		t, ok := f.live[ev.Detail["proposal"]]
		if !ok {
			return
		}
		who := ev.Detail["participant"]
		from, ok := t.exported[who]
		if !ok {
			from = t.created
		}
		if count {
			m.signing.WithLabelValues(who).Observe(ev.Time.Sub(from).Seconds())
		}
		if ev.Detail["decision"] == proposal.Reject {
			if count {
				m.rejections.WithLabelValues(t.vault).Inc()
			}
			if t.disputed.IsZero() {
				t.disputed = ev.Time
				if count {
					m.disputes.WithLabelValues(t.vault).Inc()
				}
			}
		}
	case strings.HasPrefix(ev.Kind, "proposal."):
		t, ok := f.live[ev.Subject]
		if !ok || ev.Detail["to"] == "" {
			return // not a move of the lifecycle (proposal.released)
		}
		to := proposal.State(ev.Detail["to"])
		if !t.disputed.IsZero() {
			if count {
				m.resolved.WithLabelValues(t.vault, string(to)).Inc()
				m.toResolve.WithLabelValues(t.vault).Observe(ev.Time.Sub(t.disputed).Seconds())
			}
			t.disputed = time.Time{}
		}
		if count {
			switch to {
			case proposal.StateApproved:
				m.toThreshold.WithLabelValues(t.vault).Observe(ev.Time.Sub(t.created).Seconds())
			case proposal.StateBroadcast:
				m.toBroadcast.WithLabelValues(t.vault).Observe(ev.Time.Sub(t.created).Seconds())
			case proposal.StateExpired:
				m.expiries.WithLabelValues(t.vault).Inc()
			}
		}
		if to.End() {
			delete(f.live, ev.Subject)
		}
	}
}

// readEntries reads up to n entries of the audit log from index from,
// holding the workspace only meanwhile.
func (s *Server) readEntries(ctx context.Context, from int64, n int) ([]audit.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []audit.Entry
	err := s.cfg.Coord.WS.AuditLog(ctx, func(l *audit.Log) error {
		end := min(from+int64(n), l.Size())
		for i := from; i < end; i++ {
			e, err := l.Entry(i)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// logSize is the audit log's size.
func (s *Server) logSize(ctx context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	err := s.cfg.Coord.WS.AuditLog(ctx, func(l *audit.Log) error {
		n = l.Size()
		return nil
	})
	return n, err
}

// leader reports whether this process is the replica that follows the
// log (Config.Leader; without one, always).
func (s *Server) leader(ctx context.Context) bool {
	return s.cfg.Leader == nil || s.cfg.Leader(ctx)
}
