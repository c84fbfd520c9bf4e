package station

import (
	"reflect"
	"testing"
)

// A station writes no threshold proof, no coordinator lifecycle state and
// no policy outside the policy workflow: its transaction type has no such
// method, so station code that tried would not compile. Widening the
// interface fails here.
func TestStationTxCannotWriteCoordinatorState(t *testing.T) {
	tx := reflect.TypeFor[Tx]()
	for _, m := range []string{"PutFinal", "SetProposalState", "PutPolicy", "SetMeta", "AuditWriter", "SetSequence"} {
		if _, ok := tx.MethodByName(m); ok {
			t.Errorf("station.Tx has %s", m)
		}
	}
	for _, m := range []string{"Log", "PutDecision", "PutClaim", "ReleaseClaim"} {
		if _, ok := tx.MethodByName(m); !ok {
			t.Errorf("station.Tx lacks %s", m)
		}
	}
}
