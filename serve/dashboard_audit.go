package serve

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/workspace"
)

type auditData struct {
	// From and To bound the page's entries (To excluded).
	Size, From, To int64
	Entries        []Entry
	Newer, Older   *int64
	Limit          int64
	Checkpoint     *audit.Checkpoint
	CheckpointErr  string
	Record         *workspace.Verification
}

// auditPage shows a page of the log, newest first (from: the first index
// of the page; default the latest page), the latest checkpoint as it
// stands (the dashboard signs none) and the self-verification's record.
func (s *Server) auditPage(c *call) (string, any, error) {
	q, err := query(c.r, "from", "limit")
	if err != nil {
		return "", nil, err
	}
	limit := int64(auditPage)
	if l, ok := q["limit"]; ok {
		n, err := strconv.ParseInt(l, 10, 64)
		if err != nil || n < 1 || n > MaxEntries {
			return "", nil, &errPage{http.StatusBadRequest, fmt.Sprintf("limit is a number from 1 to %d", MaxEntries)}
		}
		limit = n
	}
	from := int64(-1)
	if f, ok := q["from"]; ok {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n < 0 {
			return "", nil, &errPage{http.StatusBadRequest, "from is an entry index from 0"}
		}
		from = n
	}
	pub, err := keys.IdentityPublic(s.cfg.Identity)
	if err != nil {
		return "", nil, err
	}
	d := &auditData{Limit: limit}
	err = s.coord().WS.AuditLog(c.ctx, func(l *audit.Log) error {
		d.Size = l.Size()
		if from < 0 {
			from = max(0, d.Size-limit)
		}
		d.From, d.To = from, min(from+limit, d.Size)
		for i := d.To - 1; i >= d.From; i-- {
			e, err := l.Entry(i)
			if err != nil {
				return err
			}
			d.Entries = append(d.Entries, Entry{Index: i, Time: e.Event.Time, Kind: e.Event.Kind, Subject: e.Event.Subject, Detail: e.Event.Detail})
		}
		if d.To < d.Size {
			n := d.To
			d.Newer = &n
		}
		if d.From > 0 {
			n := max(0, d.From-limit)
			d.Older = &n
		}
		cp, err := l.LatestCheckpoint()
		switch {
		case errors.Is(err, audit.ErrNoCheckpoint):
			d.CheckpointErr = "no checkpoint has been signed yet"
		case err != nil:
			return err
		default:
			if d.Checkpoint, err = audit.OpenCheckpoint(cp, s.coord().WS.Config.LogOrigin(), pub); err != nil {
				d.Checkpoint, d.CheckpointErr = nil, "the latest checkpoint does not verify: "+err.Error()
			}
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	if d.Record, err = s.coord().WS.Record(c.ctx); err != nil {
		return "", nil, err
	}
	return "Audit log", d, nil
}

// AuditVerification is GET /audit/verify's answer: the workspace's
// verification as 'airlock audit verify' runs it (workspace.Verify,
// which records nothing), or one run less than verifyReuse ago.
type AuditVerification struct {
	Verified bool `json:"verified"`
	// Error says what failed ("" when verified).
	Error           string    `json:"error,omitempty"`
	Origin          string    `json:"origin"`
	Entries         int64     `json:"entries"`
	CheckpointSize  int64     `json:"checkpoint_size"`
	AfterCheckpoint int64     `json:"entries_after_checkpoint"`
	Root            string    `json:"root,omitempty"`
	StateAgrees     bool      `json:"state_agrees"`
	VerifiedAt      time.Time `json:"verified_at"`
	// Reused: the result of a verification less than 10 s old.
	Reused bool `json:"reused,omitempty"`
	// The scheduled self-verification's record.
	LastOK   *time.Time `json:"last_ok,omitempty"`
	Failures int        `json:"failures"`
	Halted   string     `json:"halted,omitempty"`
}

// auditVerify recomputes the log's tree, checks the latest checkpoint's
// signature and the state's agreement with the log, read-only.
func (s *Server) auditVerify(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.RawQuery) > 0 {
		http.Error(w, "verify takes no query", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	out, err := s.verifyLog(r.Context())
	s.mu.Unlock()
	if err != nil {
		s.cfg.Log.Error("dashboard verify", "err", err)
		out = &AuditVerification{Error: "the verification could not run; the service's log says why", VerifiedAt: s.cfg.Now().UTC()}
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}

// verifyLog runs workspace.Verify, or reuses a result younger than
// verifyReuse. It is called with s.mu held.
func (s *Server) verifyLog(ctx context.Context) (*AuditVerification, error) {
	now := s.cfg.Now()
	if lv := s.dash.lastVerify; lv != nil && now.Sub(lv.VerifiedAt) < verifyReuse && !now.Before(lv.VerifiedAt) {
		again := *lv
		again.Reused = true
		return &again, nil
	}
	v, err := s.coord().WS.Verify(ctx)
	if err != nil {
		return nil, err
	}
	out := &AuditVerification{Verified: v.Err == nil, StateAgrees: v.Err == nil, Origin: s.coord().WS.Config.Origin(),
		Entries: v.Report.Entries, CheckpointSize: v.Report.CheckpointSize, VerifiedAt: v.VerifiedAt,
		Failures: v.Failures, Halted: v.Halted}
	if v.Err != nil {
		out.Error = v.Err.Error()
		if errors.Is(v.Err, audit.ErrNoCheckpoint) {
			out.Error += ": the coordinator has signed no checkpoint yet (one is signed at GET /v1/audit/checkpoint or by 'airlock audit checkpoint')"
		}
	} else {
		out.Root = hex.EncodeToString(v.Report.Root[:])
		out.AfterCheckpoint = v.Report.Entries - v.Report.CheckpointSize
	}
	if !v.LastOK.IsZero() {
		t := v.LastOK
		out.LastOK = &t
	}
	s.dash.lastVerify = out
	return out, nil
}
