package transfer_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/testws"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/transport/media"
	"github.com/airlock-vault/airlock/transport/transfer"
	"github.com/airlock-vault/airlock/workspace"
)

// TestRestoredCoordinatorIsTakenOnlyOnPurpose: a coordinator restored
// from a backup sends media whose log forked from the one bob's station
// kept and whose sequence numbers start again: refused. Taken on purpose
// (AcceptRestored) the new log's transfer is imported and the acceptance
// logged; an old medium of the old log is still refused then, and the
// restored log's next medium goes through the usual checks.
func TestRestoredCoordinatorIsTakenOnlyOnPurpose(t *testing.T) {
	dir := testws.V1(t)
	now := testws.Time
	opts := workspace.Options{Now: func() time.Time { return now }}
	cdir := filepath.Join(dir, "coord")
	cws, err := workspace.Open(cdir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cws.Close() }()
	ks, err := keystore.Open(cws.KeystorePath(), []byte(testws.Passphrase))
	if err != nil {
		t.Fatal(err)
	}
	bws, err := workspace.Open(filepath.Join(dir, "bob"), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer bws.Close()
	bob := &transfer.Gap{WS: bws, Reg: reg}
	raw, err := os.ReadFile(filepath.Join(dir, "spend.proposal"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := envelope.Decode(raw)
	export := func(name string) string {
		t.Helper()
		now = now.Add(time.Minute)
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o700)
		real, _ := transfer.RealDir(d)
		cws.AllowMedia(real)
		x, err := (&transfer.Gap{WS: cws, Reg: reg}).Export(ctx, p, d, "bob", "", ks.Identity())
		if err != nil || x.WriteErr != nil {
			t.Fatal(err, x.WriteErr)
		}
		return d
	}
	imp := func(g *transfer.Gap, d string) transfer.Item {
		t.Helper()
		rep, err := g.Import(ctx, d)
		if err != nil || len(rep.Items) != 1 {
			t.Fatalf("import of %s: %+v %v", filepath.Base(d), rep, err)
		}
		return rep.Items[0]
	}
	m1 := export("m1")
	if it := imp(bob, m1); it.Err != nil {
		t.Fatal(it.Err)
	}
	// A cold backup of the coordinator's database.
	backup := map[string][]byte{}
	cws.Close()
	for _, n := range []string{"state.db", "state.db-wal", "state.db-shm"} {
		if b, err := os.ReadFile(filepath.Join(cdir, n)); err == nil {
			backup[n] = b
		}
	}
	if cws, err = workspace.Open(cdir, opts); err != nil {
		t.Fatal(err)
	}
	m2 := export("m2")
	if it := imp(bob, m2); it.Err != nil {
		t.Fatal(it.Err)
	}
	// The backup put back, refused as rolled back, taken with store accept.
	cws.Close()
	for _, n := range []string{"state.db", "state.db-wal", "state.db-shm"} {
		os.Remove(filepath.Join(cdir, n))
		if b, ok := backup[n]; ok {
			os.WriteFile(filepath.Join(cdir, n), b, 0o600)
		}
	}
	if _, err := workspace.Open(cdir, opts); !errors.Is(err, workspace.ErrRolledBack) {
		t.Fatalf("the restored coordinator opened: %v", err)
	}
	if cws, err = workspace.Accept(cdir, "restored from the backup", ks.Identity(), opts); err != nil {
		t.Fatal(err)
	}
	m3 := export("m3")
	if it := imp(bob, m3); !errors.Is(it.Err, media.ErrReplay) {
		t.Fatalf("the restored coordinator's first medium, not accepted on purpose: %v", it.Err)
	}
	taking := &transfer.Gap{WS: bws, Reg: reg, AcceptRestored: "the coordinator was restored from Monday's backup (confirmed by phone)"}
	for _, old := range []string{m1, m2} {
		if it := imp(taking, old); !errors.Is(it.Err, media.ErrReplay) || it.Restored {
			t.Fatalf("an old medium of the old log (%s), taken as the restored log's: %+v", filepath.Base(old), it)
		}
	}
	it := imp(taking, m3)
	if it.Err != nil || !it.Restored {
		t.Fatalf("the restored log's medium, accepted on purpose: %+v", it)
	}
	var found bool
	bws.View(ctx, func(r store.Reader) error {
		l := r.Audit()
		n, _ := l.Size()
		for i := int64(0); i < n; i++ {
			raw, _ := l.Record(i)
			ev, err := audit.Decode(raw)
			if err == nil && ev.Kind == "transfer.imported" && strings.Contains(ev.Detail["restored_log"], "Monday") && ev.Detail["old_sequence"] == "2" && ev.Detail["sequence"] == "2" {
				found = true
			}
		}
		return nil
	})
	if !found {
		t.Fatal("no transfer.imported entry with the restore's reason and sequence numbers in bob's log")
	}
	// From then on, the usual checks: the next medium extends the new log.
	if it := imp(bob, export("m4")); it.Err != nil || it.Restored || it.Gap != "" {
		t.Fatalf("the restored log's next medium: %+v", it)
	}
	if it := imp(taking, m3); !errors.Is(it.Err, media.ErrReplay) {
		t.Fatalf("the accepted medium replayed: %v", it.Err)
	}
	if err := bws.VerifyState(ctx); err != nil {
		t.Fatal(err)
	}
}
