package drill

// The Safe side of a drill: with quorum.safe, vault ops is a Safe (the
// real Safe contracts, from their npm artifacts) on go-ethereum's
// simulated chain, in process. Its owners are the stations' Ethereum
// keys; workload payments are Safe transactions proposed, signed,
// finalized by the real coordinator and stations and executed on the
// simulated chain; a compromised station can try a Bybit-style
// delegatecall; a rotation changes the owners on chain too
// (safe_rotation.go); and the checker reads the Safe on chain at the end.

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/chain/safe/safesim"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/workspace"
)

// SafeSection is quorum.safe: vault ops is a Safe.
type SafeSection struct {
	// Version is the Safe contracts' version (1.3.0 or 1.4.1, default
	// 1.4.1).
	Version string `yaml:"version"`
	// TrustAttacker pins the attacker's contract as a trusted delegatecall
	// target in the vault's policy: a deliberately broken policy, for the
	// test that the checker catches it. Never in a real scenario.
	TrustAttacker bool `yaml:"trust_attacker"`
	// SkipRotation adopts a rotation's policy version but never proposes
	// the Safe's owner rotation on chain: a deliberately broken procedure,
	// for the test that the checker catches it. Never in a real scenario.
	SkipRotation bool `yaml:"skip_rotation"`
	// SkipRejection never proposes the on-chain rejection of a nonce a
	// payment left unused (safe_reject.go): a deliberately broken
	// procedure, for the test that the checker catches the transactions
	// left waiting. Never in a real scenario.
	SkipRejection bool `yaml:"skip_rejection"`
}

// DefaultEthAttacker is where a compromised station's attacker sends a
// Safe's funds (unknown-address) unless the fault says.
const DefaultEthAttacker = "0x00000000000000000000000000000000000BadC0"

// InvSafe is the Safe's on-chain invariant.
const InvSafe = "safe-on-chain"

func init() {
	titles[InvSafe] = "the Safe's owners, threshold and singleton on chain are what the policy in force says at the end (no revoked owner left), every finalized Safe transaction executed, and none waits behind a nonce nothing fills (an on-chain rejection fills one a proposal left unused)"
}

// weiPerUnit turns the scenario's 8-decimal amounts into wei: on a Safe
// they are ETH.
var weiPerUnit = big.NewInt(1e10)

// checkSafe checks what a Safe quorum allows, and what only it allows.
func (sc *Scenario) checkSafe() error {
	q := &sc.Quorum
	if q.Safe == nil {
		for i, f := range sc.Faults {
			for _, a := range f.Attacks {
				if a == AttackDelegatecall {
					return fieldf(fmt.Sprintf("faults[%d].attacks", i), "delegatecall is an attack on a Safe: needs quorum.safe")
				}
			}
		}
		return nil
	}
	switch q.Safe.Version {
	case "":
		q.Safe.Version = "1.4.1"
	case "1.3.0", "1.4.1":
	default:
		return fieldf("quorum.safe.version", "%q: want 1.3.0 or 1.4.1", q.Safe.Version)
	}
	if q.Recovery != nil {
		return fieldf("quorum.recovery", "a Safe has no time-locked recovery path")
	}
	for i := range sc.Workload {
		if !common.IsHexAddress(sc.Workload[i].To) {
			return fieldf(fmt.Sprintf("workload[%d].to", i), "%q: want an Ethereum address (quorum.safe; amounts are ETH)", sc.Workload[i].To)
		}
	}
	// A policy change may raise vault ops's threshold, never lower it: the
	// Safe's changeThreshold needs the old threshold's signatures on chain,
	// and the coordinator would finalize it with the new, fewer.
	th := q.Threshold
	changes := slices.Clone(sc.Faults)
	slices.SortStableFunc(changes, func(a, b Fault) int { return cmp.Compare(a.At, b.At) })
	for _, f := range changes {
		if f.Kind == PolicyChange && f.Threshold != 0 {
			if f.Threshold < th {
				return fieldf("faults", "a policy change lowering vault ops's threshold (%d to %d) is not rehearsed on a Safe: its changeThreshold needs %d signatures on chain", th, f.Threshold, th)
			}
			th = f.Threshold
		}
	}
	for i := range sc.Faults {
		f := &sc.Faults[i]
		path := fmt.Sprintf("faults[%d]", i)
		switch {
		case f.Kind == RecoveryTry:
			return fieldf(path+".kind", "%s is not rehearsed on a Safe yet", f.Kind)
		}
		if f.Kind == Compromised {
			if f.To == DefaultAttacker {
				f.To = DefaultEthAttacker
			}
			if !common.IsHexAddress(f.To) {
				return fieldf(path+".to", "%q: want an Ethereum address (quorum.safe)", f.To)
			}
		}
	}
	return nil
}

// safeSide is vault ops's Safe on the simulated chain.
type safeSide struct {
	sc  *Scenario
	tb  *simTB
	env *safesim.Env
	// safe is the Safe; attacker the Bybit-style contract that overwrites
	// a Safe's singleton when delegatecalled; owners the stations' owner
	// addresses, in quorum.people order.
	safe, attacker common.Address
	owners         []common.Address
	// ready are finalized transactions by nonce, executed in nonce order.
	ready map[uint64]*Prop
	// reverted name finalized transactions whose execution reverted;
	// executed counts those that went through.
	reverted []string
	executed int
	// nonce is the Safe's next nonce, as its executions moved it (read
	// from the Safe no more: after a takeover its code is the
	// attacker's).
	nonce uint64
	// planned are the Safe's owners in its own order and plannedTh its
	// threshold once every rotation proposed so far executed
	// (safe_rotation.go); names the participant each owner address is,
	// in any policy version; executedAt when each proposal executed.
	planned    []common.Address
	plannedTh  int
	names      map[common.Address]string
	executedAt map[*Prop]time.Time
	// rejectionTries counts the on-chain rejections proposed per nonce,
	// rejectionsProposed in all, rejections those executed
	// (safe_reject.go).
	rejectionTries     map[uint64]int
	rejectionsProposed int
	rejections         int
}

// newSafeSide starts the simulated chain with the Safe contracts and the
// attacker's contract when the scenario has quorum.safe, and has the
// quorum's vaults written once the stations' keys exist (the Safe's
// owners). Nil without quorum.safe.
func newSafeSide(sc *Scenario, qo *quorum.Options) (*safeSide, error) {
	if sc.Quorum.Safe == nil {
		return nil, nil
	}
	ss := &safeSide{sc: sc, tb: &simTB{}, ready: map[uint64]*Prop{}, names: map[common.Address]string{}, executedAt: map[*Prop]time.Time{}, rejectionTries: map[uint64]int{}}
	err := ss.do(func() {
		ss.env = safesim.New(ss.tb, safesim.Artifacts(ss.tb), sc.Quorum.Safe.Version)
		ss.attacker = ss.env.DeployCode(ss.tb, attackerCode)
	})
	if err != nil {
		ss.close()
		return nil, fmt.Errorf("drill: the simulated Ethereum chain: %w", err)
	}
	qo.VaultsFor = ss.vaults
	return ss, nil
}

// attackerCode is the runtime of the Bybit attacker's contract, reduced
// to its point: whatever is called, it stores the calldata's first
// argument (after a 4-byte selector) in slot 0, where a Safe proxy keeps
// its singleton. Delegatecalled by a Safe, it replaces the Safe's code.
//
//	PUSH1 4 CALLDATALOAD PUSH1 0 SSTORE STOP
var attackerCode = []byte{0x60, 0x04, 0x35, 0x60, 0x00, 0x55, 0x00}

// sweeper is the address the attack writes in slot 0 (the attacker's
// own "singleton").
var sweeper = common.HexToAddress("0x00000000000000000000000000000000DeadBeef")

func (ss *safeSide) close() {
	ss.tb.cleanup()
}

// do runs f, which calls safesim with the drill's testing.TB stand-in,
// and turns its Fatal into an error.
func (ss *safeSide) do(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if fe, ok := r.(tbFatal); ok {
				err = errors.New(string(fe))
				return
			}
			err = fmt.Errorf("drill: safesim: %v\n%s", r, debug.Stack())
		}
	}()
	f()
	return nil
}

// vaults creates the Safe with the stations' Ethereum keys as owners and
// writes vault ops.
func (ss *safeSide) vaults(cfgs map[string]*workspace.Config) (string, error) {
	q := ss.sc.Quorum
	signers := make([]string, len(q.People))
	for i, who := range q.People {
		c, ok := cfgs[who]
		if !ok || c.Ethereum == "" {
			return "", fmt.Errorf("drill: %s's station has no Ethereum key", who)
		}
		ok2, err := safe.ParseOwnerKey(c.Ethereum)
		if err != nil {
			return "", err
		}
		ss.owners = append(ss.owners, ok2.Address)
		ss.names[ok2.Address] = who
		signers[i] = who + "/keystore"
	}
	ss.planned, ss.plannedTh = slices.Clone(ss.owners), q.Threshold
	var msco, attackerHash common.Hash
	err := ss.do(func() {
		ss.safe = ss.env.CreateSafe(ss.tb, ss.owners, q.Threshold)
		ss.env.Fund(ss.tb, ss.safe, new(big.Int).Mul(big.NewInt(1000), big.NewInt(1e18)))
		ctx := context.Background()
		code, err := ss.env.Client.CodeAt(ctx, ss.env.MultiSendCallOnly, nil)
		if err != nil || len(code) == 0 {
			ss.tb.Fatalf("drill: MultiSendCallOnly has no code (%v)", err)
		}
		msco = crypto.Keccak256Hash(code)
		attackerHash = crypto.Keccak256Hash(attackerCode)
	})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "vaults:\n  - name: ops\n    chain: ethereum\n    threshold: %d\n    signers: [%s]\n", q.Threshold, strings.Join(signers, ", "))
	fmt.Fprintf(&b, "    safe:\n      address: \"%s\"\n      chain_id: %s\n      version: \"%s\"\n      trusted:\n", ss.safe.Hex(), ss.env.ChainID, q.Safe.Version)
	fmt.Fprintf(&b, "        - {name: MultiSendCallOnly, address: \"%s\", code_hash: \"%s\"}\n", ss.env.MultiSendCallOnly.Hex(), msco.Hex())
	if q.Safe.TrustAttacker {
		fmt.Fprintf(&b, "        - {name: Upgrader, address: \"%s\", code_hash: \"%s\"}\n", ss.attacker.Hex(), attackerHash.Hex())
	}
	return b.String(), nil
}

// payment is a Safe transaction (the Safe Transaction Service's JSON, as
// "airlock propose --safe-tx" takes) sending units (ETH × 10⁸) to to,
// with nonce coin-1: every payment gets the next nonce.
func (ss *safeSide) payment(coin uint64, to string, units int64) []byte {
	wei := new(big.Int).Mul(big.NewInt(units), weiPerUnit)
	return safeTxJSON(common.HexToAddress(to), wei, nil, 0, coin-1)
}

func safeTxJSON(to common.Address, wei *big.Int, data []byte, op uint8, nonce uint64) []byte {
	return fmt.Appendf(nil, `{"to":"%s","value":"%s","data":"0x%x","operation":%d,"safeTxGas":"0","baseGas":"0","gasPrice":"0","gasToken":"0x0000000000000000000000000000000000000000","refundReceiver":"0x0000000000000000000000000000000000000000","nonce":%d}`,
		to.Hex(), wei, data, op, nonce)
}

// safeExecute executes a finalized Safe transaction on the simulated
// chain, and those waiting for it, in nonce order. The chain's clock is
// first moved to the drill's.
func (s *sim) safeExecute(p *Prop) {
	ss := s.safe
	ss.ready[p.Coin-1] = p
	err := ss.do(func() {
		for {
			nonce := ss.nonce
			q, ok := ss.ready[nonce]
			if !ok {
				return
			}
			delete(ss.ready, nonce)
			ss.warp(s.now())
			rcpt, err := ss.env.Send(ss.tb, ss.env.Deployer, ss.safe, nil, q.Tx)
			if err != nil || rcpt.Status != 1 {
				ss.reverted = append(ss.reverted, q.name())
				s.log("safe-reverted", "", q, "execTransaction reverted: %v", err)
				return
			}
			ss.executed++
			ss.nonce++
			ss.executedAt[q] = s.now()
			if q.Flow == FlowRejection {
				ss.rejections++
				s.log("safe-rejection-executed", "", q, "the on-chain rejection executed on the simulated chain: nonce %d used, nothing moved", nonce)
				continue
			}
			if q.Flow == FlowRotation {
				s.log("safe-rotation-executed", "", q, "the owner rotation executed on the simulated chain, nonce %d: owners %s", nonce, s.ownerNames(ss.env.Owners(ss.tb, ss.safe)))
				continue
			}
			s.log("safe-executed", "", q, "executed on the simulated chain, nonce %d", nonce)
		}
	})
	if err != nil {
		s.fail(err)
	}
}

// warp moves the simulated chain's clock to the drill's, when the drill's
// is ahead: blocks are then stamped with the drill's time.
func (ss *safeSide) warp(now time.Time) {
	h, err := ss.env.Client.HeaderByNumber(context.Background(), nil)
	if err != nil {
		ss.tb.Fatalf("drill: the simulated chain's head: %v", err)
	}
	if d := now.Unix() - int64(h.Time); d > 0 {
		ss.env.AdjustTime(ss.tb, time.Duration(d)*time.Second)
	}
}

// safeAttack: the attacker holding f.Person's station key makes the
// coordinator propose (forced) a Safe transaction, signs it with the
// stolen key without any review, hands it in and sends it to the other
// stations. delegatecall is the Bybit attack: the Safe delegatecalls the
// attacker's contract, which replaces the Safe's singleton.
func (s *sim) safeAttack(f Fault, attack, known string, small int64) {
	ss := s.safe
	coin := s.coin + 1 // the next payment's nonce: the attacker races it
	var payload []byte
	unit := func(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), weiPerUnit) }
	switch attack {
	case AttackDelegatecall:
		// transfer(address,uint256), as Bybit's attacker's contract
		// named its function: the wallets showed a token transfer.
		data := append(crypto.Keccak256([]byte("transfer(address,uint256)"))[:4], common.LeftPadBytes(sweeper.Bytes(), 32)...)
		data = append(data, make([]byte, 32)...)
		payload = safeTxJSON(ss.attacker, new(big.Int), data, 1, coin-1)
	case AttackOverLimit:
		payload = safeTxJSON(common.HexToAddress(known), unit(f.sats), nil, 0, coin-1)
	case AttackUnknownAddress:
		payload = safeTxJSON(common.HexToAddress(f.To), unit(small), nil, 0, coin-1)
	case AttackDoubleSpend:
		var target *Prop
		for _, p := range s.props {
			if !p.Attack {
				target = p
			}
		}
		if target == nil {
			s.log("attack-skipped", f.Person, nil, "double-spend: no proposal to double-spend yet")
			return
		}
		coin = target.Coin // the same nonce, another payee
		payload = safeTxJSON(common.HexToAddress(f.To), unit(small), nil, 0, coin-1)
	}
	s.attack(f, attack, coordinator.ProposeParams{SafeTx: payload}, coin, s.forgeSafe)
}

// forgeSafe signs a Safe proposal's safeTxHash with a station's owner key
// as the station would, but without its review or the adapter's refusal
// of a blocking flag: what an attacker holding the device does.
func (s *sim) forgeSafe(who string, p *Prop) (*envelope.Envelope, error) {
	m := s.q.Stations[who]
	pol, polID, err := m.WS.Policy(quorum.Reg)
	if err != nil {
		return nil, err
	}
	e, err := envelope.Decode(p.Raw)
	if err != nil {
		return nil, err
	}
	pp, err := proposal.Decode(e)
	if err != nil {
		return nil, err
	}
	cv, err := proposal.ChainVault(pp, pol)
	if err != nil {
		return nil, err
	}
	v, _ := pol.Vault(pp.Vault)
	signer, ok := pol.SignerFor(v, who)
	if !ok {
		return nil, fmt.Errorf("drill: %s signs nothing for vault %s", who, pp.Vault)
	}
	rv, err := safe.Adapter{}.Review(s.ctx, cv, pp.Payload)
	if err != nil {
		return nil, err
	}
	o, err := safe.ParseOwnerKey(signer.Device.KeyFor(pp.Chain))
	if err != nil {
		return nil, err
	}
	sig, err := safe.SignHash(m.Keys.Chain, o, common.HexToHash(rv.TxID))
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte("forged: no review"))
	ap := &proposal.Approval{Format: 1, Proposal: p.ID[:], Participant: who, Device: signer.Device.ID, Policy: polID[:],
		PolicyVersion: pol.Version, Time: s.now().Unix(), Review: digest[:], Decision: proposal.Approve,
		Signatures: []chain.Signature{{Input: 0, PubKey: o.Address.Bytes(), Sig: sig}}}
	return proposal.SealApproval(ap, m.Keys.Identity)
}

// SafeCheck is vault ops's Safe as read on chain at the end of the run,
// and what the policy in effect says it must be.
type SafeCheck struct {
	// Owners and WantOwners are participant names (an owner on chain in
	// no policy is "an unknown owner"): addresses are fresh in every run.
	Owners, WantOwners       []string
	Threshold, WantThreshold int
	// Singleton says slot 0 still holds the Safe version's singleton.
	Singleton bool
	// Revoked name the participants the policy in force revoked whose
	// key is still an owner on chain: a rotation not executed.
	Revoked []string `json:",omitempty"`
	// Rotations counts the revocations the check covered.
	Rotations int `json:",omitempty"`
	// Reverted name finalized transactions whose execution reverted.
	Reverted []string
	// Executed counts the finalized transactions executed on chain;
	// Waiting names those still waiting for an earlier nonce (one whose
	// proposal expired or was rejected: a Safe executes in nonce order).
	Executed int
	Waiting  []string
	// Rejections counts the on-chain rejections executed (each filled a
	// nonce a proposal left unused; safe_reject.go), RejectionsProposed
	// those proposed. Holes are the nonces still unused at the end with
	// finalized transactions waiting behind them and no proposal open to
	// fill them: the procedure did not fill them.
	Rejections, RejectionsProposed int
	Holes                          []string `json:",omitempty"`
	// LastBlock is the time of the simulated chain's last block: the
	// drill's clock, when the drill's is ahead of the wall clock.
	LastBlock time.Time `json:"-"`
}

func (c *SafeCheck) checked() int { return 4 + c.Rotations + len(c.Reverted) }

func (c *SafeCheck) violations() []string {
	var vs []string
	if !c.Singleton {
		vs = append(vs, "the Safe's singleton (slot 0) on chain is not the Safe contract it was created with: the Safe's code was replaced")
	}
	if strings.Join(c.Owners, ",") != strings.Join(c.WantOwners, ",") {
		vs = append(vs, fmt.Sprintf("the Safe's owners on chain are [%s], the policy says [%s]", strings.Join(c.Owners, ", "), strings.Join(c.WantOwners, ", ")))
	}
	if c.Threshold != c.WantThreshold && c.Threshold >= 0 {
		vs = append(vs, fmt.Sprintf("the Safe's threshold on chain is %d, the policy says %d", c.Threshold, c.WantThreshold))
	}
	for _, who := range c.Revoked {
		vs = append(vs, who+"'s key, revoked by the policy in force, is still an owner of the Safe on chain: the rotation was not executed")
	}
	for _, n := range c.Reverted {
		vs = append(vs, n+": finalized, but its execution on chain reverted")
	}
	return append(vs, c.Holes...)
}

// safeFinish reads the Safe on chain for the checker, against the last
// policy version's vault ops.
func (s *sim) safeFinish() error {
	ss := s.safe
	h := &s.hist
	if len(h.Versions) == 0 {
		return errors.New("drill: no policy version to judge the Safe by")
	}
	pol := h.Versions[len(h.Versions)-1].Policy
	v, ok := pol.Vault("ops")
	if !ok {
		return errors.New("drill: the last policy version has no vault ops")
	}
	c := &SafeCheck{WantThreshold: v.Threshold, Reverted: append([]string{}, ss.reverted...), Executed: ss.executed,
		Rejections: ss.rejections, RejectionsProposed: ss.rejectionsProposed, Holes: s.holes()}
	for _, p := range s.props {
		if _, ok := ss.ready[p.Coin-1]; ok && ss.ready[p.Coin-1] == p {
			c.Waiting = append(c.Waiting, p.name())
		}
	}
	// Every owner key of vault ops in any version is named: a revoked
	// one left on chain shows by name.
	names := map[common.Address]string{}
	for i, ver := range h.Versions {
		vv, ok := ver.Policy.Vault("ops")
		if !ok {
			continue
		}
		for _, ref := range vv.Signers {
			who, _, _ := strings.Cut(ref, "/")
			sg, ok := ver.Policy.SignerFor(vv, who)
			if !ok {
				return fmt.Errorf("drill: vault ops's signer %s is in no entry of policy version %d", ref, ver.Policy.Version)
			}
			o, err := safe.ParseOwnerKey(sg.Device.KeyFor("ethereum"))
			if err != nil {
				return err
			}
			names[o.Address] = who
			if i == len(h.Versions)-1 {
				c.WantOwners = append(c.WantOwners, who)
			}
		}
	}
	revoked := map[string]bool{}
	for _, pt := range pol.Participants {
		if pt.Revoked != nil {
			revoked[pt.ID] = true
			c.Rotations++
		}
	}
	err := ss.do(func() {
		hd, err := ss.env.Client.HeaderByNumber(context.Background(), nil)
		if err != nil {
			ss.tb.Fatalf("drill: the simulated chain's head: %v", err)
		}
		c.LastBlock = time.Unix(int64(hd.Time), 0).UTC()
		slot0, err := ss.env.Client.StorageAt(context.Background(), ss.safe, common.Hash{}, nil)
		if err != nil {
			ss.tb.Fatalf("drill: reading the Safe's slot 0: %v", err)
		}
		c.Singleton = common.BytesToAddress(slot0) == ss.env.Singleton
		if !c.Singleton {
			// Its code is the attacker's now: owners and threshold are
			// whatever that code answers, if anything.
			c.Owners, c.Threshold = []string{"unreadable: the Safe's code was replaced"}, -1
			return
		}
		for _, a := range ss.env.Owners(ss.tb, ss.safe) {
			n, ok := names[a]
			if !ok {
				n = "an unknown owner"
			}
			c.Owners = append(c.Owners, n)
			if revoked[n] {
				c.Revoked = append(c.Revoked, n)
			}
		}
		c.Threshold = ss.env.Threshold(ss.tb, ss.safe)
	})
	if err != nil {
		return err
	}
	slices.Sort(c.Owners)
	slices.Sort(c.WantOwners)
	slices.Sort(c.Revoked)
	h.Safe = c
	return nil
}

// tbFatal is a safesim Fatal, turned into an error by safeSide.do.
type tbFatal string

// simTB lets the drill drive chain/safe/safesim, test support written
// against testing.TB, outside a test: Fatal panics with tbFatal (do
// recovers it), Cleanup functions run at close. Any other method of
// testing.TB is not implemented (the nil embedded interface panics, and
// do turns that into an error too).
type simTB struct {
	testing.TB
	cleanups []func()
}

func (*simTB) Helper()                           {}
func (*simTB) Logf(string, ...any)               {}
func (*simTB) Log(...any)                        {}
func (*simTB) Name() string                      { return "drill" }
func (*simTB) Fatalf(format string, args ...any) { panic(tbFatal(fmt.Sprintf(format, args...))) }
func (*simTB) Fatal(args ...any)                 { panic(tbFatal(fmt.Sprint(args...))) }
func (*simTB) Errorf(format string, args ...any) { panic(tbFatal(fmt.Sprintf(format, args...))) }
func (*simTB) Error(args ...any)                 { panic(tbFatal(fmt.Sprint(args...))) }
func (t *simTB) Cleanup(f func())                { t.cleanups = append(t.cleanups, f) }

func (t *simTB) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}

var ethAddr = regexp.MustCompile(`0x[0-9a-fA-F]{40}`)

// scrub names the Ethereum addresses made in this run (fresh keys give
// fresh addresses) in a message: the record is the same for a seed.
func (ss *safeSide) scrub(msg string) string {
	return ethAddr.ReplaceAllStringFunc(msg, func(a string) string {
		addr := common.HexToAddress(a)
		switch addr {
		case ss.safe:
			return "the Safe"
		case ss.attacker:
			return "the attacker's contract"
		case ss.env.Singleton:
			return "the Safe singleton"
		case ss.env.MultiSendCallOnly:
			return "MultiSendCallOnly"
		}
		if who, ok := ss.names[addr]; ok {
			return who + "'s owner key"
		}
		return a
	})
}
