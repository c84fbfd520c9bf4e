package transfer

import (
	"errors"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/transport/media"
	"golang.org/x/mod/sumdb/tlog"
)

// historyArrives checks that a proposal's spend history comes from the
// log whose checkpoint the manifest carries (station.CheckHistoryArrival).
// A proposal that does not decode is the import's to refuse.
func historyArrives(pol *policy.Policy, a *envelope.Envelope, m *media.Manifest) error {
	p, err := proposal.Decode(a)
	if err != nil || p.History == nil {
		return nil
	}
	proofs := map[int64]tlog.TreeProof{}
	for _, pr := range m.Proofs {
		var tp tlog.TreeProof
		for _, h := range pr.Hashes {
			if len(h) != tlog.HashSize {
				return errors.New("transfer: malformed consistency proof")
			}
			tp = append(tp, tlog.Hash(h))
		}
		proofs[pr.From] = tp
	}
	return station.CheckHistoryArrival(pol, p, m.Origin, m.Checkpoint, proofs)
}
