package workspace

import (
	"context"
	"errors"
	"fmt"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/store"
)

// Kept is what a reference names in a workspace: a proposal (at a
// station, with the station's own decision on it) or an output kept by id
// (a decision, a proof, a release, a manifest).
type Kept struct {
	// Kind is "proposal" or "decision" for a proposal's reference, else
	// the kept output's kind.
	Kind string
	// Env is what to give back: the proposal at a coordinator, the
	// station's decision at a station, or the kept output.
	Env *envelope.Envelope
	// Proposal is the proposal the reference named, if it named one.
	Proposal *envelope.Envelope
}

// Errors of Find.
var (
	ErrAmbiguous  = errors.New("workspace: the reference matches more than one kept output")
	ErrUndecided  = errors.New("workspace: this station has not decided on the proposal")
	ErrNotEnvelop = errors.New("workspace: a final transaction is not an envelope: give its proposal's id")
)

// Find resolves ref, a proposal's id (or a unique prefix of at least 4 hex
// digits; a shorter one is refused), else a kept output's. A proposal resolves, at a station, to the
// station's own decision on it (ErrUndecided when there is none); at a
// coordinator, to the proposal itself (a caller that wants a finalized
// proposal's transaction asks the coordinator). Nothing found is
// ErrNotFound.
func (w *Workspace) Find(ctx context.Context, ref string) (*Kept, error) {
	if pe, err := w.Proposal(ref); err == nil {
		if w.Config.Role != Station {
			return &Kept{Kind: "proposal", Env: pe, Proposal: pe}, nil
		}
		d, err := w.Decision(pe.ID())
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w %s", ErrUndecided, pe.IDHex()[:16])
		}
		if err != nil {
			return nil, err
		}
		return &Kept{Kind: "decision", Env: d, Proposal: pe}, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	var found []store.Artifact
	err := w.View(ctx, func(r store.Reader) (err error) {
		found, err = r.FindArtifacts(ref)
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case len(found) == 0:
		return nil, fmt.Errorf("%w: this workspace keeps no proposal or output %s", ErrNotFound, ref)
	case len(found) > 1:
		return nil, fmt.Errorf("%w: %d kept outputs start with %s: give more digits", ErrAmbiguous, len(found), ref)
	case found[0].Kind == "final":
		return nil, fmt.Errorf("%w (output %s)", ErrNotEnvelop, ref)
	}
	env, err := envelope.Decode(found[0].Data)
	if err != nil {
		return nil, fmt.Errorf("%w: kept %s %x: %v", store.ErrCorrupt, found[0].Kind, found[0].ID[:8], err)
	}
	return &Kept{Kind: found[0].Kind, Env: env}, nil
}
