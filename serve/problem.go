package serve

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

// ProblemBase prefixes every problem type: the type is stable per kind of
// error, and docs/service.md lists them.
const ProblemBase = "urn:airlock:problem:"

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// kinds of problem, with their status and title.
var kinds = map[string]struct {
	status int
	title  string
}{
	"unsigned":          {http.StatusUnauthorized, "the request is not signed"},
	"bad-signature":     {http.StatusUnauthorized, "the request's signature is malformed or does not verify"},
	"unknown-key":       {http.StatusUnauthorized, "the signing key is not in the policy"},
	"replayed":          {http.StatusUnauthorized, "the request was replayed"},
	"signature-expired": {http.StatusUnauthorized, "the signature is outside its time window"},
	"bad-delegation":    {http.StatusUnauthorized, "the delegation sent with the request is refused"},
	"forbidden":         {http.StatusForbidden, "the signer's roles do not allow this"},
	"too-large":         {http.StatusRequestEntityTooLarge, "the request body is too large"},
	"malformed":         {http.StatusBadRequest, "the request is malformed"},
	"not-found":         {http.StatusNotFound, "no such thing"},
	"duplicate":         {http.StatusConflict, "already decided"},
	"not-allowed":       {http.StatusConflict, "not allowed in the proposal's state"},
	"expired":           {http.StatusConflict, "the proposal is expired"},
	"denied":            {http.StatusUnprocessableEntity, "the policy's rules do not allow it"},
	"blocked":           {http.StatusUnprocessableEntity, "the payload has blocking flags"},
	"invalid":           {http.StatusUnprocessableEntity, "the artifact was refused"},
	"node-rejected":     {http.StatusUnprocessableEntity, "the node rejected the transaction"},
	"reverted":          {http.StatusUnprocessableEntity, "the transaction reverts or its call failed"},
	"in-flight":         {http.StatusConflict, "the transaction is being executed by another request"},
	"no-receipt":        {http.StatusGatewayTimeout, "the transaction was sent, but no receipt came in time"},
	"no-node":           {http.StatusNotImplemented, "the service has no node to send transactions to"},
	"busy":              {http.StatusServiceUnavailable, "busy: try again"},
	"halted":            {http.StatusServiceUnavailable, "a self-verification of the audit log failed: proposals are halted until an operator acknowledges it"},
	"internal":          {http.StatusInternalServerError, "internal error"},
}

func problem(kind, detail string) *Problem {
	k, ok := kinds[kind]
	if !ok {
		kind, k = "internal", kinds["internal"]
	}
	return &Problem{Type: ProblemBase + kind, Title: k.title, Status: k.status, Detail: detail}
}

// classify maps an error to its problem. input says the error came from
// checking what the client sent (an artifact refused is then "invalid",
// not "internal").
func classify(err error, input bool) *Problem {
	var p *Problem
	var mbe *http.MaxBytesError
	kind := ""
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &mbe):
		kind = "too-large"
	case errors.Is(err, ErrDelegation):
		kind = "bad-delegation"
	case errors.Is(err, ErrUnsigned):
		kind = "unsigned"
	case errors.Is(err, ErrUnknownKey):
		kind = "unknown-key"
	case errors.Is(err, ErrReplayed):
		kind = "replayed"
	case errors.Is(err, ErrSigExpired):
		kind = "signature-expired"
	case errors.Is(err, ErrBadSig):
		kind = "bad-signature"
	case errors.Is(err, ErrForbidden):
		kind = "forbidden"
	case errors.Is(err, errBusy), errors.Is(err, store.ErrLocked):
		kind = "busy"
	case errors.Is(err, workspace.ErrHalted):
		kind = "halted"
	case errors.Is(err, workspace.ErrNotFound):
		kind = "not-found"
	case errors.Is(err, store.ErrDuplicate):
		kind = "duplicate"
	case errors.Is(err, proposal.ErrExpired):
		kind = "expired"
	case errors.Is(err, proposal.ErrTransition), errors.Is(err, coordinator.ErrNotFinalized):
		kind = "not-allowed"
	case errors.Is(err, coordinator.ErrDenied):
		kind = "denied"
	case errors.Is(err, coordinator.ErrBlocked):
		kind = "blocked"
	case errors.Is(err, envelope.ErrMalformed):
		kind = "invalid"
	case input:
		kind = "invalid"
	default:
		kind = "internal"
	}
	detail := err.Error()
	if kind == "internal" {
		detail = "" // logged, not told
	}
	return problem(kind, detail)
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}
