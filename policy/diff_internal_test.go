package policy

import "testing"

// TestResidualCatchesUnreadFields: Diff fails closed on a field it does
// not read (one added to the policy later and not taught to Diff): the
// residue of a struct, once the fields Diff reads are cleared, still
// tells a change in the new field, and only there.
func TestResidualCatchesUnreadFields(t *testing.T) {
	type grown struct {
		Known string
		New   []int
	}
	clear := func(x *grown) { x.Known = "" }
	if !residual(grown{"a", []int{1}}, grown{"b", []int{2}}, clear) {
		t.Fatal("a change in an unread field passes unnoticed")
	}
	if residual(grown{"a", []int{1}}, grown{"b", []int{1}}, clear) {
		t.Fatal("a change in a read field is reported as unread")
	}
}
