package drill

import (
	"math"
	"math/rand/v2"
	"time"
)

// window is a period [From, Until).
type window struct{ From, Until time.Time }

func (w window) holds(t time.Time) bool { return !t.Before(w.From) && t.Before(w.Until) }

// model is the actors' behaviour, the faults' windows and the days each
// person is away: what the simulator and the Monte Carlo estimate share.
type model struct {
	start, end time.Time
	people     []string
	actors     map[string]*Actor
	threshold  int
	absent     map[string][]window
	lost       map[string]time.Time // key lost at
	down       []window             // the coordinator is down
	// rotated: when a rotation revoked a person and their replacement
	// joined (set by the run as rotations happen).
	rotated map[string]rotation
}

// rotation is a person replaced at a time.
type rotation struct {
	by string
	at time.Time
}

// members are the people who sign at t: the quorum's, less those a
// rotation revoked by then, plus their replacements.
func (m *model) members(t time.Time) []string {
	var out []string
	var add func(who string)
	add = func(who string) {
		if r, ok := m.rotated[who]; ok && !t.Before(r.at) {
			add(r.by)
			return
		}
		out = append(out, who)
	}
	for _, who := range m.people {
		add(who)
	}
	return out
}

func newModel(sc *Scenario) *model {
	m := &model{
		start: sc.Start, end: sc.Start.Add(sc.Duration.D()), people: sc.Quorum.People,
		actors: map[string]*Actor{}, threshold: sc.Quorum.Threshold,
		absent: map[string][]window{}, lost: map[string]time.Time{}, rotated: map[string]rotation{},
	}
	for i := range sc.Actors {
		m.actors[sc.Actors[i].Person] = &sc.Actors[i]
	}
	for _, f := range sc.Faults {
		at := sc.Start.Add(f.At.D())
		switch f.Kind {
		case Absent:
			m.absent[f.Person] = append(m.absent[f.Person], window{at, at.Add(f.For.D())})
		case CoordinatorDown:
			m.down = append(m.down, window{at, at.Add(f.For.D())})
		case KeyLost:
			if t, ok := m.lost[f.Person]; !ok || at.Before(t) {
				m.lost[f.Person] = at
			}
		}
	}
	return m
}

// lostAt reports whether the person's key is lost at t.
func (m *model) lostAt(who string, t time.Time) bool {
	at, ok := m.lost[who]
	return ok && !t.Before(at)
}

// coordinatorUp is the first time at or after t the coordinator is up.
func (m *model) coordinatorUp(t time.Time) time.Time {
	for moved := true; moved; {
		moved = false
		for _, w := range m.down {
			if w.holds(t) {
				t, moved = w.Until, true
			}
		}
	}
	return t
}

// away says whether a person is away on the day holding t (in their zone).
type awayFunc func(who string, t time.Time) bool

// ready is the first time at or after t the person can act: not absent,
// not away that day, within working hours. It gives up (the zero time)
// after a year of searching.
func (m *model) ready(who string, t time.Time, away awayFunc) time.Time {
	a := m.actors[who]
	limit := t.Add(366 * 24 * time.Hour)
	for i := 0; i < 2000 && t.Before(limit); i++ {
		moved := false
		for _, w := range m.absent[who] {
			if w.holds(t) {
				t, moved = w.Until, true
			}
		}
		if away(who, t) {
			t, moved = nextDay(t, a.Hours), true
		}
		if a.Hours != nil {
			if n := a.Hours.next(t); !n.Equal(t) {
				t, moved = n, true
			}
		}
		if !moved {
			return t
		}
	}
	return time.Time{}
}

// nextDay is the next local midnight after t.
func nextDay(t time.Time, h *Hours) time.Time {
	loc := time.UTC
	if h != nil {
		loc = h.loc
	}
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc).UTC()
}

// dayIndex numbers the person's local days from the scenario's start.
func (m *model) dayIndex(who string, t time.Time) int {
	loc := time.UTC
	if h := m.actors[who].Hours; h != nil {
		loc = h.loc
	}
	s, l := m.start.In(loc), t.In(loc)
	d0 := time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, time.UTC)
	d1 := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
	return int(d1.Sub(d0) / (24 * time.Hour))
}

// next is the first working time at or after t.
func (h *Hours) next(t time.Time) time.Time {
	for range 15 {
		l := t.In(h.loc)
		wd := l.Weekday()
		if h.Weekends || (wd != time.Saturday && wd != time.Sunday) {
			mins := l.Hour()*60 + l.Minute()
			if mins >= h.from && mins < h.until {
				return t
			}
			if mins < h.from {
				return time.Date(l.Year(), l.Month(), l.Day(), h.from/60, h.from%60, 0, 0, h.loc).UTC()
			}
		}
		t = time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, h.loc).UTC()
	}
	return t
}

// latency draws a person's time to decide, lognormal by p50 and p95,
// to the second, capped at 90 days.
func (a *Actor) latency(r *rand.Rand) time.Duration {
	mu := math.Log(a.Latency.P50.D().Seconds())
	sigma := (math.Log(a.Latency.P95.D().Seconds()) - mu) / 1.6448536269514722
	s := math.Exp(mu + sigma*r.NormFloat64())
	if s > 90*24*3600 {
		s = 90 * 24 * 3600
	}
	if s < 1 {
		s = 1
	}
	return time.Duration(s) * time.Second
}

// Reachability is the Monte Carlo estimate of the probability that a
// proposal made at a random time of the scenario gathers its threshold of
// decisions, collected by the coordinator, within the deadline.
type Reachability struct {
	Runs        int     `json:"runs"`
	Deadline    int64   `json:"deadlineSeconds"`
	Reached     int     `json:"reached"`
	Probability float64 `json:"probability"`
}

// reachability draws runs proposals at random times, each person's
// latency and away days, and counts those collected within the deadline.
// It has its own seeded source: the simulation's draws do not move it.
func (m *model) reachability(seed uint64, runs int, deadline time.Duration) Reachability {
	r := rand.New(rand.NewPCG(seed, 0x726561636820))
	span := m.end.Sub(m.start)
	out := Reachability{Runs: runs, Deadline: int64(deadline / time.Second)}
	for range runs {
		t0 := m.start.Add(time.Duration(r.Int64N(int64(span/time.Second)+1)) * time.Second)
		days := map[string]map[int]bool{}
		away := func(who string, t time.Time) bool {
			p := m.actors[who].AwayPerDay
			if p == 0 {
				return false
			}
			d := m.dayIndex(who, t)
			if days[who] == nil {
				days[who] = map[int]bool{}
			}
			v, ok := days[who][d]
			if !ok {
				v = r.Float64() < p
				days[who][d] = v
			}
			return v
		}
		var times []time.Time
		for _, who := range m.members(t0) {
			lat := m.actors[who].latency(r)
			if m.lostAt(who, t0) {
				continue
			}
			at := m.ready(who, t0.Add(lat), away)
			if at.IsZero() || m.lostAt(who, at) {
				continue
			}
			times = append(times, at)
		}
		if len(times) < m.threshold {
			continue
		}
		sortTimes(times)
		done := m.coordinatorUp(times[m.threshold-1])
		if done.Sub(t0) <= deadline {
			out.Reached++
		}
	}
	out.Probability = round4(float64(out.Reached) / float64(runs))
	return out
}

func sortTimes(ts []time.Time) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Before(ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

func round4(f float64) float64 { return math.Round(f*10000) / 10000 }
