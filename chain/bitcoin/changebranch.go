package bitcoin

import (
	"fmt"
	"strings"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/keys"
)

// checkChangeBranch warns when the vault's descriptor has no change
// branch: a descriptor written for receiving alone (".../0/*" rather than
// ".../<0;1>/*") describes none of the addresses the wallet sends its
// change to, so the station cannot prove a change output is the vault's
// and shows it as a send. Such a review is not wrong (an unproven output
// is counted as leaving the vault) but it misleads, and it says so,
// naming the outputs whose BIP-32 derivations claim a vault key on a path
// the descriptor does not cover.
func (a *analysis) checkChangeBranch() {
	if a.vi.desc.PathCount() > 1 || !a.vi.desc.IsRange() {
		return // a vault of static keys alone has one script, change included
	}
	fps := map[[4]byte]bool{}
	for _, k := range a.vi.desc.Keys() {
		fps[k.Fingerprint()] = true
	}
	var claimed []string
	for i, o := range a.details.Outputs {
		if o.Change {
			continue
		}
		pout := &a.pkt.Outputs[i]
		for _, d := range claims(pout.Bip32Derivations, pout.TaprootBip32Derivations) {
			if fps[d.Fingerprint] {
				claimed = append(claimed, fmt.Sprintf("output %d (%s at %s)", i, keys.FormatFingerprint(d.Fingerprint), keys.FormatPath(d.Path)))
				break
			}
		}
	}
	msg := "the descriptor has no change branch (no <0;1> group): the wallet's change cannot be proven and is shown as a send"
	if len(claimed) > 0 {
		msg += "; shown as sends although their derivations name vault keys: " + strings.Join(claimed, ", ")
	}
	a.flag(FlagNoChangeBranch, chain.Warn, "%s", msg)
}
