package keys

import "testing"

func TestPathRoundTrip(t *testing.T) {
	for _, s := range []string{"m/48'/1'/0'/2'", "m/0/1/2", "m", "m/2147483647'"} {
		p, err := ParsePath(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := FormatPath(p); got != s {
			t.Fatalf("%s → %s", s, got)
		}
	}
	if p, _ := ParsePath("48h/1H/0'"); FormatPath(p) != "m/48'/1'/0'" {
		t.Fatal("h and H hardened markers not accepted")
	}
}

func TestParsePathRefusesMalformed(t *testing.T) {
	for _, s := range []string{"m/x", "m/2147483648", "m//1", "m/01", "m/-1", "m/1''"} {
		if _, err := ParsePath(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}
