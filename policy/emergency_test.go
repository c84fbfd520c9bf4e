package policy_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/policy"
)

var (
	delayAddr   = common.HexToAddress("0x00000000000000000000000000000000000De1a7").Hex()
	ethColdAddr = common.HexToAddress("0x00000000000000000000000000000000C01dC01d").Hex()
	daveEth     = common.HexToAddress("0x000000000000000000000000000000000000DA7E").Hex()
	emerSafe    = common.HexToAddress("0x00000000000000000000000000000000000E3E86").Hex()
)

// emergencySource is the rules fixture with dave's Safe key, a cold
// Ethereum address in the book, and the vault "emergency": dave's Safe,
// the emergency path of "safe" written as section (YAML at the vault's
// indentation, after "emergency:").
func emergencySource(t testing.TB, section string) string {
	t.Helper()
	src := rulesSource(t, "", "", "")
	dave := regexp.MustCompile(`(?m)(  - id: dave\n(?:    .*\n)*?        key: "[^"]*"\n)`)
	if !dave.MatchString(src) {
		t.Fatal("fixture changed: no dave device")
	}
	src = dave.ReplaceAllString(src, "${1}        ethereum: \""+daveEth+"\"\n")
	src = strings.Replace(src, "address_book:\n", "address_book:\n  - {label: eth-cold, chain: ethereum, chain_id: 1, address: \""+ethColdAddr+"\"}\n", 1)
	return src + `  - name: emergency
    chain: ethereum
    threshold: 1
    signers: [dave/hw]
    safe: {address: "` + emerSafe + `", chain_id: 1, version: "1.4.1"}
    emergency:
` + section
}

func emergencyPolicy(t testing.TB, section string) (*policy.Policy, error) {
	t.Helper()
	f, err := policy.ParseFile([]byte(emergencySource(t, section)))
	if err != nil {
		return nil, err
	}
	return f.Genesis(rulesReg)
}

var goodEmergency = `      delay: "` + delayAddr + `"
      target: safe
      to: [eth-cold]
      actions: [threshold-change]
`

// TestEmergencyPathAllowsOnlyItsListedMoves: an emergency vault's
// approvals move the target's funds only to the listed destinations, or
// take only the listed actions, and only queued through the Delay
// modifier.
func TestEmergencyPathAllowsOnlyItsListedMoves(t *testing.T) {
	p, err := emergencyPolicy(t, goodEmergency)
	if err != nil {
		t.Fatal(err)
	}
	fx := func(to string, as ...chain.Action) *chain.Effects {
		e := &chain.Effects{Actions: as}
		if to != "" {
			e.Transfers = []chain.Transfer{eth(t, to, "10")}
		}
		return e
	}
	cases := []struct {
		name    string
		fx      *chain.Effects
		allowed bool
		want    string
	}{
		{"everything to the cold vault, queued", fx(ethColdAddr, chain.ActionDelayed), true, ""},
		{"the pause, queued", fx("", chain.ActionDelayed, chain.ActionThresholdChange), true, ""},
		{"a transfer that skips the Delay modifier", fx(ethColdAddr), false, "may only queue transactions in its Delay modifier"},
		{"a queued transfer to a booked but unlisted destination", fx(payrollAddr, chain.ActionDelayed), false, "not a destination of the emergency path"},
		{"a queued transfer to an unknown address", fx(daveEth, chain.ActionDelayed), false, "not a destination of the emergency path"},
		{"a queued owner swap (the emergency group takes the Safe)", fx("", chain.ActionDelayed, chain.ActionOwnerChange), false, "it does owner-change, which the emergency path does not allow"},
		{"a queued contract call", fx("", chain.ActionDelayed, chain.ActionContractCall), false, "contract-call"},
		{"a queued delegatecall", fx("", chain.ActionDelayed, chain.ActionDelegateCall), false, "delegatecall"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vd := evaluate(t, p, policy.Input{Vault: "emergency", Effects: c.fx}, nil, noon)
			if c.allowed {
				want(t, vd, true)
				return
			}
			want(t, vd, false, "the vault's emergency path", c.want)
		})
	}
	// The target vault is not bound by its emergency path.
	want(t, evaluate(t, p, policy.Input{Vault: "safe", Effects: fx(payrollAddr)}, nil, noon), true)
	// The adapter learns the modifier and the Safe it runs as.
	v, _ := p.Vault("emergency")
	cv, err := p.ChainVault(v)
	if err != nil {
		t.Fatal(err)
	}
	if d := cv.Account.Delay; d == nil || d.Address != delayAddr || d.Avatar != "0x52908400098527886E0F7030069857D2E4169EE7" {
		t.Fatalf("chain vault delay %+v", cv.Account.Delay)
	}
}

// TestEmergencySectionRefused: the emergency section is parsed strictly
// and every refusal names the field and its line.
func TestEmergencySectionRefused(t *testing.T) {
	line := strings.Count(emergencySource(t, ""), "\n") // "emergency:" is the last line written
	cases := map[string]struct{ section, want string }{
		"an unknown field":            {goodEmergency + "      cooldown: 1d\n", "field cooldown not found"},
		"a delay that is no address":  {strings.Replace(goodEmergency, delayAddr, "0xdelay", 1), "vaults[3].emergency.delay"},
		"a delay with a bad checksum": {strings.Replace(goodEmergency, delayAddr, "0x00000000000000000000000000000000000De1a7", 1), "vaults[3].emergency.delay: \"0x00000000000000000000000000000000000De1a7\" has a bad EIP-55 checksum"},
		"an unknown target":           {strings.Replace(goodEmergency, "target: safe", "target: nowhere", 1), `vaults[3].emergency.target: "nowhere" is not a vault`},
		"itself as the target":        {strings.Replace(goodEmergency, "target: safe", "target: emergency", 1), "want another Safe vault"},
		"a Bitcoin target":            {strings.Replace(goodEmergency, "target: safe", "target: ops", 1), "want another Safe vault"},
		"an owner change":             {strings.Replace(goodEmergency, "[threshold-change]", "[threshold-change, owner-change]", 1), `vaults[3].emergency.actions[1]: "owner-change": an emergency path may only take`},
		"a contract call":             {strings.Replace(goodEmergency, "[threshold-change]", "[contract-call]", 1), "may only take"},
		"an unbooked label":           {strings.Replace(goodEmergency, "[eth-cold]", "[eth-cold, vault9]", 1), `vaults[3].emergency.to[1]: "vault9" is no address-book entry`},
		"a Bitcoin label":             {strings.Replace(goodEmergency, "[eth-cold]", "[exchange]", 1), `"exchange" is no address-book entry`},
		"nothing allowed":             {"      delay: \"" + delayAddr + "\"\n      target: safe\n", "could do nothing"},
		"the target's Safe as the modifier": {strings.Replace(goodEmergency, delayAddr, "0x52908400098527886E0F7030069857D2E4169EE7", 1),
			"vaults[3].emergency.delay: 0x52908400098527886E0F7030069857D2E4169EE7 is a vault's Safe"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := emergencyPolicy(t, c.section)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			var fe *policy.FieldError
			if asFieldError(err, &fe) && fe.Line < line {
				t.Errorf("line %d, want the emergency section (from line %d): %v", fe.Line, line, err)
			}
		})
	}
}
