// Package station is the offline signer's side of a round: it reviews a
// proposal from its bytes alone and signs or rejects it.
//
// A station trusts nothing the coordinator says. Review decodes the
// envelope, checks the coordinator's signature against the station's own
// copy of the policy, checks the policy id the proposal cites and its
// expiry, has the chain adapter decode the transaction itself, and adds the
// station's own verdict: whether this station signs for the vault, whether
// it has already decided, and whether the transaction spends anything a
// different proposal it approved already spends. Sign repeats the whole
// review before it signs. The package does no network I/O.
package station

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

// Refusal is a verdict that the proposal must not be signed: a blocking
// flag, an expired proposal, a policy that does not allow it. The CLI maps
// it to exit code 3.
type Refusal struct{ Reasons []string }

func (r *Refusal) Error() string {
	if len(r.Reasons) == 1 {
		return "station: refused: " + r.Reasons[0]
	}
	return fmt.Sprintf("station: refused for %d reasons: %v", len(r.Reasons), r.Reasons)
}

// Station is a signer station's workspace with what it needs to work. Its
// clock is the workspace's; its decision, the claims it makes and their
// audit entry are one store transaction.
type Station struct {
	WS  *workspace.Workspace
	Reg *chain.Registry
	// Custody, when set, gives the station's transfer record and its
	// cosignature of the latest coordinator checkpoint it checked, to be
	// signed into each decision.
	Custody func(id keys.Identity) ([]proposal.Transfer, *proposal.Witness, error)
	// Health, when set, is the station's latest device check, carried in
	// its approvals.
	Health *proposal.Health
}

// Result is a completed review.
type Result struct {
	ID        [32]byte
	Proposal  *proposal.Proposal
	Policy    *policy.Policy
	PolicyID  [32]byte // the version the proposal cites (Policy is the one in effect)
	Vault     chain.Vault
	Review    *chain.Review
	Refusals  []string // why this station must not sign, empty when it may
	Conflicts []workspace.Conflict
	Signer    policy.Signer
	Digest    [32]byte // SHA-256 of the review as JSON: what the person saw
	// Verdict is the policy's transaction rules on this proposal (nil
	// when they could not decide: then Refusals says why).
	Verdict *policy.Verdict
	// Endorser: this station's participant holds no signer of the vault
	// but belongs to an approval group (policy.Endorser); its approval is
	// an endorsement, signed with the identity key alone, that counts for
	// the rules' groups and never toward the on-chain threshold.
	Endorser bool
}

// Now is the station's clock.
func (s *Station) Now() time.Time { return s.WS.Now() }

// MaySign reports whether nothing stands against signing.
func (r *Result) MaySign() bool { return len(r.Refusals) == 0 && len(r.Conflicts) == 0 }

// Review checks and decodes a proposal envelope. Errors mean the artifact
// could not be trusted or read; a readable proposal that must not be signed
// comes back as a Result with Refusals, and an expired or foreign-policy
// proposal as a *Refusal error.
func (s *Station) Review(ctx context.Context, raw []byte) (*Result, error) {
	e, err := envelope.Decode(raw)
	if err != nil {
		return nil, err
	}
	pol, polID, p, err := s.open(e)
	if errors.Is(err, proposal.ErrExpired) || errors.Is(err, proposal.ErrWrongPolicy) || errors.Is(err, proposal.ErrStale) {
		return nil, &Refusal{Reasons: []string{err.Error()}}
	}
	if err != nil {
		return nil, err
	}
	cv, err := proposal.ChainVault(p, pol)
	if err != nil {
		return nil, err
	}
	a, err := s.Reg.Lookup(p.Chain)
	if err != nil {
		return nil, err
	}
	// The payload, and the on-chain state the proposal attests (a
	// Safe's, proven against a block header), reviewed offline.
	rv, err := proposal.ReviewWith(ctx, a, cv, p)
	if err != nil {
		return nil, err
	}
	res := &Result{ID: e.ID(), Proposal: p, Policy: pol, PolicyID: polID, Vault: cv, Review: rv}
	for _, f := range rv.Blocking() {
		res.Refusals = append(res.Refusals, fmt.Sprintf("%s: %s", f.Code, f.Message))
	}
	v, _ := pol.Vault(p.Vault)
	signer, ok := pol.SignerFor(v, s.WS.Config.Name)
	revoked, why := pol.RevokedDevice(s.WS.Config.Name, s.WS.Config.Device)
	switch {
	case revoked:
		res.Refusals = append(res.Refusals, fmt.Sprintf("this station's key is revoked: %s; it signs nothing", why))
	case !ok:
		if _, endorser := pol.Endorser(v, s.WS.Config.Name); endorser {
			// Not a signer, but in an approval group: this station
			// endorses with its identity key alone.
			res.Endorser = true
			break
		}
		res.Refusals = append(res.Refusals, fmt.Sprintf("participant %q does not sign for vault %q nor belongs to any approval group of the policy", s.WS.Config.Name, p.Vault))
	case v.Chain == "ethereum" && signer.Device.Ethereum != s.WS.Config.Ethereum:
		res.Refusals = append(res.Refusals, fmt.Sprintf("this station's Ethereum key is not the owner key policy version %d records for %s/%s: wrong device or policy", pol.Version, signer.Participant.ID, signer.Device.ID))
	case signer.Device.Key != s.WS.Config.Key:
		res.Refusals = append(res.Refusals, fmt.Sprintf("this station's key is not the key policy version %d records for %s/%s: wrong device or policy", pol.Version, signer.Participant.ID, signer.Device.ID))
	default:
		res.Signer = signer
	}
	if _, err := s.WS.Decision(res.ID); err == nil {
		res.Refusals = append(res.Refusals, "this station has already decided on this proposal")
	}
	if released, err := s.released(ctx, res.ID); err != nil {
		return nil, err
	} else if released {
		res.Refusals = append(res.Refusals, "the coordinator released this proposal (withdrawn, rejected or expired): it has ended")
	}
	res.Conflicts, err = s.conflicts(res.ID, rv.Spends)
	if err != nil {
		return nil, err
	}
	if err := s.decide(ctx, res); err != nil {
		return nil, err
	}
	if p.Chain == "ethereum" {
		for _, c := range res.Conflicts {
			rv.Flags = append(rv.Flags, chain.Flag{Code: "nonce-conflict", Severity: chain.Warn,
				Message: fmt.Sprintf("this station already approved proposal %x for the same Safe nonce (%s); signing both would let either execute", c.Proposal[:8], c.Resource)})
		}
	}
	j, err := json.Marshal(rv)
	if err != nil {
		return nil, err
	}
	res.Digest = sha256.Sum256(j)
	return res, nil
}

func (s *Station) conflicts(id [32]byte, spends []string) ([]workspace.Conflict, error) {
	return s.WS.Conflicts(id, spends)
}

// Decision is what the person decided.
type Decision struct {
	Approve  bool
	Reason   string // required to reject; optional note to approve
	Override string // rationale for signing despite a conflict
}

// Sign reviews the proposal again and, if the person approves and nothing
// stands against it, signs it with the station's chain key; a rejection is
// signed too. Either way the decision is an approval envelope signed with
// the station's identity key, and it is recorded before it is returned.
func (s *Station) Sign(ctx context.Context, raw []byte, d Decision, id keys.Identity, signer keys.ChainSigner) (*envelope.Envelope, *Result, error) {
	res, err := s.Review(ctx, raw)
	if err != nil {
		return nil, nil, err
	}
	ap := &proposal.Approval{
		Format: 1, Proposal: res.ID[:], Participant: s.WS.Config.Name, Device: s.WS.Config.Device,
		Policy: res.PolicyID[:], PolicyVersion: res.Proposal.PolicyVersion,
		Time: s.Now().UTC().Unix(), Review: res.Digest[:], Reason: d.Reason,
	}
	if res.Endorser {
		ap.Device = "" // an endorsement names no device
	}
	for _, f := range res.Review.Flags {
		ap.Flags = append(ap.Flags, f.Code)
	}
	if s.Custody != nil {
		if ap.Transfers, ap.Witness, err = s.Custody(id); err != nil {
			return nil, res, err
		}
	}
	if d.Approve {
		if len(res.Refusals) > 0 {
			return nil, res, &Refusal{Reasons: res.Refusals}
		}
		if len(res.Conflicts) > 0 && d.Override == "" {
			var rs []string
			for _, c := range res.Conflicts {
				rs = append(rs, fmt.Sprintf("%s is already spent by approved proposal %s (use --override-conflict --reason to sign anyway)", c.Resource, hex.EncodeToString(c.Proposal[:8])))
			}
			return nil, res, &Refusal{Reasons: rs}
		}
		a, err := s.Reg.Lookup(res.Proposal.Chain)
		if err != nil {
			return nil, nil, err
		}
		ap.Decision, ap.Override = proposal.Approve, d.Override
		if !res.Endorser {
			ap.Health = s.Health
		}
		if pv, ok := res.Policy.Vault(res.Proposal.Vault); ok && !res.Endorser {
			if err := proposal.CheckHealth(s.Health, res.Policy, pv, res.Signer, s.Reg, time.Unix(ap.Time, 0)); err != nil {
				return nil, res, &Refusal{Reasons: []string{err.Error()}}
			}
		}
		if !res.Endorser {
			ap.Signatures, err = a.Sign(res.Vault, res.Proposal.Payload, res.Signer.Device.KeyFor(res.Proposal.Chain), signer)
			if err != nil {
				return nil, res, err
			}
		}
	} else {
		if d.Reason == "" {
			return nil, res, errors.New("station: a rejection needs a reason")
		}
		ap.Decision = proposal.Reject
	}
	env, err := proposal.SealApproval(ap, id)
	if err != nil {
		return nil, res, err
	}
	decision, err := env.Encode()
	if err != nil {
		return nil, res, err
	}
	kind := "approval.created"
	detail := map[string]string{"proposal": hex.EncodeToString(res.ID[:]), "txid": res.Review.TxID}
	if !d.Approve {
		kind, detail["reason"] = "rejection.created", d.Reason
	} else {
		if len(res.Review.Spends) > 0 {
			detail["claims"] = strings.Join(res.Review.Spends, " ")
		}
		// What it spends, for the station's velocity (history).
		if detail["spent"], err = policy.Spending(res.Review.Effects); err != nil {
			return nil, res, err
		}
		detail["vault"] = res.Proposal.Vault
		if res.Verdict != nil && res.Verdict.Template != "" {
			// Counted against the template's rate (history).
			detail["template"] = res.Verdict.Template
		}
	}
	if d.Override != "" {
		detail["override"] = d.Override
	}
	if res.Proposal.Urgent {
		detail["urgent"] = "true"
	}
	// The decision, its claims and its entry commit together; the claims
	// are checked again inside the transaction.
	err = update(ctx, s.WS, nil, func(tx Tx) error {
		if _, ok := mustDecisions(tx, res.ID)[s.WS.Config.Name]; ok {
			return fmt.Errorf("%w: this station already decided on proposal %x", store.ErrDuplicate, res.ID[:4])
		}
		if d.Approve {
			conflicts, err := workspace.Conflicts(tx, res.ID, res.Review.Spends)
			if err != nil {
				return err
			}
			if len(conflicts) > 0 && d.Override == "" {
				return workspace.ErrConflict
			}
		}
		if _, err := tx.Log(s.WS.Event(kind, env.IDHex(), detail)); err != nil {
			return err
		}
		if err := tx.PutDecision(store.Decision{Proposal: res.ID, Participant: s.WS.Config.Name, Envelope: decision}); err != nil {
			return err
		}
		// The station keeps the proposal it decided on.
		if _, err := tx.Proposal(res.ID); err != nil {
			pe, err := envelope.Decode(raw)
			if err != nil {
				return err
			}
			held, err := pe.Encode()
			if err != nil {
				return err
			}
			if err := tx.PutProposal(store.Proposal{ID: res.ID, Envelope: held, State: "held"}); err != nil {
				return err
			}
		}
		if d.Approve {
			for _, sp := range res.Review.Spends {
				if err := tx.PutClaim(sp, res.ID); err != nil {
					return err
				}
			}
		}
		return tx.PutArtifact(store.Artifact{ID: env.ID(), Kind: "approval", Data: decision})
	})
	if err != nil {
		return nil, res, err
	}
	return env, res, nil
}

func mustDecisions(r store.Reader, id [32]byte) map[string]store.Decision {
	ds, _ := r.Decisions(id)
	return ds
}

// Released is what ApplyRelease did.
type Released struct {
	Release *proposal.Release
	ID      [32]byte
	Claims  []string // the resources freed
	Again   bool     // the release was applied before
}

// ApplyRelease verifies a coordinator's release of a proposal (withdrawn,
// rejected, expired) against the station's own policy and frees the
// claims the station made for it, in one logged transaction. The station
// then refuses to sign that proposal: it has ended.
func (s *Station) ApplyRelease(ctx context.Context, raw []byte, extra func(store.Tx) error) (*Released, error) {
	e, err := envelope.Decode(raw)
	if err != nil {
		return nil, err
	}
	pol, _, err := s.WS.Policy(s.Reg)
	if err != nil {
		return nil, err
	}
	r, err := proposal.OpenRelease(e, pol)
	if err != nil {
		return nil, err
	}
	out := &Released{Release: r}
	copy(out.ID[:], r.Proposal)
	err = update(ctx, s.WS, extra, func(tx Tx) error {
		prev, err := tx.Witness(releasedKey(out.ID))
		if err != nil {
			return err
		}
		out.Again = prev != nil
		claims, err := tx.Claims()
		if err != nil {
			return err
		}
		for _, c := range claims {
			if c.Proposal == out.ID {
				out.Claims = append(out.Claims, c.Resource)
			}
		}
		detail := map[string]string{"proposal": hex.EncodeToString(r.Proposal), "state": string(r.State), "reason": r.Reason,
			"coordinator": r.Coordinator, "released": strings.Join(out.Claims, " ")}
		if _, err := tx.Log(s.WS.Event("claims.released", e.IDHex(), detail)); err != nil {
			return err
		}
		for _, res := range out.Claims {
			if err := tx.ReleaseClaim(res); err != nil {
				return err
			}
		}
		// Remembered whether or not the station holds the proposal: it
		// will never sign it.
		if err := tx.PutWitness(releasedKey(out.ID), []byte(e.IDHex())); err != nil {
			return err
		}
		if err := tx.PutArtifact(store.Artifact{ID: e.ID(), Kind: "release", Data: raw}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// released reports whether a release of the proposal was applied here.
func (s *Station) released(ctx context.Context, id [32]byte) (bool, error) {
	var yes bool
	err := s.WS.View(ctx, func(r store.Reader) error {
		v, err := r.Witness(releasedKey(id))
		yes = v != nil
		return err
	})
	return yes, err
}

// releasedKey records, among a station's witness records, the release it
// applied for a proposal.
func releasedKey(id [32]byte) string { return "released:" + hex.EncodeToString(id[:]) }

// Examine is Review for a person at the station, with its verdict in the
// audit log: "proposal.reviewed" with the txid, the verdict and the
// review's digest (what the person was shown), or "proposal.refused" with
// the reasons when the proposal cannot be reviewed at all (expired, under
// another policy); from names where it came from, for that entry.
func (s *Station) Examine(ctx context.Context, raw []byte, from string) (*Result, error) {
	res, err := s.Review(ctx, raw)
	if err != nil {
		var ref *Refusal
		if errors.As(err, &ref) {
			if lerr := s.WS.Log(ctx, "proposal.refused", "", map[string]string{"file": from, "reason": strings.Join(ref.Reasons, "; ")}); lerr != nil {
				return nil, lerr
			}
		}
		return nil, err
	}
	verdict := "may sign"
	if !res.MaySign() {
		verdict = "REFUSE"
	}
	detail := map[string]string{"txid": res.Review.TxID, "verdict": verdict, "review": hex.EncodeToString(res.Digest[:])}
	if err := s.WS.Log(ctx, "proposal.reviewed", hex.EncodeToString(res.ID[:]), detail); err != nil {
		return nil, err
	}
	return res, nil
}
