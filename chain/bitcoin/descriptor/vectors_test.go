package descriptor

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/internal/testvectors"
)

// vectors is ../shared/vectors/bitcoin/descriptors.json: the test vectors
// of BIP-380 to BIP-387, 389 and 390 (see that folder's README).
type vectors struct {
	Checksum []struct {
		BIP           int    `json:"bip"`
		Description   string `json:"description"`
		Descriptor    string `json:"descriptor"`
		ExpectedValid bool   `json:"expected_valid"`
	} `json:"checksum"`
	KeyExpressions struct {
		Valid []struct {
			Description string `json:"description"`
			Key         string `json:"key"`
		} `json:"valid"`
		Invalid []struct {
			Reason string `json:"reason"`
			Key    string `json:"key"`
		} `json:"invalid"`
	} `json:"key_expressions"`
	Valid []struct {
		BIP        int      `json:"bip"`
		Descriptor string   `json:"descriptor"`
		Scripts    []string `json:"scripts"`
		Expansions []string `json:"expansions"`
	} `json:"valid"`
	Invalid []struct {
		BIP        int    `json:"bip"`
		Reason     string `json:"reason"`
		Descriptor string `json:"descriptor"`
	} `json:"invalid"`
}

// loadVectors reads descriptors.json, found by walking up from this
// package to the folder holding go.mod and then ../shared/vectors/bitcoin.
// A missing file fails the test, saying where it looked; it never skips.
func loadVectors(t testing.TB) *vectors {
	t.Helper()
	var v vectors
	if err := json.Unmarshal(testvectors.Read(t, "descriptors.json"), &v); err != nil {
		t.Fatalf("descriptors.json: %v", err)
	}
	if len(v.Checksum) == 0 || len(v.Valid) == 0 || len(v.Invalid) == 0 || len(v.KeyExpressions.Valid) == 0 {
		t.Fatal("descriptors.json has empty sections")
	}
	return &v
}

// implemented are the BIPs this package implements: their valid vectors
// must give exactly the expected scripts, their invalid ones must be
// refused. The others — 384 combo and 390 musig — must refuse their valid
// descriptors with ErrUnsupported and their invalid ones with any error.
var implemented = map[int]bool{380: true, 381: true, 382: true, 383: true, 385: true, 386: true, 387: true, 389: true}

// TestBIP380Checksum runs BIP-380's checksum cases, whose payload is
// raw(deadbeef): one whose checksum is accepted must parse, one whose
// checksum is refused must not.
func TestBIP380Checksum(t *testing.T) {
	v := loadVectors(t)
	if got, err := Checksum("raw(deadbeef)"); err != nil || got != "89f8spxm" {
		t.Fatalf("Checksum(raw(deadbeef)) = %q, %v; want 89f8spxm", got, err)
	}
	for _, c := range v.Checksum {
		t.Run(c.Description, func(t *testing.T) {
			_, err := Parse(c.Descriptor)
			if c.ExpectedValid {
				if err != nil {
					t.Fatalf("%q: %v", c.Descriptor, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("%q: got %v, want the checksum refused", c.Descriptor, err)
			}
		})
	}
}

// TestBIP380KeyExpressions runs BIP-380's key expressions through ParseKey,
// which must print each valid one back as written, and inside pk(). Three
// valid ones are public extended keys followed by hardened steps: BIP-380
// accepts their syntax but nothing can be derived from them, so Parse
// refuses them with ErrHardenedPublic.
func TestBIP380KeyExpressions(t *testing.T) {
	v := loadVectors(t)
	for _, c := range v.KeyExpressions.Valid {
		t.Run("valid/"+c.Description, func(t *testing.T) {
			k, err := ParseKey(c.Key)
			if err != nil {
				t.Fatalf("ParseKey(%s): %v", c.Key, err)
			}
			if k.String() != c.Key {
				t.Fatalf("ParseKey(%s).String() = %s", c.Key, k)
			}
			_, err = Parse("pk(" + c.Key + ")")
			if k.IsXPub() && hasHardenedStep(k) {
				if !errors.Is(err, ErrHardenedPublic) {
					t.Fatalf("pk(%s): got %v, want ErrHardenedPublic", c.Key, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("pk(%s): %v", c.Key, err)
			}
		})
	}
	for _, c := range v.KeyExpressions.Invalid {
		t.Run("invalid/"+c.Reason, func(t *testing.T) {
			if _, err := ParseKey(c.Key); err == nil {
				t.Fatalf("ParseKey(%s) accepted it (%s)", c.Key, c.Reason)
			}
			if _, err := Parse("pk(" + c.Key + ")"); err == nil {
				t.Fatalf("pk(%s) accepted (%s)", c.Key, c.Reason)
			}
		})
	}
}

func hasHardenedStep(k *Key) bool {
	for _, s := range k.Steps() {
		for _, v := range s.Alternatives {
			if v >= hardened {
				return true
			}
		}
	}
	return k.Wildcard() == HardenedWildcard
}

// TestDescriptorVectors runs the valid and invalid descriptors of every BIP,
// one subtest each, and logs how many ran per BIP.
func TestDescriptorVectors(t *testing.T) {
	v := loadVectors(t)
	passed := map[string]int{}
	for i, c := range v.Valid {
		name := fmt.Sprintf("BIP-%d/valid/%d", c.BIP, i)
		if t.Run(name, func(t *testing.T) { checkValid(t, c.BIP, c.Descriptor, c.Scripts, c.Expansions) }) {
			passed[fmt.Sprintf("BIP-%d valid", c.BIP)]++
		}
	}
	for i, c := range v.Invalid {
		name := fmt.Sprintf("BIP-%d/invalid/%d", c.BIP, i)
		if t.Run(name, func(t *testing.T) {
			if _, err := Parse(c.Descriptor); err == nil {
				t.Fatalf("%s accepted; BIP-%d: %s", c.Descriptor, c.BIP, c.Reason)
			}
		}) {
			passed[fmt.Sprintf("BIP-%d invalid", c.BIP)]++
		}
	}
	t.Logf("passed: %v", passed)
}

func checkValid(t *testing.T, bip int, desc string, scripts, expansions []string) {
	d, err := Parse(desc)
	if !implemented[bip] {
		if !errors.Is(err, ErrUnsupported) {
			t.Fatalf("%s: got %v, want ErrUnsupported", desc, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", desc, err)
	}
	if got := strings.Split(d.String(), "#")[0]; got != desc {
		t.Fatalf("String() = %s, want %s", got, desc)
	}
	again, err := ParseStrict(d.String())
	if err != nil || again.String() != d.String() {
		t.Fatalf("String() %s does not parse back: %v", d, err)
	}
	if len(scripts) == 0 && len(expansions) == 0 {
		// BIP-386 lists tr(KEY,pkh(KEY)) as valid without a script (see
		// the file's notes); TestTapscriptPKH checks what it gives.
		if !strings.Contains(desc, ",pkh(") {
			t.Fatal("vector has neither scripts nor expansions")
		}
		if _, err := d.Derive(0, 0); err != nil {
			t.Fatal(err)
		}
		return
	}
	for i, want := range scripts {
		x, err := d.Derive(0, uint32(i))
		if err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
		if got := hex.EncodeToString(x.ScriptPubKey); got != want {
			t.Fatalf("child %d: script %s, want %s", i, got, want)
		}
	}
	if len(scripts) > 1 && !d.IsRange() || len(scripts) == 1 && d.IsRange() {
		t.Fatalf("IsRange() = %v with %d scripts", d.IsRange(), len(scripts))
	}
	if len(expansions) > 0 {
		checkExpansions(t, d, expansions)
	}
}

// checkExpansions checks BIP-389 expansions: the text of each, and that
// branch k of the multipath descriptor derives what expansion k does.
func checkExpansions(t *testing.T, d *Descriptor, want []string) {
	xs, err := d.Expand()
	if err != nil {
		t.Fatal(err)
	}
	if len(xs) != len(want) || d.PathCount() != len(want) || !d.IsMultipath() {
		t.Fatalf("%d expansions, PathCount %d, want %d", len(xs), d.PathCount(), len(want))
	}
	children := uint32(1)
	if d.IsRange() {
		children = 3
	}
	for k, x := range xs {
		if got := strings.Split(x.String(), "#")[0]; got != want[k] {
			t.Fatalf("expansion %d:\n got %s\nwant %s", k, got, want[k])
		}
		if x.IsMultipath() {
			t.Fatalf("expansion %d is still multipath", k)
		}
		for i := range children {
			a, errA := d.Derive(k, i)
			b, errB := x.Derive(0, i)
			if errA != nil || errB != nil {
				t.Fatalf("branch %d child %d: %v, %v", k, i, errA, errB)
			}
			if hex.EncodeToString(a.ScriptPubKey) != hex.EncodeToString(b.ScriptPubKey) {
				t.Fatalf("branch %d child %d: %x, expansion gives %x", k, i, a.ScriptPubKey, b.ScriptPubKey)
			}
		}
	}
	if _, err := d.SingleMultipath(len(want)); err == nil {
		t.Fatal("SingleMultipath past the last branch accepted")
	}
}
