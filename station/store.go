package station

import (
	"context"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/store"
)

// Tx is what a station may change in one logged transaction: the
// proposals it decided on, its own decision, the coins and nonces it
// claimed (its double-sign memory) and their release, the outputs it
// keeps, witness records and its devices' health. It is store.Tx narrowed
// to the station's role, so the compiler refuses station code that would
// write a threshold proof, a coordinator's lifecycle state or a policy
// behind the policy workflow's back. Every store.Store backend (package
// storetest) provides it.
type Tx interface {
	store.Reader
	Log(ev audit.Event) (int64, error)
	PutProposal(p store.Proposal) error
	PutDecision(d store.Decision) error
	PutClaim(resource string, proposal [32]byte) error
	ReleaseClaim(resource string) error
	PutArtifact(a store.Artifact) error
	PutWitness(key string, value []byte) error
	PutHealth(device string, record []byte) error
}

var _ Tx = store.Tx(nil)

// update runs fn in one store transaction of ws with the station's view
// of it; extra, when not nil, runs last in the same transaction with the
// whole of it (a transport recording a media sequence number).
func update(ctx context.Context, ws interface {
	Update(context.Context, func(store.Tx) error) error
}, extra func(store.Tx) error, fn func(Tx) error) error {
	return ws.Update(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if extra != nil {
			return extra(tx)
		}
		return nil
	})
}
