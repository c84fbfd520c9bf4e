package coordinator_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/internal/testws"
	"github.com/airlock-vault/airlock/keys"
)

// TestCollectAnyRefusesWhatIsNeitherDecisionNorSignedPSBT: a file that is
// no airlock envelope and no PSBT (in binary or base64) is refused before
// the coordinator's key is asked for, and the log does not move.
func TestCollectAnyRefusesWhatIsNeitherDecisionNorSignedPSBT(t *testing.T) {
	c, ks, dir := fixture(t, testws.Time)
	size := func() int64 {
		h, err := c.WS.CurrentHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return h.Size
	}
	before := size()
	asked := false
	identity := func() (keys.Identity, error) { asked = true; return ks.Identity(), nil }
	for name, raw := range map[string][]byte{
		"text":              []byte("hello"),
		"base64 of no PSBT": []byte(base64.StdEncoding.EncodeToString([]byte("not a packet"))),
		"empty":             nil,
	} {
		if _, err := c.CollectAny(ctx, raw, identity); err == nil || !strings.Contains(err.Error(), "neither an airlock approval") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if asked {
		t.Error("the coordinator's key was asked for a file it refused")
	}
	if size() != before {
		t.Error("a refused file left an audit entry")
	}
	// A station's decision is collected without the key.
	raw, _ := os.ReadFile(filepath.Join(dir, "carol.approval"))
	got, err := c.CollectAny(ctx, raw, func() (keys.Identity, error) { return nil, errors.New("not needed") })
	if err != nil || len(got) != 1 || got[0].External || got[0].Approval.Participant != "carol" {
		t.Fatalf("carol's approval: %v %+v", err, got)
	}
}
