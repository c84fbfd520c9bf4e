package drill

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/keys/unlock"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/vault"
	"github.com/airlock-vault/airlock/workspace"
)

// Tabletop is a scenario's optional "tabletop:" section: a discussion-
// based exercise in the CISA/HSEEP format. The team is walked through
// modules; each injects a situation, asks the facilitator's questions, and
// lists the tasks the team must perform with the real commands in drill
// workspaces. What they did is read back from the workspaces' audit logs
// and policies, and the after-action report rates each capability.
type Tabletop struct {
	Title        string       `yaml:"title"`
	Objectives   []string     `yaml:"objectives"`
	Capabilities []Capability `yaml:"capabilities"`
	Modules      []Module     `yaml:"modules"`
}

// Capability is what the exercise evaluates (HSEEP's core capability, in
// the treasury's words).
type Capability struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
}

// Module is one step of the exercise.
type Module struct {
	Name string `yaml:"name"`
	// Inject is the situation told to the team.
	Inject string `yaml:"inject"`
	// Setup is what the tool prepares in the drill workspaces before the
	// inject: proposals to act on, a station gone.
	Setup []Setup `yaml:"setup"`
	// Questions are the facilitator's, answered by the team.
	Questions []string `yaml:"questions"`
	// Commands are shown to the team, run in the drill folder; {dir} is
	// the drill folder, {today} the exercise's date (UTC).
	Commands []string `yaml:"commands"`
	// Tasks are what the team must do, each checked on the workspaces.
	Tasks []Task `yaml:"tasks"`
}

// Setup kinds.
const (
	SetupPropose        = "propose"
	SetupStationMissing = "station-missing"
)

// Setup prepares the situation of a module.
type Setup struct {
	Kind string `yaml:"kind"`
	// propose: the coordinator proposes Amount BTC to To (a rehearsal
	// coin), written to LABEL.proposal in the drill folder; Force makes
	// it even when the coordinator's own review blocks it, as a
	// compromised coordinator would.
	Label    string   `yaml:"label"`
	Amount   string   `yaml:"amount"`
	To       string   `yaml:"to"`
	Force    bool     `yaml:"force"`
	Intent   string   `yaml:"intent"`
	Lifetime Duration `yaml:"lifetime"`
	// station-missing: the person's station folder is taken away (moved
	// under .missing/), as a lost or stolen device.
	Person string `yaml:"person"`

	sats int64
}

// Check kinds: what a task's check reads.
const (
	// CheckRejected: station By signed a rejection of Proposal.
	CheckRejected = "rejected"
	// CheckApproved: station By approved Proposal.
	CheckApproved = "approved"
	// CheckCollected: the coordinator took in By's decision on Proposal.
	CheckCollected = "collected"
	// CheckFinalized: the coordinator finalized Proposal.
	CheckFinalized = "finalized"
	// CheckNotFinalized: the coordinator did not finalize Proposal. A
	// guard, not a task: it is not counted as done, but when it fails
	// (what had to be prevented happened) the capability is rated U.
	CheckNotFinalized = "not-finalized"
	// CheckWithdrawn: the coordinator withdrew Proposal.
	CheckWithdrawn = "withdrawn"
	// CheckRevoked: Person is revoked (the participant, or every device
	// of theirs) in the policy in effect at every workspace of At.
	CheckRevoked = "revoked"
	// CheckEvidenceExported: the coordinator wrote an evidence bundle
	// for an auditor ("airlock audit export") since the inject.
	CheckEvidenceExported = "evidence-exported"
)

// Task is one thing the team must do, and how it is checked.
type Task struct {
	Capability string `yaml:"capability"`
	// Do says it in words.
	Do    string `yaml:"do"`
	Check string `yaml:"check"`
	// Proposal is a setup's label.
	Proposal string `yaml:"proposal"`
	// By is a workspace: a person's station, or coord.
	By     string `yaml:"by"`
	Person string `yaml:"person"`
	// At are the workspaces a revocation must be in effect at (default
	// coord).
	At []string `yaml:"at"`
	// Within, when set, is how soon after the inject it must be done; a
	// task done later counts as done late.
	Within Duration `yaml:"within"`
}

// checkTabletop validates the optional tabletop section against the
// scenario's people.
func (sc *Scenario) checkTabletop() error {
	tt := sc.Tabletop
	if tt == nil {
		return nil
	}
	if len(tt.Title) > 200 {
		return fieldf("tabletop.title", "longer than 200 bytes")
	}
	people := map[string]bool{"coord": true}
	for _, p := range sc.Quorum.People {
		people[p] = true
	}
	if len(tt.Capabilities) == 0 || len(tt.Capabilities) > 32 {
		return fieldf("tabletop.capabilities", "%d capabilities, want 1..32", len(tt.Capabilities))
	}
	caps := map[string]bool{}
	for i, c := range tt.Capabilities {
		path := fmt.Sprintf("tabletop.capabilities[%d]", i)
		if !idRE.MatchString(c.ID) || caps[c.ID] {
			return fieldf(path+".id", "%q: want a new lower-case id", c.ID)
		}
		if c.Name == "" || len(c.Name) > 200 {
			return fieldf(path+".name", "required, at most 200 bytes")
		}
		caps[c.ID] = true
	}
	if len(tt.Modules) == 0 || len(tt.Modules) > 16 {
		return fieldf("tabletop.modules", "%d modules, want 1..16", len(tt.Modules))
	}
	labels := map[string]bool{}
	missing := map[string]bool{}
	tested := map[string]bool{}
	for i := range tt.Modules {
		m := &tt.Modules[i]
		path := fmt.Sprintf("tabletop.modules[%d]", i)
		if m.Name == "" || len(m.Name) > 200 {
			return fieldf(path+".name", "required, at most 200 bytes")
		}
		if m.Inject == "" || len(m.Inject) > 4096 {
			return fieldf(path+".inject", "required, at most 4 KiB")
		}
		if len(m.Questions) > 16 || len(m.Commands) > 32 || len(m.Tasks) > 32 || len(m.Setup) > 8 {
			return fieldf(path, "at most 16 questions, 32 commands, 32 tasks and 8 setups")
		}
		for j := range m.Setup {
			s := &m.Setup[j]
			sp := fmt.Sprintf("%s.setup[%d]", path, j)
			switch s.Kind {
			case SetupPropose:
				if !idRE.MatchString(s.Label) || labels[s.Label] {
					return fieldf(sp+".label", "%q: want a new lower-case label", s.Label)
				}
				labels[s.Label] = true
				var err error
				if s.sats, err = ParseBTC(s.Amount); err != nil {
					return fieldf(sp+".amount", "%v", err)
				}
				if s.sats > 99_000_000 {
					return fieldf(sp+".amount", "%s BTC: a rehearsal coin holds 1 BTC; at most 0.99", s.Amount)
				}
				if len(s.To) > 100 || len(s.Intent) > 200 {
					return fieldf(sp, "to or intent too long")
				}
				if s.Lifetime.D() > sc.Quorum.MaxLifetime.D() {
					return fieldf(sp+".lifetime", "over quorum.max_lifetime")
				}
				if s.Person != "" {
					return fieldf(sp+".person", "for station-missing only")
				}
			case SetupStationMissing:
				if !people[s.Person] || s.Person == "coord" || missing[s.Person] {
					return fieldf(sp+".person", "%q: want a station of quorum.people, once", s.Person)
				}
				missing[s.Person] = true
				if s.Label != "" || s.Amount != "" || s.To != "" || s.Force || s.Intent != "" || s.Lifetime != 0 {
					return fieldf(sp, "station-missing takes only person")
				}
			default:
				return fieldf(sp+".kind", "%q: want propose or station-missing", s.Kind)
			}
		}
		for j, q := range m.Questions {
			if q == "" || len(q) > 1024 {
				return fieldf(fmt.Sprintf("%s.questions[%d]", path, j), "empty or over 1 KiB")
			}
		}
		for j, c := range m.Commands {
			if !strings.HasPrefix(c, "airlock ") || len(c) > 1024 {
				return fieldf(fmt.Sprintf("%s.commands[%d]", path, j), "want an airlock command")
			}
		}
		for j := range m.Tasks {
			t := &m.Tasks[j]
			tp := fmt.Sprintf("%s.tasks[%d]", path, j)
			if !caps[t.Capability] {
				return fieldf(tp+".capability", "%q is not one of tabletop.capabilities", t.Capability)
			}
			if t.Check != CheckNotFinalized {
				tested[t.Capability] = true
			}
			if t.Do == "" || len(t.Do) > 512 {
				return fieldf(tp+".do", "required, at most 512 bytes")
			}
			needProp, needBy, needPerson := false, false, false
			switch t.Check {
			case CheckRejected, CheckApproved, CheckCollected:
				needProp, needBy = true, true
			case CheckFinalized, CheckNotFinalized, CheckWithdrawn:
				needProp = true
			case CheckRevoked:
				needPerson = true
			case CheckEvidenceExported:
			default:
				return fieldf(tp+".check", "%q: want rejected, approved, collected, finalized, not-finalized, withdrawn, revoked or evidence-exported", t.Check)
			}
			if needProp != (t.Proposal != "") {
				return fieldf(tp+".proposal", "%s check: proposal is %s", t.Check, map[bool]string{true: "required", false: "not taken"}[needProp])
			}
			if needProp && !labels[t.Proposal] {
				return fieldf(tp+".proposal", "%q is no earlier propose setup's label", t.Proposal)
			}
			if needBy != (t.By != "") || (needBy && !people[t.By]) {
				return fieldf(tp+".by", "%s check: %q: want a station of quorum.people or coord", t.Check, t.By)
			}
			if (t.Check == CheckRejected || t.Check == CheckApproved) && t.By == "coord" {
				return fieldf(tp+".by", "a decision is a station's, not coord's")
			}
			if needPerson != (t.Person != "") || (needPerson && (!people[t.Person] || t.Person == "coord")) {
				return fieldf(tp+".person", "%s check: %q: want a person of quorum.people", t.Check, t.Person)
			}
			if t.Check != CheckRevoked && len(t.At) > 0 {
				return fieldf(tp+".at", "for revoked only")
			}
			if t.Check == CheckRevoked && len(t.At) == 0 {
				t.At = []string{"coord"}
			}
			for _, w := range t.At {
				if !people[w] {
					return fieldf(tp+".at", "%q: want a station of quorum.people or coord", w)
				}
			}
		}
	}
	for _, c := range tt.Capabilities {
		if !tested[c.ID] {
			return fieldf("tabletop.capabilities", "%q has no task to perform (not-finalized is a guard): nothing could rate it", c.ID)
		}
	}
	return nil
}

// Ratings, HSEEP's four.
const (
	RatingP = "P"
	RatingS = "S"
	RatingM = "M"
	RatingU = "U"
)

// RatingText is a rating's words.
func RatingText(r string) string {
	switch r {
	case RatingP:
		return "performed without challenges"
	case RatingS:
		return "performed with some challenges"
	case RatingM:
		return "performed with major challenges"
	case RatingU:
		return "unable to be performed"
	}
	return "not rated"
}

// ParseRating reads a rating by its letter or its words.
func ParseRating(s string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for _, r := range []string{RatingP, RatingS, RatingM, RatingU} {
		if t == strings.ToLower(r) || t == RatingText(r) {
			return r, nil
		}
	}
	switch t {
	case "performed", "without challenges":
		return RatingP, nil
	case "some", "some challenges":
		return RatingS, nil
	case "major", "major challenges":
		return RatingM, nil
	case "unable", "unable to perform":
		return RatingU, nil
	}
	return "", fmt.Errorf("rating %q: want P, S, M or U (performed without challenges, with some, with major challenges, unable to be performed)", s)
}

// worse is the lower of two ratings.
func worse(a, b string) string {
	order := map[string]int{RatingP: 0, RatingS: 1, RatingM: 2, RatingU: 3}
	if order[b] > order[a] {
		return b
	}
	return a
}

// Answers are the facilitator's input given in advance (--answers): the
// team's answers per module, notes, the facilitator's ratings and the
// corrective actions. Commands, per module, are the scripted
// participants' actions in CI.
type Answers struct {
	Facilitator  string             `yaml:"facilitator"`
	Participants []string           `yaml:"participants"`
	Modules      []ModuleAnswers    `yaml:"modules"`
	Ratings      map[string]string  `yaml:"ratings"`
	Corrective   []CorrectiveAction `yaml:"corrective_actions"`
}

// ModuleAnswers is one module's input.
type ModuleAnswers struct {
	Answers  []string `yaml:"answers"`
	Notes    string   `yaml:"notes"`
	Commands []string `yaml:"commands"`
}

// CorrectiveAction is an improvement with an owner and a due date.
type CorrectiveAction struct {
	Capability string `yaml:"capability" json:"capability"`
	Action     string `yaml:"action" json:"action"`
	Owner      string `yaml:"owner" json:"owner"`
	Due        string `yaml:"due" json:"due"` // YYYY-MM-DD
}

// ParseAnswers reads an answers file strictly against the tabletop.
func ParseAnswers(b []byte, tt *Tabletop) (*Answers, error) {
	if len(b) > MaxScenarioBytes {
		return nil, fmt.Errorf("drill: answers of %d bytes, over %d", len(b), MaxScenarioBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var a Answers
	if err := dec.Decode(&a); err != nil {
		if errors.Is(err, io.EOF) {
			return &a, nil
		}
		return nil, fmt.Errorf("drill: answers: %v", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("drill: answers: one YAML document, not several")
	}
	if len(a.Modules) > len(tt.Modules) {
		return nil, fmt.Errorf("drill: answers: modules: %d, the tabletop has %d", len(a.Modules), len(tt.Modules))
	}
	for i, m := range a.Modules {
		if len(m.Answers) > len(tt.Modules[i].Questions) {
			return nil, fmt.Errorf("drill: answers: modules[%d].answers: %d answers to %d questions", i, len(m.Answers), len(tt.Modules[i].Questions))
		}
		for j, c := range m.Commands {
			if !strings.HasPrefix(c, "airlock ") {
				return nil, fmt.Errorf("drill: answers: modules[%d].commands[%d]: want an airlock command", i, j)
			}
		}
	}
	caps := map[string]bool{}
	for _, c := range tt.Capabilities {
		caps[c.ID] = true
	}
	for id, r := range a.Ratings {
		if !caps[id] {
			return nil, fmt.Errorf("drill: answers: ratings: %q is not one of the capabilities", id)
		}
		v, err := ParseRating(r)
		if err != nil {
			return nil, fmt.Errorf("drill: answers: ratings.%s: %v", id, err)
		}
		a.Ratings[id] = v
	}
	for i, c := range a.Corrective {
		if err := c.check(caps); err != nil {
			return nil, fmt.Errorf("drill: answers: corrective_actions[%d]: %v", i, err)
		}
	}
	return &a, nil
}

func (c CorrectiveAction) check(caps map[string]bool) error {
	if c.Capability != "" && !caps[c.Capability] {
		return fmt.Errorf("capability %q is not one of the capabilities", c.Capability)
	}
	if c.Action == "" || c.Owner == "" {
		return errors.New("an action needs its words and an owner")
	}
	if _, err := time.Parse(time.DateOnly, c.Due); err != nil {
		return fmt.Errorf("due %q: want a date YYYY-MM-DD", c.Due)
	}
	return nil
}

// Facilitator is the exercise's human side: the terminal of the
// facilitator, or a script in CI.
type Facilitator interface {
	// Answer records the team's answer to question q of module m.
	Answer(ctx context.Context, m, q int, question string) (string, error)
	// Act returns once the team has acted on module m in the drill
	// folder dir (at a terminal, when the facilitator says so).
	Act(ctx context.Context, m int, mod *Module, dir string) error
	// Notes are the facilitator's notes on module m.
	Notes(ctx context.Context, m int) (string, error)
	// Rate gives the facilitator's rating of capability c, knowing the
	// checks' ("" leaves the checks' rating).
	Rate(ctx context.Context, c Capability, checked string) (string, error)
	// Corrective gives the corrective actions, knowing the ratings.
	Corrective(ctx context.Context, ratings []CapabilityRating) ([]CorrectiveAction, error)
}

// Scripted is a Facilitator from an answers file; Run performs the
// scripted participants' commands of a module (nil: none).
type Scripted struct {
	A   *Answers
	Run func(ctx context.Context, m int, commands []string, dir string) error
}

func (s *Scripted) module(m int) ModuleAnswers {
	if s.A != nil && m < len(s.A.Modules) {
		return s.A.Modules[m]
	}
	return ModuleAnswers{}
}

// Answer implements Facilitator.
func (s *Scripted) Answer(_ context.Context, m, q int, _ string) (string, error) {
	if as := s.module(m).Answers; q < len(as) {
		return as[q], nil
	}
	return "", nil
}

// Act implements Facilitator.
func (s *Scripted) Act(ctx context.Context, m int, _ *Module, dir string) error {
	if cs := s.module(m).Commands; len(cs) > 0 && s.Run != nil {
		return s.Run(ctx, m, cs, dir)
	}
	return nil
}

// Notes implements Facilitator.
func (s *Scripted) Notes(_ context.Context, m int) (string, error) { return s.module(m).Notes, nil }

// Rate implements Facilitator.
func (s *Scripted) Rate(_ context.Context, c Capability, _ string) (string, error) {
	if s.A == nil {
		return "", nil
	}
	return s.A.Ratings[c.ID], nil
}

// Corrective implements Facilitator.
func (s *Scripted) Corrective(context.Context, []CapabilityRating) ([]CorrectiveAction, error) {
	if s.A == nil {
		return nil, nil
	}
	return s.A.Corrective, nil
}

// TabletopOptions shape an exercise.
type TabletopOptions struct {
	// Dir is the drill folder: absent or empty. It is kept afterwards,
	// with the workspaces the team used, as the exercise's evidence.
	Dir string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Out is where the exercise is narrated (the terminal).
	Out io.Writer
	// Facilitator answers, rates and waits for the team.
	Facilitator Facilitator
}

// PassphraseFile is the file, in the drill folder, holding the drill
// keystores' passphrase (they are rehearsal keys).
const PassphraseFile = "passphrase"

// tabletop is one exercise under way.
type tabletop struct {
	ctx   context.Context
	sc    *Scenario
	o     TabletopOptions
	dir   string
	ids   map[string][32]byte // proposal label -> id
	gone  map[string]bool     // stations taken away
	coins uint64
}

// RunTabletop runs the scenario's tabletop exercise and returns its
// after-action report.
func RunTabletop(ctx context.Context, sc *Scenario, o TabletopOptions) (*AAR, error) {
	if sc.Tabletop == nil {
		return nil, errors.New("drill: the scenario has no tabletop section")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Facilitator == nil {
		return nil, errors.New("drill: a tabletop needs a facilitator")
	}
	if o.Dir == "" {
		return nil, errors.New("drill: a tabletop needs its drill folder")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("drill: tabletop: %s is not empty; a tabletop starts from new drill workspaces", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	t := &tabletop{ctx: ctx, sc: sc, o: o, dir: dir, ids: map[string][32]byte{}, gone: map[string]bool{}}
	return t.run()
}

func (t *tabletop) say(format string, args ...any) {
	fmt.Fprintf(t.o.Out, format+"\n", args...)
}

func (t *tabletop) now() time.Time { return t.o.Now().UTC().Truncate(time.Second) }

func (t *tabletop) run() (*AAR, error) {
	tt := t.sc.Tabletop
	if err := t.build(); err != nil {
		return nil, err
	}
	aar := &AAR{
		Title: tt.Title, Scenario: t.sc.Name, Dir: t.dir, Objectives: tt.Objectives,
		Started: t.now().Format(time.RFC3339), People: t.sc.Quorum.People, Threshold: t.sc.Quorum.Threshold,
	}
	if s, ok := t.o.Facilitator.(*Scripted); ok && s.A != nil {
		aar.Facilitator, aar.Participants = s.A.Facilitator, s.A.Participants
	}
	t.say("TABLETOP %s", orDefault(tt.Title, t.sc.Name))
	t.say("drill workspaces: %s (rehearsal keys; passphrase in %s)", t.dir, filepath.Join(t.dir, PassphraseFile))
	t.say("people: %s, %d of %d sign; the coordinator is coord", strings.Join(t.sc.Quorum.People, ", "), t.sc.Quorum.Threshold, len(t.sc.Quorum.People))
	for i, obj := range tt.Objectives {
		t.say("objective %d: %s", i+1, obj)
	}
	for i := range tt.Modules {
		mr, err := t.module(i, &tt.Modules[i])
		if err != nil {
			return nil, err
		}
		aar.Modules = append(aar.Modules, *mr)
	}
	// Ratings: the checks', lowered by the facilitator's, never raised.
	for _, c := range tt.Capabilities {
		cr := CapabilityRating{ID: c.ID, Name: c.Name}
		for _, m := range aar.Modules {
			for _, tr := range m.Tasks {
				if tr.Capability != c.ID {
					continue
				}
				if tr.Guard {
					if tr.Result != TaskDone {
						cr.Broken++
					}
					continue
				}
				cr.Tasks++
				switch tr.Result {
				case TaskDone:
					cr.Done++
				case TaskLate:
					cr.Late++
				}
			}
		}
		cr.Checked = derive(cr.Tasks, cr.Done, cr.Late)
		if cr.Broken > 0 {
			// What had to be prevented happened: whatever was done, the
			// capability failed.
			cr.Checked = RatingU
		}
		fr, err := t.o.Facilitator.Rate(t.ctx, c, cr.Checked)
		if err != nil {
			return nil, err
		}
		if fr != "" {
			if fr, err = ParseRating(fr); err != nil {
				return nil, fmt.Errorf("drill: tabletop: %s: %v", c.ID, err)
			}
		}
		cr.Facilitator = fr
		cr.Rating = cr.Checked
		if fr != "" {
			cr.Rating = worse(cr.Checked, fr)
			if cr.Rating != fr {
				cr.Note = fmt.Sprintf("the facilitator rated %s; the checks show %s, which stands", fr, cr.Checked)
			}
		}
		cr.Text = RatingText(cr.Rating)
		aar.Capabilities = append(aar.Capabilities, cr)
	}
	cas, err := t.o.Facilitator.Corrective(t.ctx, aar.Capabilities)
	if err != nil {
		return nil, err
	}
	caps := map[string]bool{}
	for _, c := range tt.Capabilities {
		caps[c.ID] = true
	}
	covered := map[string]bool{}
	for _, c := range cas {
		if err := c.check(caps); err != nil {
			return nil, fmt.Errorf("drill: tabletop: corrective action: %v", err)
		}
		covered[c.Capability] = true
		aar.Corrective = append(aar.Corrective, c)
	}
	// A capability below P without a corrective action is a gap the
	// report names: no improvement without an owner.
	for _, cr := range aar.Capabilities {
		if cr.Rating != RatingP && !covered[cr.ID] {
			aar.Unowned = append(aar.Unowned, cr.ID)
		}
	}
	aar.Ended = t.now().Format(time.RFC3339)
	aar.lists()
	aar.Ready = true
	for _, cr := range aar.Capabilities {
		if cr.Rating == RatingU {
			aar.Ready = false
		}
	}
	return aar, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// derive rates a capability from its tasks (guards apart): all done in
// time P, all done but some late S, some done M, none U.
func derive(tasks, done, late int) string {
	switch {
	case tasks > 0 && done == tasks:
		return RatingP
	case tasks > 0 && done+late == tasks:
		return RatingS
	case done+late > 0:
		return RatingM
	}
	return RatingU
}

// build makes the drill workspaces: a coordinator and one station per
// person, under a genesis policy every person signed.
func (t *tabletop) build() error {
	signers := make([]string, len(t.sc.Quorum.People))
	for i, who := range t.sc.Quorum.People {
		signers[i] = who + "/keystore"
	}
	vaults := fmt.Sprintf("vaults:\n  - name: ops\n    chain: bitcoin\n    threshold: %d\n    signers: [%s]\n", t.sc.Quorum.Threshold, strings.Join(signers, ", "))
	rules := t.sc.Quorum.Rules
	if rules != "" && !strings.HasSuffix(rules, "\n") {
		rules += "\n"
	}
	// The genesis is made a minute back, so that the team's first
	// commands come after it even on a clock of second precision.
	q, err := quorum.Build(t.dir, quorum.Options{People: t.sc.Quorum.People, Rules: rules, Vaults: vaults, Start: t.now().Add(-time.Minute), MaxLifetime: t.sc.Quorum.MaxLifetime.D()})
	if q != nil {
		q.Close()
	}
	if err != nil {
		return fmt.Errorf("drill: tabletop: building the quorum: %w", err)
	}
	return os.WriteFile(filepath.Join(t.dir, PassphraseFile), []byte(quorum.Passphrase+"\n"), 0o600)
}

// open opens a drill workspace on the exercise's clock.
func (t *tabletop) open(name string) (*workspace.Workspace, error) {
	return workspace.Open(filepath.Join(t.dir, name), workspace.Options{Now: t.o.Now})
}

// names are the workspaces still there: coord and the stations not taken.
func (t *tabletop) names() []string {
	out := []string{"coord"}
	for _, p := range t.sc.Quorum.People {
		if !t.gone[p] {
			out = append(out, p)
		}
	}
	return out
}

// logs reads the audit log of every workspace still there.
func (t *tabletop) logs() (map[string][]audit.Event, error) {
	out := map[string][]audit.Event{}
	for _, name := range t.names() {
		ws, err := t.open(name)
		if err != nil {
			return nil, fmt.Errorf("drill: tabletop: opening %s: %w", name, err)
		}
		var entries []audit.Entry
		err = ws.AuditLog(t.ctx, func(l *audit.Log) (err error) {
			entries, err = l.Entries()
			return err
		})
		ws.Close()
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			out[name] = append(out[name], e.Event)
		}
	}
	return out, nil
}

func (t *tabletop) module(i int, m *Module) (*ModuleResult, error) {
	mr := &ModuleResult{N: i + 1, Name: m.Name, Inject: m.Inject}
	t.say("")
	t.say("== MODULE %d: %s", i+1, m.Name)
	for _, s := range m.Setup {
		note, err := t.setup(s)
		if err != nil {
			return nil, err
		}
		mr.Setup = append(mr.Setup, note)
		t.say("prepared: %s", note)
	}
	before, err := t.logs()
	if err != nil {
		return nil, err
	}
	injected := t.now()
	mr.Injected = injected.Format(time.RFC3339)
	t.say("INJECT (%s): %s", injected.Format("15:04:05"), strings.TrimSpace(m.Inject))
	for j, q := range m.Questions {
		t.say("QUESTION %d.%d: %s", i+1, j+1, q)
		ans, err := t.o.Facilitator.Answer(t.ctx, i, j, q)
		if err != nil {
			return nil, err
		}
		ans = strings.TrimSpace(ans)
		mr.Answers = append(mr.Answers, QA{Question: q, Answer: ans, At: t.now().Format(time.RFC3339)})
		if ans != "" {
			t.say("  answer: %s", ans)
		} else {
			t.say("  (no answer recorded)")
		}
	}
	if len(m.Tasks) > 0 {
		t.say("THE TEAM'S TASKS (in the drill folder: cd %s):", t.dir)
		for j, task := range m.Tasks {
			t.say("  %d.%d [%s] %s", i+1, j+1, task.Capability, task.Do)
		}
	}
	if len(m.Commands) > 0 {
		t.say("COMMANDS to type (cd %s first):", t.dir)
		for _, c := range m.Commands {
			t.say("  $ %s", t.expand(c))
		}
	}
	if err := t.o.Facilitator.Act(t.ctx, i, m, t.dir); err != nil {
		return nil, err
	}
	after, err := t.logs()
	if err != nil {
		return nil, err
	}
	// What the team did: every entry the workspaces logged since the
	// inject.
	for _, name := range t.names() {
		for _, ev := range after[name][len(before[name]):] {
			mr.Actions = append(mr.Actions, t.action(name, ev))
		}
	}
	for _, task := range m.Tasks {
		tr, err := t.check(task, after, injected)
		if err != nil {
			return nil, err
		}
		mark := map[string]string{TaskDone: "DONE", TaskLate: "DONE LATE", TaskNotDone: "NOT DONE"}[tr.Result]
		if tr.Guard {
			mark = tr.mark()
		}
		t.say("check: %-9s %s — %s", mark, task.Do, tr.Evidence)
		mr.Tasks = append(mr.Tasks, *tr)
	}
	notes, err := t.o.Facilitator.Notes(t.ctx, i)
	if err != nil {
		return nil, err
	}
	mr.Notes = strings.TrimSpace(notes)
	mr.Ended = t.now().Format(time.RFC3339)
	return mr, nil
}

// expand replaces {dir} with the drill folder and {today} with the
// exercise's date (UTC).
func (t *tabletop) expand(c string) string {
	return strings.NewReplacer("{dir}", t.dir, "{today}", t.now().Format(time.DateOnly)).Replace(c)
}

// label names a proposal id by its setup's label, else by its first
// bytes.
func (t *tabletop) label(id string) string {
	for l, v := range t.ids {
		if hex.EncodeToString(v[:]) == id {
			return l
		}
	}
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func (t *tabletop) action(name string, ev audit.Event) Action {
	a := Action{At: ev.Time.UTC().Format(time.RFC3339), Workspace: name, Kind: ev.Kind}
	if p := ev.Detail["proposal"]; p != "" {
		a.Proposal = t.label(p)
	} else if len(ev.Subject) == 64 {
		a.Proposal = t.label(ev.Subject)
	}
	switch {
	case ev.Detail["reason"] != "":
		a.Note = ev.Detail["reason"]
	case ev.Detail["participant"] != "":
		a.Note = ev.Detail["participant"] + " " + ev.Detail["decision"]
	}
	return a
}

// setup prepares one part of a module's situation.
func (t *tabletop) setup(s Setup) (string, error) {
	switch s.Kind {
	case SetupStationMissing:
		if err := os.MkdirAll(filepath.Join(t.dir, ".missing"), 0o700); err != nil {
			return "", err
		}
		if err := os.Rename(filepath.Join(t.dir, s.Person), filepath.Join(t.dir, ".missing", s.Person)); err != nil {
			return "", fmt.Errorf("drill: tabletop: taking %s's station away: %w", s.Person, err)
		}
		t.gone[s.Person] = true
		return fmt.Sprintf("%s's station is gone (moved to .missing/%s; do not use it)", s.Person, s.Person), nil
	}
	ws, err := t.open("coord")
	if err != nil {
		return "", err
	}
	defer ws.Close()
	keys, err := unlock.Keystore(ws, []byte(quorum.Passphrase))
	if err != nil {
		return "", err
	}
	defer keys.Close()
	v, err := vault.Resolve(ws, quorum.Reg, "ops")
	if err != nil {
		return "", err
	}
	t.coins++
	syn, err := v.Synthetic(vault.SyntheticRequest{Seed: 1000 + t.coins, To: s.To, Amount: s.sats, Fee: 1000})
	if err != nil {
		return "", err
	}
	c := &coordinator.Coordinator{WS: ws, Reg: quorum.Reg}
	pe, _, err := c.Propose(t.ctx, coordinator.ProposeParams{Vault: "ops", Payload: syn.PSBT, Intent: s.Intent, Lifetime: s.Lifetime.D(), Force: s.Force}, keys.Identity)
	if err != nil {
		return "", fmt.Errorf("drill: tabletop: proposing %s: %w", s.Label, err)
	}
	raw, err := pe.Encode()
	if err != nil {
		return "", err
	}
	file := s.Label + ".proposal"
	if err := workspace.WriteFileAtomic(filepath.Join(t.dir, file), raw, 0o644); err != nil {
		return "", err
	}
	t.ids[s.Label] = pe.ID()
	forced := ""
	if s.Force {
		forced = ", forced past the coordinator's own review"
	}
	return fmt.Sprintf("proposal %s: %s BTC to %s%s, in %s", s.Label, s.Amount, orDefault(s.To, "an address outside the vault"), forced, file), nil
}

// Task results.
const (
	TaskDone    = "done"
	TaskLate    = "late"
	TaskNotDone = "not-done"
)

// check judges one task on the workspaces' logs and policies.
func (t *tabletop) check(task Task, logs map[string][]audit.Event, injected time.Time) (*TaskResult, error) {
	tr := &TaskResult{Capability: task.Capability, Do: task.Do, Check: task.Check, Result: TaskNotDone, Guard: task.Check == CheckNotFinalized}
	id := ""
	if task.Proposal != "" {
		v := t.ids[task.Proposal]
		id = hex.EncodeToString(v[:])
	}
	// find is the first event of the kind in workspace w matching.
	find := func(w, kind string, match func(audit.Event) bool) (audit.Event, bool) {
		for _, ev := range logs[w] {
			if ev.Kind == kind && match(ev) {
				return ev, true
			}
		}
		return audit.Event{}, false
	}
	byProposal := func(ev audit.Event) bool { return ev.Detail["proposal"] == id }
	bySubject := func(ev audit.Event) bool { return ev.Subject == id }
	var ev audit.Event
	var ok bool
	switch task.Check {
	case CheckRejected, CheckApproved:
		if t.gone[task.By] {
			tr.Evidence = task.By + "'s station is gone"
			return tr, nil
		}
		kind := map[string]string{CheckRejected: "rejection.created", CheckApproved: "approval.created"}[task.Check]
		if ev, ok = find(task.By, kind, byProposal); ok {
			tr.Evidence = fmt.Sprintf("%s's log: %s of %s", task.By, kind, task.Proposal)
			if r := ev.Detail["reason"]; r != "" {
				tr.Evidence += " (" + r + ")"
			}
		} else {
			tr.Evidence = fmt.Sprintf("%s's log has no %s of %s", task.By, kind, task.Proposal)
		}
	case CheckCollected:
		if ev, ok = find("coord", "approval.collected", func(ev audit.Event) bool {
			return ev.Detail["proposal"] == id && ev.Detail["participant"] == task.By
		}); ok {
			tr.Evidence = fmt.Sprintf("coord's log: %s's %s of %s collected", task.By, ev.Detail["decision"], task.Proposal)
		} else {
			tr.Evidence = fmt.Sprintf("coord's log has no decision of %s on %s", task.By, task.Proposal)
		}
	case CheckFinalized, CheckNotFinalized:
		ev, ok = find("coord", "proposal.finalized", bySubject)
		if ok {
			tr.Evidence = fmt.Sprintf("coord's log: %s finalized", task.Proposal)
		} else {
			tr.Evidence = fmt.Sprintf("coord's log has no finalization of %s", task.Proposal)
		}
		if task.Check == CheckNotFinalized {
			if ok {
				tr.Evidence += ": it must not be"
				return tr, nil
			}
			tr.Result = TaskDone
			return tr, nil
		}
	case CheckWithdrawn:
		if ev, ok = find("coord", "proposal.withdrawn", bySubject); ok {
			tr.Evidence = fmt.Sprintf("coord's log: %s withdrawn (%s)", task.Proposal, orDefault(ev.Detail["reason"], "no reason given"))
		} else {
			tr.Evidence = fmt.Sprintf("coord's log has no withdrawal of %s", task.Proposal)
		}
	case CheckEvidenceExported:
		if ev, ok = find("coord", "audit.exported", func(ev audit.Event) bool { return !ev.Time.Before(injected) }); ok {
			tr.Evidence = fmt.Sprintf("coord's log: evidence bundle of %s .. %s exported", ev.Detail["since"], ev.Detail["until"])
		} else {
			tr.Evidence = "coord's log has no audit.exported since the inject"
		}
	case CheckRevoked:
		return t.checkRevoked(task, tr, logs, injected)
	}
	if !ok {
		return tr, nil
	}
	tr.At = ev.Time.UTC().Format(time.RFC3339)
	tr.Result = TaskDone
	if task.Within > 0 && ev.Time.Sub(injected) > task.Within.D() {
		tr.Result = TaskLate
		tr.Evidence += fmt.Sprintf("; %v after the inject, over %v", ev.Time.Sub(injected), task.Within.D())
	}
	return tr, nil
}

// checkRevoked: the person is revoked in the policy in effect at every
// workspace named; done when the last of them imported it.
func (t *tabletop) checkRevoked(task Task, tr *TaskResult, logs map[string][]audit.Event, injected time.Time) (*TaskResult, error) {
	var missing []string
	var last time.Time
	for _, w := range task.At {
		if t.gone[w] {
			continue
		}
		ws, err := t.open(w)
		if err != nil {
			return nil, err
		}
		pol, _, err := ws.Policy(quorum.Reg)
		ws.Close()
		if err != nil {
			return nil, err
		}
		if !revoked(pol, task.Person) {
			missing = append(missing, w)
			continue
		}
		for _, ev := range logs[w] {
			if ev.Kind == "policy.imported" && ev.Time.After(last) {
				last = ev.Time
			}
		}
	}
	if len(missing) > 0 {
		tr.Evidence = fmt.Sprintf("%s is not revoked in the policy in effect at %s", task.Person, strings.Join(missing, ", "))
		return tr, nil
	}
	tr.Evidence = fmt.Sprintf("%s is revoked in the policy in effect at %s", task.Person, strings.Join(task.At, ", "))
	tr.Result = TaskDone
	if !last.IsZero() {
		tr.At = last.UTC().Format(time.RFC3339)
		if task.Within > 0 && last.Sub(injected) > task.Within.D() {
			tr.Result = TaskLate
			tr.Evidence += fmt.Sprintf("; %v after the inject, over %v", last.Sub(injected), task.Within.D())
		}
	}
	return tr, nil
}

// revoked: the participant is revoked, or every device of theirs is.
func revoked(p *policy.Policy, who string) bool {
	for _, pp := range p.Participants {
		if pp.ID != who {
			continue
		}
		if pp.Revoked != nil {
			return true
		}
		for _, d := range pp.Devices {
			if d.Revoked == nil {
				return false
			}
		}
		return len(pp.Devices) > 0
	}
	return false
}
