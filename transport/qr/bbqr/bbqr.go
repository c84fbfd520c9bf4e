// Package bbqr implements BBQr (Coinkite's "Better Bitcoin QR"), the
// multi-frame QR format Coldcard Q and other signers read: each frame is
//
//	B$ E T NN II data…
//
// with E the encoding (H hex, 2 base32, Z raw DEFLATE then base32), T the
// file type (P PSBT, T transaction, J JSON, C CBOR, U text, B binary), NN
// the frame count and II the frame index, both two base-36 digits. All
// characters are in the QR alphanumeric set, so frames pack densely.
//
// Writing uses H, 2 and Z. Z is written Huffman-only (no back-references),
// which any inflater decodes whatever its window size — Coldcard's uses a
// 1 KiB window that a general-purpose deflater would overrun. Z falls back
// to 2 when compression does not help. Reading accepts all three, frames in
// any order and repeated, and refuses frames that disagree.
package bbqr

import (
	"bytes"
	"compress/flate"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Encodings.
const (
	Hex    = 'H'
	Base32 = '2'
	Zlib   = 'Z'
)

// File types.
const (
	TypePSBT        = 'P'
	TypeTransaction = 'T'
	TypeJSON        = 'J'
	TypeCBOR        = 'C'
	TypeText        = 'U'
	TypeBinary      = 'B'
)

const (
	headerLen = 8
	maxParts  = 1295 // "ZZ" in base 36
	// MaxData bounds what a reader assembles.
	MaxData = 16 << 20
)

// ErrBBQr wraps every malformed or inconsistent frame.
var ErrBBQr = errors.New("bbqr: invalid")

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// alphanumericCapacity[v] is how many QR alphanumeric characters version v
// holds at error-correction level L (ISO/IEC 18004 table 7).
var alphanumericCapacity = [41]int{0,
	25, 47, 77, 114, 154, 195, 224, 279, 335, 395,
	468, 535, 619, 667, 758, 854, 938, 1046, 1153, 1249,
	1352, 1460, 1588, 1704, 1853, 1990, 2132, 2223, 2369, 2520,
	2677, 2840, 3009, 3183, 3351, 3537, 3729, 3927, 4087, 4296}

func validType(t byte) bool { return strings.IndexByte("PTJCUB", t) >= 0 }

func encode(raw []byte, enc byte) (string, error) {
	switch enc {
	case Hex:
		return strings.ToUpper(hex.EncodeToString(raw)), nil
	case Base32:
		return b32.EncodeToString(raw), nil
	case Zlib:
		var buf bytes.Buffer
		w, err := flate.NewWriter(&buf, flate.HuffmanOnly)
		if err != nil {
			return "", err
		}
		w.Write(raw)
		w.Close()
		return b32.EncodeToString(buf.Bytes()), nil
	}
	return "", fmt.Errorf("bbqr: unknown encoding %q", enc)
}

// Split encodes raw as BBQr frames of file type typ, choosing the smallest
// QR version in minVersion..maxVersion that needs at most maxFrames frames.
// It returns the frames and the QR version they fit.
func Split(raw []byte, typ, enc byte, minVersion, maxVersion, maxFrames int) ([]string, int, error) {
	if !validType(typ) {
		return nil, 0, fmt.Errorf("bbqr: unknown file type %q", typ)
	}
	if len(raw) == 0 || len(raw) > MaxData {
		return nil, 0, fmt.Errorf("bbqr: %d bytes outside 1..%d", len(raw), MaxData)
	}
	if minVersion < 1 || maxVersion > 40 || minVersion > maxVersion || maxFrames < 1 || maxFrames > maxParts {
		return nil, 0, errors.New("bbqr: bad version or frame bounds")
	}
	data, err := encode(raw, enc)
	if err != nil {
		return nil, 0, err
	}
	if enc == Zlib {
		if plain := b32.EncodedLen(len(raw)); len(data) >= plain {
			enc, data = Base32, b32.EncodeToString(raw)
		}
	}
	mod := 8 // base32: frames break on 5-byte boundaries
	if enc == Hex {
		mod = 2
	}
	for v := minVersion; v <= maxVersion; v++ {
		capacity := alphanumericCapacity[v] - headerLen
		capacity -= capacity % mod
		count := (len(data) + capacity - 1) / capacity
		if count > maxFrames {
			continue
		}
		per := (len(data) + count - 1) / count
		if per%mod != 0 {
			per += mod - per%mod
		}
		var frames []string
		for i := 0; i < count; i++ {
			end := min((i+1)*per, len(data))
			frames = append(frames, fmt.Sprintf("B$%c%c%s%s%s", enc, typ, base36(count), base36(i), data[i*per:end]))
		}
		return frames, v, nil
	}
	return nil, 0, fmt.Errorf("bbqr: %d encoded characters do not fit %d frames of version %d", len(data), maxFrames, maxVersion)
}

func base36(n int) string {
	s := strings.ToUpper(strconv.FormatInt(int64(n), 36))
	if len(s) < 2 {
		s = "0" + s
	}
	return s
}

// Joiner assembles frames read in any order.
type Joiner struct {
	enc, typ byte
	total    int
	parts    map[int]string
}

// Add takes one frame. A frame that disagrees with the first one (another
// encoding, type or count), a malformed frame, or a different frame at an
// index already held is refused and changes nothing; an identical repeat is
// accepted.
func (j *Joiner) Add(frame string) error {
	frame = strings.TrimSpace(frame)
	if len(frame) < headerLen || !strings.HasPrefix(frame, "B$") {
		return fmt.Errorf("%w: not a BBQr frame", ErrBBQr)
	}
	enc, typ := frame[2], frame[3]
	if enc != Hex && enc != Base32 && enc != Zlib {
		return fmt.Errorf("%w: unknown encoding %q", ErrBBQr, enc)
	}
	if !validType(typ) {
		return fmt.Errorf("%w: unknown file type %q", ErrBBQr, typ)
	}
	total, err1 := strconv.ParseInt(frame[4:6], 36, 32)
	idx, err2 := strconv.ParseInt(frame[6:8], 36, 32)
	if err1 != nil || err2 != nil || total < 1 || idx >= total {
		return fmt.Errorf("%w: frame %q of %q", ErrBBQr, frame[6:8], frame[4:6])
	}
	if j.parts == nil {
		j.enc, j.typ, j.total, j.parts = enc, typ, int(total), map[int]string{}
	}
	if enc != j.enc || typ != j.typ || int(total) != j.total {
		return fmt.Errorf("%w: frame B$%c%c of %d while reading B$%c%c of %d", ErrBBQr, enc, typ, total, j.enc, j.typ, j.total)
	}
	body := frame[headerLen:]
	if prev, ok := j.parts[int(idx)]; ok && prev != body {
		return fmt.Errorf("%w: two different frames at index %d", ErrBBQr, idx)
	}
	j.parts[int(idx)] = body
	return nil
}

// Complete reports whether every frame is held.
func (j *Joiner) Complete() bool { return j.parts != nil && len(j.parts) == j.total }

// Progress returns frames held and frames needed.
func (j *Joiner) Progress() (int, int) { return len(j.parts), j.total }

// Result decodes the joined frames: the file type and the data.
func (j *Joiner) Result() (byte, []byte, error) {
	if !j.Complete() {
		return 0, nil, fmt.Errorf("bbqr: %d of %d frames", len(j.parts), j.total)
	}
	var all strings.Builder
	for i := 0; i < j.total; i++ {
		all.WriteString(j.parts[i])
	}
	data := all.String()
	if len(data) > 2*MaxData {
		return 0, nil, fmt.Errorf("%w: over %d bytes", ErrBBQr, MaxData)
	}
	var raw []byte
	var err error
	switch j.enc {
	case Hex:
		raw, err = hex.DecodeString(data)
	case Base32:
		raw, err = b32.DecodeString(data)
	case Zlib:
		var comp []byte
		if comp, err = b32.DecodeString(data); err == nil {
			r := flate.NewReader(bytes.NewReader(comp))
			raw, err = io.ReadAll(io.LimitReader(r, MaxData+1))
			if err == nil && len(raw) > MaxData {
				err = fmt.Errorf("inflates past %d bytes", MaxData)
			}
		}
	}
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrBBQr, err)
	}
	return j.typ, raw, nil
}
