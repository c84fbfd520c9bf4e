package policy

import (
	"fmt"

	"github.com/airlock-vault/airlock/chain"
)

// rejectionOnly reports whether fx is an on-chain rejection and nothing
// else: its one action is cancel, it moves nothing and pays no fee. The
// chain adapter reports cancel only for a transaction that does nothing
// but use its nonce (a Safe's "reject transaction": a call to the Safe
// itself, value 0, no data, no refund); anything with it — a transfer, a
// fee, another action — is not one.
//
// A rejection spends nothing, so no amount, velocity or allowlist rule
// has anything to count; under a default deny it still takes the vault's
// threshold (which the chain enforces anyway) rather than a denial: a
// nonce a proposal left unused holds every later transaction of the
// vault back until one fills it.
func rejectionOnly(fx *chain.Effects) bool {
	return fx != nil && len(fx.Transfers) == 0 && (fx.Fee == nil || fx.Fee.Sign() == 0) &&
		len(fx.Actions) == 1 && fx.Actions[0] == chain.ActionCancel
}

// rejectionReason is a verdict's reason for an on-chain rejection no
// approve rule matched.
func rejectionReason(v *Vault, defaultDeny bool) string {
	s := fmt.Sprintf("no approve rule matches: an on-chain rejection, which moves nothing: the vault's threshold applies, %d of its %d signers", v.Threshold, len(v.Signers))
	if defaultDeny {
		s += " (the policy's default deny does not apply to it)"
	}
	return s
}
