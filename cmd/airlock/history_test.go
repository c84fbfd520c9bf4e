package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/audit"
	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/keys/keystore"
	"github.com/airlock-vault/airlock/proposal"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/store"
	"github.com/airlock-vault/airlock/workspace"
	"golang.org/x/mod/sumdb/tlog"
)

// velocityQuorum sets up, through the CLI in process, what "quorum rules"
// sets up for velocity.txt, and the first two payments: alice and bob
// approve payment 1, bob and carol payment 2. It returns the folder and
// payment 3, forced through the coordinator.
func velocityQuorum(t *testing.T) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	airlock := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errb); code != exitOK {
			t.Fatalf("airlock %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String()
	}
	if err := os.WriteFile(p("pass"), []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pass := []string{"--passphrase-file", p("pass")}
	entries := map[string]string{}
	airlock(append([]string{"-C", p("coord"), "key", "new", "--role", "coordinator", "--name", "coord", "--work-factor", "10"}, pass...)...)
	entries["coord"] = airlock("-C", p("coord"), "key", "show", "--yaml")
	people := []string{"alice", "bob", "carol"}
	for _, who := range people {
		airlock(append([]string{"-C", p(who), "key", "new", "--name", who, "--work-factor", "10"}, pass...)...)
		entries[who] = airlock("-C", p(who), "key", "show", "--yaml")
	}
	yaml := "name: treasury\nnetwork: regtest\nmax_proposal_lifetime: 24h\npolicy_threshold: 2\ncoordinators:\n" + entries["coord"] +
		"participants:\n" + entries["alice"] + entries["bob"] + entries["carol"] +
		"address_book:\n  - {label: cold, chain: bitcoin, address: bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080}\n" +
		"transaction_rules:\n  - {name: daily, kind: velocity, asset: BTC, max: \"0.7\", period: 24h}\n" +
		"vaults:\n  - name: ops\n    chain: bitcoin\n    threshold: 2\n    signers: [alice/keystore, bob/keystore, carol/keystore]\n"
	if err := os.WriteFile(p("policy.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	airlock("-C", p("coord"), "policy", "init", p("policy.yaml"), "--out", p("treasury.policy"))
	for _, who := range people {
		airlock(append([]string{"-C", p(who), "policy", "sign", p("treasury.policy")}, pass...)...)
	}
	for _, who := range append([]string{"coord"}, people...) {
		airlock("-C", p(who), "policy", "import", p("treasury.policy"))
	}
	pay := func(n string, signers ...string) {
		airlock("-C", p("coord"), "psbt", "synth", "--vault", "ops", "--seed", n, "--to", "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "--send", "30000000", "--out", p("pay"+n+".psbt"))
		args := []string{"-C", p("coord"), "propose", "--vault", "ops", "--psbt", p("pay" + n + ".psbt"), "--out", p("pay" + n + ".proposal")}
		if len(signers) == 0 {
			args = append(args, "--force")
		}
		airlock(append(args, pass...)...)
		var approvals []string
		for _, who := range signers {
			airlock(append([]string{"-C", p(who), "sign", p("pay" + n + ".proposal"), "--approve", "--out", p("pay" + n + "." + who)}, pass...)...)
			approvals = append(approvals, p("pay"+n+"."+who))
		}
		if len(approvals) > 0 {
			airlock(append([]string{"-C", p("coord"), "collect"}, approvals...)...)
		}
	}
	pay("1", "alice", "bob")
	pay("2", "bob", "carol")
	pay("3")
	raw, err := os.ReadFile(p("pay3.proposal"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, raw
}

// TestStationCatchesCoordinatorHidingSpends: a coordinator (its key
// stolen, or its operator) that re-signs payment 3 with a history hiding
// payment 2, which alice did not sign, does not get her signature: every
// way of hiding it fails the history's proof, and she refuses. The honest
// history makes her refuse on the velocity rule itself.
func TestStationCatchesCoordinatorHidingSpends(t *testing.T) {
	dir, raw := velocityQuorum(t)
	ctx := context.Background()
	coord, err := workspace.Open(filepath.Join(dir, "coord"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.Open(coord.KeystorePath(), []byte("correct horse battery"))
	if err != nil {
		t.Fatal(err)
	}
	id := ks.Identity()
	defer coord.Close()
	alice, err := workspace.Open(filepath.Join(dir, "alice"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	st := &station.Station{WS: alice, Reg: reg}

	// index of payment 2's proposal.created entry among the history's.
	pay2 := func(h *proposal.History) int {
		raw2, err := os.ReadFile(filepath.Join(dir, "pay2.proposal"))
		if err != nil {
			t.Fatal(err)
		}
		e2, err := envelope.Decode(raw2)
		if err != nil {
			t.Fatal(err)
		}
		for i, rec := range h.Records {
			if bytes.Contains(rec, []byte(`"proposal.created"`)) && bytes.Contains(rec, []byte(e2.IDHex())) {
				return i
			}
		}
		t.Fatal("payment 2 is not in the history")
		return -1
	}
	for _, tc := range []struct {
		name string
		edit func(h *proposal.History) *proposal.History
		want string
	}{
		{"honest history", func(h *proposal.History) *proposal.History { return h }, `(?s)"daily".*coordinator's proven spend history.*1 proposal this station did not sign`},
		{"entry dropped", func(h *proposal.History) *proposal.History {
			i := pay2(h)
			h.Records = append(h.Records[:i:i], h.Records[i+1:]...)
			return h
		}, "does not prove.*(does not end|do not hash)"},
		{"entry dropped, range start moved", func(h *proposal.History) *proposal.History {
			i := pay2(h)
			h.Records = append(h.Records[:i:i], h.Records[i+1:]...)
			h.From++
			return h
		}, "does not prove.*(frontier|do not hash)"},
		{"entry replaced by another", func(h *proposal.History) *proposal.History {
			i := pay2(h)
			h.Records[i] = h.Records[0]
			return h
		}, "does not prove.*do not hash"},
		{"range starting after it", func(h *proposal.History) *proposal.History {
			i := pay2(h)
			h.Records = h.Records[i+1:]
			h.From += int64(i + 1)
			return h
		}, "does not prove.*(frontier|do not hash|inside the period)"},
		{"a valid range starting after it", func(h *proposal.History) *proposal.History {
			// The coordinator proves, correctly, a shorter range: the
			// entry before it (payment 2's) is inside the period.
			from := h.From + int64(pay2(h)) + 1
			var out *proposal.History
			err := coord.AuditLog(ctx, func(l *audit.Log) error {
				cp, err := l.LatestCheckpoint()
				if err != nil {
					return err
				}
				c, err := audit.OpenCheckpoint(cp, l.Origin(), id.Public().(ed25519.PublicKey))
				if err != nil {
					return err
				}
				r, err := l.ProveRange(from, c.Size)
				if err != nil {
					return err
				}
				out = proposal.NewHistory(r, nil)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}, "does not prove.*inside the period"},
		{"a forked log without it, after alice witnessed it", func(h *proposal.History) *proposal.History {
			// The coordinator signs a second log, every entry but payment
			// 2's: a history that verifies, unless the station witnessed
			// a checkpoint of the real log that includes payment 2.
			i := h.From + int64(pay2(h))
			var recs [][]byte
			err := coord.AuditLog(ctx, func(l *audit.Log) error {
				for k := int64(0); k < h.From+int64(len(h.Records)); k++ {
					e, err := l.Entry(k)
					if err != nil {
						return err
					}
					recs = append(recs, e.Raw)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			seen := signedLog(t, coord.Config.LogOrigin(), id, recs[:i+1])
			cp, err := seen.LatestCheckpoint()
			if err != nil {
				t.Fatal(err)
			}
			// As an import of the coordinator's media would keep it.
			if err := alice.Update(ctx, func(tx store.Tx) error {
				if _, err := tx.Log(alice.Event("transfer.imported", "", map[string]string{"from": "coordinator/coord"})); err != nil {
					return err
				}
				return tx.PutWitness("seen:coordinator/coord", cp)
			}); err != nil {
				t.Fatal(err)
			}
			fork := signedLog(t, coord.Config.LogOrigin(), id, append(recs[:i:i], recs[i+1:]...))
			r, err := fork.ProveRange(0, fork.Size())
			if err != nil {
				t.Fatal(err)
			}
			return proposal.NewHistory(r, nil)
		}, "does not prove.*forked"},
		{"an honest history older than a witnessed checkpoint, not imported", func(h *proposal.History) *proposal.History {
			// alice witnessed a newer checkpoint; nothing proves it
			// extends the history's, and the proposal did not come on
			// media (whose import checks it).
			var recs [][]byte
			err := coord.AuditLog(ctx, func(l *audit.Log) error {
				for k := int64(0); k < l.Size(); k++ {
					e, err := l.Entry(k)
					if err != nil {
						return err
					}
					recs = append(recs, e.Raw)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			cp, err := signedLog(t, coord.Config.LogOrigin(), id, recs).LatestCheckpoint()
			if err != nil {
				t.Fatal(err)
			}
			if err := alice.Update(ctx, func(tx store.Tx) error {
				if _, err := tx.Log(alice.Event("transfer.imported", "", map[string]string{"from": "coordinator/coord"})); err != nil {
					return err
				}
				return tx.PutWitness("seen:coordinator/coord", cp)
			}); err != nil {
				t.Fatal(err)
			}
			return h
		}, "does not prove.*older than the coordinator's"},
		{"no history", func(h *proposal.History) *proposal.History { return nil }, "does not prove.*not proven"},
		{"history said to be missing", func(h *proposal.History) *proposal.History {
			return &proposal.History{Missing: "too many"}
		}, "does not prove.*too many"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := envelope.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			p, err := proposal.Decode(e)
			if err != nil {
				t.Fatal(err)
			}
			if p.History == nil {
				t.Fatal("payment 3 carries no history")
			}
			p.History = tc.edit(p.History)
			forged, err := proposal.Seal(p, id)
			if err != nil {
				t.Fatal(err)
			}
			b, err := forged.Encode()
			if err != nil {
				t.Fatal(err)
			}
			res, err := st.Review(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			if res.MaySign() {
				t.Fatal("alice may sign payment 3: the limit was broken")
			}
			all := strings.Join(res.Refusals, "\n")
			if !regexp.MustCompile(tc.want).MatchString(all) {
				t.Fatalf("refusals %q, want %q", all, tc.want)
			}
		})
	}
}

// signedLog is a log of origin signed with key holding recs, with a
// checkpoint.
func signedLog(t *testing.T, origin string, key crypto.Signer, recs [][]byte) *audit.Log {
	t.Helper()
	l, err := audit.Open(t.TempDir(), origin, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for _, rec := range recs {
		ev, err := audit.Decode(rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestImportRefusesHistoryFromAForkedLog: a coordinator that cuts a
// proposal's history from a second log (hiding payment 2) cannot carry
// it in on media: the manifest's checkpoint, which the station checks
// against what it saw before, does not extend the history's.
func TestImportRefusesHistoryFromAForkedLog(t *testing.T) {
	dir, raw := velocityQuorum(t)
	ctx := context.Background()
	coord, err := workspace.Open(filepath.Join(dir, "coord"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer coord.Close()
	ks, err := keystore.Open(coord.KeystorePath(), []byte("correct horse battery"))
	if err != nil {
		t.Fatal(err)
	}
	id := ks.Identity()
	pol, _, err := coord.Policy(reg)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := envelope.Decode(raw)
	p, err := proposal.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	raw2, _ := os.ReadFile(filepath.Join(dir, "pay2.proposal"))
	e2, _ := envelope.Decode(raw2)
	var recs [][]byte
	var manifestCP []byte
	proofs := map[int64]tlog.TreeProof{}
	n := p.History.From + int64(len(p.History.Records))
	err = coord.AuditLog(ctx, func(l *audit.Log) error {
		for k := int64(0); k < n; k++ {
			en, err := l.Entry(k)
			if err != nil {
				return err
			}
			if en.Event.Kind == "proposal.created" && en.Event.Subject == e2.IDHex() {
				continue // payment 2, hidden
			}
			recs = append(recs, en.Raw)
		}
		if manifestCP, err = l.LatestCheckpoint(); err != nil {
			return err
		}
		c, err := audit.OpenCheckpoint(manifestCP, l.Origin(), id.Public().(ed25519.PublicKey))
		if err != nil {
			return err
		}
		// Every proof the coordinator could put in the manifest.
		for from := int64(1); from < c.Size; from++ {
			if proofs[from], err = l.ConsistencyProof(from, c.Size); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The honest history arrives.
	if err := station.CheckHistoryArrival(pol, p, "coordinator/coord", manifestCP, proofs); err != nil {
		t.Fatalf("the honest history is refused: %v", err)
	}
	fork := signedLog(t, coord.Config.LogOrigin(), id, recs)
	r, err := fork.ProveRange(0, fork.Size())
	if err != nil {
		t.Fatal(err)
	}
	p.History = proposal.NewHistory(r, nil)
	err = station.CheckHistoryArrival(pol, p, "coordinator/coord", manifestCP, proofs)
	if !errors.Is(err, audit.ErrTampered) || !strings.Contains(err.Error(), "not the log") {
		t.Fatalf("a history from a forked log arrives: %v", err)
	}
}

// TestStationChecksAHistoryStartingAfterItsWitnessedCheckpoint: a day
// later, the history starts after every entry (all older than the
// period), so alice checks it extends the checkpoint she witnessed by the
// consistency proof the coordinator attaches from the size it sent her;
// a witnessed checkpoint of another log with that size fails it.
func TestStationChecksAHistoryStartingAfterItsWitnessedCheckpoint(t *testing.T) {
	dir, _ := velocityQuorum(t)
	ctx := context.Background()
	later := time.Now().Add(25 * time.Hour)
	opts := workspace.Options{Now: func() time.Time { return later }}
	// Today: the coordinator's log as it stands, sent to alice (the
	// coordinator records sending it, in an entry dated today).
	coord, err := workspace.Open(filepath.Join(dir, "coord"), workspace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := keystore.Open(coord.KeystorePath(), []byte("correct horse battery"))
	if err != nil {
		t.Fatal(err)
	}
	id := ks.Identity()
	alice, err := workspace.Open(filepath.Join(dir, "alice"), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	// alice witnessed the coordinator's log as it stands (a checkpoint
	// sent to her), and the coordinator recorded sending it.
	cp, err := coord.Checkpoint(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	c, err := audit.OpenCheckpoint(cp, coord.Config.LogOrigin(), id.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := coord.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Log(coord.Event("transfer.exported", "", map[string]string{"to": "station/alice"})); err != nil {
			return err
		}
		return tx.PutWitness(fmt.Sprintf("sent:alice:%012d", c.Size), []byte{1})
	}); err != nil {
		t.Fatal(err)
	}
	coord.Close()
	// A day later.
	if coord, err = workspace.Open(filepath.Join(dir, "coord"), opts); err != nil {
		t.Fatal(err)
	}
	defer coord.Close()
	witness := func(cp []byte) {
		t.Helper()
		if err := alice.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.Log(alice.Event("transfer.imported", "", map[string]string{"from": "coordinator/coord"})); err != nil {
				return err
			}
			return tx.PutWitness("seen:coordinator/coord", cp)
		}); err != nil {
			t.Fatal(err)
		}
	}
	witness(cp)
	psbt, err := os.ReadFile(filepath.Join(dir, "pay3.psbt"))
	if err != nil {
		t.Fatal(err)
	}
	cc := &coordinator.Coordinator{WS: coord, Reg: reg}
	e, _, err := cc.Propose(ctx, coordinator.ProposeParams{Vault: "ops", Payload: psbt, Intent: "a day later"}, id)
	if err != nil {
		t.Fatal(err)
	}
	p, err := proposal.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	if h := p.History; h == nil || h.From <= c.Size || len(h.Consistency) == 0 || h.Before == nil {
		t.Fatalf("history %+v: want a range after the witnessed size %d, with a proof from it", h, c.Size)
	}
	raw, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	st := &station.Station{WS: alice, Reg: reg}
	res, err := st.Review(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if !res.MaySign() {
		t.Fatalf("alice refuses a day later: %q", res.Refusals)
	}
	// A checkpoint of the same size on another log: the proof fails.
	var recs [][]byte
	if err := coord.AuditLog(ctx, func(l *audit.Log) error {
		for k := int64(0); k < c.Size; k++ {
			en, err := l.Entry(k)
			if err != nil {
				return err
			}
			recs = append(recs, en.Raw)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	recs[1] = recs[2]
	other, err := signedLog(t, coord.Config.LogOrigin(), id, recs).LatestCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	witness(other)
	if res, err = st.Review(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if res.MaySign() || !strings.Contains(strings.Join(res.Refusals, "\n"), "forked") {
		t.Fatalf("alice may sign against a forked witnessed checkpoint: %q", res.Refusals)
	}
}
