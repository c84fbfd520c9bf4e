// Package drill rehearses a quorum under faults on the real code: a
// deterministic discrete-event simulator drives the real coordinator,
// stations and policy engine (internal/quorum) on a simulated clock with
// seeded randomness, a checker judges the recorded history against the
// quorum's invariants, and a report gives the metrics as JSON and as a
// self-contained HTML page (docs/drills.md).
//
// The same scenario and seed give the same history, the same JSON and the
// same HTML, byte for byte: the report names proposals by their number in
// the run, never by ids or keys (the keys are fresh in every run).
package drill

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/airlock-vault/airlock/internal/quorum"
	"gopkg.in/yaml.v3"
)

// Bounds on a scenario.
const (
	MaxScenarioBytes = 64 << 10
	MaxPeople        = 9
	MaxFlows         = 16
	MaxFaults        = 64
	MaxDuration      = 366 * 24 * time.Hour
	MinEvery         = 10 * time.Minute
	MaxRuns          = 100_000
	// MaxProposals bounds the payments a scenario's workload makes.
	MaxProposals = 20_000
)

// Fault kinds.
const (
	KeyLost         = "key-lost"
	Compromised     = "compromised"
	Absent          = "absent"
	CoordinatorDown = "coordinator-down"
	MediaLost       = "media-lost"
	MediaReplayed   = "media-replayed"
	// MediaTampered: one byte of the next decision's medium changed on
	// the way back (carry: media; carry_media.go).
	MediaTampered = "media-tampered"
	// Second slice (faults_*.go).
	DatabaseRestored = "database-restored"
	QRDropped        = "qr-dropped"
	PolicyChange     = "policy-change"
	// RecoveryTry: the recovery signer spends a reserve coin through the
	// vault's time-locked recovery path (quorum.recovery).
	RecoveryTry = "recovery"
)

// Attack kinds a compromised station's attacker tries.
const (
	AttackOverLimit      = "over-limit"
	AttackUnknownAddress = "unknown-address"
	AttackDoubleSpend    = "double-spend"
	// AttackDelegatecall is the Bybit-style attack on a Safe (safe.go).
	AttackDelegatecall = "delegatecall"
)

// Flow kinds.
const (
	Routine = "routine"
	Urgent  = "urgent"
	Large   = "large"
)

// Duration is a YAML duration: Go's ("90m", "36h") or days ("3d", "1d12h").
type Duration time.Duration

// D is the duration as time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML reads a duration from a scalar.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration is a scalar such as 36h or 3d", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

var daysRE = regexp.MustCompile(`^([0-9]{1,4})d(.*)$`)

// ParseDuration parses a non-negative duration, with days ("3d", "2d12h")
// besides Go's units.
func ParseDuration(s string) (time.Duration, error) {
	var days time.Duration
	rest := s
	if m := daysRE.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		days, rest = time.Duration(n)*24*time.Hour, m[2]
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil {
			return 0, fmt.Errorf("duration %q: %v", s, err)
		}
	}
	if d < 0 || s == "" || days+d < 0 {
		return 0, fmt.Errorf("duration %q: want a non-negative duration such as 36h or 3d", s)
	}
	return days + d, nil
}

// Scenario is a drill: the quorum, its people, their payments and the
// faults injected, over a simulated period.
type Scenario struct {
	Name string `yaml:"name"`
	// Seed seeds every random draw (--seed overrides it).
	Seed uint64 `yaml:"seed"`
	// Start is the simulated clock's first reading (RFC 3339).
	Start    time.Time `yaml:"start"`
	Duration Duration  `yaml:"duration"`
	Quorum   Quorum    `yaml:"quorum"`
	Actors   []Actor   `yaml:"actors"`
	Workload []Flow    `yaml:"workload"`
	Faults   []Fault   `yaml:"faults"`
	Reach    Reach     `yaml:"reachability"`
	// Tabletop is the optional tabletop exercise (tabletop.go).
	Tabletop *Tabletop `yaml:"tabletop"`
	// Carry is how artifacts cross the air gap: "memory" (the default:
	// the bytes are handed over) or "media" (every proposal to a station
	// and every decision back is exported to a removable-media folder
	// with its signed manifest and imported from it, carry_media.go).
	Carry string `yaml:"carry"`
}

// Carry modes.
const (
	CarryMemory = "memory"
	CarryMedia  = "media"
)

// Quorum is the quorum under drill: one Bitcoin vault "ops", threshold
// of people, under the policy's rules.
type Quorum struct {
	People    []string `yaml:"people"`
	Threshold int      `yaml:"threshold"`
	// Rules is policy YAML (address_book, groups, transaction_rules...)
	// added at the policy's top level (docs/policy.md).
	Rules string `yaml:"rules"`
	// MaxLifetime is the policy's max_proposal_lifetime (default 72h).
	MaxLifetime Duration `yaml:"max_lifetime"`
	// Recovery gives vault ops a time-locked recovery path: Person (not
	// one of People; a station of their own) may spend alone a coin
	// AfterBlocks blocks deep (docs/recovery.md).
	Recovery *RecoveryPath `yaml:"recovery"`
	// Safe makes vault ops a Safe on go-ethereum's simulated chain
	// instead of a Bitcoin vault (safe.go).
	Safe *SafeSection `yaml:"safe"`
}

// RecoveryPath is a vault's recovery signer and lock.
type RecoveryPath struct {
	Person      string `yaml:"person"`
	AfterBlocks uint32 `yaml:"after_blocks"`
}

// Actor is how one person behaves.
type Actor struct {
	Person string `yaml:"person"`
	// Latency is the time from a proposal reaching the person to their
	// decision, lognormal by its median and 95th percentile.
	Latency Latency `yaml:"latency"`
	// AwayPerDay is the probability the person is away on a given day.
	AwayPerDay float64 `yaml:"away_per_day"`
	// Hours are the person's working hours; unset: any time.
	Hours *Hours `yaml:"hours"`
}

// Latency is a lognormal distribution by its median and 95th percentile.
type Latency struct {
	P50 Duration `yaml:"p50"`
	P95 Duration `yaml:"p95"`
}

// Hours are working hours in a time zone.
type Hours struct {
	From     string `yaml:"from"`  // "09:00"
	Until    string `yaml:"until"` // "18:00", after From
	Zone     string `yaml:"zone"`  // IANA, e.g. "Europe/Zurich"
	Weekends bool   `yaml:"weekends"`

	loc         *time.Location
	from, until int // minutes after midnight
}

// Flow is a recurring payment.
type Flow struct {
	Kind  string   `yaml:"kind"` // routine, urgent, large
	Every Duration `yaml:"every"`
	// Amount in BTC ("0.05").
	Amount string `yaml:"amount"`
	// To is a regtest address; empty: a fixed address outside the vault.
	To string `yaml:"to"`
	// Lifetime of each proposal (default: the policy's maximum).
	Lifetime Duration `yaml:"lifetime"`
	// Template names one of the policy's templates (quorum.rules): each
	// payment is proposed under it ("airlock propose --template"), needs
	// what the template requires, and counts against its rate; one the
	// template does not cover is refused by the coordinator (denied).
	Template string `yaml:"template"`

	sats int64
}

// Fault is an injected failure.
type Fault struct {
	Kind string `yaml:"kind"`
	// At is the offset from the scenario's start.
	At Duration `yaml:"at"`
	// For is how long an absence or an outage lasts.
	For    Duration `yaml:"for"`
	Person string   `yaml:"person"`
	// Attacks a compromised station's attacker tries (default all):
	// over-limit, unknown-address, double-spend.
	Attacks []string `yaml:"attacks"`
	// Amount (BTC) of the over-limit attack; To, the attacker's address.
	Amount string `yaml:"amount"`
	To     string `yaml:"to"`
	// Reexport is how long a lost approval takes to be exported again
	// (media-lost and media-tampered; default 4h, then the person's next
	// available time).
	Reexport Duration `yaml:"reexport"`
	// Part and Toward, on media-tampered: what is changed on the medium,
	// one byte of the artifact (default) or of its manifest, and on which
	// way: a decision carried back to the coordinator (default) or a
	// proposal carried to a station.
	Part   string `yaml:"part"`
	Toward string `yaml:"toward"`
	// Rotate, on key-lost or compromised: the remaining signers adopt a
	// policy version that revokes the person and puts Replacement (a new
	// participant with a new station; default PERSON-2) in their place,
	// this long after the loss.
	Rotate      Duration `yaml:"rotate"`
	Replacement string   `yaml:"replacement"`
	// From, on database-restored: how long before At the backup put
	// back was taken.
	From Duration `yaml:"from"`
	// Rate, Format and Fragment, on qr-dropped: the share of QR frames
	// lost (0..0.9), the frames' encoding (ur, default, or bbqr) and the
	// UR fragment length in bytes (default 120).
	Rate     float64 `yaml:"rate"`
	Format   string  `yaml:"format"`
	Fragment int     `yaml:"fragment"`
	// Rules and Threshold, on policy-change: policy YAML whose top-level
	// fields replace the version in effect's (transaction_rules,
	// address_book, groups...), and a new threshold for vault ops.
	Rules     string `yaml:"rules"`
	Threshold int    `yaml:"threshold"`

	sats int64
}

// Reach asks for the probability that the quorum is reachable within a
// deadline, by Monte Carlo over the actors' model.
type Reach struct {
	Runs     int      `yaml:"runs"`
	Deadline Duration `yaml:"deadline"`
}

// Defaults of a scenario.
const (
	DefaultAttacker = "bcrt1qamhwamhwamhwamhwamhwamhwamhwamhwne2caj"
	defaultOverBTC  = "0.9"
)

var idRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// ParseScenario reads a scenario strictly: an unknown field, a second
// document, a malformed or out-of-range value is refused.
func ParseScenario(b []byte) (*Scenario, error) {
	if len(b) > MaxScenarioBytes {
		return nil, fmt.Errorf("drill: scenario of %d bytes, over %d", len(b), MaxScenarioBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var sc Scenario
	if err := dec.Decode(&sc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("drill: empty scenario")
		}
		return nil, fmt.Errorf("drill: scenario: %v", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("drill: scenario: one YAML document, not several")
	}
	if err := sc.check(); err != nil {
		return nil, err
	}
	if err := sc.checkTabletop(); err != nil {
		return nil, err
	}
	return &sc, nil
}

func fieldf(path, format string, args ...any) error {
	return fmt.Errorf("drill: scenario: %s: %s", path, fmt.Sprintf(format, args...))
}

// check validates the scenario and fills its defaults.
func (sc *Scenario) check() error {
	if len(sc.Name) > 128 {
		return fieldf("name", "longer than 128 bytes")
	}
	if sc.Start.IsZero() {
		sc.Start = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	}
	if sc.Start.Year() < 2000 || sc.Start.Year() > 2200 {
		return fieldf("start", "%v: out of range 2000..2200", sc.Start)
	}
	sc.Start = sc.Start.UTC().Truncate(time.Second)
	switch sc.Carry {
	case "":
		sc.Carry = CarryMemory
	case CarryMemory, CarryMedia:
	default:
		return fieldf("carry", "%q: want memory or media", sc.Carry)
	}
	if sc.Duration <= 0 {
		return fieldf("duration", "required, e.g. 30d")
	}
	if sc.Duration.D() > MaxDuration {
		return fieldf("duration", "%v over %v", sc.Duration.D(), MaxDuration)
	}
	q := &sc.Quorum
	if len(q.People) == 0 {
		q.People = []string{"alice", "bob", "carol"}
	}
	if len(q.People) < 2 || len(q.People) > MaxPeople {
		return fieldf("quorum.people", "%d people, want 2..%d", len(q.People), MaxPeople)
	}
	seen := map[string]bool{}
	for _, p := range q.People {
		if !idRE.MatchString(p) || p == "coord" {
			return fieldf("quorum.people", "%q: want a lower-case id (a-z, 0-9, -), not coord", p)
		}
		if seen[p] {
			return fieldf("quorum.people", "%q twice", p)
		}
		seen[p] = true
	}
	if q.Threshold == 0 {
		q.Threshold = 2
	}
	if q.Threshold < 1 || q.Threshold > len(q.People) {
		return fieldf("quorum.threshold", "%d of %d people", q.Threshold, len(q.People))
	}
	if len(q.Rules) > 16<<10 {
		return fieldf("quorum.rules", "over 16 KiB")
	}
	if q.MaxLifetime == 0 {
		q.MaxLifetime = Duration(72 * time.Hour)
	}
	if q.MaxLifetime.D() < time.Hour || q.MaxLifetime.D() > 90*24*time.Hour {
		return fieldf("quorum.max_lifetime", "%v outside 1h..90d", q.MaxLifetime.D())
	}
	if r := q.Recovery; r != nil {
		if !idRE.MatchString(r.Person) || seen[r.Person] || r.Person == "coord" {
			return fieldf("quorum.recovery.person", "%q: want a lower-case id that is not one of quorum.people", r.Person)
		}
		if r.AfterBlocks < 1 || r.AfterBlocks > 65535 {
			return fieldf("quorum.recovery.after_blocks", "%d outside 1..65535", r.AfterBlocks)
		}
		if len(q.People)+1 > MaxPeople {
			return fieldf("quorum.recovery.person", "%d people with the recovery signer, over %d", len(q.People)+1, MaxPeople)
		}
	}
	acted := map[string]bool{}
	for i := range sc.Actors {
		a := &sc.Actors[i]
		path := fmt.Sprintf("actors[%d]", i)
		if !seen[a.Person] {
			return fieldf(path+".person", "%q is not one of quorum.people", a.Person)
		}
		if acted[a.Person] {
			return fieldf(path+".person", "%q described twice", a.Person)
		}
		acted[a.Person] = true
		if err := a.Latency.check(path + ".latency"); err != nil {
			return err
		}
		if !(a.AwayPerDay >= 0 && a.AwayPerDay <= 1) {
			return fieldf(path+".away_per_day", "%v outside 0..1", a.AwayPerDay)
		}
		if a.Hours != nil {
			if err := a.Hours.check(path + ".hours"); err != nil {
				return err
			}
		}
	}
	// People without an actor: a default one.
	for _, p := range q.People {
		if !acted[p] {
			sc.Actors = append(sc.Actors, Actor{Person: p})
			a := &sc.Actors[len(sc.Actors)-1]
			if err := a.Latency.check(""); err != nil {
				return err
			}
		}
	}
	if len(sc.Workload) > MaxFlows {
		return fieldf("workload", "%d flows, over %d", len(sc.Workload), MaxFlows)
	}
	total := 0
	for i := range sc.Workload {
		f := &sc.Workload[i]
		path := fmt.Sprintf("workload[%d]", i)
		switch f.Kind {
		case Routine, Urgent, Large:
		default:
			return fieldf(path+".kind", "%q: want routine, urgent or large", f.Kind)
		}
		if f.Every.D() < MinEvery {
			return fieldf(path+".every", "%v: at least %v", f.Every.D(), MinEvery)
		}
		total += int(sc.Duration.D() / f.Every.D())
		var err error
		if f.sats, err = ParseBTC(f.Amount); err != nil {
			return fieldf(path+".amount", "%v", err)
		}
		if f.sats > 99_000_000 {
			return fieldf(path+".amount", "%s BTC: a rehearsal coin holds 1 BTC; at most 0.99", f.Amount)
		}
		if len(f.To) > 100 {
			return fieldf(path+".to", "too long")
		}
		if len(f.Template) > 64 {
			return fieldf(path+".template", "too long")
		}
		if f.Template != "" && f.Kind == Urgent {
			return fieldf(path+".template", "an urgent payment takes the emergency path, not a template")
		}
		if f.Lifetime.D() > q.MaxLifetime.D() || (f.Lifetime != 0 && f.Lifetime.D() < time.Minute) {
			return fieldf(path+".lifetime", "%v outside 1m..quorum.max_lifetime (%v)", f.Lifetime.D(), q.MaxLifetime.D())
		}
	}
	if total > MaxProposals {
		return fieldf("workload", "%d payments over the scenario, over %d", total, MaxProposals)
	}
	if len(sc.Faults) > MaxFaults {
		return fieldf("faults", "%d faults, over %d", len(sc.Faults), MaxFaults)
	}
	for i := range sc.Faults {
		f := &sc.Faults[i]
		path := fmt.Sprintf("faults[%d]", i)
		if f.At.D() > sc.Duration.D() {
			return fieldf(path+".at", "%v is after the scenario's end (%v)", f.At.D(), sc.Duration.D())
		}
		needPerson, needFor, mayFor := false, false, false
		switch f.Kind {
		case KeyLost, Compromised:
			needPerson = true
		case Absent:
			needPerson, needFor = true, true
		case CoordinatorDown:
			needFor = true
		case MediaLost, MediaReplayed, PolicyChange:
		case MediaTampered:
			if sc.Carry != CarryMedia {
				return fieldf(path+".kind", "media-tampered needs carry: media (in memory there is no medium to tamper with)")
			}
			if f.Part == "" {
				f.Part = "artifact"
			}
			if f.Part != "artifact" && f.Part != "manifest" {
				return fieldf(path+".part", "%q: want artifact or manifest", f.Part)
			}
			if f.Toward == "" {
				f.Toward = "coordinator"
			}
			if f.Toward != "coordinator" && f.Toward != "station" {
				return fieldf(path+".toward", "%q: want coordinator or station", f.Toward)
			}
		case RecoveryTry:
			if q.Recovery == nil {
				return fieldf(path+".kind", "recovery needs quorum.recovery")
			}
			if f.Amount == "" {
				f.Amount = "0.1"
			}
			var err error
			if f.sats, err = ParseBTC(f.Amount); err != nil {
				return fieldf(path+".amount", "%v", err)
			}
			if f.sats > 99_000_000 {
				return fieldf(path+".amount", "%s BTC: at most 0.99", f.Amount)
			}
			if len(f.To) > 100 {
				return fieldf(path+".to", "too long")
			}
		case DatabaseRestored:
			if f.From <= 0 || f.From.D() > f.At.D() {
				return fieldf(path+".from", "want a duration in 1s..at (%v): the backup is taken during the run", f.At.D())
			}
		case QRDropped:
			if !(f.Rate > 0 && f.Rate <= 0.9) {
				return fieldf(path+".rate", "%v outside (0, 0.9]", f.Rate)
			}
			if f.Format == "" {
				f.Format = "ur"
			}
			if f.Format != "ur" && f.Format != "bbqr" {
				return fieldf(path+".format", "%q: want ur or bbqr", f.Format)
			}
			if f.Fragment == 0 {
				f.Fragment = 120
			}
			if f.Fragment < 20 || f.Fragment > 1000 {
				return fieldf(path+".fragment", "%d outside 20..1000 bytes", f.Fragment)
			}
		default:
			return fieldf(path+".kind", "%q: want key-lost, compromised, absent, coordinator-down, media-lost, media-replayed, media-tampered, database-restored, qr-dropped, policy-change or recovery", f.Kind)
		}
		if sc.Carry == CarryMedia && f.Kind == QRDropped {
			return fieldf(path+".kind", "%s does not combine with carry: media yet (docs/drills.md)", f.Kind)
		}
		if f.Kind != MediaTampered && (f.Part != "" || f.Toward != "") {
			return fieldf(path, "part and toward are for media-tampered")
		}
		if f.Kind != DatabaseRestored && f.From != 0 {
			return fieldf(path+".from", "for database-restored only")
		}
		if f.Kind != QRDropped && (f.Rate != 0 || f.Format != "" || f.Fragment != 0) {
			return fieldf(path, "rate, format and fragment are for qr-dropped")
		}
		if f.Kind == PolicyChange {
			if f.Rules == "" && f.Threshold == 0 {
				return fieldf(path, "policy-change needs rules or threshold")
			}
			if len(f.Rules) > 16<<10 {
				return fieldf(path+".rules", "over 16 KiB")
			}
			if f.Threshold < 0 || f.Threshold > len(q.People) {
				return fieldf(path+".threshold", "%d of %d people", f.Threshold, len(q.People))
			}
		} else if f.Rules != "" || f.Threshold != 0 {
			return fieldf(path, "rules and threshold are for policy-change")
		}
		if f.Kind != KeyLost && f.Kind != Compromised && (f.Rotate != 0 || f.Replacement != "") {
			return fieldf(path, "rotate and replacement are for key-lost and compromised")
		}
		if f.Replacement != "" && f.Rotate == 0 {
			return fieldf(path+".replacement", "needs rotate")
		}
		if f.Rotate != 0 {
			if f.Replacement == "" {
				f.Replacement = f.Person + "-2"
			}
			if !idRE.MatchString(f.Replacement) || seen[f.Replacement] || f.Replacement == "coord" {
				return fieldf(path+".replacement", "%q: want a new lower-case id, not one of quorum.people", f.Replacement)
			}
			seen[f.Replacement] = true
			if f.Rotate.D() > MaxDuration {
				return fieldf(path+".rotate", "over %v", MaxDuration)
			}
		}
		if needPerson && !seen[f.Person] {
			return fieldf(path+".person", "%q is not one of quorum.people", f.Person)
		}
		if !needPerson && f.Person != "" && !seen[f.Person] {
			return fieldf(path+".person", "%q is not one of quorum.people", f.Person)
		}
		if needFor && f.For <= 0 {
			return fieldf(path+".for", "required for %s", f.Kind)
		}
		if f.Kind == QRDropped {
			mayFor = true
		}
		if !needFor && !mayFor && f.For != 0 {
			return fieldf(path+".for", "%s takes no duration", f.Kind)
		}
		if f.For.D() > MaxDuration {
			return fieldf(path+".for", "over %v", MaxDuration)
		}
		if f.Kind != Compromised && len(f.Attacks) > 0 {
			return fieldf(path, "attacks are for a compromised station")
		}
		if f.Kind != Compromised && f.Kind != RecoveryTry && (f.Amount != "" || f.To != "") {
			return fieldf(path, "amount and to are for a compromised station or a recovery")
		}
		if f.Kind != MediaLost && f.Kind != MediaTampered && f.Reexport != 0 {
			return fieldf(path+".reexport", "for media-lost and media-tampered only")
		}
		if (f.Kind == MediaLost || f.Kind == MediaTampered) && f.Reexport == 0 {
			f.Reexport = Duration(4 * time.Hour)
		}
		if f.Reexport.D() > 30*24*time.Hour {
			return fieldf(path+".reexport", "over 30d")
		}
		if f.Kind == Compromised {
			if len(f.Attacks) == 0 {
				f.Attacks = []string{AttackOverLimit, AttackUnknownAddress, AttackDoubleSpend}
			}
			if len(f.Attacks) > 8 {
				return fieldf(path+".attacks", "at most 8")
			}
			for _, a := range f.Attacks {
				switch a {
				case AttackOverLimit, AttackUnknownAddress, AttackDoubleSpend, AttackDelegatecall:
				default:
					return fieldf(path+".attacks", "%q: want over-limit, unknown-address, double-spend or delegatecall", a)
				}
			}
			if f.Amount == "" {
				f.Amount = defaultOverBTC
			}
			var err error
			if f.sats, err = ParseBTC(f.Amount); err != nil {
				return fieldf(path+".amount", "%v", err)
			}
			if f.sats > 99_000_000 {
				return fieldf(path+".amount", "%s BTC: at most 0.99", f.Amount)
			}
			if f.To == "" {
				f.To = DefaultAttacker
			}
			if len(f.To) > 100 {
				return fieldf(path+".to", "too long")
			}
		}
	}
	if sc.Reach.Runs == 0 {
		sc.Reach.Runs = 2000
	}
	if sc.Reach.Runs < 1 || sc.Reach.Runs > MaxRuns {
		return fieldf("reachability.runs", "%d outside 1..%d", sc.Reach.Runs, MaxRuns)
	}
	if sc.Reach.Deadline == 0 {
		sc.Reach.Deadline = Duration(24 * time.Hour)
	}
	if sc.Reach.Deadline.D() > MaxDuration {
		return fieldf("reachability.deadline", "over %v", MaxDuration)
	}
	return sc.checkSafe() // safe.go
}

func (l *Latency) check(path string) error {
	if l.P50 == 0 {
		l.P50 = Duration(time.Hour)
	}
	if l.P95 == 0 {
		l.P95 = Duration(8 * l.P50.D())
	}
	if l.P50.D() < time.Second || l.P50.D() > 30*24*time.Hour {
		return fieldf(path+".p50", "%v outside 1s..30d", l.P50.D())
	}
	if l.P95 < l.P50 || l.P95.D() > 90*24*time.Hour {
		return fieldf(path+".p95", "%v: want p50..90d", l.P95.D())
	}
	return nil
}

func (h *Hours) check(path string) error {
	var err error
	if h.from, err = clock(h.From); err != nil {
		return fieldf(path+".from", "%v", err)
	}
	if h.until, err = clock(h.Until); err != nil {
		return fieldf(path+".until", "%v", err)
	}
	if h.until <= h.from {
		return fieldf(path+".until", "%s is not after %s", h.Until, h.From)
	}
	if h.Zone == "" {
		h.Zone = "UTC"
	}
	if h.Zone == "Local" {
		return fieldf(path+".zone", "name an IANA zone, not Local")
	}
	if h.loc, err = time.LoadLocation(h.Zone); err != nil {
		return fieldf(path+".zone", "%q: no such time zone", h.Zone)
	}
	return nil
}

// clock parses "HH:MM" into minutes after midnight (24:00 allowed).
func clock(s string) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || len(hh) != 2 || len(mm) != 2 || h < 0 || m < 0 || m > 59 || h*60+m > 24*60 {
		return 0, fmt.Errorf("%q: want HH:MM", s)
	}
	return h*60 + m, nil
}

// ParseBTC parses a positive BTC amount with at most 8 decimals into
// satoshi.
func ParseBTC(s string) (int64, error) {
	if s == "" || len(s) > 20 || strings.ContainsAny(s, "eE+-_ /") {
		return 0, fmt.Errorf("%q: want an amount in BTC such as 0.05", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("%q: want an amount in BTC such as 0.05", s)
	}
	r.Mul(r, big.NewRat(100_000_000, 1))
	if !r.IsInt() || r.Sign() <= 0 || !r.Num().IsInt64() {
		return 0, fmt.Errorf("%q: want a positive amount with at most 8 decimals", s)
	}
	return r.Num().Int64(), nil
}

// templatesKnown refuses a flow naming a template the genesis policy
// does not have: every one of its payments would be denied, and the
// drill would rehearse a typo.
func templatesKnown(sc *Scenario, q *quorum.Quorum) error {
	pol, _, err := q.Coord.WS.Policy(quorum.Reg)
	if err != nil {
		return err
	}
	for i, f := range sc.Workload {
		if f.Template == "" {
			continue
		}
		if _, ok := pol.Template(f.Template); !ok {
			return fieldf(fmt.Sprintf("workload[%d].template", i), "%q: the policy (quorum.rules) has no such template", f.Template)
		}
	}
	return nil
}
