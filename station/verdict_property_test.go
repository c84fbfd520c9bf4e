package station_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/coordinator"
	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/internal/quorum"
	"github.com/airlock-vault/airlock/policy"
	"github.com/airlock-vault/airlock/station"
	"github.com/airlock-vault/airlock/vault"
)

const (
	bookAddr     = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
	outsiderAddr = "bcrt1qamhwamhwamhwamhwamhwamhwamhwamhwne2caj"
)

// randomRules draws a policy's transaction rules: an address book, and
// maybe an allowlist, a cap per payment, a daily velocity limit and an
// amount tier that asks for every signer.
func randomRules(r *rand.Rand) string {
	var b strings.Builder
	b.WriteString("address_book:\n  - {label: cold, chain: bitcoin, address: " + bookAddr + "}\ntransaction_rules:\n")
	n := 0
	if r.IntN(2) == 0 {
		b.WriteString("  - {name: known, kind: allowlist}\n")
		n++
	}
	if r.IntN(10) < 7 {
		fmt.Fprintf(&b, "  - {name: cap, kind: limit, asset: BTC, max: %q}\n", []string{"0.3", "0.6", "0.9"}[r.IntN(3)])
		n++
	}
	if r.IntN(10) < 7 {
		fmt.Fprintf(&b, "  - {name: daily, kind: velocity, asset: BTC, max: %q, period: 24h}\n", []string{"0.5", "1", "2"}[r.IntN(3)])
		n++
	}
	if r.IntN(2) == 0 || n == 0 {
		fmt.Fprintf(&b, "  - {name: large, kind: approve, asset: BTC, above: %q, require: {group: signers, count: 3}}\n", []string{"0.2", "0.4"}[r.IntN(2)])
	}
	return b.String()
}

// payment proposes a synthetic payment through the coordinator, forced:
// a compromised coordinator proposes whatever it likes.
func payment(t *testing.T, q *quorum.Quorum, r *rand.Rand, seed uint64) *envelope.Envelope {
	t.Helper()
	v, err := vault.Resolve(q.Coord.WS, quorum.Reg, "ops")
	if err != nil {
		t.Fatal(err)
	}
	to := bookAddr
	if r.IntN(4) == 0 {
		to = outsiderAddr
	}
	amount := int64(1+r.IntN(90)) * 1_000_000 // 0.01 .. 0.90 BTC
	syn, err := v.Synthetic(vault.SyntheticRequest{Seed: seed, To: to, Amount: amount, Fee: 1000})
	if err != nil {
		t.Fatal(err)
	}
	pe, _, err := q.Coord.Propose(ctx, coordinator.ProposeParams{Vault: "ops", Payload: syn.PSBT, Force: true}, q.CoordKeys.Identity)
	if err != nil {
		t.Fatal(err)
	}
	return pe
}

// decisive is what a verdict decides, without the approvals counted in.
func decisive(v *policy.Verdict) any {
	if v == nil {
		return nil
	}
	return struct {
		Allowed  bool
		Rule     policy.RuleRef
		Reason   string
		Required *policy.Requirement
	}{v.Allowed, v.Rule, v.Reason, v.Required}
}

// TestCompromisedCoordinatorCannotOutvoteStationRules: for random rules,
// random histories of payments (each approved by a random two of three
// stations, so no station saw them all) and a random next payment, every
// station's offline verdict is the coordinator's verdict — the same
// function on the same inputs, each from its own decoding — and when the
// rules deny the payment a station refuses to sign it although the
// coordinator forced it through.
func TestCompromisedCoordinatorCannotOutvoteStationRules(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := getenvUint("AIRLOCK_PROPERTY_SEED"); s != 0 {
		seed = s
	}
	t.Logf("seed %d (set AIRLOCK_PROPERTY_SEED to replay)", seed)
	r := rand.New(rand.NewPCG(seed, 0x61697226c6f636b))
	rounds := 12
	if testing.Short() {
		rounds = 4
	}
	denied := 0
	for round := range rounds {
		rules := randomRules(r)
		q := quorum.New(t, quorum.Options{Rules: rules})
		coin := uint64(1)
		for range r.IntN(4) {
			pe := payment(t, q, r, coin)
			coin++
			raw, err := pe.Encode()
			if err != nil {
				t.Fatal(err)
			}
			pair := q.People[:]
			r.Shuffle(len(pair), func(i, j int) { pair[i], pair[j] = pair[j], pair[i] })
			for _, who := range pair[:2] {
				m := q.Stations[who]
				ae, _, err := m.Sign(ctx, raw, station.Decision{Approve: true}, m.Keys.Identity, m.Keys.Chain)
				var refused *station.Refusal
				if errors.As(err, &refused) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				b, err := ae.Encode()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := q.Coord.Collect(ctx, b, nil); err != nil {
					t.Fatal(err)
				}
			}
			q.Advance(time.Duration(r.IntN(6*60)) * time.Minute)
		}
		pe := payment(t, q, r, coin)
		want, err := q.Coord.Verdict(ctx, pe)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := pe.Encode()
		if err != nil {
			t.Fatal(err)
		}
		for _, who := range q.People {
			m := q.Stations[who]
			res, err := m.Review(ctx, raw)
			if err != nil {
				t.Fatalf("round %d, %s: %v", round, who, err)
			}
			if !reflect.DeepEqual(decisive(res.Verdict), decisive(want)) {
				t.Fatalf("round %d (seed %d), rules:\n%s\n%s's verdict %+v\ncoordinator's   %+v", round, seed, rules, who, decisive(res.Verdict), decisive(want))
			}
			if want.Allowed {
				continue
			}
			_, _, err = m.Sign(ctx, raw, station.Decision{Approve: true}, m.Keys.Identity, m.Keys.Chain)
			var refused *station.Refusal
			if !errors.As(err, &refused) {
				t.Fatalf("round %d (seed %d): %s signed a payment the rules deny (%s): %v", round, seed, who, want.Reason, err)
			}
		}
		if !want.Allowed {
			denied++
		}
	}
	t.Logf("%d rounds, %d denied payments refused by every station", rounds, denied)
}

func getenvUint(name string) uint64 {
	n, _ := strconv.ParseUint(os.Getenv(name), 10, 64)
	return n
}
