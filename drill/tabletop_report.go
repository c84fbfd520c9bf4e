package drill

import (
	"fmt"
	"html/template"
	"io"
	"strings"
)

// AAR is a tabletop's after-action report: what was injected, what the
// team answered and did (read back from the drill workspaces), a rating
// per capability and the corrective actions. Its JSON is
// docs/schemas/drill-tabletop.schema.json.
type AAR struct {
	Title        string   `json:"title"`
	Scenario     string   `json:"scenario"`
	Dir          string   `json:"dir"`
	Started      string   `json:"started"`
	Ended        string   `json:"ended"`
	Facilitator  string   `json:"facilitator,omitempty"`
	Participants []string `json:"participants,omitempty"`
	People       []string `json:"people"`
	Threshold    int      `json:"threshold"`
	Objectives   []string `json:"objectives"`
	// Ready is false when a capability was unable to be performed.
	Ready        bool               `json:"ready"`
	Modules      []ModuleResult     `json:"modules"`
	Capabilities []CapabilityRating `json:"capabilities"`
	Corrective   []CorrectiveAction `json:"correctiveActions"`
	// Unowned are the capabilities rated below P without a corrective
	// action.
	Unowned []string `json:"unowned"`
}

// ModuleResult is one module as it went.
type ModuleResult struct {
	N        int          `json:"n"`
	Name     string       `json:"name"`
	Inject   string       `json:"inject"`
	Injected string       `json:"injected"`
	Ended    string       `json:"ended"`
	Setup    []string     `json:"setup"`
	Answers  []QA         `json:"answers"`
	Actions  []Action     `json:"actions"`
	Tasks    []TaskResult `json:"tasks"`
	Notes    string       `json:"notes,omitempty"`
}

// QA is a question and the team's answer, with when it was recorded.
type QA struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
	At       string `json:"at"`
}

// Action is an entry a drill workspace logged during a module: what the
// team did, and when.
type Action struct {
	At        string `json:"at"`
	Workspace string `json:"workspace"`
	Kind      string `json:"kind"`
	Proposal  string `json:"proposal,omitempty"`
	Note      string `json:"note,omitempty"`
}

// TaskResult is a task's check.
type TaskResult struct {
	Capability string `json:"capability"`
	Do         string `json:"do"`
	Check      string `json:"check"`
	Result     string `json:"result"` // done, late, not-done
	// Guard: a condition that must hold (not-finalized), not an action.
	Guard    bool   `json:"guard"`
	At       string `json:"at,omitempty"`
	Evidence string `json:"evidence"`
}

// CapabilityRating is a capability's rating: the checks', lowered (never
// raised) by the facilitator's.
type CapabilityRating struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Tasks int    `json:"tasks"`
	Done  int    `json:"done"`
	Late  int    `json:"late"`
	// Broken counts the guards that failed (the capability is then U).
	Broken      int    `json:"broken"`
	Checked     string `json:"checked"`
	Facilitator string `json:"facilitator,omitempty"`
	Rating      string `json:"rating"`
	Text        string `json:"text"`
	Note        string `json:"note,omitempty"`
}

// lists makes every list of the report a list, empty rather than null
// (the JSON schema's contract).
func (a *AAR) lists() {
	nonNil := func(s *[]string) {
		if *s == nil {
			*s = []string{}
		}
	}
	nonNil(&a.Objectives)
	nonNil(&a.Unowned)
	nonNil(&a.People)
	if a.Corrective == nil {
		a.Corrective = []CorrectiveAction{}
	}
	for i := range a.Modules {
		m := &a.Modules[i]
		nonNil(&m.Setup)
		if m.Answers == nil {
			m.Answers = []QA{}
		}
		if m.Actions == nil {
			m.Actions = []Action{}
		}
		if m.Tasks == nil {
			m.Tasks = []TaskResult{}
		}
	}
}

// mark is the result in capitals: DONE, LATE, NOT-DONE; a guard's HELD
// or BROKEN.
func (t TaskResult) mark() string {
	if t.Guard {
		if t.Result == TaskDone {
			return "HELD"
		}
		return "BROKEN"
	}
	return strings.ToUpper(t.Result)
}

// Text writes the report for the terminal.
func (a *AAR) Text(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nAFTER-ACTION REPORT: %s\n", orDefault(a.Title, a.Scenario))
	fmt.Fprintf(&b, "exercise %s .. %s, drill workspaces %s\n", a.Started, a.Ended, a.Dir)
	if a.Facilitator != "" {
		fmt.Fprintf(&b, "facilitator %s", a.Facilitator)
		if len(a.Participants) > 0 {
			fmt.Fprintf(&b, "; participants %s", strings.Join(a.Participants, ", "))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nCapabilities:\n")
	for _, c := range a.Capabilities {
		fmt.Fprintf(&b, "  %s  %-32s %s (%d of %d tasks done", c.Rating, c.Name, c.Text, c.Done, c.Tasks)
		if c.Late > 0 {
			fmt.Fprintf(&b, ", %d late", c.Late)
		}
		if c.Broken > 0 {
			fmt.Fprintf(&b, ", %d guard broken", c.Broken)
		}
		b.WriteString(")\n")
		if c.Note != "" {
			fmt.Fprintf(&b, "      %s\n", c.Note)
		}
	}
	for _, m := range a.Modules {
		fmt.Fprintf(&b, "\nModule %d: %s (injected %s)\n", m.N, m.Name, m.Injected)
		for _, t := range m.Tasks {
			fmt.Fprintf(&b, "  %-8s [%s] %s: %s\n", t.mark(), t.Capability, t.Do, t.Evidence)
		}
		fmt.Fprintf(&b, "  %d actions logged\n", len(m.Actions))
	}
	b.WriteString("\nCorrective actions:\n")
	for _, c := range a.Corrective {
		fmt.Fprintf(&b, "  - %s [%s] owner %s, due %s\n", c.Action, orDefault(c.Capability, "general"), c.Owner, c.Due)
	}
	if len(a.Corrective) == 0 {
		b.WriteString("  none recorded\n")
	}
	for _, id := range a.Unowned {
		fmt.Fprintf(&b, "  ! %s is rated below P and has no corrective action with an owner\n", id)
	}
	if a.Ready {
		b.WriteString("\nEvery capability was performed (see the ratings).\n")
	} else {
		b.WriteString("\nNOT READY: a capability was unable to be performed.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

var aarPage = template.Must(template.New("aar").Funcs(template.FuncMap{
	"rtext": RatingText,
	"lower": strings.ToLower,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>After-action report: {{.Title}}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1000px;color:#1b1b1b;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%;margin:.6em 0}th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}small{color:#555}
.verdict{font-size:1.2em;padding:.6em .8em;border-radius:4px;display:inline-block}
.verdict.pass{background:#e4f5ea}.verdict.fail{background:#fbe7e6}
.rating{font-weight:bold;display:inline-block;min-width:1.6em;text-align:center;border-radius:3px;padding:0 .3em}
.r-p{background:#cdebd6}.r-s{background:#fff1bf}.r-m{background:#ffd8b0}.r-u{background:#f7c4c0}
.done{color:#176b2c}.late{color:#8a5a00}.not-done{color:#b3261e;font-weight:bold}
blockquote{margin:.4em 0;padding:.4em .8em;background:#f6f6f6;border-left:4px solid #888}
</style></head><body>
<h1>After-action report: {{.Title}}</h1>
<p>Scenario <b>{{.Scenario}}</b>. Exercise from {{.Started}} to {{.Ended}}{{if .Facilitator}}, facilitated by {{.Facilitator}}{{end}}{{if .Participants}}; participants: {{range $i, $p := .Participants}}{{if $i}}, {{end}}{{$p}}{{end}}{{end}}.
Quorum: {{.Threshold}} of {{range $i, $p := .People}}{{if $i}}, {{end}}{{$p}}{{end}}. Drill workspaces: <code>{{.Dir}}</code>.</p>
{{if .Ready}}<p id="verdict" class="verdict pass">Every capability was performed</p>{{else}}<p id="verdict" class="verdict fail">NOT READY: a capability was unable to be performed</p>{{end}}
{{if .Objectives}}<h2>Objectives</h2><ol>{{range .Objectives}}<li>{{.}}</li>{{end}}</ol>{{end}}
<h2 id="capabilities">Capabilities</h2>
<p>Rated P (performed without challenges), S (with some challenges), M (with major challenges), U (unable to be performed). The rating is the checks' (every task done in time: P; all done, some late: S; some done: M; none, or a guard broken: U), lowered by the facilitator's, never raised.</p>
<table id="ratings"><tr><th>Capability</th><th>Tasks done</th><th>Checks</th><th>Facilitator</th><th>Rating</th></tr>
{{range .Capabilities}}<tr><td>{{.Name}}<br><small>{{.ID}}</small>{{if .Note}}<br><small>{{.Note}}</small>{{end}}</td><td>{{.Done}} of {{.Tasks}}{{if .Late}} ({{.Late}} late){{end}}{{if .Broken}}<br><span class="not-done">{{.Broken}} guard broken</span>{{end}}</td><td>{{.Checked}}</td><td>{{if .Facilitator}}{{.Facilitator}}{{else}}—{{end}}</td><td><span class="rating r-{{lower .Rating}}">{{.Rating}}</span> {{.Text}}</td></tr>
{{end}}</table>
<h2 id="corrective">Corrective actions</h2>
<table id="actions"><tr><th>Capability</th><th>Action</th><th>Owner</th><th>Due</th></tr>
{{range .Corrective}}<tr><td>{{if .Capability}}{{.Capability}}{{else}}general{{end}}</td><td>{{.Action}}</td><td>{{.Owner}}</td><td>{{.Due}}</td></tr>
{{else}}<tr><td colspan="4">None recorded.</td></tr>{{end}}</table>
{{if .Unowned}}<p class="not-done">Rated below P without a corrective action: {{range $i, $c := .Unowned}}{{if $i}}, {{end}}{{$c}}{{end}}.</p>{{end}}
{{range .Modules}}<h2 id="module-{{.N}}">Module {{.N}}: {{.Name}}</h2>
<p><small>Injected {{.Injected}}, closed {{.Ended}}.</small></p>
<blockquote>{{.Inject}}</blockquote>
{{if .Setup}}<p>Prepared:</p><ul>{{range .Setup}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Answers}}<table><tr><th>Question</th><th>The team's answer</th><th>Recorded</th></tr>
{{range .Answers}}<tr><td>{{.Question}}</td><td>{{if .Answer}}{{.Answer}}{{else}}<small>no answer</small>{{end}}</td><td>{{.At}}</td></tr>
{{end}}</table>{{end}}
<table class="tasks"><tr><th>Task</th><th>Capability</th><th>Result</th><th>Evidence (from the workspaces)</th></tr>
{{range .Tasks}}<tr><td>{{.Do}}</td><td>{{.Capability}}</td><td class="{{.Result}}">{{if .Guard}}{{if eq .Result "done"}}held{{else}}BROKEN{{end}}{{else}}{{.Result}}{{end}}{{if .At}}<br><small>{{.At}}</small>{{end}}</td><td>{{.Evidence}}</td></tr>
{{end}}</table>
<details><summary>{{len .Actions}} actions logged by the workspaces</summary>
<table><tr><th>Time</th><th>Workspace</th><th>Entry</th><th>Proposal</th><th>Note</th></tr>
{{range .Actions}}<tr><td>{{.At}}</td><td>{{.Workspace}}</td><td>{{.Kind}}</td><td>{{.Proposal}}</td><td>{{.Note}}</td></tr>
{{end}}</table></details>
{{if .Notes}}<p><b>Facilitator's notes:</b> {{.Notes}}</p>{{end}}
{{end}}
<p><small>Written by airlock drill tabletop. Self-contained: no script, no external resource.</small></p>
</body></html>
`))

// HTML writes the report as a self-contained page: no script, no
// external resource.
func (a *AAR) HTML(w io.Writer) error {
	d := *a
	if d.Title == "" {
		d.Title = d.Scenario
	}
	return aarPage.Execute(w, &d)
}
