package policy_test

import (
	"testing"

	"github.com/airlock-vault/airlock/policy"
)

// TestToFileRoundTrips: the YAML `policy show --yaml` prints reads back
// into the same policy (the same id), so editing it into the next
// version changes only what the person changed.
func TestToFileRoundTrips(t *testing.T) {
	for name, p := range map[string]*policy.Policy{
		"rules": rulesPolicy(t, "change_delay: 48h\nseparation_of_duties: false\n", diffRules, ""),
		"plain": rulesPolicy(t, "", "", ""),
	} {
		t.Run(name, func(t *testing.T) {
			src, err := policy.ToFile(p).YAML()
			if err != nil {
				t.Fatal(err)
			}
			f, err := policy.ParseFile(src)
			if err != nil {
				t.Fatalf("%v\n%s", err, src)
			}
			q, err := f.Genesis(rulesReg)
			if err != nil {
				t.Fatalf("%v\n%s", err, src)
			}
			a, _ := policy.ID(p)
			b, _ := policy.ID(q)
			if a != b {
				t.Fatalf("round trip changed the policy: %v\n%s", policy.Diff(p, q), src)
			}
		})
	}
}

// TestToFileKeepsTemplatesAndEmergencyPaths: 'policy show --yaml' writes
// templates and emergency paths back, so editing it into the next version
// (a key rotation, say) does not silently drop them.
func TestToFileKeepsTemplatesAndEmergencyPaths(t *testing.T) {
	tp, err := templatePolicy(t, payrollTemplate, tierRule)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := emergencyPolicy(t, goodEmergency)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*policy.Policy{"templates": tp, "emergency": ep} {
		t.Run(name, func(t *testing.T) {
			src, err := policy.ToFile(p).YAML()
			if err != nil {
				t.Fatal(err)
			}
			f, err := policy.ParseFile(src)
			if err != nil {
				t.Fatalf("%v\n%s", err, src)
			}
			q, err := f.Genesis(rulesReg)
			if err != nil {
				t.Fatalf("%v\n%s", err, src)
			}
			if ch := policy.Diff(p, q); len(ch) != 0 {
				t.Fatalf("round trip changed the policy: %v\n%s", ch, src)
			}
		})
	}
}
