package safe_test

import (
	"testing"

	"github.com/airlock-vault/airlock/chain/safe"
)

// TestParseGweiRefusesWhatIsNoFee: a fee cap of zero, a negative one, a
// word, or one below 1 wei is refused, never rounded into a fee nobody
// asked for; gwei with up to 9 decimals is exact.
func TestParseGweiRefusesWhatIsNoFee(t *testing.T) {
	for in, want := range map[string]string{"30": "30000000000", "1.5": "1500000000", "0.000000001": "1"} {
		if got, err := safe.ParseGwei(in); err != nil || got.String() != want {
			t.Errorf("%s gwei: %v %v, want %s wei", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "-1", "lots", "0.0000000001", ""} {
		if got, err := safe.ParseGwei(bad); err == nil {
			t.Errorf("%q gwei taken as %v wei", bad, got)
		}
	}
}
