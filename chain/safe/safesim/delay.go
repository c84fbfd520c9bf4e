package safesim

import (
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// DeployDelay deploys the Zodiac Delay modifier from <dir>/delay.json
// (@gnosis.pm/zodiac's mastercopy init code, whose constructor calls
// setUp): owner may reconfigure it (setTxNonce vetoes queued
// transactions), avatar is the account it executes as, target the one it
// calls execTransactionFromModule on (both the guarded Safe here),
// cooldown and expiration are in seconds (expiration 0: never expires).
func (e *Env) DeployDelay(t testing.TB, owner, avatar, target common.Address, cooldown, expiration uint64) common.Address {
	t.Helper()
	return e.deploy(t, NameDelay, owner, avatar, target, new(big.Int).SetUint64(cooldown), new(big.Int).SetUint64(expiration))
}

// AdjustTime moves the simulated chain's clock forward by d (the
// backend mines a block at the new time), so that the next transaction
// sees it.
func (e *Env) AdjustTime(t testing.TB, d time.Duration) {
	t.Helper()
	if e.Backend == nil {
		t.Fatalf("safesim: AdjustTime needs the simulated chain; a node's clock is its own")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// The backend adjusts time only on an empty pending block; its pool
	// may still hold a transaction just mined until it resets, so commit
	// and retry a few times.
	var err error
	for range 20 {
		if err = e.Backend.AdjustTime(d); err == nil {
			return
		}
		e.Backend.Commit()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("safesim: adjusting time by %s: %v", d, err)
}

// Transact packs method of artifact contract with args and sends it from
// the deployer to addr; a revert returns the status-0 receipt and the
// reason, as Send does.
func (e *Env) Transact(t testing.TB, contract string, addr common.Address, method string, args ...any) (*types.Receipt, error) {
	t.Helper()
	data, err := e.ABI(t, contract).Pack(method, args...)
	if err != nil {
		t.Fatalf("safesim: packing %s.%s: %v", contract, method, err)
	}
	return e.Send(t, e.Deployer, addr, nil, data)
}

// Read calls a view method of artifact contract at addr and unpacks its
// single result into out.
func (e *Env) Read(t testing.TB, contract string, addr common.Address, method string, out any, args ...any) {
	t.Helper()
	e.read(t, contract, addr, method, out, args...)
}
