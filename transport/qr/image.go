package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image/gif"
	"image/png"
	"io"
	"os"
	"strings"
)

// The pixel budget of a read. An image is refused before it is decoded when
// its header declares more: a PNG of 50000×50000 pixels compresses to a few
// megabytes and would decode into 10 GB. A phone's 12-megapixel photograph
// of a screen fits; so does a GIF of 200 frames of 1000×1000.
const (
	// MaxImageFile bounds the bytes of one image file.
	MaxImageFile = 32 << 20
	// MaxPixels bounds the pixels of one image (or one GIF's screen).
	MaxPixels = 4096 * 4096
	// MaxGIFPixels bounds the pixels of all of a GIF's frames together.
	MaxGIFPixels = 256 << 20
	// MaxGIFFrames bounds a GIF's frames.
	MaxGIFFrames = 4096
)

// ErrImageTooLarge is returned for an image over the pixel budget.
var ErrImageTooLarge = errors.New("qr: image over the pixel budget")

// DecodeFile reads the QR code(s) in a PNG file, or every frame of a GIF,
// within the pixel budget.
func DecodeFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxImageFile+1))
	if err != nil {
		return nil, err
	}
	texts, err := DecodeBytes(b, strings.HasSuffix(strings.ToLower(path), ".gif"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return texts, nil
}

// DecodeBytes reads the QR code(s) of a PNG, or of every frame of a GIF,
// after checking the image's declared size against the pixel budget.
func DecodeBytes(b []byte, isGIF bool) ([]string, error) {
	if len(b) > MaxImageFile {
		return nil, fmt.Errorf("%w: the file is over %d bytes", ErrImageTooLarge, MaxImageFile)
	}
	if isGIF {
		return decodeGIF(b)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("qr: not a PNG image: %v", err)
	}
	if err := budget(cfg.Width, cfg.Height, MaxPixels); err != nil {
		return nil, err
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("qr: %v", err)
	}
	s, err := DecodeImage(img)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

func budget(w, h int, max int64) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("qr: image of %d×%d pixels", w, h)
	}
	if int64(w)*int64(h) > max {
		return fmt.Errorf("%w: %d×%d pixels, at most %d pixels (%d×%d) are read", ErrImageTooLarge, w, h, max, 4096, 4096)
	}
	return nil
}

func decodeGIF(b []byte) ([]string, error) {
	cfg, err := gif.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("qr: not a GIF image: %v", err)
	}
	if err := budget(cfg.Width, cfg.Height, MaxPixels); err != nil {
		return nil, err
	}
	// Every frame lies within the screen (image/gif refuses one that does
	// not), so frames × screen bounds what decoding allocates. The frames
	// are counted from the block structure, without decompressing any.
	n, err := gifFrames(b)
	if err != nil {
		return nil, err
	}
	if n > MaxGIFFrames || int64(n)*int64(cfg.Width)*int64(cfg.Height) > MaxGIFPixels {
		return nil, fmt.Errorf("%w: %d frames of %d×%d pixels, at most %d frames and %d pixels in all", ErrImageTooLarge, n, cfg.Width, cfg.Height, MaxGIFFrames, int64(MaxGIFPixels))
	}
	g, err := gif.DecodeAll(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("qr: %v", err)
	}
	var out []string
	for i, fr := range g.Image {
		s, err := DecodeImage(fr)
		if err != nil {
			return nil, fmt.Errorf("frame %d: %w", i+1, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// gifFrames counts the image descriptors of a GIF (GIF89a, §§17–27) by
// walking its blocks and skipping their data sub-blocks.
func gifFrames(b []byte) (int, error) {
	bad := func(what string) (int, error) { return 0, fmt.Errorf("qr: malformed GIF: %s", what) }
	if len(b) < 13 || (string(b[:6]) != "GIF87a" && string(b[:6]) != "GIF89a") {
		return bad("no GIF header")
	}
	i := 13
	if b[10]&0x80 != 0 {
		i += 3 << (int(b[10]&7) + 1)
	}
	skipSubBlocks := func() bool {
		for {
			if i >= len(b) {
				return false
			}
			n := int(b[i])
			i++
			if n == 0 {
				return true
			}
			i += n
		}
	}
	frames := 0
	for {
		if i >= len(b) {
			return bad("no trailer")
		}
		switch b[i] {
		case 0x3B: // trailer
			return frames, nil
		case 0x21: // extension: label, then data sub-blocks
			i += 2
			if !skipSubBlocks() {
				return bad("truncated extension")
			}
		case 0x2C: // image descriptor, local colour table, LZW code size, data
			if i+10 > len(b) {
				return bad("truncated image descriptor")
			}
			flags := b[i+9]
			i += 10
			if flags&0x80 != 0 {
				i += 3 << (int(flags&7) + 1)
			}
			i++ // LZW minimum code size
			if !skipSubBlocks() {
				return bad("truncated image data")
			}
			frames++
			if frames > MaxGIFFrames {
				return frames, nil
			}
		default:
			return bad(fmt.Sprintf("unknown block 0x%02x", b[i]))
		}
	}
}
