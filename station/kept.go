package station

import (
	"context"
	"errors"
	"fmt"

	"github.com/airlock-vault/airlock/envelope"
)

// ErrReleased is returned by KeptProposal for a proposal whose release
// (withdrawn, rejected or expired at the coordinator) this station
// applied: the coordinator ended it, and a restore of its database must
// not bring it back.
var ErrReleased = errors.New("station: the coordinator released this proposal")

// KeptProposal is the proposal ref as this station keeps it (every one it
// decided on), for a coordinator that lost it in a restore of its
// database to take back (coordinator.Readopt). One whose release the
// station applied is refused: the coordinator had ended it.
func (s *Station) KeptProposal(ctx context.Context, ref string) (*envelope.Envelope, error) {
	pe, err := s.WS.Proposal(ref)
	if err != nil {
		return nil, err
	}
	if rel, err := s.released(ctx, pe.ID()); err != nil {
		return nil, err
	} else if rel {
		return nil, fmt.Errorf("%w %s (its release was applied here): it is not handed back", ErrReleased, pe.IDHex()[:16])
	}
	return pe, nil
}
