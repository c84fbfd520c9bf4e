package coordinator

import (
	"context"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/store"
)

// Tx is what a coordinator may change in one logged transaction: its
// proposals and their lifecycle state, the decisions it collected, the
// threshold proofs it made, the outputs it keeps and what stations
// witnessed. It is store.Tx narrowed to the coordinator's role, so the
// compiler refuses coordinator code that would claim a coin, record a
// device's health or write a policy behind the policy workflow's back.
// Every store.Store backend (package storetest) provides it.
type Tx interface {
	store.Reader
	Log(ev audit.Event) (int64, error)
	PutProposal(p store.Proposal) error
	SetProposalState(id [32]byte, state string) error
	PutDecision(d store.Decision) error
	PutFinal(proposal [32]byte, proof []byte) error
	PutArtifact(a store.Artifact) error
	PutWitness(key string, value []byte) error
}

var _ Tx = store.Tx(nil)

// update runs fn in one store transaction with the coordinator's view of
// it; extra, when not nil, runs last in the same transaction with the
// whole of it (a transport recording a media sequence number).
func (c *Coordinator) update(ctx context.Context, extra func(store.Tx) error, fn func(Tx) error) error {
	return c.WS.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if extra != nil {
			return extra(tx)
		}
		return nil
	})
}
