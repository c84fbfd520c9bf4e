package policy_test

import (
	"testing"
	"time"

	"github.com/airlock-vault/airlock/policy"
)

// FuzzNext reads an edited source as the next version of the rules
// fixture: whatever Next accepts must pass CheckSuccessor and round-trip
// through ToFile; whatever it refuses, it refuses with an error, never a
// panic. Diff must never panic on what a station decodes.
func FuzzNext(f *testing.F) {
	base := rulesPolicy(f, "change_delay: 48h\n", diffRules, "")
	src, err := policy.ToFile(base).YAML()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(src, int64(0))
	f.Add(src, int64(3600))
	f.Fuzz(func(t *testing.T, src []byte, after int64) {
		pf, err := policy.ParseFile(src)
		if err != nil {
			return
		}
		now := time.Unix(2_000_000_000, 0)
		var nb time.Time
		if after > 0 && after < 1<<32 {
			nb = now.Add(time.Duration(after) * time.Second)
		}
		p, changes, err := policy.Next(base, pf, rulesReg, now, nb)
		if err != nil {
			return
		}
		if len(changes) == 0 {
			t.Fatal("a version with no change accepted")
		}
		if err := policy.CheckSuccessor(base, p); err != nil {
			t.Fatalf("Next made a version CheckSuccessor refuses: %v", err)
		}
		_ = policy.Diff(p, base)
		if _, err := policy.ToFile(p).YAML(); err != nil {
			t.Fatalf("ToFile: %v", err)
		}
	})
}
