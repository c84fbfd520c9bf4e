package qr

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"runtime"
	"testing"

	"github.com/airlock-vault/airlock/internal/bomb"
)

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestDecompressionBombPNGRefusedBeforeDecoding: a 20000×20000 PNG of a
// few hundred kilobytes (400 MB once decoded) is refused from its header,
// in bounded memory.
func TestDecompressionBombPNGRefusedBeforeDecoding(t *testing.T) {
	bomb := bomb.PNG(20000, 20000)
	var err error
	n := allocated(func() { _, err = DecodeBytes(bomb, false) })
	if !errors.Is(err, ErrImageTooLarge) {
		t.Fatalf("bomb of %d bytes: %v, want ErrImageTooLarge", len(bomb), err)
	}
	t.Logf("a %d-byte PNG declaring 20000×20000 pixels: refused after allocating %d bytes: %v", len(bomb), n, err)
	if n > 1<<20 {
		t.Fatalf("refusing the bomb allocated %d bytes", n)
	}
}

// TestGIFFrameBombRefusedBeforeDecoding: a GIF of thousands of
// full-screen frames (each compressing to a few bytes) is refused from its
// block structure, before any frame is decompressed.
func TestGIFFrameBombRefusedBeforeDecoding(t *testing.T) {
	// One full-screen frame encoded once, its block repeated: the file
	// a few hundred kilobytes, the frames 400 megapixels.
	pal := color.Palette{color.White, color.Black}
	frame := image.NewPaletted(image.Rect(0, 0, 2000, 2000), pal)
	enc := func(n int) []byte {
		g := &gif.GIF{LoopCount: -1}
		for range n {
			g.Image = append(g.Image, frame)
			g.Delay = append(g.Delay, 1)
		}
		var b bytes.Buffer
		if err := gif.EncodeAll(&b, g); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	one, two := enc(1), enc(2)
	block := two[len(one)-1 : len(two)-1]
	var buf bytes.Buffer
	buf.Write(one[:len(one)-1])
	for range 99 {
		buf.Write(block)
	}
	buf.WriteByte(0x3B)
	frames, err := gifFrames(buf.Bytes())
	if err != nil || frames != 100 {
		t.Fatalf("counted %d frames (%v), want 100", frames, err)
	}
	var derr error
	n := allocated(func() { _, derr = DecodeBytes(buf.Bytes(), true) })
	if !errors.Is(derr, ErrImageTooLarge) {
		t.Fatalf("100 frames of 2000×2000 (400 MP): %v, want ErrImageTooLarge", derr)
	}
	t.Logf("a %d-byte GIF of 100 frames of 2000×2000: refused after allocating %d bytes", buf.Len(), n)
	if n > 1<<20 {
		t.Fatalf("refusing the GIF allocated %d bytes", n)
	}
}

// TestPhotoSizedImageIsRead: the budget admits a QR frame at the size a
// phone photographs it.
func TestPhotoSizedImageIsRead(t *testing.T) {
	if err := budget(4000, 3000, MaxPixels); err != nil {
		t.Fatal(err)
	}
	if err := budget(4097, 4096, MaxPixels); !errors.Is(err, ErrImageTooLarge) {
		t.Fatalf("4097×4096: %v", err)
	}
}

// FuzzDecodeBytes: no image input crashes the reader or escapes the
// budget.
func FuzzDecodeBytes(f *testing.F) {
	f.Add(bomb.PNG(64, 64), false)
	var buf bytes.Buffer
	pal := color.Palette{color.White, color.Black}
	gif.EncodeAll(&buf, &gif.GIF{Image: []*image.Paletted{image.NewPaletted(image.Rect(0, 0, 8, 8), pal)}, Delay: []int{1}})
	f.Add(buf.Bytes(), true)
	f.Fuzz(func(t *testing.T, b []byte, isGIF bool) {
		DecodeBytes(b, isGIF)
		if isGIF {
			gifFrames(b)
		}
	})
}
