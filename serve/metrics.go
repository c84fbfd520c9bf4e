package serve

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/workspace"
)

// metrics are the service's Prometheus metrics (docs/service.md lists
// them), on GET /metrics.
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	proposals  *prometheus.CounterVec
	decisions  *prometheus.CounterVec
	refused    *prometheus.CounterVec
	toApproved *prometheus.HistogramVec
}

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
	m.toApproved = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "airlock_proposal_time_to_approved_seconds",
		Help:    "Time from a proposal's creation to the hand-in that met its threshold, by vault.",
		Buckets: prometheus.ExponentialBuckets(60, 2, 14)}, []string{"vault"})
	m.reg.MustRegister(m.requests, m.duration, m.proposals, m.decisions, m.refused, m.toApproved)
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

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
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

// proposed counts a proposal made.
func (m *metrics) proposed(pe *envelope.Envelope) {
	if p, err := proposal.Decode(pe); err == nil {
		m.proposals.WithLabelValues(p.Vault, strconv.FormatBool(p.Urgent)).Inc()
	}
}

// handedIn counts stored decisions and, when the proposal (p) has just
// met its threshold (its state after the hand-in is approved), the time
// it took.
func (m *metrics) handedIn(p *proposal.Proposal, decisions []string, state proposal.State, now time.Time) {
	for _, d := range decisions {
		m.decisions.WithLabelValues(d).Inc()
	}
	if state == proposal.StateApproved {
		m.toApproved.WithLabelValues(p.Vault).Observe(now.Sub(p.CreatedTime()).Seconds())
	}
}
