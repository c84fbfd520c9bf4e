package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/proposal"
)

// What a client checks of the service's answers before it writes them
// out: an envelope is the one asked for, a threshold proof and a release
// hold together with what came beside them. A service that answers
// otherwise is not believed.

// ProposalEnvelope downloads a proposal's envelope and checks it is the
// one asked for: its id, the hash of what was received, begins with id.
func (c *Client) ProposalEnvelope(ctx context.Context, id string) (*envelope.Envelope, error) {
	raw, err := c.Envelope(ctx, id)
	if err != nil {
		return nil, err
	}
	pe, err := envelope.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("the coordinator's proposal envelope: %w", err)
	}
	if !strings.HasPrefix(pe.IDHex(), id) {
		return nil, fmt.Errorf("the coordinator gave proposal %s when asked for %s", pe.IDHex(), id)
	}
	return pe, nil
}

// FinalizeChecked finalizes proposal id (Finalize) and checks the answer:
// the threshold proof decodes, and records this proposal and the very
// transaction sent with it.
func (c *Client) FinalizeChecked(ctx context.Context, id string) (*coordinator.Finalized, error) {
	fz, err := c.Finalize(ctx, id)
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(fz.Proof)
	if err != nil {
		return nil, fmt.Errorf("the coordinator's threshold proof is not base64: %v", err)
	}
	env, err := envelope.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("the coordinator's threshold proof: %w", err)
	}
	pf, err := proposal.DecodeProof(env)
	if err != nil {
		return nil, fmt.Errorf("the coordinator's threshold proof: %w", err)
	}
	tx, err := hex.DecodeString(fz.Transaction)
	if err != nil {
		return nil, fmt.Errorf("the coordinator's transaction is not hex: %v", err)
	}
	if !strings.HasPrefix(hex.EncodeToString(pf.Proposal), id) || pf.TxID != fz.TxID || !bytes.Equal(pf.Transaction, tx) {
		return nil, fmt.Errorf("the coordinator's answer does not hold together: its threshold proof is for proposal %x, transaction %s, not what it sent", pf.Proposal, pf.TxID)
	}
	return &coordinator.Finalized{Final: &chain.Final{Raw: tx, TxID: fz.TxID}, Proof: pf, Env: env, Again: fz.Again}, nil
}

// WithdrawChecked withdraws proposal id (Withdraw) and checks the answer:
// its release decodes and releases this proposal. It returns the answer
// and the release's envelope.
func (c *Client) WithdrawChecked(ctx context.Context, id, reason string) (*Withdrawn, *envelope.Envelope, error) {
	w, err := c.Withdraw(ctx, id, reason)
	if err != nil {
		return nil, nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(w.Release)
	if err != nil {
		return nil, nil, fmt.Errorf("the coordinator's release is not base64: %v", err)
	}
	rel, err := envelope.Decode(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("the coordinator's release: %w", err)
	}
	if rr, err := proposal.DecodeRelease(rel); err != nil || !strings.HasPrefix(hex.EncodeToString(rr.Proposal), id) {
		return nil, nil, fmt.Errorf("the coordinator's release is not one of proposal %s", id)
	}
	return w, rel, nil
}

// ErrNoHandInTarget: a file is neither an approval envelope nor a signed
// PSBT the service could take, with no proposal open there.
var ErrNoHandInTarget = errors.New("neither an approval envelope nor, with no proposal open at the coordinator, a signed PSBT it could take")

// HandInTarget is the proposal a file is handed in for: an approval
// names its proposal (and is returned decoded); a PSBT signed by an
// external device is matched by the service itself to the open proposal
// of its transaction, so any open proposal's id takes it. A failure of
// the service to answer is a *ServiceError; any other error is the
// file's.
func (c *Client) HandInTarget(ctx context.Context, raw []byte) (id string, ap *proposal.Approval, err error) {
	if e, derr := envelope.Decode(raw); derr == nil {
		ap, err := proposal.DecodeApproval(e)
		if err != nil {
			return "", nil, err
		}
		return hex.EncodeToString(ap.Proposal), ap, nil
	}
	for _, st := range []proposal.State{proposal.StateOpen, proposal.StateApproved} {
		page, err := c.List(ctx, url.Values{"state": {string(st)}, "page_size": {"1"}})
		if err != nil {
			return "", nil, &ServiceError{err}
		}
		if len(page.Proposals) > 0 {
			return page.Proposals[0].ID, nil, nil
		}
	}
	return "", nil, ErrNoHandInTarget
}

// ServiceError is the service's failure to answer a question asked on
// the way, as opposed to a file found wanting.
type ServiceError struct{ Err error }

func (e *ServiceError) Error() string { return e.Err.Error() }

// Unwrap gives the service's failure.
func (e *ServiceError) Unwrap() error { return e.Err }

// RequestRefused says whether a hand-in's failure concerns the request,
// not the file it carried: the service could not be reached, answered
// nonsense, or refused the signature, the key, its roles or the moment.
// A batch stops there: no other file would fare better.
func RequestRefused(err error) bool {
	var p *Problem
	if !errors.As(err, &p) {
		return true
	}
	switch p.Kind() {
	case "unsigned", "bad-signature", "unknown-key", "bad-delegation", "replayed", "signature-expired", "forbidden", "busy", "internal", "halted":
		return true
	}
	return false
}
