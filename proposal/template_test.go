package proposal_test

import (
	"bytes"
	"testing"

	"github.com/airlock-vault/airlock/proposal"
)

// TestTemplateNameTravelsAndIsChecked: a proposal's template name is
// signed with it and read back; a name no policy could hold (a terminal
// escape a station would print) is refused on decoding; a proposal
// without one encodes as it always did.
func TestTemplateNameTravelsAndIsChecked(t *testing.T) {
	w := newWorld(t)
	_, p := w.proposal(t, w.coord)
	plain, err := proposal.Seal(p, w.coord)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain.Payload, []byte("payroll")) {
		t.Fatal("a proposal without a template carries one")
	}
	for _, c := range []struct {
		name string
		ok   bool
	}{{"payroll", true}, {"usdc-payroll.eu", true}, {"Payroll", false}, {"pay\x1b[2Jroll", false}, {string(bytes.Repeat([]byte("a"), 64)), false}} {
		p.Template = c.name
		e, err := proposal.Seal(p, w.coord)
		if err != nil {
			t.Fatal(err)
		}
		got, err := proposal.Decode(e)
		if c.ok && (err != nil || got.Template != c.name) {
			t.Fatalf("template %q: %v, %+v", c.name, err, got)
		}
		if !c.ok && err == nil {
			t.Fatalf("template %q accepted", c.name)
		}
	}
}
