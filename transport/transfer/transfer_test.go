package transfer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/testws"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/transport/media"
	"github.com/airlock-vault/airlock/transport/transfer"
	"github.com/airlock-vault/airlock/workspace"
)

var (
	reg = chain.NewRegistry(bitcoin.Adapter{}, safe.Adapter{})
	ctx = context.Background()
)

type side struct {
	gap *transfer.Gap
	ks  *keystore.Keystore
}

func open(t *testing.T, dir, name string) side {
	t.Helper()
	ws, err := workspace.Open(filepath.Join(dir, name), workspace.Options{Now: func() time.Time { return testws.Time }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ks, err := keystore.Open(ws.KeystorePath(), []byte(testws.Passphrase))
	if err != nil {
		t.Fatal(err)
	}
	return side{&transfer.Gap{WS: ws, Reg: reg}, ks}
}

// setup exports the fixture's proposal from the coordinator to bob on an
// allowlisted folder.
func setup(t *testing.T) (coord, bob side, mediaDir string, x *transfer.Exported) {
	dir := testws.V1(t)
	coord, bob = open(t, dir, "coord"), open(t, dir, "bob")
	mediaDir = filepath.Join(dir, "usb")
	os.MkdirAll(mediaDir, 0o700)
	real, _ := transfer.RealDir(mediaDir)
	raw, err := os.ReadFile(filepath.Join(dir, "spend.proposal"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := envelope.Decode(raw)
	if _, err := coord.gap.Export(ctx, p, mediaDir, "bob", "", coord.ks.Identity()); !errors.Is(err, media.ErrNotListed) {
		t.Fatalf("export to a folder not on the allowlist: %v", err)
	}
	coord.gap.WS.AllowMedia(real)
	x, err = coord.gap.Export(ctx, p, mediaDir, "bob", "", coord.ks.Identity())
	if err != nil || x.WriteErr != nil {
		t.Fatal(err, x.WriteErr)
	}
	return coord, bob, mediaDir, x
}

func TestImportThenReplayIsRefused(t *testing.T) {
	_, bob, mediaDir, _ := setup(t)
	rep, err := bob.gap.Import(ctx, mediaDir)
	if err != nil || len(rep.Items) != 1 || rep.Refused() != 0 {
		t.Fatalf("first import: %+v %v", rep, err)
	}
	rep, err = bob.gap.Import(ctx, mediaDir)
	if err != nil || rep.Refused() != 1 || !errors.Is(rep.Items[0].Err, media.ErrReplay) {
		t.Fatalf("a replayed transfer: %+v %v", rep, err)
	}
	if err := bob.gap.WS.VerifyState(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedArtifactIsRefused(t *testing.T) {
	_, bob, mediaDir, x := setup(t)
	path := filepath.Join(mediaDir, x.Base+".airlock")
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 1
	os.WriteFile(path, b, 0o644)
	rep, err := bob.gap.Import(ctx, mediaDir)
	if err != nil || rep.Refused() != 1 {
		t.Fatalf("a tampered artifact: %+v %v", rep, err)
	}
	if bob.gap.WS.LastReceived("coordinator/coord") != 0 {
		t.Fatal("a refused transfer advanced the sequence")
	}
}

func TestTransferForAnotherStationIsLeftAlone(t *testing.T) {
	dir := testws.V1(t)
	_, _, mediaDir, _ := setup(t)
	carol := open(t, dir, "carol")
	rep, err := carol.gap.Import(ctx, mediaDir)
	if err != nil || len(rep.Items) != 0 || rep.Others != 1 {
		t.Fatalf("carol imported bob's transfer: %+v %v", rep, err)
	}
}

func TestStationCannotSendAProposal(t *testing.T) {
	_, bob, mediaDir, _ := setup(t)
	real, _ := transfer.RealDir(mediaDir)
	bob.gap.WS.AllowMedia(real)
	ps, err := bob.gap.WS.Proposals()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) == 0 {
		if _, err := bob.gap.Import(ctx, mediaDir); err != nil {
			t.Fatal(err)
		}
		ps, _ = bob.gap.WS.Proposals()
	}
	if _, err := bob.gap.Export(ctx, ps[0], mediaDir, "coord", "", bob.ks.Identity()); !errors.Is(err, media.ErrDirection) {
		t.Fatalf("a station sent a proposal: %v", err)
	}
}
