package ur

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

// words is the Bytewords list (BCR-2020-012): the word at index b encodes
// the byte b; the minimal form keeps each word's first and last letter.
var words = strings.Fields("able acid also apex aqua arch atom aunt away axis back bald barn belt beta bias blue body brag brew bulb buzz calm cash cats chef city claw code cola cook cost crux curl cusp cyan dark data days deli dice diet door down draw drop drum dull duty each easy echo edge epic even exam exit eyes fact fair fern figs film fish fizz flap flew flux foxy free frog fuel fund gala game gear gems gift girl glow good gray grim guru gush gyro half hang hard hawk heat help high hill holy hope horn huts iced idea idle inch inky into iris iron item jade jazz join jolt jowl judo jugs jump junk jury keep keno kept keys kick kiln king kite kiwi knob lamb lava lazy leaf legs liar limp lion list logo loud love luau luck lung main many math maze memo menu meow mild mint miss monk nail navy need news next noon note numb obey oboe omit onyx open oval owls paid part peck play plus poem pool pose puff puma purr quad quiz race ramp real redo rich road rock roof ruby ruin runs rust safe saga scar sets silk skew slot soap solo song stub surf swan taco task taxi tent tied time tiny toil tomb toys trip tuna twin ugly undo unit urge user vast very veto vial vibe view visa void vows wall wand warm wasp wave waxy webs what when whiz wolf work yank yawn yell yoga yurt zaps zero zest zinc zone zoom")

var (
	fullIndex    = map[string]byte{}
	minimalIndex = map[string]byte{}
)

func init() {
	if len(words) != 256 {
		panic("ur: bytewords list does not hold 256 words")
	}
	for i, w := range words {
		fullIndex[w] = byte(i)
		minimalIndex[w[:1]+w[3:]] = byte(i)
	}
}

// Bytewords styles.
const (
	Standard = iota // words separated by spaces
	URI             // words separated by dashes
	Minimal         // two letters a byte, no separator (used in URs)
)

// ErrBytewords wraps every Bytewords decoding failure.
var ErrBytewords = errors.New("ur: invalid bytewords")

func withCRC(data []byte) []byte {
	return binary.BigEndian.AppendUint32(append([]byte{}, data...), crc32.ChecksumIEEE(data))
}

// EncodeBytewords encodes data with its CRC-32 appended, in style.
func EncodeBytewords(data []byte, style int) string {
	b := withCRC(data)
	var out strings.Builder
	for i, x := range b {
		w := words[x]
		switch style {
		case Minimal:
			out.WriteString(w[:1] + w[3:])
		case URI:
			if i > 0 {
				out.WriteByte('-')
			}
			out.WriteString(w)
		default:
			if i > 0 {
				out.WriteByte(' ')
			}
			out.WriteString(w)
		}
	}
	return out.String()
}

// DecodeBytewords decodes s in style and checks its CRC-32.
func DecodeBytewords(s string, style int) ([]byte, error) {
	var toks []string
	index := fullIndex
	switch style {
	case Minimal:
		if len(s)%2 != 0 {
			return nil, fmt.Errorf("%w: odd length %d", ErrBytewords, len(s))
		}
		for i := 0; i < len(s); i += 2 {
			toks = append(toks, s[i:i+2])
		}
		index = minimalIndex
	case URI:
		toks = strings.Split(s, "-")
	default:
		toks = strings.Split(s, " ")
	}
	var b []byte
	for _, t := range toks {
		x, ok := index[strings.ToLower(t)]
		if !ok {
			return nil, fmt.Errorf("%w: %q is not a byteword", ErrBytewords, t)
		}
		b = append(b, x)
	}
	if len(b) < 5 {
		return nil, fmt.Errorf("%w: too short for a checksum", ErrBytewords)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBytewords)
	}
	return body, nil
}
