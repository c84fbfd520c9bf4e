package drill

import (
	"fmt"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/keys/enroll"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/vault"
	"gopkg.in/yaml.v3"
)

// extra is what the second slice's faults keep during a run.
type extra struct {
	qr QRStats
	// envs are the policy versions adopted, the genesis first.
	envs     []*envelope.Envelope
	versions []VersionChange
	// ids maps a policy version's id to its number.
	ids       map[[32]byte]uint64
	rotations []Rotation
	restores  []Restore
	backups   map[int]*backup
	// reserve are the recovery faults' reserve coins' funding
	// transactions (hex), by fault index; recoveries the attempts.
	reserve    map[int][]byte
	recoveries []RecoveryAttempt
}

// VersionChange is a policy version adopted during the run.
type VersionChange struct {
	Version uint64 `json:"version"`
	At      string `json:"at"`
	// InEffect is when it takes effect (a loosening change waits for the
	// previous version's change_delay).
	InEffect string   `json:"inEffect"`
	Why      string   `json:"why"`
	Changes  []string `json:"changes"`
	// Superseded are the proposals open when it was adopted; Stale those
	// of them it made stale (their vault's signers or threshold
	// changed), which every station and the coordinator then refuse.
	Superseded int `json:"superseded"`
	Stale      int `json:"stale"`
}

// Rotation is a revocation and rotation after a key loss or compromise.
type Rotation struct {
	Person      string `json:"person"`
	Replacement string `json:"replacement"`
	Fault       string `json:"fault"`
	LostAt      string `json:"lostAt"`
	RotatedAt   string `json:"rotatedAt"`
	Version     uint64 `json:"version"`
	// RestoredAt is when the first proposal made under the rotated
	// version (or a later one) was finalized; TimeToRestore, from the
	// loss to then, in seconds (0 and RestoredAt empty: not within the
	// run).
	RestoredAt    string `json:"restoredAt,omitempty"`
	TimeToRestore int64  `json:"timeToRestoreSeconds"`
	// OnChainAt, on a Safe, is when the owner rotation executed on chain
	// (empty: not within the run); quorum is restored only then.
	OnChainAt string `json:"onChainAt,omitempty"`

	lost, rotated time.Time
	// prop is the Safe's owner rotation proposal (safe_rotation.go).
	prop *Prop
}

// versionOf is the number of the policy version with id polID.
func (s *sim) versionOf(polID []byte) uint64 {
	if s.ext.ids == nil {
		s.ext.ids = map[[32]byte]uint64{}
		for _, e := range s.ext.envs {
			p, err := policy.Open(e)
			if err != nil {
				continue
			}
			if id, err := policy.ID(p); err == nil {
				s.ext.ids[id] = p.Version
			}
		}
	}
	if len(polID) != 32 {
		return 0
	}
	return s.ext.ids[[32]byte(polID)]
}

// planExtra schedules what the second slice's faults need besides their
// own event: a backup before a restore, a rotation after a loss.
func (s *sim) planExtra() {
	s.ext.backups = map[int]*backup{}
	s.fundReserve()
	for i, f := range s.sc.Faults {
		at := s.m.start.Add(f.At.D())
		switch {
		case f.Kind == DatabaseRestored:
			s.at(at.Add(-f.From.D()), func() { s.takeBackup(i) })
		case f.Kind == RecoveryTry:
			s.at(at, func() { s.recoveryTry(i, f) })
		case f.Rotate > 0:
			s.at(at.Add(f.Rotate.D()), func() { s.rotate(f, at) })
		}
	}
}

// faultExtra injects the second slice's faults.
func (s *sim) faultExtra(f Fault) {
	switch f.Kind {
	case DatabaseRestored:
		for i := range s.sc.Faults {
			g := s.sc.Faults[i]
			if g.Kind == DatabaseRestored && g.At == f.At && g.From == f.From {
				s.restore(i)
				return
			}
		}
	case QRDropped:
		s.log("qr-dropped", "", nil, "QR frames carried from now on: %.0f%% of frames missed (%s)", f.Rate*100, f.Format)
	case PolicyChange:
		s.policyChange(f)
	case RecoveryTry:
		// Scheduled by planExtra with its reserve coin.
	}
}

// adopt makes the version after the one in effect from edit, has the
// honest people in signers sign it (policy_threshold of them are needed),
// and every workspace still in use import it, as "policy propose",
// "policy sign" and "policy import" do.
func (s *sim) adopt(why string, signers []string, edit func(*policy.File) error) (*VersionChange, error) {
	c := s.q.Coord
	cur, _, err := c.WS.Policy(quorum.Reg)
	if err != nil {
		return nil, err
	}
	f := policy.ToFile(cur)
	if err := edit(f); err != nil {
		return nil, err
	}
	next, changes, err := policy.Next(cur, f, quorum.Reg, s.now(), time.Time{})
	if err != nil {
		return nil, err
	}
	env, err := policy.Seal(next)
	if err != nil {
		return nil, err
	}
	for _, who := range signers {
		if err := env.Sign(s.q.Stations[who].Keys.Identity); err != nil {
			return nil, err
		}
	}
	if _, err := c.WS.ImportPolicy(env, quorum.Reg); err != nil {
		return nil, fmt.Errorf("the coordinator importing version %d: %w", next.Version, err)
	}
	for _, who := range s.people {
		if s.m.lostAt(who, s.now()) || s.compromised(who) {
			continue
		}
		if _, err := s.q.Stations[who].WS.ImportPolicy(env, quorum.Reg); err != nil {
			return nil, fmt.Errorf("%s importing version %d: %w", who, next.Version, err)
		}
	}
	s.ext.envs = append(s.ext.envs, env)
	if id, err := policy.ID(next); err == nil {
		s.versionOf(nil)
		s.ext.ids[id] = next.Version
	}
	vc := VersionChange{Version: next.Version, At: s.now().Format(time.RFC3339), InEffect: next.EffectiveAt().UTC().Format(time.RFC3339), Why: why, Changes: []string{}}
	for _, ch := range changes {
		// A descriptor holds the run's fresh keys: named, not shown.
		if i := strings.Index(ch.Text, "descriptor "); i >= 0 {
			ch.Text = ch.Text[:i] + "descriptor changed (new keys)"
		}
		vc.Changes = append(vc.Changes, s.scrub(ch.String()))
	}
	// The proposals it supersedes: open ones made under an older version;
	// those whose vault it changed are stale from now on.
	for _, p := range s.props {
		if p.Lost || p.Version >= next.Version {
			continue
		}
		switch s.state(p) {
		case "open", "approved":
			vc.Superseded++
			pe, err := envelope.Decode(p.Raw)
			if err != nil {
				return nil, err
			}
			pp, err := proposal.Decode(pe)
			if err != nil {
				return nil, err
			}
			cited, err := s.policyVersion(p.Version)
			if err != nil {
				return nil, err
			}
			if err := proposal.CheckStale(pp, cited, next); err != nil {
				vc.Stale++
				s.log("superseded", "", p, "stale under version %d: %v", next.Version, err)
			} else {
				s.log("superseded", "", p, "goes on under version %d's rules", next.Version)
			}
		}
	}
	if v, err := vault.Resolve(c.WS, quorum.Reg, "ops"); err == nil {
		s.vault = v
	} else {
		return nil, err
	}
	s.ext.versions = append(s.ext.versions, vc)
	s.log("policy-adopted", "", nil, "version %d (%s): %s", next.Version, why, strings.Join(vc.Changes, "; "))
	return &s.ext.versions[len(s.ext.versions)-1], nil
}

// policyVersion is version n of the chain adopted so far.
func (s *sim) policyVersion(n uint64) (*policy.Policy, error) {
	for _, e := range s.ext.envs {
		p, err := policy.Open(e)
		if err != nil {
			return nil, err
		}
		if p.Version == n {
			return p, nil
		}
	}
	return nil, fmt.Errorf("drill: no policy version %d", n)
}

// compromised says whether an attacker holds who's station by now.
func (s *sim) compromised(who string) bool {
	for _, f := range s.sc.Faults {
		if f.Kind == Compromised && f.Person == who && !s.now().Before(s.m.start.Add(f.At.D())) {
			return true
		}
	}
	return false
}

// honest are the people whose stations can sign a policy version now.
func (s *sim) honest() []string {
	var out []string
	for _, who := range s.people {
		if !s.m.lostAt(who, s.now()) && !s.compromised(who) && !s.revokedPerson(who) {
			out = append(out, who)
		}
	}
	return out
}

func (s *sim) revokedPerson(who string) bool {
	for _, r := range s.ext.rotations {
		if r.Person == who {
			return true
		}
	}
	return false
}

// policyChange adopts a new version mid-run: f.Rules replace the
// top-level fields they name, f.Threshold the threshold of vault ops.
func (s *sim) policyChange(f Fault) {
	why := "policy change"
	_, err := s.adopt(why, s.honest(), func(pf *policy.File) error {
		if f.Rules != "" {
			// Fields the rules name replace the version's; the rest stays.
			var named map[string]any
			if err := yaml.Unmarshal([]byte(f.Rules), &named); err != nil {
				return fmt.Errorf("drill: policy-change rules: %w", err)
			}
			for k := range named {
				switch k {
				case "transaction_rules":
					pf.TransactionRules = nil
				case "address_book":
					pf.AddressBook = nil
				case "groups":
					pf.Groups = nil
				case "templates":
					pf.Templates = nil
				case "assets":
					pf.Assets = nil
				}
			}
			if err := yaml.Unmarshal([]byte(f.Rules), pf); err != nil {
				return fmt.Errorf("drill: policy-change rules: %w", err)
			}
		}
		if f.Threshold > 0 {
			for i := range pf.Vaults {
				if pf.Vaults[i].Name == "ops" {
					pf.Vaults[i].Threshold = f.Threshold
					pf.Vaults[i].Descriptor = ""
				}
			}
		}
		return nil
	})
	if err != nil {
		s.log("policy-change-refused", "", nil, "%v", err)
		s.ext.versions = append(s.ext.versions, VersionChange{At: s.now().Format(time.RFC3339), Why: why + " refused: " + s.scrub(err.Error()), Changes: []string{}})
		return
	}
	if s.safe != nil {
		s.safeRotate(-1) // safe_rotation.go: a new threshold on chain too
	}
}

// rotate: after who's key was lost or compromised, the remaining signers
// adopt a version that revokes them and puts a replacement with a new
// station in their place. A compromised key's attacker then tries to hand
// in an approval with the revoked key: the coordinator must refuse it.
func (s *sim) rotate(f Fault, lostAt time.Time) {
	who, repl := f.Person, f.Replacement
	m, err := s.q.AddStation(repl)
	if err != nil {
		s.fail(err)
		return
	}
	var entry []policy.FileParticipant
	if err := yaml.Unmarshal([]byte(enroll.PolicyEntry(m.WS.Config)), &entry); err != nil || len(entry) != 1 {
		s.fail(fmt.Errorf("drill: the new station's policy entry: %v", err))
		return
	}
	if s.safe != nil { // safe_rotation.go: its owner key named in the record
		s.safe.name(repl, m.WS.Config.Ethereum)
	}
	signers := s.honest()
	reason := fmt.Sprintf("%s: station %s", f.Kind, who)
	vc, err := s.adopt("rotation: "+who+" revoked, "+repl+" in their place", signers, func(pf *policy.File) error {
		pf.Participants = append(append([]policy.FileParticipant(nil), pf.Participants...), entry[0])
		for i := range pf.Participants {
			if pf.Participants[i].ID == who {
				pf.Participants[i].Revoked = reason
			}
		}
		for i := range pf.Vaults {
			// ToFile shares its slices with the version in effect: edit a copy.
			pf.Vaults[i].Signers = append([]string(nil), pf.Vaults[i].Signers...)
			for j, ref := range pf.Vaults[i].Signers {
				if ref == who+"/keystore" {
					pf.Vaults[i].Signers[j] = repl + "/keystore"
					pf.Vaults[i].Descriptor = ""
				}
			}
		}
		return nil
	})
	rot := Rotation{Person: who, Replacement: repl, Fault: f.Kind, LostAt: lostAt.Format(time.RFC3339), RotatedAt: s.now().Format(time.RFC3339), lost: lostAt, rotated: s.now()}
	if err != nil {
		s.log("rotation-failed", who, nil, "%v", err)
		s.ext.rotations = append(s.ext.rotations, rot)
		return
	}
	rot.Version = vc.Version
	// The new station holds the chain from the genesis on.
	if _, err := m.WS.ImportPolicies(s.ext.envs, quorum.Reg); err != nil {
		s.fail(fmt.Errorf("%s importing the policy chain: %w", repl, err))
		return
	}
	s.ext.rotations = append(s.ext.rotations, rot)
	a := *s.m.actors[who]
	a.Person = repl
	s.m.actors[repl] = &a
	s.m.rotated[who] = rotation{by: repl, at: s.now()}
	s.people = append(s.people, repl)
	s.log("rotated", who, nil, "version %d revokes %s; %s signs in their place", vc.Version, who, repl)
	if s.safe != nil {
		s.safeRotate(len(s.ext.rotations) - 1) // safe_rotation.go: the owners on chain too
	}
	if f.Kind == Compromised {
		s.revokedTry(who)
	}
}

// revokedTry: the attacker still holding the revoked station signs the
// newest proposal made before the rotation with the stolen keys and hands
// the approval in. The coordinator must refuse it.
func (s *sim) revokedTry(who string) {
	// The newest proposal still open that the old key signed nothing on,
	// else the newest it could have signed.
	var target, open *Prop
	for _, p := range s.props {
		if !p.Lost && p.Decided[who].IsZero() && s.citesSigner(p, who) {
			target = p
			if st := s.state(p); st == "open" || st == "approved" {
				open = p
			}
		}
	}
	if open != nil {
		target = open
	}
	if target == nil {
		s.log("revoked-try-skipped", who, nil, "no proposal that %s's old key could sign", who)
		return
	}
	forge := s.forge
	if s.safe != nil {
		forge = s.forgeSafe
	}
	ae, err := forge(who, target)
	if err != nil {
		s.fail(err)
		return
	}
	raw, err := ae.Encode()
	if err != nil {
		s.fail(err)
		return
	}
	_, err = s.q.Coord.Collect(s.ctx, raw, nil)
	s.hist.Attempts = append(s.hist.Attempts, Attempt{What: "collect", By: who, Proposal: target.hex(), Late: !s.now().Before(target.Expires), Revoked: true, Accepted: err == nil})
	if err == nil {
		s.log("revoked-accepted", who, target, "an approval with the revoked key was taken in")
		return
	}
	s.log("revoked-refused", who, target, "%v", err)
}

// citesSigner says whether who signs for the vault in the version p cites.
func (s *sim) citesSigner(p *Prop, who string) bool {
	pol, err := s.policyVersion(p.Version)
	if err != nil {
		return false
	}
	v, ok := pol.Vault("ops")
	if !ok {
		return false
	}
	_, ok = pol.SignerFor(v, who)
	return ok
}

// guard notes a refusal by the station's double-sign guard (a conflict
// with a proposal it approved before).
func (s *sim) guard(who string, p *Prop, ref *station.Refusal) {
	for _, r := range ref.Reasons {
		if strings.Contains(r, "is already spent by approved proposal") {
			s.hist.Attempts = append(s.hist.Attempts, Attempt{What: "sign", By: who, Proposal: p.hex(), Conflict: true})
			if n := len(s.ext.restores); p.again && n > 0 {
				s.ext.restores[n-1].GuardHeld++
				s.log("guard-held", who, p, "the station approved the lost proposal of this coin: it refuses a second one")
			}
			return
		}
	}
}
