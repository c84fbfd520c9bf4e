// Package rpc is a minimal JSON-RPC 1.0 client for btcd and Bitcoin Core,
// enough to broadcast a transaction and follow its confirmations.
//
// The endpoint is an http:// or https:// URL that may carry the RPC
// credentials, e.g. http://user:pass@127.0.0.1:18443. The credentials are
// moved into HTTP basic auth and never appear in errors or in URL().
// btcd serves TLS with a self-signed rpc.cert: pass it with WithCAFile.
// Plain http:// is accepted for loopback hosts; for any other host it must
// be allowed with WithPlainHTTP, since the credentials travel in clear.
//
// A node's error reply becomes an *Error carrying the node's code and
// message; a non-JSON HTTP failure (e.g. 401 on bad credentials) becomes
// an *HTTPError. Responses are bounded (DefaultMaxResponseBytes) and every
// call is bounded by its context and by the client's timeout.
package rpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

const (
	// DefaultMaxResponseBytes bounds a response body. A raw block at the
	// 4M weight limit is 8 MiB of hex; 32 MiB leaves room for verbose forms.
	DefaultMaxResponseBytes = 32 << 20
	// DefaultTimeout bounds each call in addition to its context.
	DefaultTimeout = 60 * time.Second
	// maxCAFileBytes bounds a CA certificate file.
	maxCAFileBytes = 1 << 20
)

// Client talks to one node. It is safe for concurrent use.
type Client struct {
	endpoint string // the URL without credentials
	user     string
	pass     string
	auth     bool
	hc       *http.Client
	maxBody  int64
	timeout  time.Duration
	nextID   atomic.Uint64
}

// Option configures New.
type Option func(*options) error

type options struct {
	caPEM     []byte
	plainHTTP bool
	auth      bool
	user      string
	pass      string
	maxBody   int64
	timeout   time.Duration
}

// WithCAFile trusts the PEM certificate(s) in path for an https:// URL, in
// place of the system roots: btcd's rpc.cert (~/.btcd/rpc.cert by default).
func WithCAFile(path string) Option {
	return func(o *options) error {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("rpc: ca file: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxCAFileBytes+1))
		if err != nil {
			return fmt.Errorf("rpc: ca file: %w", err)
		}
		if len(b) > maxCAFileBytes {
			return fmt.Errorf("rpc: ca file %s: larger than %d bytes", path, maxCAFileBytes)
		}
		o.caPEM = b
		return nil
	}
}

// WithCAPEM trusts the given PEM certificate(s) for an https:// URL, in
// place of the system roots.
func WithCAPEM(pem []byte) Option {
	return func(o *options) error {
		o.caPEM = append([]byte(nil), pem...)
		return nil
	}
}

// WithPlainHTTP allows an http:// URL to a host that is not loopback.
// Bitcoin Core has no TLS; use this only over a trusted network.
func WithPlainHTTP() Option {
	return func(o *options) error {
		o.plainHTTP = true
		return nil
	}
}

// WithBasicAuth sets the credentials, overriding any in the URL.
func WithBasicAuth(user, pass string) Option {
	return func(o *options) error {
		o.auth, o.user, o.pass = true, user, pass
		return nil
	}
}

// WithMaxResponseBytes bounds a response body (default
// DefaultMaxResponseBytes).
func WithMaxResponseBytes(n int64) Option {
	return func(o *options) error {
		if n <= 0 {
			return errors.New("rpc: max response bytes must be positive")
		}
		o.maxBody = n
		return nil
	}
}

// WithTimeout bounds each call (default DefaultTimeout); the call's context
// may bound it further.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return errors.New("rpc: timeout must be positive")
		}
		o.timeout = d
		return nil
	}
}

// New returns a client for the node at rawURL. It does not contact the node.
func New(rawURL string, opts ...Option) (*Client, error) {
	o := options{maxBody: DefaultMaxResponseBytes, timeout: DefaultTimeout}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse quotes the input, which may hold a password.
		return nil, errors.New("rpc: malformed url")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("rpc: url has no host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("rpc: url must not have a query or fragment")
	}
	c := &Client{maxBody: o.maxBody, timeout: o.timeout}
	if u.User != nil {
		c.auth = true
		c.user = u.User.Username()
		c.pass, _ = u.User.Password()
		u.User = nil
	}
	if o.auth {
		c.auth, c.user, c.pass = true, o.user, o.pass
	}

	tr := &http.Transport{
		// Direct only: an environment proxy would see the credentials.
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:    10 * time.Second,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	switch u.Scheme {
	case "https":
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.caPEM != nil {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(o.caPEM) {
				return nil, errors.New("rpc: ca certificate: no PEM certificate found")
			}
			cfg.RootCAs = pool
		}
		tr.TLSClientConfig = cfg
	case "http":
		if o.caPEM != nil {
			return nil, errors.New("rpc: a ca certificate needs an https:// url")
		}
		if !o.plainHTTP && !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("rpc: refusing plain http to non-loopback host %s (use https, or allow plain http explicitly)", u.Hostname())
		}
	default:
		return nil, fmt.Errorf("rpc: url scheme must be http or https, not %q", u.Scheme)
	}
	c.endpoint = u.String()
	c.hc = &http.Client{
		Transport: tr,
		// Never follow a redirect: it could carry the credentials elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// URL returns the endpoint without credentials, safe to print.
func (c *Client) URL() string { return c.endpoint }

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

type request struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

// Call invokes method with params (nil for none) and decodes the result
// into out (nil to discard it). A node error is returned as *Error, an HTTP
// failure without a JSON-RPC error as *HTTPError.
func (c *Client) Call(ctx context.Context, method string, params []any, out any) error {
	if method == "" {
		return errors.New("rpc: empty method")
	}
	if params == nil {
		params = []any{}
	}
	id := c.nextID.Add(1)
	body, err := json.Marshal(request{JSONRPC: "1.0", ID: id, Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("rpc: %s: encoding params: %w", method, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("rpc: %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.auth {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// The endpoint in the error carries no credentials.
		return fmt.Errorf("rpc: %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return fmt.Errorf("rpc: %s: reading response: %w", method, err)
	}
	if int64(len(data)) > c.maxBody {
		return fmt.Errorf("rpc: %s: response larger than %d bytes", method, c.maxBody)
	}
	return decodeResponse(method, id, resp.StatusCode, data, out)
}

type response struct {
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
	ID     json.RawMessage `json:"id"`
}

type errorObject struct {
	Code    *int   `json:"code"`
	Message string `json:"message"`
}

// decodeResponse turns a reply into the result or a typed error. Bitcoin
// Core answers errors with HTTP 500 (or 404 for an unknown method) and a
// JSON body; btcd with HTTP 200 and a JSON body; both answer bad
// credentials with a bare 401.
func decodeResponse(method string, id uint64, status int, body []byte, out any) error {
	var r response
	jsonErr := json.Unmarshal(body, &r)
	if jsonErr == nil && len(r.Error) > 0 && !isNull(r.Error) {
		var eo errorObject
		if err := json.Unmarshal(r.Error, &eo); err == nil && eo.Code != nil {
			return &Error{Method: method, Code: *eo.Code, Message: clean(eo.Message, maxMessage)}
		}
		var s string
		if err := json.Unmarshal(r.Error, &s); err == nil {
			return &Error{Method: method, Code: 0, Message: clean(s, maxMessage)}
		}
		return fmt.Errorf("rpc: %s: malformed error in response", method)
	}
	if status != http.StatusOK {
		return &HTTPError{Method: method, StatusCode: status, Body: clean(string(body), maxHTTPBody)}
	}
	if jsonErr != nil {
		return fmt.Errorf("rpc: %s: malformed response: %v", method, jsonErr)
	}
	if len(r.ID) > 0 && !isNull(r.ID) {
		var got uint64
		if err := json.Unmarshal(r.ID, &got); err != nil || got != id {
			return fmt.Errorf("rpc: %s: response id %s does not match request id %d", method, clean(string(r.ID), 64), id)
		}
	}
	if out == nil {
		return nil
	}
	if len(r.Result) == 0 {
		return fmt.Errorf("rpc: %s: response has no result", method)
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return fmt.Errorf("rpc: %s: decoding result: %w", method, err)
	}
	return nil
}

func isNull(m json.RawMessage) bool { return string(bytes.TrimSpace(m)) == "null" }
