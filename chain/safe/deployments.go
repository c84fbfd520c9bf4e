package safe

import (
	"math/big"
	"strconv"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum/common"
)

// Deployment is one official deployment of a Safe contract (a row of
// deployments_gen.go, taken from @safe-global/safe-deployments by
// deployments/gen.js).
type Deployment struct {
	Version  string // "1.4.1"
	Contract string // "MultiSendCallOnly"
	Type     string // "canonical", "eip155" or "zksync"
	Address  string
	CodeHash string // keccak256 of the runtime code
	Chains   string // the chain ids it is deployed on, comma-separated
}

// Name is how a review shows it.
func (d Deployment) Name() string {
	return d.Contract + " " + d.Version + " (official Safe deployment)"
}

var (
	deploymentsOnce sync.Once
	// deploymentsBy indexes the table by chain id, then address.
	deploymentsBy map[uint64]map[common.Address]Deployment
)

// OfficialDeployment returns the official deployment at address on the
// chain, if there is one.
func OfficialDeployment(chainID *big.Int, a common.Address) (Deployment, bool) {
	deploymentsOnce.Do(func() {
		deploymentsBy = map[uint64]map[common.Address]Deployment{}
		for _, d := range officialDeployments {
			for _, c := range strings.Split(d.Chains, ",") {
				id, err := strconv.ParseUint(c, 10, 64)
				if err != nil {
					continue // a chain id beyond 64 bits: no vault is on it
				}
				if deploymentsBy[id] == nil {
					deploymentsBy[id] = map[common.Address]Deployment{}
				}
				deploymentsBy[id][common.HexToAddress(d.Address)] = d
			}
		}
	})
	if !chainID.IsUint64() {
		return Deployment{}, false
	}
	d, ok := deploymentsBy[chainID.Uint64()][a]
	return d, ok
}

// trustedByDefault are the official libraries a Safe delegatecalls
// without a pin in the policy: MultiSendCallOnly (its entries can only
// call) and MultiSend (each entry is then reviewed one by one, a nested
// delegatecall flagged as any other). Every other library, and any of
// these at an address that is not its official one on the vault's
// chain, stays untrusted unless the policy pins it.
var trustedByDefault = map[string]bool{"MultiSendCallOnly": true, "MultiSend": true}

// defaultTrusted is the official batch library at a on the vault's
// chain, if a is one.
func (v *vaultInfo) defaultTrusted(a common.Address) (Deployment, bool) {
	d, ok := OfficialDeployment(v.chainID, a)
	if !ok || !trustedByDefault[d.Contract] {
		return Deployment{}, false
	}
	return d, true
}

// trust says whether a delegatecall to a runs trusted code: a contract
// the policy pins (pinned), or an official batch library of the vault's
// chain. name is how the review shows it.
func (v *vaultInfo) trust(a common.Address) (name string, pinned, ok bool) {
	if name, ok := v.trusted[a]; ok {
		return name, true, true
	}
	if d, ok := v.defaultTrusted(a); ok {
		return d.Name(), false, true
	}
	return "", false, false
}
