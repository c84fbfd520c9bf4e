package drill

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// plot is a hand-written SVG chart over the scenario's period: no
// library, no external resource, the same bytes for the same run.
type plot struct {
	b          strings.Builder
	w, h       float64
	left, top  float64
	pw, ph     float64
	start, end time.Time
	ymax       float64
}

func newPlot(title string, start, end time.Time, ymax float64, ylabel string) *plot {
	p := &plot{w: 880, h: 280, left: 60, top: 30, start: start, end: end, ymax: ymax}
	p.pw, p.ph = p.w-p.left-20, p.h-p.top-40
	fmt.Fprintf(&p.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s">`, p.w, p.h, p.w, p.h, template.HTMLEscapeString(title))
	fmt.Fprintf(&p.b, `<text x="%.0f" y="18" class="t">%s</text>`, p.left, template.HTMLEscapeString(title))
	fmt.Fprintf(&p.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="frame"/>`, p.left, p.top, p.pw, p.ph)
	// Days along x.
	days := int(end.Sub(start).Hours()/24 + 0.5)
	step := 1
	for days/step > 15 {
		step++
	}
	for d := 0; d <= days; d += step {
		x := p.x(start.Add(time.Duration(d) * 24 * time.Hour))
		fmt.Fprintf(&p.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="grid"/><text x="%.1f" y="%.1f" class="ax" text-anchor="middle">d%d</text>`,
			x, p.top, x, p.top+p.ph, x, p.top+p.ph+14, d)
	}
	for i := 0; i <= 4; i++ {
		v := ymax * float64(i) / 4
		y := p.y(v)
		fmt.Fprintf(&p.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="grid"/><text x="%.1f" y="%.1f" class="ax" text-anchor="end">%s</text>`,
			p.left, y, p.left+p.pw, y, p.left-4, y+4, trimFloat(v))
	}
	fmt.Fprintf(&p.b, `<text x="14" y="%.1f" class="ax" transform="rotate(-90 14 %.1f)" text-anchor="middle">%s</text>`, p.top+p.ph/2, p.top+p.ph/2, template.HTMLEscapeString(ylabel))
	fmt.Fprintf(&p.b, `<text x="%.1f" y="%.1f" class="ax" text-anchor="middle">simulated day</text>`, p.left+p.pw/2, p.h-6)
	return p
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.1f", v)
	return strings.TrimSuffix(s, ".0")
}

func (p *plot) x(t time.Time) float64 {
	f := t.Sub(p.start).Seconds() / p.end.Sub(p.start).Seconds()
	return p.left + math.Max(0, math.Min(1, f))*p.pw
}

func (p *plot) y(v float64) float64 {
	f := v / p.ymax
	return p.top + p.ph - math.Max(0, math.Min(1, f))*p.ph
}

// faults shades the fault windows and marks the instant faults.
func (p *plot) faults(fs []FaultSpan) {
	for i, f := range fs {
		label := f.Kind
		if f.Person != "" {
			label += " " + f.Person
		}
		label = template.HTMLEscapeString(label)
		ly := p.top + 12 + float64(i%4)*12
		if !f.until.IsZero() {
			x0, x1 := p.x(f.from), p.x(f.until)
			fmt.Fprintf(&p.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="fault %s"><title>%s</title></rect>`, x0, p.top, math.Max(1, x1-x0), p.ph, f.Kind, label)
			fmt.Fprintf(&p.b, `<text x="%.1f" y="%.1f" class="fl">%s</text>`, x0+3, ly, label)
			continue
		}
		x := p.x(f.from)
		fmt.Fprintf(&p.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" class="mark"><title>%s</title></line><text x="%.1f" y="%.1f" class="fl">%s</text>`, x, p.top, x, p.top+p.ph, label, x+3, ly, label)
	}
}

func (p *plot) svg() template.HTML {
	p.b.WriteString(`</svg>`)
	return template.HTML(p.b.String())
}

// quorumPlot: each proposal's time to quorum against when it was made;
// expired proposals on the top line, the attacker's at the bottom.
func (r *Report) quorumPlot() template.HTML {
	ymax := 24.0
	for _, p := range r.props {
		if !p.QuorumAt.IsZero() {
			ymax = math.Max(ymax, p.QuorumAt.Sub(p.Created).Hours())
		}
		if p.State == "expired" {
			ymax = math.Max(ymax, p.Expires.Sub(p.Created).Hours())
		}
	}
	ymax = math.Ceil(ymax/12) * 12
	pl := newPlot("Time to quorum of each proposal (hours), by when it was made", r.start, r.end, ymax, "hours")
	pl.faults(r.Faults)
	for _, p := range r.props {
		x := pl.x(p.Created)
		switch {
		case p.Attack:
			fmt.Fprintf(&pl.b, `<path d="M%.1f %.1fl5 -9l5 9z" class="attack"><title>#%d %s: %s</title></path>`, x-5, pl.y(0)-1, p.N, p.Flow, p.State)
		case !p.QuorumAt.IsZero():
			fmt.Fprintf(&pl.b, `<circle cx="%.1f" cy="%.1f" r="3" class="%s"><title>#%d %s: quorum after %s</title></circle>`, x, pl.y(p.QuorumAt.Sub(p.Created).Hours()), p.Flow, p.N, p.Flow, human(p.QuorumAt.Sub(p.Created)))
		case p.State == "expired":
			y := pl.y(p.Expires.Sub(p.Created).Hours())
			fmt.Fprintf(&pl.b, `<path d="M%.1f %.1fl8 8m0 -8l-8 8" class="expired"><title>#%d %s: expired</title></path>`, x-4, y-4, p.N, p.Flow)
		}
	}
	return pl.svg()
}

// backlogPlot: proposals waiting (open or approved) hour by hour.
func (r *Report) backlogPlot() template.HTML {
	var counts []int
	var times []time.Time
	peak := 1
	for t := r.start; !t.After(r.end); t = t.Add(time.Hour) {
		n := 0
		for _, p := range r.props {
			if p.Attack || p.Created.After(t) {
				continue
			}
			ended := p.End(r.end)
			if t.Before(ended) {
				n++
			}
		}
		counts, times = append(counts, n), append(times, t)
		peak = max(peak, n)
	}
	ymax := float64(peak + 1)
	pl := newPlot("Proposals waiting for their quorum, hour by hour", r.start, r.end, ymax, "proposals")
	pl.faults(r.Faults)
	var d strings.Builder
	for i, n := range counts {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&d, "%s%.1f %.1f", cmd, pl.x(times[i]), pl.y(float64(n)))
	}
	fmt.Fprintf(&pl.b, `<path d="%s" class="line"/>`, d.String())
	return pl.svg()
}

// End is when a proposal stopped waiting: its quorum, its expiry or the
// end of the run.
func (p *Prop) End(end time.Time) time.Time {
	switch {
	case !p.QuorumAt.IsZero():
		return p.QuorumAt
	case p.State == "expired" || !p.Expires.After(end):
		return p.Expires
	}
	return end
}

// latencyPlot: each station's signing latency, p50 and p95, as bars.
func (r *Report) latencyPlot() template.HTML {
	n := len(r.Metrics.Signing)
	rowH := 26.0
	w, left := 880.0, 90.0
	h := 40 + rowH*float64(n) + 24
	ymax := 1.0
	for _, s := range r.Metrics.Signing {
		ymax = math.Max(ymax, float64(s.P95)/3600)
	}
	ymax = math.Ceil(ymax/6) * 6
	pw := w - left - 30
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" aria-label="signing latency">`, w, h, w, h)
	fmt.Fprintf(&b, `<text x="%.0f" y="18" class="t">Signing latency by station (hours): median, and 95th percentile</text>`, left)
	for i := 0; i <= 6; i++ {
		x := left + pw*float64(i)/6
		fmt.Fprintf(&b, `<line x1="%.1f" y1="30" x2="%.1f" y2="%.1f" class="grid"/><text x="%.1f" y="%.1f" class="ax" text-anchor="middle">%s</text>`, x, x, h-24, x, h-10, trimFloat(ymax*float64(i)/6))
	}
	for i, s := range r.Metrics.Signing {
		y := 36 + rowH*float64(i)
		p50, p95 := float64(s.P50)/3600/ymax*pw, float64(s.P95)/3600/ymax*pw
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="ax" text-anchor="end">%s</text>`, left-6, y+13, template.HTMLEscapeString(s.Station))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="16" class="p95"><title>p95 %s</title></rect>`, left, y, p95, secs(s.P95))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="16" class="p50"><title>p50 %s</title></rect>`, left, y, p50, secs(s.P50))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"secs": secs,
	"pct":  func(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) },
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>airlock drill: {{.R.Scenario}} (seed {{.R.Seed}})</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:920px;color:#1d2329}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border-bottom:1px solid #dde1e5;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f5f7}.pass{color:#0a7a32;font-weight:600}.fail{color:#b3261e;font-weight:600}
.verdict{font-size:1.2em;padding:.6em .8em;border-radius:4px;display:inline-block}
.verdict.pass{background:#e4f5ea}.verdict.fail{background:#fbe7e6}
svg{display:block;margin:.8em 0}svg .t{font-weight:600;font-size:13px}svg .ax{font-size:11px;fill:#555}svg .fl{font-size:10px;fill:#6b3a00}
svg .frame{fill:none;stroke:#99a}svg .grid{stroke:#e6e8eb}svg .fault{fill:#f3b54a;opacity:.25}svg .key-lost{fill:#b3261e;opacity:.10}
svg .mark{stroke:#c26b00;stroke-dasharray:4 3}svg circle{stroke:none}svg .routine{fill:#2f6fb0}svg .urgent{fill:#d0771e}svg .large{fill:#6a3fa0}
svg .expired{stroke:#b3261e;stroke-width:2;fill:none}svg .attack{fill:#b3261e}svg .line{fill:none;stroke:#2f6fb0;stroke-width:1.5}
svg .p95{fill:#b9cfe6}svg .p50{fill:#2f6fb0}
small{color:#666}
</style></head><body>
<h1>Drill: {{.R.Scenario}}</h1>
<p>Seed {{.R.Seed}}; simulated from {{.R.Start}} to {{.R.End}}; {{.R.Events}} events. Everything ran through airlock's own coordinator, stations and policy engine, in throwaway drill workspaces.</p>
{{if .R.Passed}}<p class="verdict pass">PASSED: every invariant held</p>{{else}}<p class="verdict fail">FAILED: {{.Failed}}. Reproduce with <code>airlock drill run SCENARIO --seed {{.R.Seed}}</code></p>{{end}}
<h2>Invariants</h2>
<table><tr><th>Invariant</th><th>Checked</th><th>Verdict</th></tr>
{{range .R.Invariants}}<tr><td>{{.Title}}<br><small>{{.Name}}</small>{{range .Violations}}<br><span class="fail">{{.}}</span>{{end}}</td><td>{{.Checked}}</td><td>{{if .Held}}<span class="pass">held</span>{{else}}<span class="fail">violated</span>{{end}}</td></tr>
{{end}}</table>
<h2>Proposals</h2>
<table><tr><th>Proposed</th><th>Finalized</th><th>Expired</th><th>Rejected</th><th>Still open</th><th>Denied at proposal</th><th>Attacks</th></tr>
{{with .R.Proposals}}<tr><td>{{.Proposed}}</td><td>{{.Finalized}}</td><td>{{.Expired}}</td><td>{{.Rejected}}</td><td>{{.Open}}</td><td>{{.Denied}}</td><td>{{.Attacks}}</td></tr>{{end}}</table>
<h2>Metrics</h2>
<table><tr><th>Metric</th><th>p50</th><th>p95</th><th>max</th><th>count</th></tr>
{{with .R.Metrics}}<tr><td>Time to quorum</td><td>{{secs .TimeToQuorum.P50}}</td><td>{{secs .TimeToQuorum.P95}}</td><td>{{secs .TimeToQuorum.Max}}</td><td>{{.TimeToQuorum.Count}}</td></tr>
<tr><td>Time to finalize</td><td>{{secs .TimeToFinalize.P50}}</td><td>{{secs .TimeToFinalize.P95}}</td><td>{{secs .TimeToFinalize.Max}}</td><td>{{.TimeToFinalize.Count}}</td></tr>
{{range .Signing}}<tr><td>Signing latency, {{.Station}}</td><td>{{secs .P50}}</td><td>{{secs .P95}}</td><td>{{secs .Max}}</td><td>{{.Count}}</td></tr>
{{end}}</table>
<table><tr><th>Failure rate</th><th>Expiry rate</th><th>Rejection rate</th><th>Quorum reachable within {{secs $.R.Reachability.Deadline}}</th></tr>
<tr><td>{{pct .FailureRate}}</td><td>{{pct .ExpiryRate}}</td><td>{{pct .RejectionRate}}</td><td>{{pct $.R.Reachability.Probability}} <small>({{$.R.Reachability.Reached}} of {{$.R.Reachability.Runs}} Monte Carlo runs)</small></td></tr></table>{{end}}
<h2>Plots</h2>
<p><small>Shaded: fault windows (absences, outages; a lost key to the end). Dashed: instant faults. Dots: time to quorum (blue routine, orange urgent, purple large); red crosses: expired; red triangles: the attacker's proposals.</small></p>
{{.Quorum}}{{.Backlog}}{{.Latency}}
<h2>Attacks</h2>
<table><tr><th>Proposal</th><th>Attack</th><th>Stolen key</th><th>End state</th><th>Stopped by</th></tr>
{{range .R.Attacks}}<tr><td>#{{.Proposal}}</td><td>{{.Attack}}</td><td>{{.Station}}</td><td>{{if .Stopped}}<span class="pass">{{.State}}</span>{{else}}<span class="fail">{{.State}}</span>{{end}}</td><td>{{range .RejectedBy}}{{.Station}}: {{.Reason}}<br>{{else}}the coordinator's threshold{{end}}</td></tr>
{{else}}<tr><td colspan="5">No station was compromised.</td></tr>{{end}}</table>
{{if or .R.QR .R.Media .R.Restores .R.Versions .R.Rotations .R.Recoveries}}<h2>Recovery</h2>
<table><tr><th>What</th><th>When</th><th>Outcome</th></tr>
{{with .R.Media}}<tr><td>Removable media (signed manifests)</td><td></td><td>{{.Carried}} carried; {{.Imported}} transfers imported; {{.Refused}} refused; {{.Gaps}} gaps reported; {{.Lost}} lost, {{.Replayed}} replayed, {{.Tampered}} tampered; {{.Reexported}} exported again{{if .RestoredLogs}}; {{.RestoredLogs}} restored logs taken on purpose after the coordinator's restore{{end}}</td></tr>{{end}}{{with .R.QR}}<tr><td>QR carries</td><td></td><td>{{.Carries}} artifacts; {{.FramesShown}} frames shown for {{.FramesNeeded}} needed; {{.FramesDropped}} missed; {{.Retries}} showings retried</td></tr>{{end}}
{{range .R.Restores}}<tr><td>Database restored from the backup of {{.BackupAt}}</td><td>{{.At}}</td><td>{{if .Detected}}<span class="pass">rollback detected</span>{{else}}<span class="fail">rollback NOT detected</span>{{end}}; {{.ProposalsLost}} proposals lost ({{.FinalsLost}} finalized, {{.Readopted}} re-adopted from a station's copy, {{.ProposedAgain}} proposed again, refused {{.GuardHeld}} times by a station's double-sign guard); {{.DecisionsLost}} decisions lost, {{.Recollected}} handed in again</td></tr>
{{end}}{{range .R.Versions}}<tr><td>Policy version {{.Version}}: {{.Why}}</td><td>{{.At}}</td><td>in effect {{.InEffect}}; {{.Superseded}} open proposals superseded, {{.Stale}} stale{{range .Changes}}<br><small>{{.}}</small>{{end}}</td></tr>
{{end}}{{range .R.Rotations}}<tr><td>Rotation after {{.Fault}} of {{.Person}} ({{.Replacement}} in their place)</td><td>{{.RotatedAt}}</td><td>version {{.Version}}; time to restore quorum: {{if .RestoredAt}}{{secs .TimeToRestore}}{{else}}<span class="fail">not within the run</span>{{end}}</td></tr>
{{end}}{{range .R.Recoveries}}<tr><td>Recovery path (coin {{.Depth}} blocks deep, lock {{.Lock}})</td><td>{{.At}}</td><td>{{if .Mature}}lock matured{{else}}lock not matured{{end}}: coordinator {{.Coordinator}}; station {{.Station}}; {{if eq .Finalized .Mature}}<span class="pass">{{if .Finalized}}finalized on the recovery path{{else}}not finalized{{end}}</span>{{else}}<span class="fail">{{if .Finalized}}finalized before the lock allowed it{{else}}not finalized though the lock allowed it{{end}}</span>{{end}}</td></tr>
{{end}}</table>{{end}}
<h2>Faults</h2>
<table><tr><th>Fault</th><th>Person</th><th>From</th><th>Until</th></tr>
{{range .R.Faults}}<tr><td>{{.Kind}}</td><td>{{.Person}}</td><td>{{.At}}</td><td>{{.Until}}</td></tr>
{{else}}<tr><td colspan="4">None.</td></tr>{{end}}</table>
<h2>Notable events</h2>
<table><tr><th>Time</th><th>Event</th><th>Who</th><th>Proposal</th><th>Note</th></tr>
{{range .R.Notable}}<tr><td>{{when .At}}</td><td>{{.Kind}}</td><td>{{.Who}}</td><td>{{if .Proposal}}#{{.Proposal}}{{end}}</td><td>{{.Note}}</td></tr>
{{end}}</table>
<p><small>Made by airlock drill run. The same scenario and seed give this page byte for byte.</small></p>
</body></html>
`))

// HTML writes the report as a self-contained page.
func (r *Report) HTML(w io.Writer) error {
	var b bytes.Buffer
	err := page.Execute(&b, map[string]any{
		"R": r, "Failed": strings.Join(r.Failed(), ", "),
		"Quorum": r.quorumPlot(), "Backlog": r.backlogPlot(), "Latency": r.latencyPlot(),
	})
	if err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}
