package proposal

import (
	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

// Versions verifies a chain of policy version envelopes, genesis first
// (policy.Verify), and gives each version with its envelope's id, as
// VerifyProof takes them.
func Versions(envs []*envelope.Envelope, reg *chain.Registry) ([]Version, error) {
	pols, err := policy.Verify(envs, reg)
	if err != nil {
		return nil, err
	}
	out := make([]Version, len(pols))
	for i := range pols {
		out[i] = Version{Policy: pols[i], ID: envs[i].ID()}
	}
	return out, nil
}
