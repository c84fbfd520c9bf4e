// Package qr moves airlock artifacts across the air gap by camera: it turns
// an artifact into animated QR frames (BC-UR, package ur; or BBQr, package
// bbqr), draws them for a terminal, as PNG files or as an animated GIF, and
// reads frames back from images in any order until the artifact is whole.
//
// Airlock envelopes travel as the UR type "airlock-envelope": a CBOR byte
// string holding a format byte (1) and the envelope compressed with raw
// DEFLATE. Compression keeps every byte — the station inflates exactly the
// signed envelope and verifies it as if it came on a USB stick. PSBTs
// travel as "crypto-psbt", which hardware signers read.
package qr

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/skip2/go-qrcode"

	"github.com/airlock-vault/airlock/envelope"
	"github.com/airlock-vault/airlock/transport/qr/bbqr"
	"github.com/airlock-vault/airlock/transport/qr/ur"
	"github.com/airlock-vault/airlock/workspace"
)

// envelopeFormat 1 is raw DEFLATE with the preset dictionary below (RFC
// 1951 allows any preset history; both sides hold it, so short artifacts
// compress from their first byte).
const envelopeFormat = 1

// dictionary holds byte runs common to airlock envelopes and vault PSBTs:
// envelope and proposal CBOR keys and types, PSBT key types, BIP-48
// derivation steps (little-endian, hardened) and script templates. Later
// entries are matched most cheaply, so the most common come last.
var dictionary = func() []byte {
	var d bytes.Buffer
	le := func(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
	h := uint32(0x80000000)
	for _, coin := range []uint32{0, 1} {
		for _, script := range []uint32{1, 2} {
			for _, branch := range []uint32{1, 0} {
				d.WriteString("\x18")
				for _, s := range []uint32{48 + h, coin + h, h, script + h, branch} {
					d.Write(le(s))
				}
			}
		}
	}
	d.WriteString("\x00\x00\x00\x00\x00\x01\x05\x69\x52\x21\x02\x21\x03\x53\xae\x22\x06\x03\x22\x06\x02")
	d.WriteString("\x01\x01\x2b\x22\x00\x20\x16\x00\x14")
	d.WriteString("\xfd\xff\xff\xff\xff\xff\xff\xff\x02\x00\x00\x00\x00\x01\x01\x01\x00\xfd\x02\x00\x00\x00\x00\x01\x01")
	d.WriteString("bitcoinairlock.proposal/v1\x70\x73\x62\x74\xff\x01\x00")
	return d.Bytes()
}()

// CompressEnvelope is the airlock-envelope UR payload for an encoded
// envelope.
func CompressEnvelope(env []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(envelopeFormat)
	w, err := flate.NewWriterDict(&buf, flate.BestCompression, dictionary)
	if err != nil {
		return nil, err
	}
	w.Write(env)
	if err := w.Close(); err != nil {
		return nil, err
	}
	return ur.WrapBytes(buf.Bytes()), nil
}

// ExpandEnvelope reverses CompressEnvelope, bounded by envelope.MaxSize.
func ExpandEnvelope(cborPayload []byte) ([]byte, error) {
	b, err := ur.UnwrapBytes(cborPayload)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != envelopeFormat {
		return nil, errors.New("qr: unknown airlock-envelope format")
	}
	out, err := io.ReadAll(io.LimitReader(flate.NewReaderDict(bytes.NewReader(b[1:]), dictionary), envelope.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("qr: airlock-envelope does not inflate: %v", err)
	}
	if len(out) > envelope.MaxSize {
		return nil, fmt.Errorf("qr: airlock-envelope inflates past %d bytes", envelope.MaxSize)
	}
	return out, nil
}

// Artifact is what crosses: an airlock envelope or a bare PSBT.
type Artifact struct {
	Kind string // "envelope" or "psbt"
	Data []byte
}

// Format chooses the frame encoding.
type Format string

const (
	UR   Format = "ur"
	BBQr Format = "bbqr"
)

// Frames encodes an artifact as QR frame texts. For UR, fragment is the
// fountain fragment length and extra the number of parts beyond the
// fragment count (redundancy for a lossy camera). Frames are upper case,
// so QR codes use the dense alphanumeric mode.
func Frames(a Artifact, f Format, fragment, extra int) ([]string, error) {
	switch f {
	case UR:
		urType, payload := ur.TypeCryptoPSBT, ur.WrapBytes(a.Data)
		if a.Kind == "eth-sign-request" {
			urType, payload = ur.TypeEthSignRequest, a.Data // CBOR already
		}
		if a.Kind == "envelope" {
			var err error
			urType = ur.TypeEnvelope
			if payload, err = CompressEnvelope(a.Data); err != nil {
				return nil, err
			}
		}
		parts, err := ur.Encode(urType, payload, fragment, 0)
		if err != nil {
			return nil, err
		}
		if len(parts) > 1 && extra > 0 {
			if parts, err = ur.Encode(urType, payload, fragment, len(parts)+extra); err != nil {
				return nil, err
			}
		}
		for i := range parts {
			parts[i] = strings.ToUpper(parts[i])
		}
		return parts, nil
	case BBQr:
		typ := byte(bbqr.TypePSBT)
		if a.Kind == "envelope" {
			typ = bbqr.TypeCBOR
		}
		frames, _, err := bbqr.Split(a.Data, typ, bbqr.Zlib, 5, 25, 1295)
		return frames, err
	}
	return nil, fmt.Errorf("qr: unknown format %q", f)
}

// Code draws one frame as a QR code (error correction L: frames are
// redundant already) and returns it with its version.
func Code(frame string) (*qrcode.QRCode, error) {
	q, err := qrcode.New(frame, qrcode.Low)
	if err != nil {
		return nil, fmt.Errorf("qr: %v", err)
	}
	return q, nil
}

// Codes draws every frame at one QR version, the largest any frame needs,
// so an animation keeps its size and module pitch from frame to frame.
func Codes(frames []string) ([]*qrcode.QRCode, int, error) {
	version := 1
	for _, f := range frames {
		q, err := Code(f)
		if err != nil {
			return nil, 0, err
		}
		version = max(version, q.VersionNumber)
	}
	var out []*qrcode.QRCode
	for _, f := range frames {
		q, err := qrcode.NewWithForcedVersion(f, version, qrcode.Low)
		if err != nil {
			return nil, 0, fmt.Errorf("qr: %v", err)
		}
		out = append(out, q)
	}
	return out, version, nil
}

// WritePNGs writes frame-0001.png… into dir, scale pixels a module, each
// through the one atomic-write helper.
func WritePNGs(dir string, frames []string, scale int) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	codes, _, err := Codes(frames)
	if err != nil {
		return nil, err
	}
	var paths []string
	for i, q := range codes {
		p := filepath.Join(dir, fmt.Sprintf("frame-%04d.png", i+1))
		png, err := q.PNG(-scale)
		if err != nil {
			return nil, err
		}
		if err := workspace.WriteFileAtomic(p, png, 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// WriteGIF writes the frames as an endlessly looping animated GIF, scale
// pixels a module and delay hundredths of a second a frame.
func WriteGIF(w io.Writer, frames []string, scale, delay int) error {
	anim := &gif.GIF{}
	pal := color.Palette{color.White, color.Black}
	codes, _, err := Codes(frames)
	if err != nil {
		return err
	}
	for _, q := range codes {
		img := q.Image(-scale)
		pi := image.NewPaletted(img.Bounds(), pal)
		for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
			for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
				pi.Set(x, y, img.At(x, y))
			}
		}
		anim.Image = append(anim.Image, pi)
		anim.Delay = append(anim.Delay, delay)
	}
	return gif.EncodeAll(w, anim)
}

// DecodeImage reads the QR code in an image.
func DecodeImage(img image.Image) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("qr: %v", err)
	}
	// A rendered frame (a screenshot, a PNG we wrote) is read as a pure
	// code first; a photograph goes through the finder-pattern detector.
	reader := zxqr.NewQRCodeReader()
	res, err := reader.Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		res, err = reader.Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_TRY_HARDER: true})
	}
	if err != nil {
		return "", fmt.Errorf("qr: no QR code found: %v", err)
	}
	return res.GetText(), nil
}

// Reader assembles an artifact from frames of either format.
type Reader struct {
	ur     ur.URDecoder
	bb     bbqr.Joiner
	mode   Format
	frames int
}

// Format is the format of the frames read so far ("" before the first).
func (r *Reader) Format() Format { return r.mode }

// Frames is the number of frames accepted so far.
func (r *Reader) Frames() int { return r.frames }

// Add feeds one frame text. Frames of another message, type or format are
// refused.
func (r *Reader) Add(frame string) error {
	f := UR
	if strings.HasPrefix(frame, "B$") {
		f = BBQr
	}
	if r.mode != "" && f != r.mode {
		return fmt.Errorf("qr: a %s frame while reading %s frames", f, r.mode)
	}
	var err error
	if f == BBQr {
		err = r.bb.Add(frame)
	} else {
		err = r.ur.Receive(frame)
		if err == nil && r.ur.Type != ur.TypeEnvelope && r.ur.Type != ur.TypeCryptoPSBT && r.ur.Type != ur.TypePSBT {
			err = fmt.Errorf("qr: UR type %q is not an airlock artifact or PSBT", r.ur.Type)
			r.ur = ur.URDecoder{}
		}
	}
	if err == nil {
		r.mode = f
		r.frames++
	}
	return err
}

// Complete reports whether the artifact is whole.
func (r *Reader) Complete() bool {
	if r.mode == BBQr {
		return r.bb.Complete()
	}
	return r.ur.Complete()
}

// Progress is the share known, 0..1.
func (r *Reader) Progress() float64 {
	if r.mode == BBQr {
		have, total := r.bb.Progress()
		if total == 0 {
			return 0
		}
		return float64(have) / float64(total)
	}
	return r.ur.Progress()
}

// Artifact returns the assembled artifact.
func (r *Reader) Artifact() (Artifact, error) {
	if !r.Complete() {
		return Artifact{}, fmt.Errorf("qr: incomplete (%.0f%%)", r.Progress()*100)
	}
	if r.mode == BBQr {
		typ, data, err := r.bb.Result()
		if err != nil {
			return Artifact{}, err
		}
		if typ == bbqr.TypeCBOR {
			return Artifact{Kind: "envelope", Data: data}, nil
		}
		return Artifact{Kind: "psbt", Data: data}, nil
	}
	if r.ur.Type == ur.TypeEnvelope {
		data, err := ExpandEnvelope(r.ur.Result())
		return Artifact{Kind: "envelope", Data: data}, err
	}
	data, err := ur.UnwrapBytes(r.ur.Result())
	return Artifact{Kind: "psbt", Data: data}, err
}
