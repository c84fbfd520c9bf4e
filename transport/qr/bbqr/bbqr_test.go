package bbqr

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlock-vault/airlock/internal/testvectors"
)

func vectorsDir(t testing.TB) string { return filepath.Join(testvectors.Bitcoin(t), "bbqr") }

var roundTripFiles = []string{"1in1000out.psbt", "1in100out.psbt", "1in10out.psbt", "1in20out.psbt", "1in2out.psbt",
	"devils-txn.txn", "finalized-by-ckcc.txn", "last.txn", "nfc-result.txn", "signed.txn"}

// TestRoundTripUpstreamFiles: every upstream sample file through every
// encoding, frames shuffled and repeated.
func TestRoundTripUpstreamFiles(t *testing.T) {
	dir := vectorsDir(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, name := range roundTripFiles {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, enc := range []byte{Hex, Base32, Zlib} {
			t.Run(fmt.Sprintf("%s/%c", name, enc), func(t *testing.T) {
				frames, v, err := Split(raw, TypePSBT, enc, 5, 40, maxParts)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range frames {
					if len(f) > alphanumericCapacity[v] {
						t.Fatalf("frame of %d chars exceeds version %d", len(f), v)
					}
					for _, c := range f {
						if !strings.ContainsRune("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", c) {
							t.Fatalf("frame holds %q, not QR alphanumeric", c)
						}
					}
				}
				if enc == Zlib && frames[0][2] != Zlib && frames[0][2] != Base32 {
					t.Fatalf("Z fell back to %c", frames[0][2])
				}
				shuffled := append(append([]string{}, frames...), frames[:len(frames)/2]...)
				r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				var j Joiner
				for _, f := range shuffled {
					if err := j.Add(f); err != nil {
						t.Fatal(err)
					}
				}
				typ, got, err := j.Result()
				if err != nil || typ != TypePSBT || !bytes.Equal(got, raw) {
					t.Fatalf("round trip: %v", err)
				}
			})
		}
	}
}

func TestZlibCompressesTextAndHex(t *testing.T) {
	raw, _ := os.ReadFile(filepath.Join(vectorsDir(t), "finalized-by-ckcc.txn"))
	frames, _, err := Split(raw, TypeTransaction, Zlib, 5, 40, maxParts)
	if err != nil {
		t.Fatal(err)
	}
	if frames[0][2] != Zlib {
		t.Fatal("hex text did not compress")
	}
	total := 0
	for _, f := range frames {
		total += len(f) - headerLen
	}
	if total >= b32.EncodedLen(len(raw)) {
		t.Fatalf("Z payload %d chars is not shorter than plain base32", total)
	}
}

// TestRealScan decodes the upstream capture from a real scanner: 26 lines,
// frames repeated, zlib with a 1 KiB window.
func TestRealScan(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(vectorsDir(t), "real-scan.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var j Joiner
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		n++
		if err := j.Add(line); err != nil {
			t.Fatal(err)
		}
	}
	typ, got, err := j.Result()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(got)
	if n != 26 || typ != TypeText || len(got) != 12518 || !strings.Contains(string(got), "Zlib compressed") || !strings.Contains(string(got), "PSBT") ||
		hex.EncodeToString(sum[:]) != "cbd1d2094510a863397872d156dd76c4017b059ea638a37137699bea558e990e" {
		t.Fatalf("type %c, %d bytes, sha256 %x", typ, len(got), sum)
	}
}

func TestJoinerRefusesBadFrames(t *testing.T) {
	raw := bytes.Repeat([]byte("airlock"), 200)
	a, _, _ := Split(raw, TypeBinary, Base32, 5, 5, maxParts)
	other, _, _ := Split(raw[:500], TypeBinary, Base32, 5, 5, maxParts)
	var j Joiner
	if err := j.Add(a[0]); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"another message":     other[1],
		"another type":        strings.Replace(a[1], "B$2B", "B$2P", 1),
		"another encoding":    strings.Replace(a[1], "B$2B", "B$HB", 1),
		"index beyond count":  a[1][:6] + "ZZ" + a[1][8:],
		"not bbqr":            "UR:BYTES/AEAD",
		"short":               "B$2",
		"same index, changed": a[0][:len(a[0])-1] + "A",
	}
	for name, f := range cases {
		if err := j.Add(f); !errors.Is(err, ErrBBQr) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	if held, _ := j.Progress(); held != 1 {
		t.Fatalf("refused frames changed the joiner: %d held", held)
	}
	if _, _, err := j.Result(); err == nil {
		t.Fatal("incomplete result returned")
	}
}

func FuzzJoin(f *testing.F) {
	frames, _, _ := Split(bytes.Repeat([]byte{1, 2, 3}, 300), TypeBinary, Zlib, 5, 5, maxParts)
	for _, fr := range frames {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var j Joiner
		if j.Add(s) == nil && j.Complete() {
			j.Result()
		}
	})
}
