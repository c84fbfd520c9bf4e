package safe

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/safe/stateproof"
)

// Flags of the on-chain state a proposal attests (state.go, docs/safe.md).
const (
	// FlagStateUnattested: the proposal carries no on-chain state. A
	// policy that requires one sets this flag's severity to block.
	FlagStateUnattested = "state-unattested"
	// FlagStateProofInvalid: the attestation does not verify (a forged
	// or broken proof, a header that does not hash to its block). Hard.
	FlagStateProofInvalid = "state-proof-invalid"
	// FlagStateOwners: the Safe's owners or threshold on chain are not
	// the vault's.
	FlagStateOwners = "state-owners"
	// FlagStateModule: a module (or module guard) is enabled on chain
	// that the vault does not register.
	FlagStateModule = "state-module"
	// FlagStateGuard: a transaction guard is set on chain.
	FlagStateGuard = "state-guard"
	// FlagStateFallbackHandler: the fallback handler is neither an
	// official one nor pinned by the policy.
	FlagStateFallbackHandler = "state-fallback-handler"
	// FlagStateSingleton: the Safe's singleton is not an official
	// singleton of the vault's version.
	FlagStateSingleton = "state-singleton"
	// FlagStateNonceGap: earlier nonces are still to execute.
	FlagStateNonceGap = "state-nonce-gap"
	// FlagStateNonceUsed: the proposal's nonce was used already.
	FlagStateNonceUsed = "state-nonce-used"
	// FlagStateTargetCode: a call target's code is not the code pinned
	// for it (by the policy or the official deployments).
	FlagStateTargetCode = "state-target-code"
	// FlagStateStale: the state was read at a block more than
	// MaxStateAge before the proposal was made: an old block can hide
	// a module enabled since.
	FlagStateStale = "state-stale"
)

// MaxStateAge is how long before a proposal's creation the block of its
// attested state may lie.
const MaxStateAge = time.Hour

func init() {
	for code, sev := range map[string]chain.Severity{
		FlagStateUnattested:      chain.Warn,
		FlagStateProofInvalid:    chain.Block,
		FlagStateOwners:          chain.Block,
		FlagStateModule:          chain.Block,
		FlagStateGuard:           chain.Block,
		FlagStateFallbackHandler: chain.Block,
		FlagStateSingleton:       chain.Block,
		FlagStateNonceGap:        chain.Warn,
		FlagStateNonceUsed:       chain.Block,
		FlagStateTargetCode:      chain.Block,
		FlagStateStale:           chain.Block,
	} {
		DefaultSeverity[code] = sev
	}
	hardFlags[FlagStateProofInvalid] = true
}

// StateDetails is the proven state as review --json shows it.
type StateDetails struct {
	Block           uint64   `json:"block"`
	BlockHash       string   `json:"blockHash"`
	BlockTime       string   `json:"blockTime"`
	StateRoot       string   `json:"stateRoot"`
	Singleton       string   `json:"singleton"`
	Owners          []string `json:"owners"`
	Threshold       uint64   `json:"threshold"`
	Nonce           string   `json:"nonce"`
	Modules         []string `json:"modules"`
	Guard           string   `json:"guard,omitempty"`
	ModuleGuard     string   `json:"moduleGuard,omitempty"`
	FallbackHandler string   `json:"fallbackHandler,omitempty"`
	// Accounts are the code hashes of the call targets, the singleton
	// and the fallback handler (an account without code shows the empty
	// code's hash).
	Accounts map[string]string `json:"accounts,omitempty"`
}

var _ chain.StateReviewer = Adapter{}

// ReviewState adds to r what the proposal's attested on-chain state says
// against the vault: nil state is flagged state-unattested; a state that
// does not verify, state-proof-invalid; then every difference between the
// proven state and the vault.
func (Adapter) ReviewState(v chain.Vault, payload, state []byte, created time.Time, r *chain.Review) error {
	vi, a, err := load(v, payload)
	if err != nil {
		return err
	}
	a.flags = nil
	a.lines = nil
	st, err := a.verifyState(state)
	switch {
	case state == nil:
		a.flag(FlagStateUnattested, "the proposal attests no on-chain state: the Safe's owners, modules, guard and nonce on chain are unchecked")
	case err != nil:
		a.flag(FlagStateProofInvalid, "the on-chain state attested does not verify: %v", err)
	default:
		a.compareState(vi, st)
		if bt := time.Unix(int64(st.BlockTime), 0); bt.Before(created.Add(-MaxStateAge)) {
			a.flag(FlagStateStale, "the state was read at block %d of %s, %s before the proposal was made (%s): a module or owner change since then would not show", st.BlockNumber, bt.UTC().Format(time.RFC3339), created.Sub(bt).Round(time.Second), created.UTC().Format(time.RFC3339))
		}
		if d, ok := r.Details.(Details); ok {
			d.State = stateDetails(st)
			r.Details = d
		}
	}
	r.Flags = append(r.Flags, a.flags...)
	r.Lines = append(r.Lines, a.lines...)
	return nil
}

// targets are the addresses the transaction calls, batch entries
// included, the Safe itself excluded.
func (a *analysis) targets() []common.Address {
	seen := map[common.Address]bool{}
	var out []common.Address
	var walk func(c *Call)
	walk = func(c *Call) {
		if c.to != a.v.safe && !seen[c.to] {
			seen[c.to] = true
			out = append(out, c.to)
		}
		for i := range c.Calls {
			walk(&c.Calls[i])
		}
	}
	for i := range a.details.Calls {
		walk(&a.details.Calls[i])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cmp(out[j]) < 0 })
	return out
}

func (a *analysis) verifyState(state []byte) (*stateproof.State, error) {
	if state == nil {
		return nil, nil
	}
	att, err := stateproof.Decode(state)
	if err != nil {
		return nil, err
	}
	return stateproof.Verify(att, a.v.chainID.Uint64(), a.v.safe, a.v.version, a.targets())
}

// compareState flags what differs between the proven state and the vault.
func (a *analysis) compareState(vi *vaultInfo, st *stateproof.State) {
	a.line("on-chain state at block %d, hash %s (%s), proven against its state root %s",
		st.BlockNumber, st.BlockHash.Hex(), time.Unix(int64(st.BlockTime), 0).UTC().Format(time.RFC3339), st.StateRoot.Hex())
	a.line("  compare this block hash with an independent node or explorer: the station cannot check the header itself")

	// Owners and threshold.
	want := map[common.Address]bool{}
	for _, o := range vi.owners {
		want[o.Address] = true
	}
	var extra, missing []string
	got := map[common.Address]bool{}
	for _, o := range st.Owners {
		got[o] = true
		if !want[o] {
			extra = append(extra, o.Hex())
		}
	}
	for _, o := range vi.owners {
		if !got[o.Address] {
			missing = append(missing, o.Address.Hex())
		}
	}
	a.line("  owners on chain: %d of %d: %s", st.Threshold, len(st.Owners), joinAddrs(st.Owners))
	rotating := a.rot.calls > 0 && a.rot.ok
	if len(extra) > 0 || len(missing) > 0 || st.Threshold != uint64(vi.threshold) {
		msg := fmt.Sprintf("on chain the Safe has threshold %d of owners %s; the vault registers %d of %d", st.Threshold, joinAddrs(st.Owners), vi.threshold, len(vi.owners))
		if len(extra) > 0 {
			msg += "; not in the vault: " + strings.Join(extra, ", ")
		}
		if len(missing) > 0 {
			msg += "; missing on chain: " + strings.Join(missing, ", ")
		}
		if rotating {
			a.line("  %s: this transaction rotates them to the policy's", msg)
		} else {
			a.flag(FlagStateOwners, "%s", msg)
		}
	}

	// Modules and guards.
	a.line("  modules on chain: %s", joinAddrs(st.Modules))
	for _, m := range st.Modules {
		if vi.modules[m] {
			a.line("  module %s: the Delay modifier of the policy's emergency path", m.Hex())
			continue
		}
		a.flag(FlagStateModule, "module %s is enabled on the Safe: it can move the Safe's assets with no owner signature, and the vault registers no such module", m.Hex())
	}
	if st.ModuleGuard != (common.Address{}) {
		a.flag(FlagStateModule, "a module guard %s is set on the Safe", st.ModuleGuard.Hex())
	}
	if st.Guard != (common.Address{}) {
		a.flag(FlagStateGuard, "a transaction guard %s is set on the Safe: its code runs before and after every transaction and can block them", st.Guard.Hex())
	}

	// Singleton.
	if name, ok := a.officialCode(st, st.Singleton, func(d Deployment) bool {
		return d.Version == vi.version && (strings.HasSuffix(d.Contract, "Safe") || strings.HasSuffix(d.Contract, "SafeL2"))
	}); ok {
		a.line("  singleton: %s %s", st.Singleton.Hex(), name)
	} else {
		a.flag(FlagStateSingleton, "the Safe runs singleton %s (code %s), not an official Safe %s singleton", st.Singleton.Hex(), st.Accounts[st.Singleton].CodeHash.Hex(), vi.version)
	}

	// Fallback handler.
	if h := st.FallbackHandler; h == (common.Address{}) {
		a.line("  fallback handler: none")
	} else if name, ok := a.officialCode(st, h, func(d Deployment) bool { return strings.Contains(d.Contract, "Handler") }); ok {
		a.line("  fallback handler: %s %s", h.Hex(), name)
	} else if name, ok := a.pinned(st, h); ok {
		a.line("  fallback handler: %s %s (pinned)", h.Hex(), name)
	} else {
		a.flag(FlagStateFallbackHandler, "the Safe's fallback handler %s (code %s) is neither an official handler nor pinned by the policy: it answers EIP-1271 signature checks for the Safe", h.Hex(), st.Accounts[h].CodeHash.Hex())
	}

	// Nonce.
	if tx := a.payload.Tx; tx != nil {
		a.line("  nonce on chain: %s (this transaction: %s)", st.Nonce, tx.Nonce)
		switch tx.Nonce.Cmp(st.Nonce) {
		case 1:
			a.flag(FlagStateNonceGap, "the Safe's nonce on chain is %s: %s earlier transactions must execute before this one (nonce %s)", st.Nonce, new(big.Int).Sub(tx.Nonce, st.Nonce), tx.Nonce)
		case -1:
			a.flag(FlagStateNonceUsed, "nonce %s was used already (the Safe is at %s): this transaction can never execute", tx.Nonce, st.Nonce)
		}
	}

	// Call targets.
	for _, t := range a.targets() {
		acc := st.Accounts[t]
		what := "no code"
		if acc.HasCode() {
			what = "code " + acc.CodeHash.Hex()
		}
		a.line("  target %s: %s", t.Hex(), what)
		for _, tr := range vi.pins() {
			if tr.addr == t && !strings.EqualFold(tr.codeHash, acc.CodeHash.Hex()) {
				a.flag(FlagStateTargetCode, "%s at %s has code %s on chain, the policy pins %s", tr.name, t.Hex(), acc.CodeHash.Hex(), tr.codeHash)
			}
		}
		if d, ok := OfficialDeployment(vi.chainID, t); ok && !strings.EqualFold(d.CodeHash, acc.CodeHash.Hex()) {
			a.flag(FlagStateTargetCode, "%s at %s has code %s on chain, the official deployment's is %s", d.Name(), t.Hex(), acc.CodeHash.Hex(), d.CodeHash)
		}
	}
}

func (a *analysis) line(format string, args ...any) {
	a.lines = append(a.lines, fmt.Sprintf(format, args...))
}

// officialCode says whether the proven code at addr is an official
// deployment's that match accepts: the one at addr on the vault's chain,
// or the same code at another address (a chain the table does not list).
func (a *analysis) officialCode(st *stateproof.State, addr common.Address, match func(Deployment) bool) (string, bool) {
	acc, ok := st.Accounts[addr]
	if !ok || !acc.HasCode() {
		return "", false
	}
	if d, ok := OfficialDeployment(a.v.chainID, addr); ok && match(d) && strings.EqualFold(d.CodeHash, acc.CodeHash.Hex()) {
		return "(" + d.Name() + ")", true
	}
	for _, d := range officialDeployments {
		if match(d) && strings.EqualFold(d.CodeHash, acc.CodeHash.Hex()) {
			return "(the code of the official " + d.Contract + " " + d.Version + ", at another address)", true
		}
	}
	return "", false
}

// pinned says whether addr's proven code is what the policy pins for it.
func (a *analysis) pinned(st *stateproof.State, addr common.Address) (string, bool) {
	for _, tr := range a.v.pins() {
		if tr.addr == addr && strings.EqualFold(tr.codeHash, st.Accounts[addr].CodeHash.Hex()) {
			return tr.name, true
		}
	}
	return "", false
}

type pin struct {
	name, codeHash string
	addr           common.Address
}

// pins are the policy's pinned contracts with their code hashes.
func (v *vaultInfo) pins() []pin {
	var out []pin
	for _, t := range v.pinned {
		out = append(out, pin{name: t.Name, codeHash: t.CodeHash, addr: common.HexToAddress(t.Address)})
	}
	return out
}

func joinAddrs(as []common.Address) string {
	if len(as) == 0 {
		return "none"
	}
	s := make([]string, len(as))
	for i, x := range as {
		s[i] = x.Hex()
	}
	return strings.Join(s, ", ")
}

func stateDetails(st *stateproof.State) *StateDetails {
	d := &StateDetails{Block: st.BlockNumber, BlockHash: st.BlockHash.Hex(), BlockTime: time.Unix(int64(st.BlockTime), 0).UTC().Format(time.RFC3339),
		StateRoot: st.StateRoot.Hex(), Singleton: st.Singleton.Hex(), Threshold: st.Threshold, Nonce: st.Nonce.String(),
		Owners: []string{}, Modules: []string{}, Accounts: map[string]string{}}
	for _, o := range st.Owners {
		d.Owners = append(d.Owners, o.Hex())
	}
	for _, m := range st.Modules {
		d.Modules = append(d.Modules, m.Hex())
	}
	if st.Guard != (common.Address{}) {
		d.Guard = st.Guard.Hex()
	}
	if st.ModuleGuard != (common.Address{}) {
		d.ModuleGuard = st.ModuleGuard.Hex()
	}
	if st.FallbackHandler != (common.Address{}) {
		d.FallbackHandler = st.FallbackHandler.Hex()
	}
	for addr, acc := range st.Accounts {
		d.Accounts[addr.Hex()] = acc.CodeHash.Hex()
	}
	return d
}

// Attest reads the attestation for a proposal's payload from the node at
// url, at block (nil: the latest): the coordinator's side of ReviewState.
func Attest(ctx context.Context, url string, v chain.Vault, payload []byte, block *big.Int) ([]byte, error) {
	_, a, err := load(v, payload)
	if err != nil {
		return nil, err
	}
	rc, err := rpc.DialContext(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("safe: node: %v", err)
	}
	defer rc.Close()
	att, err := stateproof.Fetch(ctx, rc, a.v.safe, a.v.version, a.targets(), block)
	if err != nil {
		return nil, err
	}
	return att.Encode()
}
