package workspace

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/store"
)

// Store-wide settings of the scheduled self-verification.
const (
	metaHalted   = "audit.halted"   // why new proposals are refused ("": they are not)
	metaLastOK   = "audit.last_ok"  // RFC 3339 time of the last verification that passed
	metaFailures = "audit.failures" // verifications that failed, in all
)

// ErrHalted is returned by Halted's callers while a failed
// self-verification has not been acknowledged.
var ErrHalted = errors.New("workspace: a self-verification of the audit log failed; new proposals are refused until an operator acknowledges it")

// Verification is a self-verification's result and the record so far.
type Verification struct {
	Report     audit.Report
	Err        error     // nil: the log and the state verified
	LastOK     time.Time // zero: never
	Failures   int
	Halted     string // why new proposals are refused, "" when they are not
	VerifiedAt time.Time
}

// SelfCheck verifies the workspace as 'audit verify' does — the log's
// tree recomputed and its latest checkpoint's signature, then the state's
// agreement with the log — and records the result in the store: the time
// of the last success, or, on a failure, the count of failures and a halt
// with its reason, in one transaction with an "audit.verify-failed"
// entry. A coordinator refuses new proposals while halted
// (coordinator.Propose), until AcknowledgeHalt. The error is for a
// verification that could not run or be recorded; a failed one is
// Verification.Err.
func (w *Workspace) SelfCheck(ctx context.Context) (*Verification, error) {
	v, err := w.verify(ctx)
	if err != nil {
		return nil, err
	}
	err = w.Update(ctx, func(tx store.Tx) error {
		if v.Err == nil {
			if _, err := tx.Log(w.Event("audit.verified", "", map[string]string{
				"entries": strconv.FormatInt(v.Report.Entries, 10), "checkpoint": strconv.FormatInt(v.Report.CheckpointSize, 10),
				"root": fmt.Sprintf("%x", v.Report.Root[:])})); err != nil {
				return err
			}
			return tx.SetMeta(metaLastOK, v.VerifiedAt.Format(time.RFC3339))
		}
		n, _ := tx.Meta(metaFailures)
		count, _ := strconv.Atoi(n)
		if _, err := tx.Log(w.Event("audit.verify-failed", "", map[string]string{"reason": v.Err.Error()})); err != nil {
			return err
		}
		if err := tx.SetMeta(metaFailures, strconv.Itoa(count+1)); err != nil {
			return err
		}
		return tx.SetMeta(metaHalted, fmt.Sprintf("%s at %s", v.Err, v.VerifiedAt.Format(time.RFC3339)))
	})
	if err != nil {
		return v, fmt.Errorf("workspace: recording the self-verification: %w (its result: %v)", err, v.Err)
	}
	return v, w.readRecord(ctx, v)
}

// Verify is SelfCheck without recording anything: what a person runs by
// hand, read-only, so that a backup can still be restored after it.
func (w *Workspace) Verify(ctx context.Context) (*Verification, error) {
	v, err := w.verify(ctx)
	if err != nil {
		return nil, err
	}
	return v, w.readRecord(ctx, v)
}

func (w *Workspace) verify(ctx context.Context) (*Verification, error) {
	pub, err := policy.DecodeIdentity(w.Config.Identity)
	if err != nil {
		return nil, err
	}
	v := &Verification{VerifiedAt: w.Now().UTC()}
	v.Err = w.AuditLog(ctx, func(l *audit.Log) (err error) {
		v.Report, err = l.Verify(pub)
		return err
	})
	if v.Err == nil {
		v.Err = w.VerifyState(ctx)
	}
	return v, nil
}

// readRecord fills the record so far.
func (w *Workspace) readRecord(ctx context.Context, v *Verification) error {
	return w.View(ctx, func(r store.Reader) error {
		last, err := r.Meta(metaLastOK)
		if err != nil {
			return err
		}
		if last != "" {
			v.LastOK, _ = time.Parse(time.RFC3339, last)
		}
		n, err := r.Meta(metaFailures)
		if err != nil {
			return err
		}
		v.Failures, _ = strconv.Atoi(n)
		v.Halted, err = r.Meta(metaHalted)
		return err
	})
}

// Halted says why new proposals are refused ("" when they are not).
func (w *Workspace) Halted(ctx context.Context) (string, error) {
	var why string
	err := w.View(ctx, func(r store.Reader) (err error) {
		why, err = r.Meta(metaHalted)
		return err
	})
	return why, err
}

// AcknowledgeHalt lifts a halt after an operator has looked into the
// failed verification: logged with their reason ("audit.acknowledged"),
// in one transaction with the change. It refuses when the log and state
// do not verify now: an operator acknowledges a repaired workspace, not a
// broken one.
func (w *Workspace) AcknowledgeHalt(ctx context.Context, reason string) error {
	if reason == "" {
		return errors.New("workspace: an acknowledgement needs a reason")
	}
	why, err := w.Halted(ctx)
	if err != nil {
		return err
	}
	if why == "" {
		return errors.New("workspace: nothing to acknowledge: no failed self-verification stands")
	}
	v, err := w.verify(ctx)
	if err != nil {
		return err
	}
	if v.Err != nil {
		return fmt.Errorf("workspace: the log or the state still does not verify (%v); repair it first", v.Err)
	}
	return w.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Log(w.Event("audit.acknowledged", "", map[string]string{"reason": reason, "halt": why})); err != nil {
			return err
		}
		return tx.SetMeta(metaHalted, "")
	})
}

// Record is the self-verification's record so far (the last success, the
// failures, the halt), without verifying anything.
func (w *Workspace) Record(ctx context.Context) (*Verification, error) {
	v := &Verification{}
	return v, w.readRecord(ctx, v)
}
