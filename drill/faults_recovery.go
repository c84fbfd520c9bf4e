package drill

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/wire/v2"

	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/vault"
)

// RecoveryAttempt is one try of the time-locked recovery path.
type RecoveryAttempt struct {
	At string `json:"at"`
	// Depth is the reserve coin's depth in blocks on the drill's chain,
	// Lock the vault's lock; Mature, whether the lock allowed the spend.
	Depth  int    `json:"depth"`
	Lock   uint32 `json:"lock"`
	Mature bool   `json:"mature"`
	// Proposal is the recovery proposal's number (0: none was made).
	Proposal int `json:"proposal,omitempty"`
	// Coordinator and Station say what each answered; Finalized, whether
	// the spend was assembled through the recovery path.
	Coordinator string `json:"coordinator"`
	Station     string `json:"station"`
	Finalized   bool   `json:"finalized"`
}

// vaultReq is the synthetic request of a reserve coin.
func vaultReq(seed uint64, f Fault) vault.SyntheticRequest {
	return vault.SyntheticRequest{Seed: seed, Amount: f.sats, Fee: 1000}
}

// reserveSeed numbers the reserve coins the recovery path spends.
const reserveSeed = 1 << 40

// logged are the people whose workspaces the run keeps and reads: the
// signers, their replacements and the recovery signer.
func (s *sim) logged() []string {
	out := append([]string(nil), s.people...)
	if r := s.sc.Quorum.Recovery; r != nil {
		out = append(out, r.Person)
	}
	return out
}

// fundReserve puts one reserve coin per recovery fault in the drill
// chain's first block: they age from the scenario's start.
func (s *sim) fundReserve() {
	if s.sc.Quorum.Recovery == nil {
		return
	}
	for i, f := range s.sc.Faults {
		if f.Kind != RecoveryTry {
			continue
		}
		syn, err := s.vault.Synthetic(vaultReq(reserveSeed+uint64(i), f))
		if err != nil {
			s.fail(err)
			return
		}
		tx := wire.NewMsgTx(2)
		if err := tx.Deserialize(bytes.NewReader(syn.Funding)); err != nil {
			s.fail(err)
			return
		}
		s.chain.confirm(tx)
		if s.ext.reserve == nil {
			s.ext.reserve = map[int][]byte{}
		}
		s.ext.reserve[i] = []byte(hex.EncodeToString(syn.Funding))
	}
}

// recoveryTry: the recovery signer spends fault i's reserve coin through
// the recovery path, as "psbt build --recovery" then "propose" do, with
// the maturity proof from the drill's chain. Before the lock allows it the
// coordinator must refuse to propose it and, forced, the recovery
// station must refuse to sign it; after, it must go through to a
// threshold proof on the recovery path.
func (s *sim) recoveryTry(i int, f Fault) {
	if up := s.m.coordinatorUp(s.now()); up.After(s.now()) {
		s.at(up, func() { s.recoveryTry(i, f) })
		return
	}
	who := s.sc.Quorum.Recovery.Person
	c := s.q.Coord
	pol, _, err := c.WS.Policy(quorum.Reg)
	if err != nil {
		s.fail(err)
		return
	}
	v, _ := pol.Vault("ops")
	cv, err := pol.ChainVault(v)
	if err != nil {
		s.fail(err)
		return
	}
	to := f.To
	if to == "" {
		for _, fl := range s.sc.Workload {
			if fl.To != "" {
				to = fl.To
				break
			}
		}
	}
	built, err := bitcoin.Build(s.ctx, cv, bitcoin.BuildRequest{Funding: [][]byte{s.ext.reserve[i]}, To: to, Amount: f.sats, Fee: 1000, Recovery: true, Node: s.chain})
	if err != nil {
		s.fail(fmt.Errorf("building the recovery spend: %w", err))
		return
	}
	// The drill's own count of the coin's depth (it is in block 0): the
	// tip's height + 1, the depth BIP-68 counts.
	depth := s.chain.tip() + 1
	for _, d := range built.Depth {
		if d != depth {
			s.fail(fmt.Errorf("the maturity proof says depth %d, the drill's chain %d", d, depth))
			return
		}
	}
	ra := RecoveryAttempt{At: s.now().Format(time.RFC3339), Depth: depth, Lock: built.Lock, Mature: depth >= int(built.Lock)}
	defer func() {
		s.ext.recoveries = append(s.ext.recoveries, ra)
		s.hist.Attempts = append(s.hist.Attempts, Attempt{What: "recovery", By: who, Recovery: true, Mature: ra.Mature, Accepted: ra.Finalized})
	}()
	params := coordinator.ProposeParams{Vault: "ops", Payload: built.PSBT, Intent: "recovery spend"}
	pe, _, err := c.Propose(s.ctx, params, s.q.CoordKeys.Identity)
	if err != nil {
		ra.Coordinator = "refused: " + s.scrub(err.Error())
		s.log("recovery-refused", "", nil, "the coordinator: %v", err)
		// Forced, so that the station's own check is tried too.
		params.Force = true
		if pe, _, err = c.Propose(s.ctx, params, s.q.CoordKeys.Identity); err != nil {
			s.log("recovery-refused", "", nil, "the coordinator, forced: %v", err)
			return
		}
	} else {
		ra.Coordinator = "proposed"
	}
	p := s.add(pe, "recovery", reserveSeed+uint64(i), false)
	ra.Proposal = p.N
	s.log("recovery-proposed", who, p, "coin %d blocks deep, lock %d", depth, built.Lock)
	m := s.q.Stations[who]
	ae, _, err := m.Sign(s.ctx, p.Raw, station.Decision{Approve: true}, m.Keys.Identity, m.Keys.Chain)
	var ref *station.Refusal
	switch {
	case errors.As(err, &ref):
		ra.Station = "refused: " + s.scrub(ref.Reasons[0])
		s.log("recovery-refused", who, p, "%s", ref.Reasons[0])
		return
	case err != nil:
		s.fail(err)
		return
	}
	ra.Station = "signed"
	p.Decided[who], p.Approved[who] = s.now(), true
	raw, err := ae.Encode()
	if err != nil {
		s.fail(err)
		return
	}
	s.hist.Decisions = append(s.hist.Decisions, DecisionRecord{Station: who, Proposal: p.hex(), Approval: ae.IDHex()})
	s.collect(who, p, raw, len(s.hist.Decisions)-1, false)
	if s.state(p) != "finalized" {
		s.finalize(p)
	}
	if p.State != "finalized" {
		return
	}
	proof, err := c.WS.Final(p.ID)
	if err != nil {
		s.fail(err)
		return
	}
	pf, err := proofPath(proof)
	if err != nil {
		s.fail(err)
		return
	}
	ra.Finalized = pf == "recovery"
	s.log("recovery-finalized", who, p, "through the %s path", pf)
}

// proofPath is a threshold proof's path ("" primary, "recovery").
func proofPath(e *envelope.Envelope) (string, error) {
	pr, err := proposal.DecodeProof(e)
	if err != nil {
		return "", err
	}
	if pr.Path == "" {
		return "primary", nil
	}
	return pr.Path, nil
}
