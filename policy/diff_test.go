package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/policy"
)

const diffRules = `- {name: cap, kind: limit, asset: BTC, max: "1"}
- {name: weekly, kind: velocity, asset: BTC, max: "5", period: 168h}
- {name: booked, kind: allowlist}
- {name: office, kind: window, zone: UTC, days: [mon, tue], hours: "08:00-18:00"}
- {name: no-delegate, kind: block, actions: [delegatecall, owner-change]}
- {name: big, kind: approve, asset: BTC, above: "0.5", require: {group: treasury, count: 3}}
`

// clone deep-copies a policy through its encoding.
func clone(t *testing.T, p *policy.Policy) *policy.Policy {
	t.Helper()
	b, err := envelope.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q policy.Policy
	if err := envelope.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	return &q
}

// TestDiffClassifiesEveryChange: each kind of change is reported with a
// readable line, and loosening ones (which must wait the change delay)
// are told from tightening ones. A loosening change classified as
// tightening would take effect at once: that is the attack.
func TestDiffClassifiesEveryChange(t *testing.T) {
	base := rulesPolicy(t, "change_delay: 48h\n", diffRules, "")
	rule := func(p *policy.Policy, name string) *policy.TxRule {
		for i := range p.Vaults[0].TxRules {
			if p.Vaults[0].TxRules[i].Name == name {
				return &p.Vaults[0].TxRules[i]
			}
		}
		t.Fatalf("no rule %s", name)
		return nil
	}
	cases := []struct {
		name    string
		edit    func(p *policy.Policy)
		text    string
		loosens bool
	}{
		{"threshold lowered", func(p *policy.Policy) { p.Vaults[0].Threshold = 1 }, "~ vault ops: threshold 2 → 1", true},
		{"threshold raised", func(p *policy.Policy) { p.Vaults[0].Threshold = 3 }, "~ vault ops: threshold 2 → 3", false},
		{"policy threshold lowered", func(p *policy.Policy) { p.PolicyThreshold = 1 }, "~ policy_threshold 3 → 1", true},
		{"policy threshold raised", func(p *policy.Policy) { p.PolicyThreshold = 4 }, "~ policy_threshold 3 → 4", false},
		{"lifetime longer", func(p *policy.Policy) { p.MaxProposalLifetime *= 2 }, "~ max_proposal_lifetime 72h0m0s → 144h0m0s", true},
		{"lifetime shorter", func(p *policy.Policy) { p.MaxProposalLifetime /= 2 }, "~ max_proposal_lifetime 72h0m0s → 36h0m0s", false},
		{"delay shorter", func(p *policy.Policy) { p.ChangeDelay = 3600 }, "~ change_delay 48h0m0s → 1h0m0s", true},
		{"delay longer", func(p *policy.Policy) { p.ChangeDelay *= 2 }, "~ change_delay 48h0m0s → 96h0m0s", false},
		{"default allow", func(p *policy.Policy) { p.DefaultDeny = false }, "", false},
		{"separation of duties off", func(p *policy.Policy) { p.ProposerCounts = true }, "~ separation_of_duties true → false", true},
		{"limit raised", func(p *policy.Policy) { rule(p, "cap").Max = "200000000" }, "~ vault ops rule cap: max 100000000 → 200000000", true},
		{"limit lowered", func(p *policy.Policy) { rule(p, "cap").Max = "50000000" }, "~ vault ops rule cap: max 100000000 → 50000000", false},
		{"limit garbled", func(p *policy.Policy) { rule(p, "cap").Max = "x" }, "~ vault ops rule cap: max 100000000 → x", true},
		{"velocity period shorter", func(p *policy.Policy) { rule(p, "weekly").Period = 3600 }, "~ vault ops rule weekly: period 168h0m0s → 1h0m0s", true},
		{"window day added", func(p *policy.Policy) { rule(p, "office").Days = []string{"mon", "tue", "wed"} }, "~ vault ops rule office: days [mon tue] → [mon tue wed]", true},
		{"window day dropped", func(p *policy.Policy) { rule(p, "office").Days = []string{"mon"} }, "~ vault ops rule office: days [mon tue] → [mon]", false},
		{"window hours moved", func(p *policy.Policy) { rule(p, "office").From = 0 }, "~ vault ops rule office: window UTC 08:00-18:00 → UTC 00:00-18:00", true},
		{"block action dropped", func(p *policy.Policy) { rule(p, "no-delegate").Actions = []chain.Action{chain.ActionDelegateCall} }, "~ vault ops rule no-delegate: actions [delegatecall owner-change] → [delegatecall]", true},
		{"block action added", func(p *policy.Policy) {
			r := rule(p, "no-delegate")
			r.Actions = append(r.Actions, chain.ActionModuleChange)
		}, "~ vault ops rule no-delegate: actions [delegatecall owner-change] → [delegatecall owner-change module-change]", false},
		{"approval tier moved", func(p *policy.Policy) { rule(p, "big").Above = "1" }, "~ vault ops rule big: above 50000000 → 1", true},
		{"requirement changed", func(p *policy.Policy) { rule(p, "big").Require.Count = 2 }, "~ vault ops rule big: require 3 of treasury → 2 of treasury", true},
		{"rule removed", func(p *policy.Policy) { p.Vaults[0].TxRules = p.Vaults[0].TxRules[1:] }, "- vault ops rule cap (limit)", true},
		{"deny rule added", func(p *policy.Policy) {
			p.TxRules = append(p.TxRules, policy.TxRule{Name: "all-cap", Kind: policy.RuleLimit, Asset: "BTC", Max: "1"})
		}, "+ policy rule all-cap (limit)", false},
		{"approve rule added", func(p *policy.Policy) {
			p.TxRules = append(p.TxRules, policy.TxRule{Name: "easy", Kind: policy.RuleApprove})
		}, "+ policy rule easy (approve)", true},
		{"rule kind changed", func(p *policy.Policy) { rule(p, "cap").Kind = policy.RuleApprove }, "~ vault ops rule cap: kind limit → approve", true},
		{"address added", func(p *policy.Policy) {
			p.AddressBook = append(p.AddressBook, policy.AddressEntry{Label: "new", Chain: "bitcoin", Address: otherAddr})
		}, "+ address new: bitcoin " + otherAddr, true},
		{"address removed", func(p *policy.Policy) { p.AddressBook = p.AddressBook[1:] }, "- address cold (" + coldAddr + ")", false},
		{"address changed", func(p *policy.Policy) { p.AddressBook[0].Address = otherAddr }, "~ address cold: bitcoin " + coldAddr + " for ops → bitcoin " + otherAddr + " for ops", true},
		{"group member added", func(p *policy.Policy) { p.Groups[1].Members = append(p.Groups[1].Members, "alice") }, "~ group compliance: + alice", true},
		{"group member removed", func(p *policy.Policy) { p.Groups[2].Members = p.Groups[2].Members[:1] }, "~ group board: - dave", false},
		{"asset removed", func(p *policy.Policy) { p.Assets = nil }, "- asset USDC", true},
		{"asset decimals changed", func(p *policy.Policy) { p.Assets[0].Decimals = 18 }, "", true},
		{"coordinator added", func(p *policy.Policy) {
			p.Coordinators = append(p.Coordinators, policy.Coordinator{ID: "coord2", Identity: make([]byte, 32)})
		}, "", true},
		{"coordinator removed", func(p *policy.Policy) { p.Coordinators = nil }, "- coordinator coord", false},
		{"participant removed", func(p *policy.Policy) { p.Participants = p.Participants[:len(p.Participants)-1] }, "- participant dave", false},
		{"participant key changed", func(p *policy.Policy) { p.Participants[0].Identity = make([]byte, 32) }, "", true},
		{"participant renamed", func(p *policy.Policy) { p.Participants[0].Name = "Alice A." }, "~ participant alice: name \"alice\" → \"Alice A.\"", false},
		{"device added", func(p *policy.Policy) {
			p.Participants[1].Devices = append(p.Participants[1].Devices, policy.Device{ID: "new", Kind: "software", Key: "k"})
		}, "+ device bob/new (software  ) key k", true},
		{"device key changed", func(p *policy.Policy) { p.Participants[1].Devices[0].Key = "k" }, "", true},
		{"device vendor changed", func(p *policy.Policy) { p.Participants[1].Devices[0].Vendor = "acme" }, "", true},
		{"device revoked", func(p *policy.Policy) {
			p.Participants[1].Devices[0].Revoked = &policy.Revocation{Time: 1, Reason: "lost"}
		}, "! device bob/hw revoked: lost", false},
		{"participant revoked", func(p *policy.Policy) { p.Participants[2].Revoked = &policy.Revocation{Time: 1, Reason: "left"} }, "! participant carol revoked: left", false},
		{"signer added", func(p *policy.Policy) { p.Vaults[0].Signers = append(p.Vaults[0].Signers, "dave/hw") }, "~ vault ops: signers [alice/hw, bob/hw, carol/hw] → [alice/hw, bob/hw, carol/hw, dave/hw]", true},
		{"signer removed", func(p *policy.Policy) { p.Vaults[0].Signers = p.Vaults[0].Signers[:2] }, "~ vault ops: signers [alice/hw, bob/hw, carol/hw] → [alice/hw, bob/hw]", false},
		{"descriptor changed", func(p *policy.Policy) { p.Vaults[0].Descriptor = "wsh(x)" }, "", true},
		{"fee cap raised", func(p *policy.Policy) { p.Vaults[0].Limits.MaxFee = 1 }, "", true},
		{"recovery added", func(p *policy.Policy) { p.Vaults[0].Recovery = &policy.Recovery{Signer: "dave/hw", After: 100} }, "~ vault ops: + recovery dave/hw after 100 blocks", true},
		{"software allowed", func(p *policy.Policy) {}, "", false},
		{"vault added", func(p *policy.Policy) {
			v := p.Vaults[1]
			v.Name = "ops2"
			p.Vaults = append(p.Vaults, v)
		}, "+ vault ops2 (bitcoin, 3 of alice/hw, bob/hw, carol/hw)", true},
		{"vault removed", func(p *policy.Policy) { p.Vaults = p.Vaults[:2] }, "- vault safe", false},
		{"trusted contract added", func(p *policy.Policy) {
			p.Vaults[2].Safe.Trusted = append(p.Vaults[2].Safe.Trusted, policy.TrustedContract{Name: "multisend", Address: "0x1"})
		}, "~ vault safe: + trusted multisend 0x1", true},
		{"severity lowered", func(p *policy.Policy) { p.Vaults[2].Safe.Severities = map[string]string{"delegatecall": "info"} }, "", true},
		{"eth_sign allowed", func(p *policy.Policy) { p.Vaults[2].Safe.AllowEthSign = true }, "~ vault safe: allow_eth_sign false → true", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			next := clone(t, base)
			c.edit(next)
			got := policy.Diff(base, next)
			if c.name == "software allowed" || c.name == "default allow" {
				if len(got) != 0 {
					t.Fatalf("no change, got %v", got)
				}
				return
			}
			if len(got) == 0 {
				t.Fatal("the change is not reported")
			}
			found := false
			for _, ch := range got {
				if strings.Contains(ch.Text, "other") {
					t.Errorf("a field Diff reads is reported as unread: %q", ch.Text)
				}
				if c.text == "" || ch.Text == c.text {
					found = true
					if ch.Loosens != c.loosens {
						t.Errorf("%q: loosens %v, want %v", ch.Text, ch.Loosens, c.loosens)
					}
					if ch.Loosens && ch.Why == "" {
						t.Errorf("%q loosens without saying why", ch.Text)
					}
				}
			}
			if !found {
				t.Errorf("no line %q in %v", c.text, got)
			}
			if c.loosens && len(policy.Loosening(got)) == 0 {
				t.Error("Loosening misses it")
			}
		})
	}
}

func TestDiffDefaultDenyToAllowLoosens(t *testing.T) {
	base := rulesPolicy(t, `default: deny
transaction_rules:
  - {name: any, kind: approve, require: {group: signers, count: 3}}
`, "", "")
	next := clone(t, base)
	next.DefaultDeny = false
	got := policy.Diff(base, next)
	if len(got) != 1 || !got[0].Loosens || got[0].Text != "~ default deny → allow" {
		t.Fatalf("got %v", got)
	}
	if back := policy.Diff(next, base); len(back) != 1 || back[0].Loosens {
		t.Fatalf("allow → deny: got %v", back)
	}
}

// successor makes version 2 of base, edited, made at created and in
// effect at notBefore, signed by the quorum.
func successor(t *testing.T, base *policy.Policy, edit func(*policy.Policy), created, notBefore int64) *policy.Policy {
	t.Helper()
	id, err := policy.ID(base)
	if err != nil {
		t.Fatal(err)
	}
	next := clone(t, base)
	next.Version, next.Previous, next.Created, next.NotBefore = base.Version+1, id[:], created, notBefore
	edit(next)
	return next
}

// TestLooseningWithoutDelayRefused: a quorum cannot make a loosening
// change take effect before the previous version's change delay, which
// is what gives everyone time to notice and revoke.
func TestLooseningWithoutDelayRefused(t *testing.T) {
	base := rulesPolicy(t, "change_delay: 48h\n", "", "")
	const day = 86400
	lower := func(p *policy.Policy) { p.Vaults[0].Threshold = 1 }
	next := successor(t, base, lower, 10*day, 11*day)
	err := policy.CheckSuccessor(base, next)
	if !errors.Is(err, policy.ErrTooSoon) || !strings.Contains(err.Error(), "threshold 2 → 1") || !strings.Contains(err.Error(), "48h") {
		t.Fatalf("got %v, want ErrTooSoon naming the change and the delay", err)
	}
	if err := policy.CheckSuccessor(base, successor(t, base, lower, 10*day, 12*day)); err != nil {
		t.Fatalf("after the delay: %v", err)
	}
	// Tightening takes effect at once.
	if err := policy.CheckSuccessor(base, successor(t, base, func(p *policy.Policy) { p.Vaults[0].Threshold = 3 }, 10*day, 10*day)); err != nil {
		t.Fatalf("tightening: %v", err)
	}
	// Backwards in time, or in effect before it is made.
	if err := policy.CheckSuccessor(base, successor(t, base, func(*policy.Policy) {}, 0, 0)); !errors.Is(err, policy.ErrBrokenChain) {
		t.Fatalf("not after version 1: got %v", err)
	}
}

// TestRevocationCannotBeLifted: a revoked key stays revoked; a version
// that drops the revocation (or the device) is refused.
func TestRevocationCannotBeLifted(t *testing.T) {
	base := rulesPolicy(t, "", "", "")
	v2 := successor(t, base, func(p *policy.Policy) {
		p.Participants[1].Devices[0].Revoked = &policy.Revocation{Time: 100, Reason: "stolen"}
	}, 100, 100)
	if err := policy.CheckSuccessor(base, v2); err != nil {
		t.Fatal(err)
	}
	// carol is revoked as a person too.
	v2.Participants[2].Revoked = &policy.Revocation{Time: 100, Reason: "left"}
	if err := policy.CheckSuccessor(base, v2); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*policy.Policy){
		"carol's device dropped": func(p *policy.Policy) { p.Participants[2].Devices = p.Participants[2].Devices[:0] },
		"carol re-keyed":         func(p *policy.Policy) { p.Participants[2].Identity = make([]byte, 32) },
		"carol dropped":          func(p *policy.Policy) { p.Participants = append(p.Participants[:2:2], p.Participants[3:]...) },
		"carol reinstated":       func(p *policy.Policy) { p.Participants[2].Revoked = nil },
		"lifted":                 func(p *policy.Policy) { p.Participants[1].Devices[0].Revoked = nil },
		"rewritten":              func(p *policy.Policy) { p.Participants[1].Devices[0].Revoked.Reason = "found" },
		"re-keyed":               func(p *policy.Policy) { p.Participants[1].Devices[0].Key = "k" },
	} {
		v3 := successor(t, v2, edit, 200, 200)
		if err := policy.CheckSuccessor(v2, v3); !errors.Is(err, policy.ErrBrokenChain) {
			t.Errorf("%s: got %v, want refused", name, err)
		}
	}
}

// TestRevocationBehindPendingVersionAppliesNow: a loosening version 2 is
// pending for 48h; a revocation must follow it (version 3) and so cannot
// take effect before it, yet the key must stop signing now. The version
// in effect carries the later versions' revocations.
func TestRevocationBehindPendingVersionAppliesNow(t *testing.T) {
	const day = 86400
	v1 := rulesPolicy(t, "change_delay: 48h\n", "", "")
	v2 := successor(t, v1, func(p *policy.Policy) { p.Vaults[0].Threshold = 1 }, 10*day, 12*day)
	if err := policy.CheckSuccessor(v1, v2); err != nil {
		t.Fatal(err)
	}
	revoke := func(p *policy.Policy) {
		p.Participants[1].Devices[0].Revoked = &policy.Revocation{Time: p.Created, Reason: "stolen"}
	}
	// Version 3 cannot take effect before version 2, even if it only
	// tightens: else it would carry version 2's loosening past the delay.
	early := successor(t, v2, revoke, 10*day+60, 10*day+60)
	if err := policy.CheckSuccessor(v2, early); !errors.Is(err, policy.ErrTooSoon) {
		t.Fatalf("version 3 before version 2: got %v", err)
	}
	v3 := successor(t, v2, revoke, 10*day+60, 12*day)
	if err := policy.CheckSuccessor(v2, v3); err != nil {
		t.Fatal(err)
	}
	if got := policy.TakesEffect(v2, v3).Unix(); got != 12*day {
		t.Fatalf("TakesEffect %d, want version 2's %d", got, 12*day)
	}
	cur := policy.WithRevocations(v1, v2, v3)
	if _, ok := cur.SignerFor(&cur.Vaults[0], "bob"); ok {
		t.Fatal("the revoked key still signs under the version in effect")
	}
	if _, ok := v1.SignerFor(&v1.Vaults[0], "bob"); !ok {
		t.Fatal("WithRevocations changed version 1 itself")
	}
	if cur.Vaults[0].Threshold != 2 {
		t.Fatal("WithRevocations took more than revocations from a pending version")
	}
}

// TestDiffReadsTemplatesAndEmergencyPaths: a new template or emergency
// path loosens (it opens a way out with fewer or other approvals) and is
// named; removing one tightens.
func TestDiffReadsTemplatesAndEmergencyPaths(t *testing.T) {
	a := &policy.Policy{Vaults: []policy.Vault{{Name: "g"}}}
	b := &policy.Policy{Vaults: []policy.Vault{{Name: "g", Emergency: &policy.Emergency{Delay: "0xD", Target: "s"}}},
		Templates: []policy.Template{{Name: "payroll", Vault: "ops", Asset: "BTC", To: []string{"staff"}}}}
	changes := policy.Diff(a, b)
	var texts []string
	for _, c := range changes {
		if !c.Loosens {
			t.Errorf("%s does not loosen", c.Text)
		}
		texts = append(texts, c.Text)
	}
	if len(changes) != 2 || !strings.Contains(texts[0], "template payroll") || !strings.Contains(texts[1], "emergency path through 0xD") {
		t.Fatalf("changes %q", texts)
	}
	for _, c := range policy.Diff(b, a) {
		if c.Loosens {
			t.Errorf("removing: %s loosens", c.Text)
		}
	}
}
