package rpc

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error codes shared by Bitcoin Core and btcd (btcjson), as the node sends
// them in Error.Code.
const (
	CodeMisc                 = -1     // RPC_MISC_ERROR
	CodeTypeError            = -3     // RPC_TYPE_ERROR
	CodeInvalidAddressOrKey  = -5     // also: no such transaction or block
	CodeInvalidParameter     = -8     // RPC_INVALID_PARAMETER
	CodeDeserialization      = -22    // transaction or block decode failed
	CodeVerify               = -25    // Core: missing inputs; btcd: most rejections, script failures included
	CodeVerifyRejected       = -26    // Core: rejected by policy or consensus, script failures included; btcd: policy
	CodeVerifyAlreadyInChain = -27    // already in the chain (btcd: also already in mempool)
	CodeInWarmup             = -28    // node still starting
	CodeInvalidRequest       = -32600 // JSON-RPC invalid request
	CodeMethodNotFound       = -32601 // JSON-RPC method not found
	CodeInvalidParams        = -32602 // JSON-RPC invalid params
	CodeInternal             = -32603 // JSON-RPC internal error
	CodeParse                = -32700 // JSON-RPC parse error
)

const (
	maxMessage  = 4096 // bytes kept of a node's error message
	maxHTTPBody = 512  // bytes kept of a non-JSON error body
)

// Error is an error reply from the node: its code and message, e.g. code
// -26 and "TX rejected: ... script ... failed" for a bad signature.
type Error struct {
	Method  string // the RPC method called
	Code    int    // the node's error code (see the Code constants)
	Message string // the node's message, control characters removed
}

func (e *Error) Error() string {
	return fmt.Sprintf("rpc: %s: node error %d: %s", e.Method, e.Code, e.Message)
}

// HTTPError is an HTTP failure without a JSON-RPC error body, e.g. 401 for
// wrong credentials or 403 for a client not allowed by the node.
type HTTPError struct {
	Method     string
	StatusCode int
	Body       string // the start of the body, control characters removed
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("rpc: %s: http status %d", e.Method, e.StatusCode)
	switch e.StatusCode {
	case 401:
		s += " (wrong rpc user or password?)"
	case 403:
		s += " (client not allowed by the node?)"
	}
	if b := strings.TrimSpace(e.Body); b != "" {
		s += ": " + b
	}
	return s
}

// IsTxRejected reports whether err is the node refusing a transaction
// (codes -25 and -26): invalid or non-standard, a failing script, a
// missing or spent input. Not for -27, already known.
func IsTxRejected(err error) bool {
	return IsCode(err, CodeVerify) || IsCode(err, CodeVerifyRejected)
}

// ErrorCode returns the node's error code if err is or wraps an *Error.
func ErrorCode(err error) (int, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, true
	}
	return 0, false
}

// IsCode reports whether err is or wraps an *Error with the given code.
func IsCode(err error, code int) bool {
	c, ok := ErrorCode(err)
	return ok && c == code
}

// clean makes node-supplied text safe to print: invalid UTF-8 and control
// and format characters become U+FFFD (newlines and tabs a space), and it is cut to max bytes.
func clean(s string, max int) string {
	cut := false
	if len(s) > max {
		s, cut = s[:max], true
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			if r == '\n' || r == '\t' || r == '\r' {
				b.WriteByte(' ')
				continue
			}
			b.WriteRune(utf8.RuneError)
			continue
		}
		b.WriteRune(r)
	}
	if cut {
		b.WriteString("…")
	}
	return b.String()
}
