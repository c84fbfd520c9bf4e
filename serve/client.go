package serve

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client signs requests to the service with an identity key: the tests
// and "airlock --coordinator URL" use it.
type Client struct {
	// Base is the service's URL, "http://127.0.0.1:8700".
	Base string
	Key  crypto.Signer
	HTTP *http.Client
	// Now is the clock requests are dated by (default time.Now); Window
	// their signature's validity (default DefaultWindow).
	Now    func() time.Time
	Window time.Duration
	// Delegation, when set, is the envelope of a Delegation to Key, sent
	// with every request (DelegationHeader).
	Delegation []byte
}

// Do sends a signed request; body may be nil. The response's body is read
// whole (bounded) and returned with it.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, ctype string) (*http.Response, []byte, error) {
	req, err := c.Request(ctx, method, path, body, ctype)
	if err != nil {
		return nil, nil, err
	}
	return c.Send(req)
}

// Request builds a signed request.
func (c *Client) Request(ctx context.Context, method, path string, body []byte, ctype string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Base, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	now, window := time.Now, c.Window
	if c.Now != nil {
		now = c.Now
	}
	if window == 0 {
		window = DefaultWindow
	}
	if len(c.Delegation) > 0 {
		req.Header.Set(DelegationHeader, base64.StdEncoding.EncodeToString(c.Delegation))
	}
	if c.Key != nil {
		if err := Sign(req, body, c.Key, now(), window); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// Send sends a request as built (for tests that alter it) and reads the
// answer.
func (c *Client) Send(req *http.Request) (*http.Response, []byte, error) {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp, b, err
}

// JSON sends v (nil: no body) as JSON and decodes a 2xx answer into out;
// any other answer is returned as a *Problem.
func (c *Client) JSON(ctx context.Context, method, path string, v, out any) error {
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			return err
		}
	}
	resp, b, err := c.Do(ctx, method, path, body, "application/json")
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return answerProblem(resp, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func answerProblem(resp *http.Response, b []byte) error {
	var p Problem
	if err := json.Unmarshal(b, &p); err != nil || p.Type == "" {
		return fmt.Errorf("serve: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return &p
}

// The typed operations of the API, one method each: "airlock
// --coordinator URL" calls them. Any answer but the expected one is an
// error: a *Problem when the service sent one.

// Propose asks for a new proposal (POST /v1/proposals).
func (c *Client) Propose(ctx context.Context, req ProposeRequest) (*Proposal, error) {
	var out Proposal
	if err := c.JSON(ctx, http.MethodPost, "/v1/proposals", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// List gives one page of proposals (GET /v1/proposals); q holds the
// filters (state, vault, waiting_for, page_size, page_token).
func (c *Client) List(ctx context.Context, q url.Values) (*Page, error) {
	path := "/v1/proposals"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out Page
	if err := c.JSON(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAll follows the pages of List to the end.
func (c *Client) ListAll(ctx context.Context, q url.Values) ([]Proposal, error) {
	q2 := url.Values{}
	for k, v := range q {
		q2[k] = v
	}
	q2.Set("page_size", strconv.Itoa(MaxPageSize))
	out := []Proposal{}
	for {
		p, err := c.List(ctx, q2)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Proposals...)
		if p.NextPageToken == "" {
			return out, nil
		}
		if p.NextPageToken == q2.Get("page_token") {
			return nil, errors.New("serve: the service gave the same page token twice")
		}
		q2.Set("page_token", p.NextPageToken)
	}
}

// Get gives one proposal with its decisions, review and verdict.
func (c *Client) Get(ctx context.Context, id string) (*Proposal, error) {
	var out Proposal
	if err := c.JSON(ctx, http.MethodGet, "/v1/proposals/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Envelope gives the signed proposal's bytes, what is carried to the
// stations.
func (c *Client) Envelope(ctx context.Context, id string) ([]byte, error) {
	resp, b, err := c.Do(ctx, http.MethodGet, "/v1/proposals/"+url.PathEscape(id)+"/envelope", nil, "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, answerProblem(resp, b)
	}
	return b, nil
}

// HandIn hands in a decision: the bytes "airlock collect" takes. again
// says the service had recorded this very approval before (200, nothing
// new recorded).
func (c *Client) HandIn(ctx context.Context, id string, artifact []byte) (out *HandIn, again bool, err error) {
	resp, b, err := c.Do(ctx, http.MethodPost, "/v1/proposals/"+url.PathEscape(id)+"/decisions", artifact, "application/octet-stream")
	if err != nil {
		return nil, false, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return nil, false, answerProblem(resp, b)
	}
	out = &HandIn{}
	if err := json.Unmarshal(b, out); err != nil {
		return nil, false, fmt.Errorf("serve: the service's answer: %v", err)
	}
	return out, resp.StatusCode == http.StatusOK, nil
}

// Finalize assembles the transaction and its threshold proof, or gives
// them back when finalized before.
func (c *Client) Finalize(ctx context.Context, id string) (*Finalized, error) {
	var out Finalized
	if err := c.JSON(ctx, http.MethodPost, "/v1/proposals/"+url.PathEscape(id)+"/finalize", struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Broadcast sends a finalized transaction through the service's node
// (a Safe one: executed, answered once mined).
func (c *Client) Broadcast(ctx context.Context, id string) (*Broadcast, error) {
	var out Broadcast
	if err := c.JSON(ctx, http.MethodPost, "/v1/proposals/"+url.PathEscape(id)+"/broadcast", struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Withdraw ends a proposal with a reason; the answer carries the signed
// release for the stations.
func (c *Client) Withdraw(ctx context.Context, id, reason string) (*Withdrawn, error) {
	var out Withdrawn
	if err := c.JSON(ctx, http.MethodPost, "/v1/proposals/"+url.PathEscape(id)+"/withdraw", WithdrawRequest{Reason: reason}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Kind is a problem's kind, its type without ProblemBase ("unknown-key").
func (p *Problem) Kind() string { return strings.TrimPrefix(p.Type, ProblemBase) }

// ErrInsecureURL refuses a service URL that would send signed requests
// and artifacts in clear across a network.
var ErrInsecureURL = errors.New("serve: an http:// service URL is allowed only on loopback; use https://")

// CheckBase checks a service URL: https, or http to a loopback address
// (127.0.0.0/8, ::1, localhost); any other http only when insecure is
// set. It returns the URL without a trailing slash.
func CheckBase(raw string, insecure bool) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("serve: %q is not a service URL (want https://HOST[:PORT])", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !insecure && !loopback(u.Hostname()) {
			return "", fmt.Errorf("%w: %s", ErrInsecureURL, raw)
		}
	default:
		return "", fmt.Errorf("serve: %q: want an https:// (or loopback http://) URL", raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NoRedirects is an http.Client that never follows a redirect: a signed
// request, signed over its URL, goes only where it was meant to.
func NoRedirects(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
