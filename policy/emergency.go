package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/airlock-vault/airlock/chain"
)

// Emergency makes a Safe vault an emergency path for another (its
// Target): its owners — a different group, with its own threshold — may
// only queue, in the Zodiac Delay modifier at Delay, transactions that
// the target Safe will run after the modifier's cooldown, unless the
// target's owners veto them. What they may queue is narrow: transfers of
// the target's funds to the address-book entries labelled To (a cold
// vault), and the Actions listed (a threshold change: the pause).
type Emergency struct {
	// Delay is the modifier's address (EIP-55), enabled as a module on
	// the target Safe with this vault's Safe as its module.
	Delay string `cbor:"1,keyasint"`
	// Target names the vault whose Safe the modifier runs as.
	Target string `cbor:"2,keyasint"`
	// To are the address-book labels the target's funds may go to.
	To []string `cbor:"3,keyasint,omitempty"`
	// Actions are the actions a queued transaction may take besides
	// those transfers.
	Actions []chain.Action `cbor:"4,keyasint,omitempty"`
}

// EmergencyActions are the actions an emergency path may list: the
// pause. An owner change, a module, guard or handler change, a
// delegatecall or an arbitrary contract call by the emergency group
// would hand it the target Safe; they are never allowed.
var EmergencyActions = []chain.Action{chain.ActionThresholdChange}

// ScopeEmergency is the scope of a denial by a vault's emergency path.
const ScopeEmergency = "emergency"

// FileEmergency is a vault's emergency path as written:
//
//	emergency:
//	  delay: "0x…"          # the Zodiac Delay modifier
//	  target: treasury      # the vault whose Safe it runs as
//	  to: [cold]            # address-book labels
//	  actions: [threshold-change]
type FileEmergency struct {
	Delay   string   `yaml:"delay" json:"delay"`
	Target  string   `yaml:"target" json:"target"`
	To      []string `yaml:"to" json:"to"`
	Actions []string `yaml:"actions" json:"actions"`
}

// convertEmergency reads a vault's emergency section at path at.
func convertEmergency(at string, fe *FileEmergency) (*Emergency, error) {
	if fe == nil {
		return nil, nil
	}
	addr, err := checksumAddress(fe.Delay)
	if err != nil {
		return nil, fieldErr(at+".delay", "%v", err)
	}
	e := &Emergency{Delay: addr, Target: fe.Target, To: fe.To}
	for _, a := range fe.Actions {
		e.Actions = append(e.Actions, chain.Action(a))
	}
	return e, nil
}

// validateEmergency checks vault i's emergency path.
func (p *Policy) validateEmergency(i int) error {
	v := &p.Vaults[i]
	e := v.Emergency
	if e == nil {
		return nil
	}
	at := fmt.Sprintf("vaults[%d].emergency", i)
	if v.Chain != "ethereum" || v.Safe == nil {
		return fieldErr(at, "an emergency path is a Safe vault's (chain ethereum)")
	}
	canon, err := checksumAddress(e.Delay)
	if err != nil || canon != e.Delay {
		return fieldErr(at+".delay", "%q: want an EIP-55 address", e.Delay)
	}
	t, ok := p.Vault(e.Target)
	if !ok {
		return fieldErr(at+".target", "%q is not a vault of the policy", e.Target)
	}
	if t.Name == v.Name || t.Chain != "ethereum" || t.Safe == nil {
		return fieldErr(at+".target", "%q: want another Safe vault", e.Target)
	}
	if t.Emergency != nil {
		return fieldErr(at+".target", "vault %q is itself an emergency path", e.Target)
	}
	if t.Safe.ChainID != v.Safe.ChainID {
		return fieldErr(at+".target", "vault %q is on chain id %d, this one on %d", e.Target, t.Safe.ChainID, v.Safe.ChainID)
	}
	for _, a := range []string{v.Safe.Address, t.Safe.Address} {
		if strings.EqualFold(a, e.Delay) {
			return fieldErr(at+".delay", "%s is a vault's Safe, not a Delay modifier", e.Delay)
		}
	}
	if len(e.To) == 0 && len(e.Actions) == 0 {
		return fieldErr(at, "lists no destination (to) and no action: the path could do nothing")
	}
	for j, label := range e.To {
		if countOf(e.To, label) > 1 {
			return fieldErr(fmt.Sprintf("%s.to[%d]", at, j), "%q twice", label)
		}
		if _, ok := p.emergencyDest(v, t, label); !ok {
			return fieldErr(fmt.Sprintf("%s.to[%d]", at, j), "%q is no address-book entry for vault %q or %q", label, v.Name, t.Name)
		}
	}
	for j, a := range e.Actions {
		if !slices.Contains(EmergencyActions, a) {
			return fieldErr(fmt.Sprintf("%s.actions[%d]", at, j), "%q: an emergency path may only take %v", a, EmergencyActions)
		}
		if slices.Index(e.Actions, a) != j {
			return fieldErr(fmt.Sprintf("%s.actions[%d]", at, j), "%q twice", a)
		}
	}
	return nil
}

// emergencyDest is the address-book entry labelled label that is a
// destination for the emergency vault v or its target t.
func (p *Policy) emergencyDest(v, t *Vault, label string) (*AddressEntry, bool) {
	for i := range p.AddressBook {
		a := &p.AddressBook[i]
		if a.Label == label && (a.appliesTo(v) || a.appliesTo(t)) {
			return a, true
		}
	}
	return nil, false
}

// emergencyDenial says why a transaction on an emergency vault is not
// one its path allows ("" when it is): it must be queued in the Delay
// modifier, send only to the listed destinations, and take no action but
// the listed ones. The adapter reports a queued transaction as the
// action delayed and the target's transfers; it refuses a module
// transaction to any other modifier.
func (e *evaluation) emergencyDenial() string {
	em := e.v.Emergency
	t, ok := e.p.Vault(em.Target)
	if !ok {
		return fmt.Sprintf("its target vault %q is not in the policy", em.Target)
	}
	if !slices.Contains(e.tx.actions, chain.ActionDelayed) {
		return fmt.Sprintf("an emergency vault may only queue transactions in its Delay modifier %s, and this one does not", em.Delay)
	}
	var bad []string
	for _, a := range e.tx.actions {
		if a != chain.ActionDelayed && !slices.Contains(em.Actions, a) {
			bad = append(bad, string(a))
		}
	}
	if len(bad) > 0 {
		return fmt.Sprintf("it does %s, which the emergency path does not allow (it allows %v)", strings.Join(bad, " and "), em.Actions)
	}
	for _, dest := range e.tx.dests {
		allowed := false
		for _, label := range em.To {
			if a, ok := e.p.emergencyDest(e.v, t, label); ok && (a.Address == dest || strings.EqualFold(a.Address, dest)) {
				allowed = true
				break
			}
		}
		if !allowed {
			return fmt.Sprintf("it sends %s to %s, which is not a destination of the emergency path (%v)", e.sentTo(dest), dest, em.To)
		}
	}
	return ""
}
