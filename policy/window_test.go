package policy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/policy"
)

func TestWindowRule(t *testing.T) {
	p := rulesPolicy(t, "", `
- {name: office-hours, kind: window, zone: Europe/Zurich, days: [mon, tue, wed, thu, fri], hours: "08:00-18:00"}
`, `
- {name: night-shift, kind: window, zone: America/New_York, days: [fri], hours: "22:00-06:00"}
`)
	zurich := func(s string) time.Time {
		loc, _ := time.LoadLocation("Europe/Zurich")
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	newYork := func(s string) time.Time {
		loc, _ := time.LoadLocation("America/New_York")
		tm, _ := time.ParseInLocation("2006-01-02 15:04", s, loc)
		return tm
	}
	cases := []struct {
		name    string
		vault   string
		now     time.Time
		allowed bool
		wants   []string
	}{
		{"a payment on a Saturday is denied", "ops", zurich("2026-03-07 10:14"), false,
			[]string{`vault rule 0 "office-hours" (window)`, "it is Sat 2026-03-07 10:14 in Europe/Zurich, outside mon,tue,wed,thu,fri 08:00-18:00"}},
		{"a payment on a weekday in office hours is allowed", "ops", zurich("2026-03-04 09:00"), true, nil},
		{"a payment at 18:00 sharp is outside 08:00-18:00", "ops", zurich("2026-03-04 18:00"), false, []string{"18:00 in Europe/Zurich"}},
		{"a payment at 07:59 is outside", "ops", zurich("2026-03-04 07:59"), false, nil},
		{"the window is read in its zone, not in UTC (07:30 UTC is 08:30 in Zurich in winter)", "ops",
			time.Date(2026, 3, 4, 7, 30, 0, 0, time.UTC), true, nil},
		{"the window follows summer time (06:30 UTC is 08:30 in Zurich in July)", "ops",
			time.Date(2026, 7, 8, 6, 30, 0, 0, time.UTC), true, nil},
		{"06:30 UTC is before office hours in Zurich in winter", "ops",
			time.Date(2026, 3, 4, 6, 30, 0, 0, time.UTC), false, nil},
		{"an overnight window reaches into the next morning", "safe", newYork("2026-03-07 03:00"), true, nil},
		{"an overnight window starts on its day", "safe", newYork("2026-03-06 23:30"), true, nil},
		{"an overnight window does not start on the next day", "safe", newYork("2026-03-07 22:30"), false, []string{"fri 22:00-06:00"}},
		{"an overnight window ends at its end", "safe", newYork("2026-03-07 06:00"), false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := effects(btc(t, exchangeAddr, "1"))
			if c.vault == "safe" {
				fx = effects(eth(t, payrollAddr, "1"))
			}
			vd := evaluate(t, p, policy.Input{Vault: c.vault, Effects: fx}, nil, c.now)
			want(t, vd, c.allowed, c.wants...)
		})
	}
}

func TestWindowRefusedWithTheirLine(t *testing.T) {
	cases := map[string]struct{ ops, want string }{
		"a time zone that does not exist": {`- {name: w, kind: window, zone: Mars/Olympus_Mons, days: [mon], hours: "08:00-18:00"}`,
			`transaction_rules[0].zone: time zone "Mars/Olympus_Mons" does not exist`},
		"the machine's own zone": {`- {name: w, kind: window, zone: Local, days: [mon], hours: "08:00-18:00"}`, `zone: time zone "Local": name an IANA zone`},
		"no zone":                {`- {name: w, kind: window, days: [mon], hours: "08:00-18:00"}`, `zone: time zone "": name an IANA zone`},
		"a day that does not exist": {`- {name: w, kind: window, zone: UTC, days: [mon, funday], hours: "08:00-18:00"}`,
			`days: "funday" is not a day`},
		"a day twice":      {`- {name: w, kind: window, zone: UTC, days: [mon, mon], hours: "08:00-18:00"}`, `days: "mon" is listed twice`},
		"no days":          {`- {name: w, kind: window, zone: UTC, hours: "08:00-18:00"}`, `days: a window rule names its days`},
		"an hour of 25":    {`- {name: w, kind: window, zone: UTC, days: [mon], hours: "08:00-25:00"}`, `hours: "08:00-25:00": want HH:MM-HH:MM`},
		"an empty window":  {`- {name: w, kind: window, zone: UTC, days: [mon], hours: "08:00-08:00"}`, `hours: "08:00-08:00" is empty`},
		"a start at 24:00": {`- {name: w, kind: window, zone: UTC, days: [mon], hours: "24:00-08:00"}`, `hours: "24:00-08:00": want`},
		"no hours":         {`- {name: w, kind: window, zone: UTC, days: [mon]}`, `hours: 00:00-00:00: want two different times`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseRules(t, "", c.ops, "")
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "policy: line ") {
				t.Fatalf("got %v, want %q with its line", err, c.want)
			}
		})
	}
}

func TestWindowAllDay(t *testing.T) {
	p := rulesPolicy(t, "", `- {name: weekdays, kind: window, zone: UTC, days: [sun, mon], hours: "00:00-24:00"}`, "")
	if got := p.Vaults[0].TxRules[0].Days; strings.Join(got, ",") != "mon,sun" {
		t.Fatalf("days stored as %v, want Monday first", got)
	}
	for _, tc := range []struct {
		at      time.Time
		allowed bool
	}{
		{time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), true},   // Monday 00:00
		{time.Date(2026, 3, 2, 23, 59, 0, 0, time.UTC), true}, // Monday 23:59
		{time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), false},  // Tuesday 00:00
	} {
		vd := evaluate(t, p, policy.Input{Vault: "ops", Effects: effects(btc(t, exchangeAddr, "1"))}, nil, tc.at)
		if vd.Allowed != tc.allowed {
			t.Errorf("%v: allowed %v, want %v", tc.at, vd.Allowed, tc.allowed)
		}
	}
}
