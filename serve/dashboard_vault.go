package serve

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

type vaultData struct {
	V           *policy.Vault
	Signers     []policy.Signer
	Recovery    *policy.Signer
	AddressBook []policy.AddressEntry
	Limits      []limitRow
	LimitsErr   string
	// Balance is the node's answer; NoNode: no node is configured.
	Balance, BalanceErr string
	NoNode              bool
	Live                int
}

// limitRow is one limit or velocity rule as it applies to a vault.
type limitRow struct {
	Scope, Name, Kind, Asset string
	Max                      string
	Period                   string
	// Velocity: what the coordinator counts as spent in the period, and
	// what is left.
	Spent, Left string
	Percent     int
	Err         string
}

// vaultPage shows a vault as the policy has it, the address book's
// entries for it, its limits and what is used of them in their period.
func (s *Server) vaultPage(c *call) (string, any, error) {
	if _, err := query(c.r); err != nil {
		return "", nil, err
	}
	pol, _, err := s.coord().WS.Policy(s.coord().Reg)
	if err != nil {
		return "", nil, err
	}
	v, ok := pol.Vault(c.r.PathValue("name"))
	if !ok {
		return "", nil, &errPage{http.StatusNotFound, fmt.Sprintf("no vault %q in policy %s", c.r.PathValue("name"), pol.Name)}
	}
	d := &vaultData{V: v}
	if d.Signers, err = pol.Signers(v); err != nil {
		return "", nil, err
	}
	if rs, ok, err := pol.RecoverySigner(v); err != nil {
		return "", nil, err
	} else if ok {
		d.Recovery = &rs
	}
	for _, e := range pol.AddressBook {
		if addressFor(e, v) {
			d.AddressBook = append(d.AddressBook, e)
		}
	}
	rows, err := s.rows(c)
	if err != nil {
		return "", nil, err
	}
	for _, r := range rows {
		if r.Vault == v.Name && (r.State == proposal.StateOpen || r.State == proposal.StateApproved) {
			d.Live++
		}
	}
	if d.Limits, err = s.limits(c.ctx, pol, v); err != nil {
		d.LimitsErr = err.Error()
	}
	if s.cfg.Dashboard.Balance == nil {
		d.NoNode = true
	} else if d.Balance, err = s.cfg.Dashboard.Balance(c.ctx, pol, v); err != nil {
		d.BalanceErr = err.Error()
	}
	return "Vault " + v.Name, d, nil
}

// addressFor says whether an address-book entry is a destination for v:
// its chain, every vault or v named, and on Ethereum any chain id or v's.
func addressFor(e policy.AddressEntry, v *policy.Vault) bool {
	if e.Chain != v.Chain || (len(e.Vaults) > 0 && !slices.Contains(e.Vaults, v.Name)) {
		return false
	}
	return e.ChainID == 0 || v.Safe == nil || e.ChainID == v.Safe.ChainID
}

// limits are the policy's and the vault's limit and velocity rules on
// the vault's chain, each velocity rule with what the coordinator counts
// as spent in its period: the history its rules are decided on
// (coordinator.history: every proposal.created or proposal.readopted entry's "spent" whose
// proposal has not ended without effect), summed by policy.Ledger.
func (s *Server) limits(ctx context.Context, pol *policy.Policy, v *policy.Vault) ([]limitRow, error) {
	var ledger *policy.Ledger
	err := s.coord().WS.View(ctx, func(r store.Reader) error {
		keep := func(i int64, ev audit.Event) (bool, error) {
			id, err := hex.DecodeString(ev.Subject)
			if err != nil || len(id) != 32 {
				return false, fmt.Errorf("%w: entry %d: malformed proposal id", audit.ErrTampered, i)
			}
			sp, err := r.Proposal([32]byte(id))
			if err != nil {
				return false, err
			}
			st := proposal.State(sp.State)
			return st != proposal.StateRejected && st != proposal.StateWithdrawn && st != proposal.StateExpired, nil
		}
		entries, err := workspace.Spending(r, "proposal.created", keep)
		if err != nil {
			return err
		}
		// A proposal re-adopted after a restore spends as one made.
		readopted, err := workspace.Spending(r, "proposal.readopted", keep)
		if err != nil {
			return err
		}
		ledger, err = policy.NewLedger(append(entries, readopted...))
		return err
	})
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	var out []limitRow
	add := func(scope string, rules []policy.TxRule) {
		for _, r := range rules {
			if r.Kind != policy.RuleLimit && r.Kind != policy.RuleVelocity {
				continue
			}
			id, decimals, assetChain := assetOf(pol, r.Asset)
			if assetChain != v.Chain {
				continue
			}
			max, _ := new(big.Int).SetString(r.Max, 10)
			row := limitRow{Scope: scope, Name: r.Name, Kind: string(r.Kind), Asset: r.Asset, Max: policy.FormatAmount(max, decimals)}
			if r.Kind == policy.RuleVelocity {
				row.Period = period(r.Period)
				spent, err := ledger.Spent(v.Name, id, now.Add(-time.Duration(r.Period)*time.Second), now)
				if err != nil || max == nil {
					row.Err = fmt.Sprint("the history cannot be read: ", err)
				} else {
					row.Spent = policy.FormatAmount(spent, decimals)
					row.Left = policy.FormatAmount(new(big.Int).Sub(max, spent), decimals)
					if max.Sign() > 0 {
						row.Percent = int(new(big.Int).Div(new(big.Int).Mul(spent, big.NewInt(100)), max).Int64())
					}
					if spent.Cmp(max) > 0 {
						row.Left = "0"
					}
				}
			}
			out = append(out, row)
		}
	}
	add("policy", pol.TxRules)
	add("vault", v.TxRules)
	return out, nil
}

// assetOf resolves a rule's asset symbol as the policy's rules do: BTC,
// ETH, or one of the policy's ERC-20 assets.
func assetOf(pol *policy.Policy, symbol string) (id string, decimals int, chainName string) {
	switch symbol {
	case "BTC":
		return "BTC", 8, "bitcoin"
	case "ETH":
		return "ETH", 18, "ethereum"
	}
	for _, a := range pol.Assets {
		if a.Symbol == symbol {
			return "erc20:" + a.Token, a.Decimals, a.Chain
		}
	}
	return "", 0, ""
}

// period writes a velocity rule's period as the policy's source does:
// "7d", "24h", "90m".
func period(sec int64) string {
	switch {
	case sec%86400 == 0 && sec >= 2*86400:
		return fmt.Sprintf("%dd", sec/86400)
	case sec%3600 == 0:
		return fmt.Sprintf("%dh", sec/3600)
	case sec%60 == 0:
		return fmt.Sprintf("%dm", sec/60)
	}
	return fmt.Sprintf("%ds", sec)
}
