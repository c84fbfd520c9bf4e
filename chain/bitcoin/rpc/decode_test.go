package rpc

import (
	"errors"
	"strings"
	"testing"
)

// Replies as btcd and Bitcoin Core send them.
func TestDecodeResponse(t *testing.T) {
	const id = 7
	tests := []struct {
		name     string
		status   int
		body     string
		wantCode *int   // an *Error with this code
		wantHTTP int    // an *HTTPError with this status
		wantMsg  string // in the message (or the error text)
		wantOut  string // the decoded string result
	}{
		{
			name:    "result",
			status:  200,
			body:    `{"result":"00ab","error":null,"id":7}`,
			wantOut: "00ab",
		},
		{
			name:    "result without id",
			status:  200,
			body:    `{"result":"00ab"}`,
			wantOut: "00ab",
		},
		{
			name:     "btcd script failure",
			status:   200,
			body:     `{"result":null,"error":{"code":-25,"message":"TX rejected: failed to validate input abc:0 which references output def:0 - signature not empty on failed checksig (input witness [30440220])"},"id":7}`,
			wantCode: ptr(CodeVerify),
			wantMsg:  "signature not empty on failed checksig",
		},
		{
			name:     "core script failure",
			status:   500,
			body:     `{"result":null,"error":{"code":-26,"message":"mandatory-script-verify-flag-failed (Signature must be zero for failed CHECK(MULTI)SIG operation)"},"id":7}`,
			wantCode: ptr(CodeVerifyRejected),
			wantMsg:  "mandatory-script-verify-flag-failed",
		},
		{
			name:     "core missing inputs",
			status:   500,
			body:     `{"result":null,"error":{"code":-25,"message":"bad-txns-inputs-missingorspent"},"id":7}`,
			wantCode: ptr(CodeVerify),
			wantMsg:  "bad-txns-inputs-missingorspent",
		},
		{
			name:     "core already in chain",
			status:   500,
			body:     `{"result":null,"error":{"code":-27,"message":"Transaction outputs already in utxo set"},"id":7}`,
			wantCode: ptr(CodeVerifyAlreadyInChain),
		},
		{
			name:     "core unknown method",
			status:   404,
			body:     `{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":7}`,
			wantCode: ptr(CodeMethodNotFound),
			wantMsg:  "Method not found",
		},
		{
			name:     "btcd no such transaction",
			status:   200,
			body:     `{"result":null,"error":{"code":-5,"message":"No information available about transaction 00"},"id":7}`,
			wantCode: ptr(CodeInvalidAddressOrKey),
		},
		{
			name:     "code zero is still an error",
			status:   200,
			body:     `{"result":null,"error":{"code":0,"message":"odd"},"id":7}`,
			wantCode: ptr(0),
			wantMsg:  "odd",
		},
		{
			name:     "error as a string",
			status:   500,
			body:     `{"result":null,"error":"something broke","id":7}`,
			wantCode: ptr(0),
			wantMsg:  "something broke",
		},
		{
			name:     "control characters removed",
			status:   200,
			body:     `{"result":null,"error":{"code":-26,"message":"bad\u001b[31mred\u202e\nline"},"id":7}`,
			wantCode: ptr(-26),
			wantMsg:  "bad\uFFFD[31mred\uFFFD line",
		},
		{
			name:     "core 401",
			status:   401,
			body:     ``,
			wantHTTP: 401,
			wantMsg:  "wrong rpc user or password",
		},
		{
			name:     "btcd 401",
			status:   401,
			body:     "401 Unauthorized.\n",
			wantHTTP: 401,
			wantMsg:  "401 Unauthorized.",
		},
		{
			name:     "html 502 from a proxy",
			status:   502,
			body:     "<html>bad gateway</html>",
			wantHTTP: 502,
			wantMsg:  "bad gateway",
		},
		{
			name:     "long body cut",
			status:   500,
			body:     strings.Repeat("x", 10000),
			wantHTTP: 500,
			wantMsg:  "…",
		},
		{
			name:    "malformed json",
			status:  200,
			body:    `{"result":`,
			wantMsg: "rpc: m: malformed response",
		},
		{
			name:    "id mismatch",
			status:  200,
			body:    `{"result":"00","error":null,"id":8}`,
			wantMsg: "does not match request id 7",
		},
		{
			name:    "no result",
			status:  200,
			body:    `{"error":null,"id":7}`,
			wantMsg: "no result",
		},
		{
			name:    "wrong result type",
			status:  200,
			body:    `{"result":5,"error":null,"id":7}`,
			wantMsg: "decoding result",
		},
		{
			name:    "malformed error object",
			status:  200,
			body:    `{"result":null,"error":{"message":"no code"},"id":7}`,
			wantMsg: "malformed error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out string
			err := decodeResponse("m", id, tt.status, []byte(tt.body), &out)
			var rerr *Error
			var herr *HTTPError
			switch {
			case tt.wantCode != nil:
				if !errors.As(err, &rerr) {
					t.Fatalf("got %v, want *Error", err)
				}
				if rerr.Code != *tt.wantCode || rerr.Method != "m" {
					t.Fatalf("got code %d method %q, want %d", rerr.Code, rerr.Method, *tt.wantCode)
				}
				if !strings.Contains(rerr.Message, tt.wantMsg) {
					t.Fatalf("message %q does not contain %q", rerr.Message, tt.wantMsg)
				}
				if c, ok := ErrorCode(err); !ok || c != *tt.wantCode || !IsCode(err, *tt.wantCode) {
					t.Fatal("ErrorCode/IsCode disagree")
				}
			case tt.wantHTTP != 0:
				if !errors.As(err, &herr) {
					t.Fatalf("got %v, want *HTTPError", err)
				}
				if herr.StatusCode != tt.wantHTTP {
					t.Fatalf("status %d, want %d", herr.StatusCode, tt.wantHTTP)
				}
				if len(herr.Body) > maxHTTPBody+len("…") {
					t.Fatalf("body kept %d bytes", len(herr.Body))
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("error %q does not contain %q", err, tt.wantMsg)
				}
				if _, ok := ErrorCode(err); ok {
					t.Fatal("an HTTP error has a node code")
				}
			case tt.wantMsg != "":
				if err == nil || errors.As(err, &rerr) || errors.As(err, &herr) {
					t.Fatalf("got %#v, want a plain error", err)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("error %q does not contain %q", err, tt.wantMsg)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if out != tt.wantOut {
					t.Fatalf("out = %q, want %q", out, tt.wantOut)
				}
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	err := error(&Error{Method: "sendrawtransaction", Code: -26, Message: "mandatory-script-verify-flag-failed"})
	if got, want := err.Error(), "rpc: sendrawtransaction: node error -26: mandatory-script-verify-flag-failed"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !IsTxRejected(err) || !IsTxRejected(&Error{Code: -25}) || IsTxRejected(&Error{Code: -27}) || IsTxRejected(errors.New("x")) {
		t.Fatal("IsTxRejected wrong")
	}
}

func TestClean(t *testing.T) {
	long := strings.Repeat("é", 3000) // 6000 bytes
	got := clean(long, maxMessage)
	if len(got) > maxMessage+len("…") || !strings.HasSuffix(got, "…") {
		t.Fatalf("not cut: %d bytes", len(got))
	}
	if got := clean("a\x00b\xffc", 100); got != "a\uFFFDb\uFFFDc" {
		t.Fatalf("got %q", got)
	}
}

func ptr(i int) *int { return &i }
