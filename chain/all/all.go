// Package all is the registry of every chain adapter airlock ships: the
// one place a program (the CLI, the service, a drill) names the chains it
// speaks, without importing any of them itself.
package all

import (
	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/safe"
)

// Registry returns a registry of the Bitcoin and Safe adapters.
func Registry() *chain.Registry { return chain.NewRegistry(bitcoin.Adapter{}, safe.Adapter{}) }
