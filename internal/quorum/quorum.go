// Package quorum builds, in one process and through the real libraries, the
// quorum tests and drills start from: a coordinator and signer stations in
// their own workspaces, each with a keystore, and a genesis policy every
// participant has signed and every workspace has imported. Its clock is one
// variable every workspace reads, so a test can move time.
//
// It does what "airlock key new", "policy init", "policy sign" and
// "policy import" do, without the CLI: tests of the coordinator and the
// stations drive the same code the CLI drives.
package quorum

import (
	"context"
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/chain"
	"github.com/airlock-vault/airlock/chain/bitcoin"
	"github.com/airlock-vault/airlock/chain/safe"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys/enroll"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/keys/unlock"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/workspace"
)

// Reg is the registry of the chains a quorum's vaults live on.
var Reg = chain.NewRegistry(bitcoin.Adapter{}, safe.Adapter{})

// Passphrase unlocks every keystore of a quorum.
const Passphrase = "quorum test passphrase"

// Options shape a quorum.
type Options struct {
	// People are the stations' participant ids (default alice, bob,
	// carol).
	People []string
	// Rules is YAML appended at the policy's top level (address_book,
	// groups, transaction_rules...), as "quorum rules" does in the CLI's
	// scripts.
	Rules string
	// Vaults is the YAML of the vaults (default: "ops", Bitcoin, 2 of
	// every person).
	Vaults string
	// Start is the clock's first reading (default 2026-12-04 09:00 UTC).
	Start time.Time
	// Database, when set, keeps the coordinator's store in this
	// PostgreSQL database (workspace.Options.Database); it must be empty.
	Database string
	// Cosigners are the identity keys of participants without a station
	// (people with only an external wallet, entered through Rules); they
	// sign the genesis policy too.
	Cosigners []crypto.Signer
	// MaxLifetime is the policy's max_proposal_lifetime (default 24h).
	MaxLifetime time.Duration
	// VaultsFor, when set, writes the vaults' YAML (instead of Vaults)
	// once the stations are enrolled, from their configs: for a vault
	// whose on-chain account is made from the stations' keys, such as a
	// Safe owned by their Ethereum keys.
	VaultsFor func(stations map[string]*workspace.Config) (string, error)
}

// Member is a signer station with its keys unlocked.
type Member struct {
	*station.Station
	Keys *unlock.Keyring
}

// Quorum is a coordinator and its stations.
type Quorum struct {
	Dir       string
	Coord     *coordinator.Coordinator
	CoordKeys *unlock.Keyring
	Stations  map[string]*Member
	People    []string
	Policy    *envelope.Envelope

	mu       sync.Mutex
	now      time.Time
	database string
}

// enrol makes a workspace with a fresh drill keystore in Dir/name.
func (q *Quorum) enrol(role, name string) (*workspace.Workspace, *unlock.Keyring, error) {
	wsOpts := workspace.Options{Now: q.Now}
	if role == workspace.Coordinator {
		wsOpts.Database = q.database
	}
	net, err := keystore.NetworkByName("regtest")
	if err != nil {
		return nil, nil, err
	}
	d := filepath.Join(q.Dir, name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return nil, nil, err
	}
	en, err := enroll.Keystore(filepath.Join(d, "keystore.age"), []byte(Passphrase), 10,
		enroll.Params{Role: role, Name: name, Device: "keystore", Network: net, Created: q.Now(), Drill: true})
	if err != nil {
		return nil, nil, err
	}
	ws, err := workspace.Init(d, en.Config, wsOpts)
	if err != nil {
		en.Discard()
		return nil, nil, err
	}
	if err := ws.Log(context.Background(), "key.created", "", en.Detail); err != nil {
		ws.Close()
		return nil, nil, err
	}
	return ws, en.Keys, nil
}

// AddStation enrols a new person with a station of their own (a fresh
// drill keystore, as "airlock key new" makes), not yet in any policy: the
// caller adopts a version that lists them (enroll.PolicyEntry of the
// station's config) and has the station import the chain.
func (q *Quorum) AddStation(who string) (*Member, error) {
	if _, ok := q.Stations[who]; ok {
		return nil, fmt.Errorf("quorum: %s has a station already", who)
	}
	ws, k, err := q.enrol(workspace.Station, who)
	if err != nil {
		return nil, err
	}
	m := &Member{Station: &station.Station{WS: ws, Reg: Reg}, Keys: k}
	q.Stations[who] = m
	q.People = append(q.People, who)
	return m, nil
}

// WorkspaceOptions are the options the quorum's workspaces open with (its
// clock), for a caller that closes and opens one again.
func (q *Quorum) WorkspaceOptions() workspace.Options {
	return workspace.Options{Now: q.Now}
}

// CoordinatorOptions are the options the coordinator's workspace opens
// with: WorkspaceOptions and its PostgreSQL database, if any.
func (q *Quorum) CoordinatorOptions() workspace.Options {
	o := q.WorkspaceOptions()
	o.Database = q.database
	return o
}

// WriteHeadsBehind makes every workspace of the quorum write DIR/head
// behind its commits (workspace.WriteHeadsBehind), as the service does:
// for a simulation committing thousands of changes. flush writes the
// heads and returns the workspaces to writing them with each change.
func (q *Quorum) WriteHeadsBehind() (flush func()) {
	fs := []func(){q.Coord.WS.WriteHeadsBehind()}
	for _, who := range q.People {
		fs = append(fs, q.Stations[who].WS.WriteHeadsBehind())
	}
	return func() {
		for _, f := range fs {
			f()
		}
	}
}

// Now is the quorum's clock.
func (q *Quorum) Now() time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.now
}

// Advance moves the clock forward.
func (q *Quorum) Advance(d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.now = q.now.Add(d)
}

// New builds a quorum in a temporary folder; the test's cleanup closes it.
func New(t testing.TB, o Options) *Quorum {
	t.Helper()
	q, err := Build(t.TempDir(), o)
	if q != nil {
		t.Cleanup(q.Close)
	}
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// Close closes every workspace.
func (q *Quorum) Close() {
	if q.Coord != nil {
		q.Coord.WS.Close()
	}
	for _, m := range q.Stations {
		m.WS.Close()
		m.Keys.Close()
	}
}

// Build builds a quorum in dir, an empty folder: drill workspaces (their
// keystores marked drill, scrypt work factor 10), never real ones. On an
// error the part built so far is returned too, for the caller to Close.
func Build(dir string, o Options) (*Quorum, error) {
	if len(o.People) == 0 {
		o.People = []string{"alice", "bob", "carol"}
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	}
	q := &Quorum{Dir: dir, Stations: map[string]*Member{}, People: append([]string(nil), o.People...), now: o.Start}
	q.database = o.Database
	enrol := q.enrol
	cws, ckeys, err := enrol(workspace.Coordinator, "coord")
	if err != nil {
		return q, err
	}
	q.Coord, q.CoordKeys = &coordinator.Coordinator{WS: cws, Reg: Reg}, ckeys
	var parts strings.Builder
	for _, who := range o.People {
		ws, k, err := enrol(workspace.Station, who)
		if err != nil {
			return q, err
		}
		q.Stations[who] = &Member{Station: &station.Station{WS: ws, Reg: Reg}, Keys: k}
		parts.WriteString(enroll.PolicyEntry(ws.Config))
	}
	vaults := o.Vaults
	if o.VaultsFor != nil {
		cfgs := map[string]*workspace.Config{}
		for _, who := range o.People {
			cfgs[who] = &q.Stations[who].WS.Config
		}
		if vaults, err = o.VaultsFor(cfgs); err != nil {
			return q, err
		}
	}
	if vaults == "" {
		signers := make([]string, len(o.People))
		for i, who := range o.People {
			signers[i] = who + "/keystore"
		}
		vaults = fmt.Sprintf("vaults:\n  - name: ops\n    chain: bitcoin\n    threshold: 2\n    signers: [%s]\n", strings.Join(signers, ", "))
	}
	life := "24h"
	if o.MaxLifetime > 0 {
		life = o.MaxLifetime.String()
	}
	src := "name: treasury\nnetwork: regtest\nmax_proposal_lifetime: " + life + "\npolicy_threshold: 2\ncoordinators:\n" +
		enroll.PolicyEntry(cws.Config) + "participants:\n" + parts.String() + o.Rules + vaults
	f, err := policy.ParseFile([]byte(src))
	if err != nil {
		return q, fmt.Errorf("quorum: the policy:\n%s\n%w", src, err)
	}
	p, err := f.Genesis(Reg)
	if err != nil {
		return q, err
	}
	env, err := policy.Seal(p)
	if err != nil {
		return q, err
	}
	for _, who := range o.People {
		if err := env.Sign(q.Stations[who].Keys.Identity); err != nil {
			return q, err
		}
	}
	for _, k := range o.Cosigners {
		if err := env.Sign(k); err != nil {
			return q, err
		}
	}
	q.Policy = env
	if _, err := cws.ImportPolicy(env, Reg); err != nil {
		return q, err
	}
	for _, who := range o.People {
		if _, err := q.Stations[who].WS.ImportPolicy(env, Reg); err != nil {
			return q, err
		}
	}
	return q, nil
}

// Decide has station who decide on a proposal (raw, its envelope's bytes)
// and the coordinator collect the decision; it returns the decision's
// bytes. Any refusal fails the test.
func (q *Quorum) Decide(t testing.TB, who string, raw []byte, d station.Decision) []byte {
	t.Helper()
	m := q.Stations[who]
	ae, res, err := m.Sign(context.Background(), raw, d, m.Keys.Identity, m.Keys.Chain)
	if err != nil {
		t.Fatalf("%s: %v (%+v)", who, err, res)
	}
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Coord.Collect(context.Background(), b, nil); err != nil {
		t.Fatalf("collecting %s's decision: %v", who, err)
	}
	return b
}
