package inspect_test

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/airlock-vault/airlock/inspect"
)

// FuzzArtifact feeds Artifact untrusted bytes: it must never panic, and
// whatever it describes must marshal, as the command prints it.
func FuzzArtifact(f *testing.F) {
	w := newWorld(f)
	seeds := [][]byte{w.policy, w.proposal, w.approval, w.reject, w.proof, w.psbt,
		[]byte(base64.StdEncoding.EncodeToString(w.psbt)), []byte("psbt\xff"), nil}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, err := inspect.Artifact(raw, regtest)
		if err != nil {
			if out != nil {
				t.Fatalf("a description with error %v", err)
			}
			return
		}
		if _, ok := out["kind"].(string); !ok {
			t.Fatalf("no kind in %v", out)
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("description does not marshal: %v", err)
		}
	})
}
