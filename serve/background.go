package serve

import (
	"context"
	"math/rand/v2"
	"time"
)

// Leases among replicas sharing a PostgreSQL store: each background duty
// is done by the one replica that holds its lease. The keys are fixed
// numbers in airlock's range of the server's advisory locks.
const (
	LeaseExpiry   int64 = 0x6169726c6f636c01 // "airlocl" + 1: expiring proposals
	LeaseWebhooks int64 = 0x6169726c6f636c02 // delivering webhooks
)

// DefaultExpireEvery is how often the lease holder expires proposals
// whose lifetime ended.
const DefaultExpireEvery = 30 * time.Second

// Leader reports whether this process holds the lease named key. On
// SQLite, which one process holds at a time, it always does; on
// PostgreSQL the first replica to ask takes the lease and holds it until
// it stops or its connection dies (a killed replica's lease is free at
// once, and the next replica to ask takes it).
func (s *Server) Leader(ctx context.Context, key int64) bool {
	if s.shared == nil {
		return true
	}
	s.leaseMu.Lock()
	l, ok := s.leases[key]
	if !ok {
		l = s.shared.Lease(key)
		s.leases[key] = l
	}
	s.leaseMu.Unlock()
	held, err := l.Hold(ctx)
	if err != nil {
		s.cfg.Log.Warn("lease", "lease", key, "err", err)
	}
	return held
}

// Background does the service's duties that no request asks for, until
// ctx is done: expiring proposals whose lifetime ended and signing a
// checkpoint of a log that grew (every Config.ExpireEvery, by the replica
// holding LeaseExpiry), so a proposal's state says expired on time even
// when nobody touches it.
// Each round is one coordinator call, its own store transactions and
// audit entries. It releases its leases when it returns.
func (s *Server) Background(ctx context.Context) {
	defer s.releaseLeases()
	every := s.cfg.ExpireEvery
	if every <= 0 {
		every = DefaultExpireEvery
	}
	for {
		// A little jitter, so replicas started together do not ask in
		// step.
		t := time.NewTimer(every + rand.N(every/10+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.ExpireNow(ctx)
	}
}

// ExpireNow runs one round of expiry if this process holds the lease,
// then signs a checkpoint of the log if it grew past the last one (so an
// auditor, a station or "audit verify" always finds the log checkpointed
// to within one round), and reports whether it did.
func (s *Server) ExpireNow(ctx context.Context) bool {
	if !s.Leader(ctx, LeaseExpiry) {
		return false
	}
	s.mu.Lock()
	err := s.cfg.Coord.ExpireDue(ctx)
	if err == nil {
		_, err = s.covering(ctx, -1)
	}
	s.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		s.cfg.Log.Error("background round", "err", err)
	}
	return true
}

func (s *Server) releaseLeases() {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	for k, l := range s.leases {
		if err := l.Release(); err != nil {
			s.cfg.Log.Warn("releasing a lease", "lease", k, "err", err)
		}
		delete(s.leases, k)
	}
}
