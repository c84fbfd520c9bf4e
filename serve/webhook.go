package serve

// Webhooks: the service tells HTTP endpoints the operator names of what
// happens to proposals. The events are read from the audit log, not from
// the request handlers, so a change made by another replica or by the CLI
// is told as well, and a crash loses nothing: each endpoint has a cursor,
// the index of the next log entry to consider, kept durably (Cursors) and
// moved past an entry only once its event was delivered or given up.
//
// Delivery is at least once: a crash between a receiver's answer and the
// cursor's save, or a replica taking over from its own older cursor,
// sends an event again with the same id (Idempotency-Key), which the
// receiver uses to drop repeats. Each endpoint gets its events in log
// order, one at a time; an event that fails is retried with exponential
// backoff and jitter, up to MaxAttempts attempts and while younger than
// MaxAge, then recorded as failed (an error in the service's log and
// airlock_webhook_deliveries_total{result="failed"}) and the next one is
// sent. The log remains the record: GET /v1/audit/entries has every event.
//
// Each POST is signed like a request to the service (RFC 9421, ed25519,
// with a Content-Digest; Sign), by the coordinator's identity key;
// VerifyWebhook checks one (docs/service.md tells a receiver in another
// language how).

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/workspace"
)

// Event types a webhook receives, by the log entry kind that makes them.
// threshold.met is the entry that moved a proposal to approved.
var webhookTypes = map[string]string{
	"proposal.created":   "proposal.created",
	"approval.collected": "decision.received",
	"proposal.approved":  "threshold.met",
	"proposal.expired":   "proposal.expired",
	"proposal.finalized": "proposal.finalized",
	"proposal.rejected":  "proposal.rejected",
	"proposal.withdrawn": "proposal.withdrawn",
	"proposal.broadcast": "proposal.broadcast",
}

// WebhookEvent is the JSON body of a webhook POST.
type WebhookEvent struct {
	// ID is the idempotency key (also the Idempotency-Key header): the
	// log's origin and the entry's index, "airlock/coordinator/c#42". A
	// receiver drops an event whose ID it has seen.
	ID    string `json:"id"`
	Type  string `json:"type"`
	Log   string `json:"log"`
	Index int64  `json:"index"`
	// Time is when the entry was logged.
	Time     time.Time `json:"time"`
	Proposal string    `json:"proposal"`
	Vault    string    `json:"vault,omitempty"`
	// Kind, Subject and Detail are the log entry's.
	Kind    string            `json:"kind"`
	Subject string            `json:"subject,omitempty"`
	Detail  map[string]string `json:"detail,omitempty"`
}

// WebhookOptions tune delivery; zero values take the defaults.
type WebhookOptions struct {
	// Cursors keep each endpoint's place in the log (default: files in
	// the workspace folder's webhooks/).
	Cursors Cursors
	// Client sends the POSTs (default: one that follows no redirect).
	Client *http.Client
	// Timeout bounds one attempt (DefaultHookTimeout).
	Timeout time.Duration
	// MaxAttempts and MaxAge bound the retries of one event (its age is
	// counted from its log entry).
	MaxAttempts int
	MaxAge      time.Duration
	// Backoff is the first retry's delay, doubled on each retry up to
	// MaxBackoff; each delay is drawn between half and all of it.
	Backoff, MaxBackoff time.Duration
	// PollEvery is how often the log is read for new entries.
	PollEvery time.Duration
}

// Defaults of WebhookOptions.
const (
	DefaultHookTimeout    = 10 * time.Second
	DefaultHookAttempts   = 25
	DefaultHookMaxAge     = 24 * time.Hour
	DefaultHookBackoff    = time.Second
	DefaultHookMaxBackoff = 5 * time.Minute
	DefaultHookPoll       = time.Second
)

// maxHookAnswer bounds what is read of a receiver's answer.
const maxHookAnswer = 64 << 10

// Cursors keep, per endpoint, the index of the next log entry to
// consider.
type Cursors interface {
	// Cursor returns the endpoint's cursor; ok is false when it has none.
	Cursor(endpoint string) (next int64, ok bool, err error)
	SetCursor(endpoint string, next int64) error
}

// FileCursors keeps cursors as files in a folder, one per endpoint,
// written atomically. A replica's folder is its own: see Deliver.
type FileCursors string

type cursorFile struct {
	Endpoint string `json:"endpoint"`
	Next     int64  `json:"next"`
}

func (d FileCursors) path(endpoint string) string {
	h := sha256.Sum256([]byte(endpoint))
	return filepath.Join(string(d), hex.EncodeToString(h[:8])+".json")
}

// Cursor reads the endpoint's cursor.
func (d FileCursors) Cursor(endpoint string) (int64, bool, error) {
	b, err := os.ReadFile(d.path(endpoint))
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	var c cursorFile
	if err := json.Unmarshal(b, &c); err != nil || c.Endpoint != redact(endpoint) || c.Next < 0 {
		return 0, false, fmt.Errorf("serve: webhook cursor %s is not one this service wrote", d.path(endpoint))
	}
	return c.Next, true, nil
}

// SetCursor writes the endpoint's cursor.
func (d FileCursors) SetCursor(endpoint string, next int64) error {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return err
	}
	b, _ := json.Marshal(cursorFile{Endpoint: redact(endpoint), Next: next})
	return workspace.WriteFileAtomic(d.path(endpoint), append(b, '\n'), 0o600)
}

// hook is one endpoint.
type hook struct {
	url   string
	label string // for logs and metrics: no query, no credentials
}

// redact is a URL without its query and fragment, which may carry a
// receiver's token.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// checkWebhook refuses an endpoint that is not an absolute http(s) URL.
func checkWebhook(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("serve: webhook %q: %v", raw, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("serve: webhook %q: only http and https URLs", redact(raw))
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("serve: webhook %q: no host", redact(raw))
	case u.User != nil:
		return fmt.Errorf("serve: webhook %q: credentials in the URL (the POSTs are signed; a receiver checks the signature)", redact(raw))
	case u.Fragment != "":
		return fmt.Errorf("serve: webhook %q: a fragment is never sent", redact(raw))
	}
	return nil
}

// setupFollowers prepares what reads the audit log: the metrics'
// follower, from the log's present end, and the webhooks.
func (s *Server) setupFollowers() error {
	n, err := s.logSize(context.Background())
	if err != nil {
		return fmt.Errorf("serve: reading the audit log: %w", err)
	}
	s.met.fol = &follower{start: n, live: map[string]*tracked{}}
	o := &s.cfg.Hooks
	if o.Cursors == nil {
		o.Cursors = FileCursors(filepath.Join(s.cfg.Coord.WS.Dir, "webhooks"))
	}
	if o.Client == nil {
		o.Client = &http.Client{
			Transport:     http.DefaultTransport.(*http.Transport).Clone(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Timeout, DefaultHookTimeout)
	def(&o.MaxAge, DefaultHookMaxAge)
	def(&o.Backoff, DefaultHookBackoff)
	def(&o.MaxBackoff, DefaultHookMaxBackoff)
	def(&o.PollEvery, DefaultHookPoll)
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultHookAttempts
	}
	seen := map[string]bool{}
	for _, raw := range s.cfg.Webhooks {
		if err := checkWebhook(raw); err != nil {
			return err
		}
		if seen[raw] {
			return fmt.Errorf("serve: webhook %q named twice", redact(raw))
		}
		seen[raw] = true
		s.hooks = append(s.hooks, &hook{url: raw, label: redact(raw)})
	}
	return nil
}

// Deliver sends the webhooks until ctx is done, each endpoint on its own
// goroutine, and returns when all have stopped; it never holds the
// workspace but to read the log. Only while this process is the leader
// (Config.Leader) does it deliver. An endpoint without a cursor starts
// with the entries of the last MaxAge (the events that could still be
// delivered); one whose cursor is older skips to there, telling the log.
// So a replica that takes over, whose own cursor (FileCursors: in its own
// folder) lags, sends again what the last leader sent (receivers drop
// repeats by id) and misses nothing the last leader had not delivered or
// given up.
func (s *Server) Deliver(ctx context.Context) {
	var wg sync.WaitGroup
	for _, h := range s.hooks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.deliver(ctx, h)
		}()
	}
	wg.Wait()
}

func (s *Server) deliver(ctx context.Context, h *hook) {
	o := s.cfg.Hooks
	log := s.cfg.Log.With("webhook", h.label)
	next, saved := int64(-1), int64(-1)
	save := func() {
		if next == saved {
			return
		}
		if err := o.Cursors.SetCursor(h.url, next); err != nil {
			log.Error("webhook: saving the cursor", "next", next, "err", err)
			return
		}
		saved = next
	}
	for {
		if !s.leader(ctx) {
			next = -1
		} else if next < 0 {
			n, err := s.hookStart(ctx, h)
			if err != nil && ctx.Err() == nil {
				log.Error("webhook: finding where to start", "err", err)
			} else if err == nil {
				next, saved = n, -1
			}
		}
		var es []audit.Entry
		if next >= 0 {
			var err error
			if es, err = s.readEntries(ctx, next, followBatch); err != nil && ctx.Err() == nil {
				log.Error("webhook: reading the audit log", "err", err)
			}
		}
	batch:
		for _, e := range es {
			ev, ok := s.webhookEvent(e)
			if ok {
				switch s.post(ctx, h, ev) {
				case postDone:
				case postStop:
					return
				case postYield:
					next = -1
					break batch
				}
			}
			next = e.Index + 1
			if ok {
				save()
			}
		}
		if next >= 0 {
			save()
		}
		if len(es) == followBatch {
			continue
		}
		if !sleep(ctx, o.PollEvery) {
			return
		}
	}
}

// hookStart is where an endpoint's delivery starts: its cursor, or the
// first entry younger than MaxAge if that is later.
func (s *Server) hookStart(ctx context.Context, h *hook) (int64, error) {
	cur, ok, err := s.cfg.Hooks.Cursors.Cursor(h.url)
	if err != nil {
		return 0, err
	}
	size, err := s.logSize(ctx)
	if err != nil {
		return 0, err
	}
	if ok && cur > size {
		return 0, fmt.Errorf("serve: webhook cursor %d is past the log's end (%d): another log?", cur, size)
	}
	// The first entry at or after the window's start: entries are
	// stored in time order (store.ErrBackdated).
	since := s.cfg.Now().Add(-s.cfg.Hooks.MaxAge)
	lo, hi := int64(0), size
	if ok {
		lo = cur
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		es, err := s.readEntries(ctx, mid, 1)
		if err != nil {
			return 0, err
		}
		if len(es) == 1 && es[0].Event.Time.Before(since) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if ok && lo > cur {
		s.cfg.Log.Warn("webhook: entries older than the delivery window are not sent", "webhook", h.label, "from", cur, "to", lo, "max_age", s.cfg.Hooks.MaxAge.String())
	}
	return lo, nil
}

// webhookEvent is the event an entry makes, if any.
func (s *Server) webhookEvent(e audit.Entry) (*WebhookEvent, bool) {
	typ, ok := webhookTypes[e.Event.Kind]
	if !ok {
		return nil, false
	}
	origin := s.cfg.Coord.WS.Config.LogOrigin()
	ev := &WebhookEvent{ID: origin + "#" + strconv.FormatInt(e.Index, 10), Type: typ, Log: origin, Index: e.Index,
		Time: e.Event.Time, Proposal: e.Event.Subject, Kind: e.Event.Kind, Subject: e.Event.Subject, Detail: e.Event.Detail}
	if e.Event.Kind == "approval.collected" {
		ev.Proposal = e.Event.Detail["proposal"]
	}
	if v := e.Event.Detail["vault"]; v != "" {
		ev.Vault = v
		return ev, true
	}
	// The vault, for the receiver's routing; an event is sent without
	// it rather than held back.
	s.mu.Lock()
	pe, err := s.cfg.Coord.WS.Proposal(ev.Proposal)
	s.mu.Unlock()
	if err == nil {
		if p, err := proposal.Decode(pe); err == nil {
			ev.Vault = p.Vault
		}
	}
	return ev, true
}

type postResult int

const (
	postDone  postResult = iota // delivered or given up: move on
	postStop                    // ctx done
	postYield                   // no longer the leader
)

// post delivers one event, retrying as WebhookOptions say.
func (s *Server) post(ctx context.Context, h *hook, ev *WebhookEvent) postResult {
	o := s.cfg.Hooks
	body, err := json.Marshal(ev)
	if err != nil {
		s.cfg.Log.Error("webhook: encoding the event", "webhook", h.label, "id", ev.ID, "err", err)
		return postDone
	}
	delay := o.Backoff
	for attempt := 1; ; attempt++ {
		if age := s.cfg.Now().Sub(ev.Time); age > o.MaxAge {
			s.met.deliveries.WithLabelValues(h.label, "failed").Inc()
			s.cfg.Log.Error("webhook: event given up, older than the delivery window", "webhook", h.label, "id", ev.ID, "type", ev.Type,
				"attempts", attempt-1, "age", age.String())
			return postDone
		}
		err := s.attempt(ctx, h, ev, body)
		if err == nil {
			// Delivered, even if ctx ended meanwhile: the caller saves
			// the cursor, so a restart does not send it again.
			s.met.deliveries.WithLabelValues(h.label, "delivered").Inc()
			s.cfg.Log.Info("webhook delivered", "webhook", h.label, "id", ev.ID, "type", ev.Type, "attempts", attempt)
			return postDone
		}
		if ctx.Err() != nil {
			return postStop
		}
		if attempt >= o.MaxAttempts {
			s.met.deliveries.WithLabelValues(h.label, "failed").Inc()
			s.cfg.Log.Error("webhook: event given up", "webhook", h.label, "id", ev.ID, "type", ev.Type, "attempts", attempt, "err", err)
			return postDone
		}
		s.met.deliveries.WithLabelValues(h.label, "retry").Inc()
		wait := delay/2 + rand.N(delay/2+1)
		s.cfg.Log.Warn("webhook: attempt failed, will retry", "webhook", h.label, "id", ev.ID, "attempt", attempt, "in", wait.String(), "err", err)
		if !sleep(ctx, wait) {
			return postStop
		}
		if !s.leader(ctx) {
			return postYield
		}
		delay = min(delay*2, o.MaxBackoff)
	}
}

// attempt POSTs body once, signed.
func (s *Server) attempt(ctx context.Context, h *hook, ev *WebhookEvent, body []byte) error {
	// A stop lets the request in flight finish (within its timeout): cut
	// off, the receiver may have the event while its cursor is not saved,
	// and the next start would send it again.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Hooks.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", ev.ID)
	req.Header.Set("Airlock-Event", ev.Type)
	req.Header.Set("User-Agent", "airlock-webhook")
	if err := Sign(req, body, s.cfg.Identity, s.cfg.Now(), s.cfg.Window); err != nil {
		return err
	}
	resp, err := s.cfg.Hooks.Client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxHookAnswer))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("serve: the receiver answered %s", resp.Status)
	}
	return nil
}

// sleep waits d, or less if ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Refusals of VerifyWebhook.
var ErrWebhookSig = errors.New("serve: the webhook's signature does not verify")

// VerifyWebhook checks a webhook POST as its receiver got it (r, whose
// body was read into body) against the coordinator's identity key: one
// RFC 9421 signature by that key (keyid, alg ed25519) over the method,
// the target URI as this receiver sees it (r.Host, r.TLS) and the
// Content-Digest, which must be the body's sha-256; valid at now, within
// DefaultWindow, with DefaultSkew either side. A repeat of a verified
// POST verifies again: the receiver drops it by its body's id (signed,
// through the digest; the Idempotency-Key header repeats it unsigned).
func VerifyWebhook(r *http.Request, body []byte, coordinator ed25519.PublicKey, now time.Time) error {
	in, sg, cd := r.Header.Values("Signature-Input"), r.Header.Values("Signature"), r.Header.Values("Content-Digest")
	if len(in) != 1 || len(sg) != 1 || len(cd) != 1 {
		return fmt.Errorf("%w: want one Signature-Input, Signature and Content-Digest field", ErrWebhookSig)
	}
	p, err := parseSignatureInput(in[0])
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWebhookSig, err)
	}
	sig, err := parseSignature(sg[0], p.Label)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWebhookSig, err)
	}
	d, err := parseContentDigest(cd[0])
	if err != nil {
		return fmt.Errorf("%w: %v", ErrWebhookSig, err)
	}
	if h := sha256.Sum256(body); !bytes.Equal(h[:], d) {
		return fmt.Errorf("%w: Content-Digest is not the body's", ErrWebhookSig)
	}
	if p.KeyID != keyID(coordinator) {
		return fmt.Errorf("%w: signed by keyid %q, not the coordinator's", ErrWebhookSig, p.KeyID)
	}
	if !ed25519.Verify(coordinator, signatureBase(r.Method, targetURI(r), cd[0], p.Raw), sig) {
		return ErrWebhookSig
	}
	created, expires := time.Unix(p.Created, 0), time.Unix(p.Expires, 0)
	switch {
	case !expires.After(created) || expires.Sub(created) > DefaultWindow:
		return fmt.Errorf("%w: a signature is valid for at most %v", ErrWebhookSig, DefaultWindow)
	case created.After(now.Add(DefaultSkew)):
		return fmt.Errorf("%w: created %v, in the future", ErrWebhookSig, created.UTC())
	case !now.Before(expires.Add(DefaultSkew)):
		return fmt.Errorf("%w: expired %v", ErrWebhookSig, expires.UTC())
	}
	return nil
}
