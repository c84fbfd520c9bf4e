package policy_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/policy"
)

// TestPolicyIDWithoutRulesIsUnchanged pins the ids of policies written
// before transaction rules existed: the rule fields are new CBOR keys,
// omitted when empty, so every policy signed before them keeps its id and
// its signatures.
func TestPolicyIDWithoutRulesIsUnchanged(t *testing.T) {
	coord, ms := quorum(t)
	cases := map[string]struct {
		src  string
		want string
	}{
		"2 of 3": {yamlFor(coord, ms, 2, ""), "423a6276507ec885db2925792948163990f3b85be794caa1a93c85d52c77b46a"},
		"1 of 1 with device rules and limits": {
			strings.Replace(yamlFor(coord, ms[:1], 1, "policy_threshold: 1\n"), "    threshold: 1\n", "    threshold: 1\n    limits: {max_fee: 50000}\n    rules: {health_max_age: 30d}\n", 1),
			"304afe04a0c9f6f75a382aa700efe676ae98655270fa9cb9c0d5edd8672633f0",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f, err := policy.ParseFile([]byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			p, err := f.Genesis(reg)
			if err != nil {
				t.Fatal(err)
			}
			id, err := policy.ID(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(id[:]); got != c.want {
				t.Fatalf("policy id %s, want %s", got, c.want)
			}
		})
	}
}
