package all

import "testing"

// A policy naming either chain (a Safe is an "ethereum" vault) must resolve to its adapter: a registry
// missing one would make every proposal of that chain unverifiable.
func TestRegistryHasEveryChain(t *testing.T) {
	reg := Registry()
	for _, name := range []string{"bitcoin", "ethereum"} {
		a, err := reg.Lookup(name)
		if err != nil {
			t.Fatalf("Get(%q): %v", name, err)
		}
		if a.Chain() != name {
			t.Errorf("Get(%q) = adapter %q", name, a.Chain())
		}
	}
	if _, err := reg.Lookup("dogecoin"); err == nil {
		t.Error("an unknown chain resolved to an adapter")
	}
}
