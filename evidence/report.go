package evidence

import (
	"fmt"
	"html/template"
	"io"
	"strings"
)

// Control is one CCSS aspect (docs/controls.md) as the report shows it:
// what airlock does for it, and which checks of the bundle bear on it.
type Control struct {
	ID, Title, Mechanism string
	Checks               []string // Finding.Check values that evidence it
}

// Controls are the CCSS aspects the report is organized by, in the order
// of docs/controls.md.
var Controls = []Control{
	{"1.01", "Key / seed generation", "Keys are generated at each offline station (BIP-39 seed, Ed25519 identity) or on a PKCS#11 token, and enter the policy by their public halves only.", []string{"policy-chain"}},
	{"1.02", "Wallet creation", "Each vault is a k-of-n of participants' devices in a policy every participant signed; descriptors are built from the keys, not trusted.", []string{"policy-chain"}},
	{"1.03", "Key storage", "Keys are age-encrypted with scrypt or kept on a token; seeds are split in Shamir shares sealed to custodians and rehearsed with key verify-backup.", nil},
	{"1.04", "Key usage", "Every signature is made offline by a station that decoded the transaction itself and evaluated the policy's rules; every decision and threshold proof in the bundle is verified against the policy version it cites.", []string{"decisions", "proofs", "rounds"}},
	{"1.05", "Key compromise policy", "Revocations take effect at once and are never lifted; no decision may be collected after its key's revocation existed; funds move by rotation.", []string{"revocations", "rounds"}},
	{"1.06", "Keyholder grant / revoke", "Every change of keyholders is a policy version signed by the previous version's quorum; grants wait the change delay.", []string{"policy-chain"}},
	{"1.07", "Third-party security audits", "This report: the bundle was verified with the genesis policy's id alone.", []string{"manifest"}},
	{"1.08", "Data sanitization", "Outside airlock: the organization's procedure for retired devices.", nil},
	{"1.09", "Proof of reserve", "Not in airlock yet: balances come from the auditor's own node.", nil},
	{"1.10", "Audit logs", "Every state change commits with its audit entry; the log's tree is recomputed, every checkpoint is a prefix of it (no fork), state and log agree both ways.", []string{"log", "checkpoints", "proposals", "conflicts"}},
}

const reportHTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>airlock evidence report — {{.Report.Coordinator}}, {{.Report.Since}} to {{.Report.Until}}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#111}
h1{font-size:1.5em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
.ok{color:#176c2e;font-weight:600} .fail{color:#a3141b;font-weight:700}
table{border-collapse:collapse;width:100%} td,th{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
code{font-size:.9em}
</style></head><body>
<h1>Evidence report: coordinator {{.Report.Coordinator}}</h1>
<p>Period {{.Report.Since}} to {{.Report.Until}}. Genesis policy <code>{{.Genesis}}</code>.
Verdict: {{if .Report.OK}}<span class="ok" id="verdict">the bundle verifies</span>{{else}}<span class="fail" id="verdict">the bundle does NOT verify</span>{{end}}.</p>
<table><tr><th>policy versions</th><th>log entries</th><th>checkpoints</th><th>witnessed</th><th>proposals</th><th>decisions</th><th>threshold proofs</th></tr>
<tr><td>{{.Report.Policies}}</td><td>{{.Report.Entries}}</td><td>{{.Report.Checkpoints}}</td><td>{{.Report.Witnessed}}</td><td>{{.Report.Proposals}}</td><td>{{.Report.Decisions}}</td><td>{{.Report.Finalized}}</td></tr></table>
{{range .Controls}}
<h2 id="ccss-{{.ID}}">CCSS {{.ID}} {{.Title}}</h2>
<p>{{.Mechanism}}</p>
{{if .Findings}}<table><tr><th>check</th><th>result</th><th>detail</th><th>where</th></tr>
{{range .Findings}}<tr><td>{{.Check}}</td><td>{{if .OK}}<span class="ok">ok</span>{{else}}<span class="fail">FAIL</span>{{end}}</td><td>{{.Detail}}</td><td><code>{{.Where}}</code></td></tr>
{{end}}</table>{{else}}<p><em>No check of the bundle bears on this aspect; see docs/controls.md.</em></p>{{end}}
{{end}}
<h2 id="all-findings">Every check</h2>
<table><tr><th>check</th><th>result</th><th>detail</th><th>where</th></tr>
{{range .Report.Findings}}<tr><td>{{.Check}}</td><td>{{if .OK}}<span class="ok">ok</span>{{else}}<span class="fail">FAIL</span>{{end}}</td><td>{{.Detail}}</td><td><code>{{.Where}}</code></td></tr>
{{end}}</table>
<p>Made by <code>airlock audit report</code>; self-contained, no external resources.</p>
</body></html>
`

var reportTmpl = template.Must(template.New("report").Parse(reportHTML))

// WriteReport renders a check's report as one self-contained HTML page,
// organized by the CCSS aspects (Controls): each with what airlock does
// for it and the checks of the bundle that bear on it.
func WriteReport(w io.Writer, rep *Report, genesis [32]byte) error {
	type section struct {
		Control
		Findings []Finding
	}
	var secs []section
	for _, c := range Controls {
		s := section{Control: c}
		for _, f := range rep.Findings {
			for _, name := range c.Checks {
				if f.Check == name {
					s.Findings = append(s.Findings, f)
				}
			}
		}
		secs = append(secs, s)
	}
	return reportTmpl.Execute(w, struct {
		Report   *Report
		Genesis  string
		Controls []section
	}{rep, fmt.Sprintf("%x", genesis[:]), secs})
}

// ReportHeadings are the section headings a report holds, for checks.
func ReportHeadings() []string {
	var out []string
	for _, c := range Controls {
		out = append(out, strings.TrimSpace(fmt.Sprintf("CCSS %s %s", c.ID, c.Title)))
	}
	return out
}
