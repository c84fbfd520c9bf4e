package workspace_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/internal/testws"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
)

var fixtureTime = testws.Time

func untar(t *testing.T) string { return testws.V1(t) }

func open(t *testing.T, dir string) *workspace.Workspace {
	t.Helper()
	ws, err := workspace.Open(dir, workspace.Options{Now: func() time.Time { return fixtureTime }})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// oldRoot is the root of the latest checkpoint in a first-release log.
func oldRoot(t *testing.T, dir string, ws *workspace.Workspace) *audit.Checkpoint {
	t.Helper()
	d, err := audit.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cp, err := d.LatestCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := policy.DecodeIdentity(ws.Config.Identity)
	c, err := audit.OpenCheckpoint(cp, ws.Config.LogOrigin(), ed25519.PublicKey(pub))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFirstReleaseWorkspaceMigratesAndKeepsWorking(t *testing.T) {
	dir := untar(t)
	reg := chain.NewRegistry(bitcoin.Adapter{}, safe.Adapter{})
	ctx := context.Background()

	coord := open(t, filepath.Join(dir, "coord"))
	if coord.Config.Format != workspace.Format {
		t.Fatalf("format %d after migration", coord.Config.Format)
	}
	for _, kept := range []string{"state.bolt", "audit/entries", "audit/checkpoints"} {
		if _, err := os.Stat(filepath.Join(dir, "coord", workspace.LegacyDir, kept)); err != nil {
			t.Fatalf("the first-release %s was not kept: %v", kept, err)
		}
	}
	// The same tree: the old log's checkpoint verifies against the new log.
	old := oldRoot(t, filepath.Join(dir, "coord", workspace.LegacyDir, "audit"), coord)
	err := coord.AuditLog(ctx, func(l *audit.Log) error {
		pub, _ := policy.DecodeIdentity(coord.Config.Identity)
		if _, err := l.Verify(ed25519.PublicKey(pub)); err != nil {
			return err
		}
		root, err := tlogRoot(l, old.Size)
		if err != nil {
			return err
		}
		if root != old.Root {
			t.Fatalf("migrated log's first %d entries hash to %x, the old checkpoint says %x", old.Size, root, old.Root)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := coord.VerifyState(ctx); err != nil {
		t.Fatal(err)
	}
	ps, err := coord.Proposals()
	if err != nil || len(ps) != 1 {
		t.Fatalf("%d proposals after migration, %v", len(ps), err)
	}
	aps, err := coord.Approvals(ps[0].ID())
	if err != nil || len(aps) != 2 {
		t.Fatalf("%d collected decisions after migration, %v", len(aps), err)
	}

	// The round goes on: carol's approval is collected and the proposal
	// finalizes under the migrated state.
	c := &coordinator.Coordinator{WS: coord, Reg: reg}
	raw, err := os.ReadFile(filepath.Join(dir, "carol.approval"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Collect(ctx, raw, nil); err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.Open(coord.KeystorePath(), []byte("fixture passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.Finalize(ctx, ps[0].IDHex(), ks.Identity())
	if err != nil {
		t.Fatal(err)
	}
	if f.Again || f.Final.TxID == "" {
		t.Fatalf("finalize: %+v", f)
	}
	if err := coord.VerifyState(ctx); err != nil {
		t.Fatal(err)
	}
	coord.Close()
	// Opening again does not migrate again.
	coord = open(t, filepath.Join(dir, "coord"))
	if _, err := coord.Final(ps[0].ID()); err != nil {
		t.Fatalf("the finalization is gone after reopening: %v", err)
	}
	coord.Close()

	// A station keeps its decision and its claims: a second decision on
	// the same proposal is refused, the coin it approved stays claimed.
	alice := open(t, filepath.Join(dir, "alice"))
	defer alice.Close()
	if _, err := alice.Decision(ps[0].ID()); err != nil {
		t.Fatalf("alice's decision was lost in the migration: %v", err)
	}
	var claims []store.Claim
	alice.View(ctx, func(r store.Reader) (err error) {
		claims, err = r.Claims()
		return err
	})
	if len(claims) == 0 || claims[0].Proposal != ps[0].ID() {
		t.Fatalf("alice's claims after migration: %+v", claims)
	}
	if err := alice.VerifyState(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMigrationRefusesATamperedFirstReleaseLog(t *testing.T) {
	dir := untar(t)
	entries := filepath.Join(dir, "bob", "audit", "entries")
	b, err := os.ReadFile(entries)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	os.WriteFile(entries, b, 0o600)
	_, err = workspace.Open(filepath.Join(dir, "bob"), workspace.Options{})
	if err == nil || !errors.Is(err, audit.ErrTampered) {
		t.Fatalf("a tampered first-release log was migrated: %v", err)
	}
	// Nothing was migrated: the old files are where they were.
	if _, err := os.Stat(entries); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bob", workspace.LegacyDir)); err == nil {
		t.Fatal("a refused migration moved the old files")
	}
}

func tlogRoot(l *audit.Log, n int64) ([32]byte, error) {
	return tlog.TreeHash(n, l)
}
