// Package coordinator is the online side of a round: it wraps a chain
// payload into a signed proposal, collects and verifies the stations'
// decisions, and assembles the final transaction with a threshold proof
// once enough approvals are in.
//
// The coordinator is not trusted by the stations, but it does not trust
// them either: every approval is verified in full (identity signature,
// participant and device in the policy, proposal and policy ids, expiry,
// every chain signature against the right key and digest) before it is
// stored, and verified again at assembly.
package coordinator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

// Coordinator is a coordinator workspace with what it needs to work. Its
// clock is the workspace's (injected through workspace.Options), and every
// state change it makes is one store transaction with its audit entry.
type Coordinator struct {
	WS  *workspace.Workspace
	Reg *chain.Registry
}

// Now is the coordinator's clock.
func (c *Coordinator) Now() time.Time { return c.WS.Now() }

// ProposeParams are the choices for a new proposal.
type ProposeParams struct {
	Vault string
	// Payload is the chain's payload: a PSBT (binary or base64), or a Safe
	// transaction in airlock's canonical encoding.
	Payload []byte
	// SafeTx, instead of Payload, is a Safe transaction (or message) as
	// the Safe Transaction Service's JSON names its fields; it is parsed
	// strictly and encoded canonically (chain/safe.Parse).
	SafeTx   []byte
	Intent   string
	Lifetime time.Duration
	// Force creates the proposal even when the coordinator's own review
	// finds a blocking flag (stations will refuse it; for drills and tests).
	Force bool
	// Template names the policy's template the payment is made under:
	// the proposal must match it (policy.Evaluate).
	Template string
	// Urgent marks the proposal urgent (an emergency).
	Urgent bool
	// StateRPC, for a Safe, is an Ethereum node's JSON-RPC URL: the
	// proposal then attests the Safe's on-chain state at StateBlock (nil:
	// the latest) with EIP-1186 proofs the stations verify offline
	// (chain/safe/stateproof).
	StateRPC   string
	StateBlock *big.Int
	// StateRPCIfSafe applies StateRPC only when the vault is a Safe (a
	// node named by the environment); otherwise another chain's vault
	// with a StateRPC is refused.
	StateRPCIfSafe bool
}

// ErrAlreadyCollected is returned by Collect for a decision it holds
// already, byte for byte: nothing changed, and handing it in again is not
// a mistake (it also matches store.ErrDuplicate). A different second
// decision by the same participant is store.ErrDuplicate alone.
var ErrAlreadyCollected = errors.New("coordinator: already collected")

type alreadyCollected struct{ msg string }

func (e *alreadyCollected) Error() string { return e.msg }
func (e *alreadyCollected) Is(target error) bool {
	return target == ErrAlreadyCollected || target == store.ErrDuplicate
}

// ErrBlocked is returned by Propose when the coordinator's own review of
// the payload finds a blocking flag.
var ErrBlocked = errors.New("coordinator: the payload has blocking flags")

// Propose reviews the payload as a station would, and wraps it in a
// proposal signed with the coordinator's identity key.
func (c *Coordinator) Propose(ctx context.Context, prm ProposeParams, id keys.Identity) (*envelope.Envelope, *chain.Review, error) {
	if why, err := c.WS.Halted(ctx); err != nil {
		return nil, nil, err
	} else if why != "" {
		return nil, nil, fmt.Errorf("%w (%s)", workspace.ErrHalted, why)
	}
	pol, polID, err := c.WS.Policy(c.Reg)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := pol.Coordinator(c.WS.Config.Name); !ok {
		return nil, nil, fmt.Errorf("coordinator: %q is not a coordinator in policy %s", c.WS.Config.Name, pol.Name)
	}
	var service *safe.ServiceTx
	if prm.SafeTx != nil {
		if prm.Payload != nil {
			return nil, nil, errors.New("coordinator: a proposal has one payload: a PSBT or a Safe transaction, not both")
		}
		var st *safe.Payload
		var err error
		if safe.IsServiceJSON(prm.SafeTx) {
			// The Transaction Service's response as it comes: the
			// transaction with the Service's safeTxHash as the claimed
			// hash (the review recomputes it; a mismatch blocks), its
			// confirmations collected below, the rest only shown.
			if service, err = safe.ParseService(prm.SafeTx); err != nil {
				return nil, nil, err
			}
			st = service.Payload
		} else if st, err = safe.Parse(prm.SafeTx); err != nil {
			return nil, nil, err
		}
		if prm.Payload, err = st.Encode(); err != nil {
			return nil, nil, err
		}
	}
	p, err := proposal.New(pol, polID, proposal.Params{
		Vault: prm.Vault, Payload: prm.Payload, Intent: prm.Intent, Lifetime: prm.Lifetime,
		Now: c.Now(), Coordinator: c.WS.Config.Name, Template: prm.Template, Urgent: prm.Urgent,
	})
	if err != nil {
		return nil, nil, err
	}
	cv, err := proposal.ChainVault(p, pol)
	if err != nil {
		return nil, nil, err
	}
	a, err := c.Reg.Lookup(p.Chain)
	if err != nil {
		return nil, nil, err
	}
	if prm.StateRPC != "" && (p.Chain == "ethereum" || !prm.StateRPCIfSafe) {
		if p.Chain != "ethereum" {
			return nil, nil, fmt.Errorf("coordinator: an on-chain state attestation is for a Safe, vault %q is on %s", p.Vault, p.Chain)
		}
		if p.State, err = safe.Attest(ctx, prm.StateRPC, cv, p.Payload, prm.StateBlock); err != nil {
			return nil, nil, fmt.Errorf("coordinator: the Safe's on-chain state: %w", err)
		}
	}
	rv, err := proposal.ReviewWith(ctx, a, cv, p)
	if err != nil {
		return nil, nil, err
	}
	if service != nil {
		serviceDecoding(rv, service)
	}
	if b := rv.Blocking(); len(b) > 0 && !prm.Force {
		return nil, rv, fmt.Errorf("%w: %s: %s", ErrBlocked, b[0].Code, b[0].Message)
	}
	// The stations decide the policy's rules again, offline; deciding them
	// here first spares them a proposal they must refuse.
	spent, err := policy.Spending(rv.Effects)
	if err != nil {
		return nil, rv, err
	}
	verdict, err := c.decide(ctx, pol, policy.Input{Vault: p.Vault, Effects: rv.Effects, Template: p.Template}, nil)
	if err != nil {
		return nil, rv, err
	}
	if !verdict.Allowed && !prm.Force {
		return nil, rv, fmt.Errorf("%w: %s (%s)", ErrDenied, verdict.Reason, verdict.Rule)
	}
	if err := c.flagLive(ctx, rv); err != nil {
		return nil, nil, err
	}
	// What the coordinator's log shows was spent, for the stations'
	// velocity rules (history.go).
	if err := c.attachHistory(ctx, pol, p, id, prm.Force); err != nil {
		return nil, nil, err
	}
	e, err := proposal.Seal(p, id)
	if err != nil {
		return nil, nil, err
	}
	raw, err := e.Encode()
	if err != nil {
		return nil, nil, err
	}
	detail := map[string]string{
		"vault": p.Vault, "txid": rv.TxID, "policy_version": fmt.Sprint(pol.Version),
		"expires": p.ExpiresTime().Format(time.RFC3339), "spent": spent,
	}
	if verdict.Template != "" {
		// Counted against the template's rate (workspace.Spending). A
		// forced proposal that does not match its template is not: no
		// station signs it under the template.
		detail["template"] = verdict.Template
	}
	err = c.update(ctx, nil, func(tx Tx) error {
		if p.Urgent {
			detail["urgent"] = "true"
		}
		if _, err := tx.Log(c.WS.Event("proposal.created", e.IDHex(), detail)); err != nil {
			return err
		}
		if err := historySent(tx, pol, p); err != nil {
			return err
		}
		return tx.PutProposal(store.Proposal{ID: e.ID(), Envelope: raw, State: "open"})
	})
	if err != nil {
		return nil, nil, err
	}
	if service != nil && len(service.Confirmations) > 0 {
		// The Service's confirmations by the vault's external owners
		// become their approvals, each verified against the owner and the
		// recomputed safeTxHash; one that does not verify is reported and
		// left out, never recorded.
		checked, err := c.CollectExternalFor(ctx, e.IDHex(), prm.SafeTx, id)
		for _, ch := range checked {
			rv.Lines = append(rv.Lines, fmt.Sprintf("the Transaction Service's confirmation by %s/%s collected as an external approval", ch.Participant.ID, ch.Device.ID))
		}
		if err != nil {
			rv.Lines = append(rv.Lines, "the Transaction Service's confirmations collected no approval: "+err.Error())
		}
	}
	return e, rv, nil
}

// serviceDecoding shows the Transaction Service's own decoding beside
// airlock's where they disagree (never trusted either way).
func serviceDecoding(rv *chain.Review, st *safe.ServiceTx) {
	d, ok := rv.Details.(safe.Details)
	if st.Method == "" || !ok || len(d.Calls) == 0 {
		return
	}
	ours, _, _ := strings.Cut(d.Calls[0].Method, "(")
	if ours != st.Method {
		if ours == "" {
			ours = "no method it knows"
		}
		rv.Lines = append(rv.Lines, fmt.Sprintf("the Transaction Service decodes the call as %s; airlock decodes %s (airlock's decoding is the one reviewed)", st.Method, ours))
	}
}

// Collect verifies a station's decision and stores it. A second decision
// by the same participant on the same proposal is refused. extra, when
// set, runs in the same transaction (an import records the transfer
// there). It is PrepareCollect, Verify and Record of one decision.
func (c *Coordinator) Collect(ctx context.Context, raw []byte, extra func(store.Tx) error) (*proposal.Checked, error) {
	pd, err := c.PrepareCollect(raw)
	if err != nil {
		return nil, err
	}
	if err := pd.Verify(); err != nil {
		return nil, err
	}
	cur, _, err := c.WS.Policy(c.Reg)
	if err != nil {
		return nil, err
	}
	if err := c.recheck(pd, cur); err != nil {
		return nil, err
	}
	if err := c.update(ctx, extra, c.record(pd, false, newer(cur, pd.pol))); err != nil {
		return nil, err
	}
	return pd.checked, nil
}

// record stores a verified decision with its audit entry, inside tx:
// refused when the proposal was finalized or the participant decided
// already (ErrAlreadyCollected when it is this very decision; with
// sameFirst, whether or not the proposal was finalized since).
func (c *Coordinator) record(pd *Pending, sameFirst bool, rules *policy.Policy) func(Tx) error {
	pe, p, pol, ap, checked := pd.pe, pd.p, pd.pol, pd.ap, pd.checked
	detail := map[string]string{"proposal": pe.IDHex(), "participant": checked.Participant.ID, "decision": ap.Decision}
	if p.Urgent {
		detail["urgent"] = "true"
	}
	if ap.Reason != "" {
		detail["reason"] = ap.Reason
	}
	return func(tx Tx) error {
		prev, decided := mustDecisions(tx, pe.ID())[checked.Participant.ID]
		same := false
		if decided {
			pv, err := envelope.Decode(prev.Envelope)
			same = err == nil && pv.ID() == pd.env.ID()
		}
		if same && sameFirst {
			return &alreadyCollected{fmt.Sprintf("store: duplicate: this approval by %q was already collected", checked.Participant.ID)}
		}
		if _, err := tx.Final(pe.ID()); err == nil {
			return fmt.Errorf("coordinator: proposal %s is already finalized", pe.IDHex()[:12])
		}
		if decided {
			if same {
				return &alreadyCollected{fmt.Sprintf("store: duplicate: this approval by %q was already collected", checked.Participant.ID)}
			}
			return fmt.Errorf("%w: %q already decided on proposal %s", store.ErrDuplicate, checked.Participant.ID, pe.IDHex()[:8])
		}
		if _, err := tx.Log(c.WS.Event("approval.collected", pd.env.IDHex(), detail)); err != nil {
			return err
		}
		if err := tx.PutDecision(store.Decision{Proposal: pe.ID(), Participant: checked.Participant.ID, Envelope: pd.raw}); err != nil {
			return err
		}
		v, _ := pol.Vault(p.Vault)
		if err := c.recount(tx, pe, rules, v); err != nil {
			return err
		}
		if w := checked.Witnessed; w != nil {
			// Who witnessed which checkpoint, and the largest each has
			// seen: the next export to them proves consistency from there.
			rec := fmt.Sprintf("%x %d", w.Root[:], ap.Witness.Time)
			if err := tx.PutWitness(fmt.Sprintf("size:%012d:%s", w.Size, checked.Participant.ID), []byte(rec)); err != nil {
				return err
			}
			prev, err := tx.Witness("last:" + checked.Participant.ID)
			if err != nil {
				return err
			}
			if prev == nil || parseInt(prev) < w.Size {
				if err := tx.PutWitness("last:"+checked.Participant.ID, []byte(fmt.Sprint(w.Size))); err != nil {
					return err
				}
			}
		}
		st, err := stored(tx, pe.ID())
		pd.State = st
		return err
	}
}

// mustDecisions reads a proposal's decisions (none on a read error; the
// write that follows fails on the same error).
func mustDecisions(r store.Reader, id [32]byte) map[string]store.Decision {
	ds, _ := r.Decisions(id)
	return ds
}

// open decodes a stored proposal and finds the policy version it cites.
func (c *Coordinator) open(pe *envelope.Envelope) (*proposal.Proposal, *policy.Policy, [32]byte, error) {
	p, err := proposal.Decode(pe)
	if err != nil {
		return nil, nil, [32]byte{}, err
	}
	// The workspace's verified chain: verified again whenever the stored
	// versions change, else as verified last.
	pc, err := c.WS.PolicyChain(c.Reg)
	if err != nil {
		return nil, nil, [32]byte{}, err
	}
	if pol, id, ok := pc.ByID(p.Policy); ok {
		return p, pol, id, nil
	}
	return nil, nil, [32]byte{}, fmt.Errorf("%w: %x is not a policy version this workspace holds", proposal.ErrWrongPolicy, p.Policy[:8])
}

// Finalized is an assembled transaction with its signed proof.
type Finalized struct {
	Final *chain.Final
	Proof *proposal.Proof
	Env   *envelope.Envelope
	// Again is set when the proposal was finalized before: the stored
	// transaction and proof are given back, nothing new is signed.
	Again bool
}

// Stored returns a finalized proposal's kept outputs: the final
// transaction and its threshold proof, exactly as first made.
func (c *Coordinator) Stored(ctx context.Context, pid [32]byte) (*Finalized, error) {
	var f *Finalized
	err := c.WS.View(ctx, func(r store.Reader) error {
		raw, err := r.Final(pid)
		if err != nil {
			return err
		}
		env, err := envelope.Decode(raw)
		if err != nil {
			return err
		}
		proof, err := proposal.DecodeProof(env)
		if err != nil {
			return err
		}
		f = &Finalized{Proof: proof, Env: env, Final: &chain.Final{TxID: proof.TxID, Raw: proof.Transaction}, Again: true}
		if a, err := r.Artifact(pid); err == nil && a.Kind == "final" {
			var fin chain.Final
			if err := json.Unmarshal(a.Data, &fin); err != nil {
				return fmt.Errorf("coordinator: stored final transaction: %v", err)
			}
			if fin.TxID != proof.TxID || !bytes.Equal(fin.Raw, proof.Transaction) {
				return fmt.Errorf("%w: the stored final transaction is not the one its proof signs", store.ErrDisagree)
			}
			f.Final = &fin
		}
		return nil
	})
	return f, err
}

// Finalize assembles the final transaction once the vault's threshold of
// approvals is met: the approvals of the vault's signers in policy order,
// each verified again, exactly threshold of them. The chain adapter checks
// the result (for Bitcoin, btcd's script engine on every input) before a
// proof is signed and stored.
func (c *Coordinator) Finalize(ctx context.Context, ref string, id keys.Identity) (*Finalized, error) {
	pe, err := c.WS.Proposal(ref)
	if err != nil {
		return nil, err
	}
	p, pol, polID, err := c.open(pe)
	if err != nil {
		return nil, err
	}
	if _, err := c.WS.Final(pe.ID()); err == nil {
		return c.Stored(ctx, pe.ID())
	}
	if err := c.ExpireDue(ctx); err != nil {
		return nil, err
	}
	if err := c.WS.View(ctx, func(r store.Reader) error {
		st, err := stored(r, pe.ID())
		if err == nil && st.End() {
			return fmt.Errorf("%w: cannot finalize: the proposal is %s", proposal.ErrTransition, st)
		}
		return err
	}); err != nil {
		return nil, err
	}
	now := c.Now()
	if !now.Before(p.ExpiresTime()) {
		return nil, fmt.Errorf("%w at %v: make a new proposal", proposal.ErrExpired, p.ExpiresTime())
	}
	v, _ := pol.Vault(p.Vault)
	a, err := c.Reg.Lookup(p.Chain)
	if err != nil {
		return nil, err
	}
	cv0, err := pol.ChainVault(v)
	if err != nil {
		return nil, err
	}
	aps, err := c.WS.Approvals(pe.ID())
	if err != nil {
		return nil, err
	}
	signers, err := pol.Signers(v)
	if err != nil {
		return nil, err
	}
	proof := &proposal.Proof{
		Format: 1, Proposal: hexID(pe), Chain: p.Chain, Vault: p.Vault, Policy: polID[:],
		PolicyVersion: pol.Version, Threshold: v.Threshold, Time: now.UTC().Unix(),
	}
	// Every approval that verifies, in policy order; then the first
	// threshold of them whose devices meet the vault's diversity rules.
	type counted struct {
		s       policy.Signer
		ae      *envelope.Envelope
		checked *proposal.Checked
	}
	var valid []counted
	for _, s := range signers {
		ae, ok := aps[s.Participant.ID]
		if !ok {
			continue
		}
		checked, err := c.checkApproval(ae, p, pe.ID(), pol, polID, now)
		if err != nil {
			return nil, fmt.Errorf("coordinator: stored approval by %q no longer verifies: %w", s.Participant.ID, err)
		}
		if checked.Approval.Decision != proposal.Approve {
			continue
		}
		valid = append(valid, counted{s, ae, checked})
	}
	if len(valid) < v.Threshold {
		r, ok, err := pol.RecoverySigner(v)
		if err != nil {
			return nil, err
		}
		var ae *envelope.Envelope
		approved := false
		if ok {
			ae, approved = aps[r.Participant.ID]
		}
		if !approved {
			return nil, fmt.Errorf("coordinator: %d of %d approvals for vault %q; the threshold is not met", len(valid), v.Threshold, v.Name)
		}
		// The recovery path: the recovery signer alone; the chain adapter
		// refuses it unless the transaction's locks allow it.
		checked, err := c.checkApproval(ae, p, pe.ID(), pol, polID, now)
		if err != nil {
			return nil, fmt.Errorf("coordinator: stored approval by %q no longer verifies: %w", r.Participant.ID, err)
		}
		if checked.Approval.Decision != proposal.Approve {
			return nil, fmt.Errorf("coordinator: %d of %d approvals for vault %q, and the recovery signer rejected it", len(valid), v.Threshold, v.Name)
		}
		valid = []counted{{r, ae, checked}}
		proof.Path, proof.Threshold = "recovery", 1
	}
	if proof.Path != "recovery" {
		// The policy's rules at assembly: an amount tier may require more
		// approvals than the vault's threshold, or other people's.
		in := policy.Input{Vault: p.Vault, Template: p.Template}
		rv, err := a.Review(ctx, cv0, p.Payload)
		if err != nil {
			return nil, err
		}
		in.Effects = rv.Effects
		for _, vc := range valid {
			in.Approvals = append(in.Approvals, policy.Approval{Participant: vc.s.Participant.ID, Device: vc.s.Device.ID})
		}
		// Endorsements by participants who hold no signer count for the
		// rules' groups; the proof lists them beside the signatures.
		for _, part := range pol.Participants {
			ae, ok := aps[part.ID]
			if _, endorser := pol.Endorser(v, part.ID); !ok || !endorser {
				continue
			}
			checked, err := proposal.CheckApproval(ae, p, pe.ID(), pol, polID, c.Reg, now)
			if err != nil {
				return nil, fmt.Errorf("coordinator: stored endorsement by %q no longer verifies: %w", part.ID, err)
			}
			if checked.Approval.Decision != proposal.Approve {
				continue
			}
			in.Approvals = append(in.Approvals, policy.Approval{Participant: part.ID})
			raw, _ := ae.Encode()
			aid := ae.ID()
			proof.Endorsements = append(proof.Endorsements, proposal.ProofApproval{Participant: part.ID, Approval: aid[:], Envelope: raw})
		}
		pid := pe.ID()
		verdict, err := c.decide(ctx, c.rules(pol), in, &pid)
		if err != nil {
			return nil, err
		}
		if !verdict.Allowed {
			return nil, fmt.Errorf("%w: %s (%s)", ErrDenied, verdict.Reason, verdict.Rule)
		}
		if !verdict.Met {
			return nil, fmt.Errorf("%w: %s requires %s; missing %s", ErrDenied, verdict.Rule, verdict.Required, verdict.Missing)
		}
		proof.Rule = verdict.Rule.String() + ": " + verdict.Required.String()
	}
	devs := make([]*policy.Device, len(valid))
	for i, c := range valid {
		devs[i] = c.s.Device
	}
	pick, ok := policy.SelectDiverse(v, devs)
	if proof.Path == "recovery" {
		pick, ok = []int{0}, true
	}
	if !ok {
		vendors, kinds := policy.Diversity(devs)
		return nil, fmt.Errorf("coordinator: %d approvals for vault %q, but their devices span %d vendors and %d kinds; the vault's rules need %d vendors and %d kinds", len(valid), v.Name, vendors, kinds, v.Rules.MinVendors, v.Rules.MinKinds)
	}
	sets := map[string][]chain.Signature{}
	for _, i := range pick {
		s, ae, checked := valid[i].s, valid[i].ae, valid[i].checked
		raw, _ := ae.Encode()
		aid := ae.ID()
		sets[checked.Key] = checked.Approval.Signatures
		proof.Approvals = append(proof.Approvals, proposal.ProofApproval{
			Participant: s.Participant.ID, Device: s.Device.ID, Approval: aid[:], Envelope: raw, Verified: checked.Verified,
		})
	}
	if len(sets) < proof.Threshold {
		return nil, fmt.Errorf("coordinator: %d of %d approvals for vault %q; the threshold is not met", len(sets), proof.Threshold, v.Name)
	}
	cv, err := pol.ChainVault(v)
	if err != nil {
		return nil, err
	}
	final, err := a.Assemble(cv, p.Payload, sets)
	if err != nil {
		return nil, err
	}
	proof.TxID, proof.Transaction = final.TxID, final.Raw
	env, err := proposal.SealProof(proof, id)
	if err != nil {
		return nil, err
	}
	proofRaw, err := env.Encode()
	if err != nil {
		return nil, err
	}
	finalJSON, err := json.Marshal(final)
	if err != nil {
		return nil, err
	}
	var who []string
	for _, ap := range proof.Approvals {
		who = append(who, ap.Participant)
	}
	// The transaction and the proof are kept in the transaction that marks
	// the proposal final: a failed file write afterwards loses nothing.
	rules := c.rules(pol) // here: inside the transaction it cannot read the policy
	err = c.update(ctx, nil, func(tx Tx) error {
		if _, err := tx.Final(pe.ID()); err == nil {
			return fmt.Errorf("%w: proposal %s", errFinalizedMeanwhile, pe.IDHex()[:12])
		}
		if err := c.recount(tx, pe, rules, v); err != nil {
			return err
		}
		// The step's own entry ("proposal.finalized") is the one the final
		// row, the proof and the transaction cite.
		st, err := c.advance(tx, pe, proposal.StepFinalize, map[string]string{"txid": final.TxID, "approvals": fmt.Sprint(who), "proof": env.IDHex()})
		if err != nil {
			return err
		}
		if st != proposal.StateFinalized {
			return fmt.Errorf("coordinator: proposal %s is %s, not finalized", pe.IDHex()[:12], st)
		}
		if err := tx.PutFinal(pe.ID(), proofRaw); err != nil {
			return err
		}
		if err := tx.PutArtifact(store.Artifact{ID: env.ID(), Kind: "proof", Data: proofRaw}); err != nil {
			return err
		}
		return tx.PutArtifact(store.Artifact{ID: pe.ID(), Kind: "final", Data: finalJSON})
	})
	if errors.Is(err, errFinalizedMeanwhile) {
		// Another process sharing the store (a replica of the service)
		// finalized it between our read and our write: its result is
		// the one, given again.
		return c.Stored(ctx, pe.ID())
	}
	if err != nil {
		return nil, err
	}
	return &Finalized{Final: final, Proof: proof, Env: env}, nil
}

// externalKind names what an external device returns on a chain.
func externalKind(chainName string) string {
	if chainName == "bitcoin" {
		return "signed PSBT"
	}
	return "external signature"
}

// errFinalizedMeanwhile: the proposal was finalized by another process
// after Finalize read it.
var errFinalizedMeanwhile = fmt.Errorf("%w: finalized meanwhile", store.ErrDuplicate)

func hexID(e *envelope.Envelope) []byte {
	id := e.ID()
	return id[:]
}

func parseInt(b []byte) int64 {
	var n int64
	fmt.Sscan(string(b), &n)
	return n
}

// CollectExternal takes a PSBT an external device signed and returned:
// it finds the open proposal for that transaction, takes the signatures of
// every external device of the vault that signed all of its inputs,
// records each as an approval signed by the coordinator, and verifies it
// as any approval is verified (the device's key in the policy, every
// input's digest). Nothing is stored unless it verifies.
func (c *Coordinator) CollectExternal(ctx context.Context, signed []byte, id keys.Identity) ([]*proposal.Checked, error) {
	es, err := c.WS.Proposals()
	if err != nil {
		return nil, err
	}
	var match *envelope.Envelope
	var ec chain.ExternalCollector
	for _, pe := range es {
		p, err := proposal.Decode(pe)
		if err != nil {
			return nil, err
		}
		a, err := c.Reg.Lookup(p.Chain)
		if err != nil {
			continue
		}
		col, ok := a.(chain.ExternalCollector)
		if !ok {
			continue
		}
		if same, err := col.SameTransaction(p.Payload, signed); err != nil || !same {
			continue
		}
		if _, err := c.WS.Final(pe.ID()); err == nil {
			continue
		}
		if match != nil {
			return nil, errors.New("coordinator: two open proposals hold this transaction; collect approvals by proposal instead")
		}
		match, ec = pe, col
	}
	if match == nil {
		return nil, errors.New("coordinator: no open proposal holds the transaction of this PSBT")
	}
	return c.collectExternal(ctx, match, ec, signed, id)
}

// CollectExternalFor takes what an external device signed for proposal
// ref: for a Safe, an owner's EIP-712 signature in hex, a Transaction
// Service confirmation or transaction JSON (its confirmations), which
// name no transaction of their own.
func (c *Coordinator) CollectExternalFor(ctx context.Context, ref string, signed []byte, id keys.Identity) ([]*proposal.Checked, error) {
	pe, err := c.WS.Proposal(ref)
	if err != nil {
		return nil, err
	}
	p, err := proposal.Decode(pe)
	if err != nil {
		return nil, err
	}
	a, err := c.Reg.Lookup(p.Chain)
	if err != nil {
		return nil, err
	}
	ec, ok := a.(chain.ExternalCollector)
	if !ok {
		return nil, fmt.Errorf("coordinator: %s vaults take no external signatures", p.Chain)
	}
	if _, err := c.WS.Final(pe.ID()); err == nil {
		return nil, fmt.Errorf("coordinator: proposal %s is already finalized", pe.IDHex()[:12])
	}
	return c.collectExternal(ctx, pe, ec, signed, id)
}

// collectExternal records, for each external device of the proposal's
// vault, the signatures of signed that are its, as an approval signed by
// the coordinator and checked as any approval is.
func (c *Coordinator) collectExternal(ctx context.Context, match *envelope.Envelope, ec chain.ExternalCollector, signed []byte, id keys.Identity) ([]*proposal.Checked, error) {
	p, pol, polID, err := c.open(match)
	if err != nil {
		return nil, err
	}
	now := c.Now()
	if !now.Before(p.ExpiresTime()) {
		return nil, fmt.Errorf("%w at %v: approvals are no longer accepted", proposal.ErrExpired, p.ExpiresTime())
	}
	v, _ := pol.Vault(p.Vault)
	signers, err := pol.Signers(v)
	if err != nil {
		return nil, err
	}
	cv, err := pol.ChainVault(v)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(signed)
	var out []*proposal.Checked
	var reasons []string
	for _, s := range signers {
		if s.Device.Kind != policy.KindExternal {
			continue
		}
		sigs, err := ec.ExternalSignatures(cv, p.Payload, signed, s.Device.KeyFor(p.Chain))
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s/%s: %v", s.Participant.ID, s.Device.ID, err))
			continue
		}
		x := &proposal.External{Format: 1, Proposal: hexID(match), Participant: s.Participant.ID, Device: s.Device.ID,
			Policy: polID[:], PolicyVersion: pol.Version, Signatures: sigs, Time: now.UTC().Unix(), SignedPSBT: digest[:]}
		e, err := proposal.SealExternal(x, id)
		if err != nil {
			return nil, err
		}
		checked, err := c.checkApproval(e, p, match.ID(), pol, polID, now)
		if err != nil {
			return nil, err
		}
		raw, err := e.Encode()
		if err != nil {
			return nil, err
		}
		rules := c.rules(pol) // here: inside the transaction it cannot read the policy
		err = c.update(ctx, nil, func(tx Tx) error {
			if _, err := tx.Log(c.WS.Event("approval.collected", e.IDHex(), map[string]string{
				"proposal": match.IDHex(), "participant": s.Participant.ID, "device": s.Device.ID, "external": externalKind(p.Chain) + " " + hex.EncodeToString(digest[:8]),
			})); err != nil {
				return err
			}
			if err := tx.PutDecision(store.Decision{Proposal: match.ID(), Participant: s.Participant.ID, Envelope: raw}); err != nil {
				return err
			}
			return c.recount(tx, match, rules, v)
		})
		if err != nil {
			return nil, err
		}
		out = append(out, checked)
	}
	if len(out) == 0 {
		if len(reasons) == 0 {
			return nil, fmt.Errorf("coordinator: vault %q has no external device", v.Name)
		}
		return nil, fmt.Errorf("coordinator: the %s carries no complete signature set by an external device of vault %q: %s", externalKind(p.Chain), v.Name, strings.Join(reasons, "; "))
	}
	return out, nil
}

// review has the chain adapter decode a proposal's payload.
func (c *Coordinator) review(ctx context.Context, p *proposal.Proposal, pol *policy.Policy) (*chain.Review, error) {
	return proposal.Review(ctx, c.Reg, p, pol)
}

// entry reads and decodes audit entry i.
func entry(r store.Reader, i int64) (audit.Event, error) {
	rec, err := r.Audit().Record(i)
	if err != nil {
		return audit.Event{}, err
	}
	return audit.Decode(rec)
}
