package serve

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client signs requests to the service with an identity key. Tests use
// it; "airlock --coordinator URL" will.
type Client struct {
	// Base is the service's URL, "http://127.0.0.1:8700".
	Base string
	Key  crypto.Signer
	HTTP *http.Client
	// Now is the clock requests are dated by (default time.Now); Window
	// their signature's validity (default DefaultWindow).
	Now    func() time.Time
	Window time.Duration
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
