package policy

import (
	"fmt"
	"time"
)

// FileTemplate is a template as written:
//
//	templates:
//	  - name: payroll
//	    vault: ops
//	    asset: BTC
//	    to: [payroll-alice, payroll-bob]
//	    max: "0.5"
//	    rate: {count: 4, max: "2", period: 720h}
//	    schedule: {zone: Europe/Zurich, days: [mon, tue, wed, thu, fri], hours: "08:00-18:00"}
//	    require: {all: [{group: treasury, count: 1}, {group: bots, count: 1}]}
//	    automated: [payroll-bot]
type FileTemplate struct {
	Name      string        `yaml:"name" json:"name"`
	Vault     string        `yaml:"vault" json:"vault"`
	Asset     string        `yaml:"asset" json:"asset"`
	To        []string      `yaml:"to" json:"to"`
	Max       string        `yaml:"max" json:"max"`
	Rate      *FileRate     `yaml:"rate" json:"rate"`
	Schedule  *FileSchedule `yaml:"schedule" json:"schedule"`
	Require   *FileNeed     `yaml:"require" json:"require"`
	Automated []string      `yaml:"automated" json:"automated"`
}

// FileRate is a template's rate: count payments and/or max in all (whole
// units) over period ("720h", "30d").
type FileRate struct {
	Count  int    `yaml:"count" json:"count"`
	Max    string `yaml:"max" json:"max"`
	Period string `yaml:"period" json:"period"`
}

// FileSchedule is a template's window, written as a window rule's.
type FileSchedule struct {
	Zone  string   `yaml:"zone" json:"zone"`
	Days  []string `yaml:"days" json:"days"`
	Hours string   `yaml:"hours" json:"hours"`
}

// convertTemplates sets p's templates from the file's; p's assets and
// vaults are set.
func (f *File) convertTemplates(p *Policy) error {
	if len(f.Templates) > MaxTemplates {
		return fieldErr("templates", "%d templates, at most %d", len(f.Templates), MaxTemplates)
	}
	for i := range f.Templates {
		ft := &f.Templates[i]
		at := fmt.Sprintf("templates[%d]", i)
		t := Template{Name: ft.Name, Vault: ft.Vault, Asset: ft.Asset, To: ft.To, Automated: ft.Automated}
		info, ok := p.asset(ft.Asset)
		if !ok {
			return fieldErr(at+".asset", "%q is neither BTC, ETH nor an asset of the policy", ft.Asset)
		}
		amount := func(field, s string) (string, error) {
			if s == "" {
				return "", nil
			}
			n, err := parseAmount(s, info.Decimals, info.Symbol)
			if err != nil {
				return "", fieldErr(at+"."+field, "%v", err)
			}
			return n.String(), nil
		}
		var err error
		if ft.Max == "" {
			return fieldErr(at+".max", "a template needs its max per payment")
		}
		if t.Max, err = amount("max", ft.Max); err != nil {
			return err
		}
		if ft.Rate == nil {
			return fieldErr(at+".rate", "a template needs its rate (count, max or both, over a period)")
		}
		t.Rate.Count = ft.Rate.Count
		if t.Rate.Max, err = amount("rate.max", ft.Rate.Max); err != nil {
			return err
		}
		d, err := parseDays(ft.Rate.Period)
		if err != nil || d%time.Second != 0 || d < MinPeriod || d > MaxPeriod {
			return fieldErr(at+".rate.period", "%q: want a duration from %v to %v, such as \"720h\" or \"30d\"", ft.Rate.Period, MinPeriod, MaxPeriod)
		}
		t.Rate.Period = int64(d / time.Second)
		if fs := ft.Schedule; fs != nil {
			w, err := convertRule(p, at+".schedule", &FileRule{Kind: string(RuleWindow), Zone: fs.Zone, Days: fs.Days, Hours: fs.Hours})
			if err != nil {
				return err
			}
			t.Schedule = &Schedule{Zone: w.Zone, Days: w.Days, From: w.From, Until: w.Until}
		}
		if ft.Require != nil {
			if t.Require, err = convertNeed(at+".require", ft.Require, 1); err != nil {
				return err
			}
		}
		p.Templates = append(p.Templates, t)
	}
	return nil
}
