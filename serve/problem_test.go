package serve

import (
	"strings"
	"testing"
)

// TestEveryProblemKindDocumented: a problem type the service can answer
// is one the OpenAPI document lists, so a client's generated code never
// meets an undeclared one.
func TestEveryProblemKindDocumented(t *testing.T) {
	for kind, k := range kinds {
		if !strings.Contains(string(openapiDoc), "- "+ProblemBase+kind+"\n") {
			t.Errorf("problem kind %q (%d) is not in openapi.yaml's Problem type enum", kind, k.status)
		}
		if !strings.Contains(string(openapiDoc), `"`+itoa(k.status)+`":`) {
			t.Errorf("status %d of problem kind %q is answered by no documented operation", k.status, kind)
		}
	}
}

func itoa(n int) string {
	const d = "0123456789"
	return string([]byte{d[n/100], d[n/10%10], d[n%10]})
}
