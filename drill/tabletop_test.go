package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/evidence"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/keys/unlock"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/workspace"
)

// testClock is the exercise's clock, moved by the scripted team.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// team is the scripted team of the sample tabletop: it acts on each
// module through airlock's libraries, on the drill workspaces, as the
// commands the module shows would. skip: modules it does nothing in;
// slow: how long it takes before acting.
type team struct {
	Scripted
	t     *testing.T
	clock *testClock
	skip  map[int]bool
	slow  map[int]time.Duration
}

func (tm *team) open(dir, name string) (*workspace.Workspace, *unlock.Keyring) {
	tm.t.Helper()
	ws, err := workspace.Open(filepath.Join(dir, name), workspace.Options{Now: tm.clock.Now})
	if err != nil {
		tm.t.Fatal(err)
	}
	k, err := unlock.Keystore(ws, []byte(quorum.Passphrase))
	if err != nil {
		tm.t.Fatal(err)
	}
	tm.t.Cleanup(func() { k.Close(); ws.Close() })
	return ws, k
}

func (tm *team) decide(ctx context.Context, dir, who, label string, d station.Decision) []byte {
	tm.t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, label+".proposal"))
	if err != nil {
		tm.t.Fatal(err)
	}
	ws, k := tm.open(dir, who)
	defer ws.Close()
	env, _, err := (&station.Station{WS: ws, Reg: quorum.Reg}).Sign(ctx, raw, d, k.Identity, k.Chain)
	if err != nil {
		tm.t.Fatalf("%s deciding on %s: %v", who, label, err)
	}
	b, err := env.Encode()
	if err != nil {
		tm.t.Fatal(err)
	}
	return b
}

// ref is the id of a prepared proposal.
func (tm *team) ref(dir, label string) string {
	tm.t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, label+".proposal"))
	if err != nil {
		tm.t.Fatal(err)
	}
	env, err := envelope.Decode(raw)
	if err != nil {
		tm.t.Fatal(err)
	}
	return env.IDHex()
}

func (tm *team) Act(ctx context.Context, m int, _ *Module, dir string) error {
	tm.clock.Advance(5 * time.Minute)
	if tm.skip[m] {
		return nil
	}
	tm.clock.Advance(tm.slow[m])
	switch m {
	case 0: // bob rejects the forced proposal; the coordinator withdraws it
		rej := tm.decide(ctx, dir, "bob", "suspicious", station.Decision{Reason: "not in the address book, over the cap"})
		ws, k := tm.open(dir, "coord")
		c := &coordinator.Coordinator{WS: ws, Reg: quorum.Reg}
		if _, err := c.Collect(ctx, rej, nil); err != nil {
			return err
		}
		if _, err := c.Withdraw(ctx, tm.ref(dir, "suspicious"), "nobody asked for it", k.Identity); err != nil {
			return err
		}
		ws.Close()
	case 1: // alice writes version 2 revoking carol; alice and bob sign; all import
		ws, k := tm.open(dir, "alice")
		ch, err := ws.PolicyChain(quorum.Reg)
		if err != nil {
			return err
		}
		prev, _ := ch.Newest()
		f := policy.ToFile(prev)
		for i := range f.Participants {
			if f.Participants[i].ID == "carol" {
				f.Participants[i].Devices[0].Revoked = "station missing from the safe"
			}
		}
		p, _, err := policy.Next(prev, f, quorum.Reg, tm.clock.Now(), time.Time{})
		if err != nil {
			return err
		}
		env, err := policy.Seal(p)
		if err != nil {
			return err
		}
		if err := env.Sign(k.Identity); err != nil {
			return err
		}
		ws.Close()
		bws, bk := tm.open(dir, "bob")
		if err := env.Sign(bk.Identity); err != nil {
			return err
		}
		bws.Close()
		for _, name := range []string{"coord", "alice", "bob"} {
			ws, _ := tm.open(dir, name)
			if _, err := ws.ImportPolicy(env, quorum.Reg); err != nil {
				return err
			}
			ws.Close()
		}
	case 2: // payroll: alice and bob approve, the coordinator finalizes and verifies its log
		a := tm.decide(ctx, dir, "alice", "payroll", station.Decision{Approve: true})
		b := tm.decide(ctx, dir, "bob", "payroll", station.Decision{Approve: true})
		ws, k := tm.open(dir, "coord")
		c := &coordinator.Coordinator{WS: ws, Reg: quorum.Reg}
		for _, d := range [][]byte{a, b} {
			if _, err := c.Collect(ctx, d, nil); err != nil {
				return err
			}
		}
		if _, err := c.Finalize(ctx, tm.ref(dir, "payroll"), k.Identity); err != nil {
			return err
		}
		files, err := evidence.Export(ctx, ws, tm.clock.Now().Add(-time.Hour), tm.clock.Now(), k.Identity)
		if err != nil {
			return err
		}
		if err := evidence.Write(filepath.Join(dir, "evidence.tar"), files, tm.clock.Now()); err != nil {
			return err
		}
		if err := ws.Log(ctx, "audit.exported", "", map[string]string{
			"since": tm.clock.Now().Add(-time.Hour).Format(time.RFC3339), "until": tm.clock.Now().Format(time.RFC3339), "files": fmt.Sprint(len(files))}); err != nil {
			return err
		}
		ws.Close()
	}
	return nil
}

func sampleTabletop(t *testing.T) *Scenario {
	t.Helper()
	b, err := os.ReadFile("../docs/drills/tabletop-stolen-station.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ParseScenario(b)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func runTeam(t *testing.T, tm *team) *AAR {
	t.Helper()
	var out bytes.Buffer
	aar, err := RunTabletop(context.Background(), sampleTabletop(t), TabletopOptions{
		Dir: filepath.Join(t.TempDir(), "tabletop"), Now: tm.clock.Now, Out: &out, Facilitator: tm,
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	return aar
}

func ratings(a *AAR) map[string]string {
	m := map[string]string{}
	for _, c := range a.Capabilities {
		m[c.ID] = c.Rating
	}
	return m
}

func newTeam(t *testing.T) *team {
	return &team{t: t, clock: &testClock{now: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}, skip: map[int]bool{}, slow: map[int]time.Duration{}}
}

// TestTabletopRatesWhatTheTeamDid: the sample tabletop run with a team
// acting through the real libraries on the drill workspaces. When the
// team does everything in time, every capability is "performed without
// challenges"; when it does not revoke the lost key, revocation is
// "unable to be performed" and the exercise is not ready, though the
// facilitator rated it P; when it revokes late, "some challenges". The
// ratings come from the workspaces' logs and policies, not from what
// anyone says.
func TestTabletopRatesWhatTheTeamDid(t *testing.T) {
	all := newTeam(t)
	all.A = &Answers{Facilitator: "dana", Modules: []ModuleAnswers{{Answers: []string{"the address is not in the address book"}}}}
	aar := runTeam(t, all)
	if got := ratings(aar); got["refuse"] != RatingP || got["revoke"] != RatingP || got["continuity"] != RatingP || got["evidence"] != RatingP || !aar.Ready {
		t.Fatalf("the team did everything in time: ratings %v, ready %v", got, aar.Ready)
	}
	if aar.Modules[0].Answers[0].Answer != "the address is not in the address book" || aar.Modules[0].Answers[1].Answer != "" {
		t.Fatalf("answers %+v", aar.Modules[0].Answers)
	}
	if len(aar.Modules[1].Actions) == 0 || len(aar.Unowned) != 0 {
		t.Fatalf("actions %+v unowned %v", aar.Modules[1].Actions, aar.Unowned)
	}
	found := false
	for _, a := range aar.Modules[0].Actions {
		if a.Workspace == "bob" && a.Kind == "rejection.created" && a.Proposal == "suspicious" {
			found = true
		}
	}
	if !found {
		t.Fatalf("bob's rejection is not among module 1's actions: %+v", aar.Modules[0].Actions)
	}

	none := newTeam(t)
	none.skip[1] = true
	none.A = &Answers{Ratings: map[string]string{"revoke": "P"}, Corrective: []CorrectiveAction{
		{Capability: "revoke", Action: "rehearse policy revoke monthly", Owner: "alice", Due: "2027-01-31"}}}
	aar = runTeam(t, none)
	got := ratings(aar)
	if got["revoke"] != RatingU || aar.Ready {
		t.Fatalf("nobody revoked carol's key: revoke rated %s, ready %v", got["revoke"], aar.Ready)
	}
	if got["refuse"] != RatingP || got["continuity"] != RatingP {
		t.Fatalf("the other capabilities were performed: %v", got)
	}
	c := aar.Capabilities[1]
	if c.Facilitator != RatingP || !strings.Contains(c.Note, "the checks show U") {
		t.Fatalf("the facilitator's P must not raise the checks' U: %+v", c)
	}
	if len(aar.Corrective) != 1 || len(aar.Unowned) != 0 {
		t.Fatalf("corrective %+v unowned %v", aar.Corrective, aar.Unowned)
	}

	late := newTeam(t)
	late.slow[1] = 3 * time.Hour
	late.slow[0] = 2 * time.Hour
	late.A = &Answers{Ratings: map[string]string{"continuity": "M"}}
	aar = runTeam(t, late)
	got = ratings(aar)
	if got["revoke"] != RatingS || got["refuse"] != RatingS || got["continuity"] != RatingM {
		t.Fatalf("late revocation and refusal, continuity rated M by the facilitator: %v", got)
	}
	if strings.Join(aar.Unowned, ",") != "refuse,revoke,continuity" {
		t.Fatalf("unowned %v", aar.Unowned)
	}
	// The report in its three forms.
	var txt, page bytes.Buffer
	if err := aar.Text(&txt); err != nil {
		t.Fatal(err)
	}
	if err := aar.HTML(&page); err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(aar); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"S  Revoke a lost key", "has no corrective action"} {
		if !strings.Contains(txt.String(), want) {
			t.Fatalf("text report lacks %q:\n%s", want, txt.String())
		}
	}
	if strings.Contains(page.String(), "<script") || !strings.Contains(page.String(), `id="ratings"`) {
		t.Fatal("the HTML report has a script or no ratings table")
	}
}

// TestTabletopScenarioRefusesWhatItCannotCheck: a task naming a proposal
// no setup makes, a capability no task rates, an unknown field: refused
// with the field's path.
func TestTabletopScenarioRefusesWhatItCannotCheck(t *testing.T) {
	base := "duration: 1d\ntabletop:\n  capabilities: [{id: c, name: C}]\n  modules:\n    - name: m\n      inject: x\n"
	for _, tc := range []struct{ yaml, want string }{
		{base + "      tasks: [{capability: c, do: d, check: finalized, proposal: nope}]\n", "tabletop.modules[0].tasks[0].proposal"},
		{base + "      tasks: [{capability: c, do: d, check: rejected, by: coord, proposal: p}]\n      setup: [{kind: propose, label: p, amount: \"0.1\"}]\n", "tasks[0].by"},
		{base + "      tasks: [{capability: c, do: d, check: revoked, person: dave}]\n", "tasks[0].person"},
		{base, "has no task"},
		{base + "      colour: red\n", "field colour not found"},
		{base + "      commands: [rm -rf /]\n      tasks: [{capability: c, do: d, check: evidence-exported}]\n", "commands[0]"},
	} {
		if _, err := ParseScenario([]byte(tc.yaml)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
	if _, err := ParseAnswers([]byte("ratings: {refuse: excellent}\n"), sampleTabletop(t).Tabletop); err == nil || !strings.Contains(err.Error(), "want P, S, M or U") {
		t.Errorf("a rating outside HSEEP's four: %v", err)
	}
	if _, err := ParseAnswers([]byte("corrective_actions: [{action: a, owner: o, due: soon}]\n"), sampleTabletop(t).Tabletop); err == nil || !strings.Contains(err.Error(), "YYYY-MM-DD") {
		t.Errorf("a corrective action without a date: %v", err)
	}
}

// actor is a scripted facilitator whose team acts through do.
type actor struct {
	team
	do func(ctx context.Context, m int, dir string) error
}

func (a *actor) Act(ctx context.Context, m int, _ *Module, dir string) error {
	a.clock.Advance(5 * time.Minute)
	return a.do(ctx, m, dir)
}

// TestTabletopBrokenGuardIsUnableToPerform: carol rejects the payment to
// the attacker's address as her task says, but alice and bob approve it
// and the coordinator finalizes it (the policy has no allowlist): the
// guard "never finalized" is broken, so refusing the payment is rated
// "unable to be performed" though its one task was done.
func TestTabletopBrokenGuardIsUnableToPerform(t *testing.T) {
	sc, err := ParseScenario([]byte(`duration: 1d
tabletop:
  capabilities: [{id: refuse, name: Refuse a forbidden payment}]
  modules:
    - name: leak
      inject: a payment to an unknown address
      setup: [{kind: propose, label: leak, amount: "0.1", to: ` + DefaultAttacker + `}]
      tasks:
        - {capability: refuse, do: carol rejects it, check: rejected, by: carol, proposal: leak}
        - {capability: refuse, do: it is never finalized, check: not-finalized, proposal: leak}
`))
	if err != nil {
		t.Fatal(err)
	}
	a := &actor{team: *newTeam(t)}
	a.do = func(ctx context.Context, m int, dir string) error {
		a.decide(ctx, dir, "carol", "leak", station.Decision{Reason: "unknown address"})
		x := a.decide(ctx, dir, "alice", "leak", station.Decision{Approve: true})
		y := a.decide(ctx, dir, "bob", "leak", station.Decision{Approve: true})
		ws, k := a.open(dir, "coord")
		defer ws.Close()
		c := &coordinator.Coordinator{WS: ws, Reg: quorum.Reg}
		for _, d := range [][]byte{x, y} {
			if _, err := c.Collect(ctx, d, nil); err != nil {
				return err
			}
		}
		_, err := c.Finalize(ctx, a.ref(dir, "leak"), k.Identity)
		return err
	}
	aar, err := RunTabletop(context.Background(), sc, TabletopOptions{Dir: filepath.Join(t.TempDir(), "tt"), Now: a.clock.Now, Facilitator: a})
	if err != nil {
		t.Fatal(err)
	}
	c := aar.Capabilities[0]
	if c.Done != 1 || c.Tasks != 1 || c.Broken != 1 || c.Rating != RatingU || aar.Ready {
		t.Fatalf("a finalized forbidden payment: %+v, ready %v", c, aar.Ready)
	}
}
