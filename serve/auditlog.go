package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/keys"
)

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
