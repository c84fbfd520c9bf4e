package coordinator

import (
	"reflect"
	"testing"
)

// A coordinator claims no coin (a station's double-sign memory), records
// no device's health and writes no policy outside the policy workflow:
// its transaction type has no such method, so coordinator code that tried
// would not compile. Widening the interface fails here.
func TestCoordinatorTxCannotWriteStationState(t *testing.T) {
	tx := reflect.TypeFor[Tx]()
	for _, m := range []string{"PutClaim", "ReleaseClaim", "PutHealth", "PutPolicy", "SetMeta", "AuditWriter", "SetSequence"} {
		if _, ok := tx.MethodByName(m); ok {
			t.Errorf("coordinator.Tx has %s", m)
		}
	}
	for _, m := range []string{"Log", "PutDecision", "PutFinal", "SetProposalState"} {
		if _, ok := tx.MethodByName(m); !ok {
			t.Errorf("coordinator.Tx lacks %s", m)
		}
	}
}
