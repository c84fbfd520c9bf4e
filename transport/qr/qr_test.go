package qr

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sample(n int) []byte {
	r := rand.New(rand.NewPCG(9, 9))
	b := make([]byte, n)
	for i := range b {
		// Structured like real artifacts: repetitive with some entropy.
		if i%3 == 0 {
			b[i] = byte(r.IntN(256))
		} else {
			b[i] = byte(i / 64)
		}
	}
	return b
}

func TestEnvelopeSurvivesPNGsInAnyOrderWithLoss(t *testing.T) {
	env := sample(3000)
	frames, err := Frames(Artifact{Kind: "envelope", Data: env}, UR, 200, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(frames[0], "UR:AIRLOCK-ENVELOPE/") {
		t.Fatalf("frame %q", frames[0][:30])
	}
	paths, err := WritePNGs(t.TempDir(), frames, 3)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	r.Shuffle(len(paths), func(i, j int) { paths[i], paths[j] = paths[j], paths[i] })
	var rd Reader
	for i, p := range paths {
		if i%5 == 0 {
			continue // lost
		}
		texts, err := DecodeFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := rd.Add(texts[0]); err != nil {
			t.Fatal(err)
		}
		if rd.Complete() {
			break
		}
	}
	a, err := rd.Artifact()
	if err != nil {
		t.Fatal(err)
	}
	if a.Kind != "envelope" || !bytes.Equal(a.Data, env) {
		t.Fatal("envelope differs after the camera trip")
	}
}

func TestPSBTAsGIFAndBBQr(t *testing.T) {
	psbt := append([]byte("psbt\xff"), sample(1500)...)
	for _, f := range []Format{UR, BBQr} {
		frames, err := Frames(Artifact{Kind: "psbt", Data: psbt}, f, 150, 0)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "a.gif")
		out, _ := os.Create(path)
		if err := WriteGIF(out, frames, 3, 20); err != nil {
			t.Fatal(err)
		}
		out.Close()
		texts, err := DecodeFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var rd Reader
		for _, s := range texts {
			if err := rd.Add(s); err != nil {
				t.Fatal(err)
			}
		}
		a, err := rd.Artifact()
		if err != nil || a.Kind != "psbt" || !bytes.Equal(a.Data, psbt) {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

func TestReaderRefusesMixedAndForeignFrames(t *testing.T) {
	a, _ := Frames(Artifact{Kind: "envelope", Data: sample(2000)}, UR, 100, 0)
	b, _ := Frames(Artifact{Kind: "psbt", Data: sample(2000)}, BBQr, 100, 0)
	var rd Reader
	if err := rd.Add(a[0]); err != nil {
		t.Fatal(err)
	}
	if err := rd.Add(b[0]); err == nil {
		t.Fatal("a BBQr frame accepted while reading UR")
	}
	var r2 Reader
	if err := r2.Add("ur:eth-signature/aeadaolazmjendeoti"); err == nil {
		t.Fatal("a foreign UR type accepted as an artifact")
	}
	if _, err := rd.Artifact(); err == nil {
		t.Fatal("incomplete artifact returned")
	}
}

func TestExpandRefusesBombs(t *testing.T) {
	huge := make([]byte, 9<<20)
	p, err := CompressEnvelope(huge)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ExpandEnvelope(p); err == nil {
		t.Fatal("an envelope inflating past the size limit was accepted")
	}
}

// TestEveryRenderedFrameDecodes renders frames of many sizes in both
// formats and requires every single one to read back, so that rendering
// and reading agree at every QR version they meet.
func TestEveryRenderedFrameDecodes(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := 0; n < 24; n++ {
		data := make([]byte, 50+r.IntN(1500))
		for i := range data {
			data[i] = byte(r.IntN(256))
		}
		for _, f := range []Format{UR, BBQr} {
			frames, err := Frames(Artifact{Kind: "psbt", Data: data}, f, 40+r.IntN(300), 0)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			paths, err := WritePNGs(dir, frames, 1+r.IntN(4))
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range paths {
				got, err := DecodeFile(p)
				if err != nil || got[0] != frames[i] {
					t.Fatalf("%s frame %d of %d bytes: %v", f, i, len(data), err)
				}
			}
		}
	}
}
