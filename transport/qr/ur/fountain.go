package ur

import (
	"errors"
	"fmt"
	"hash/crc32"
	"sort"

	"github.com/fxamacker/cbor/v2"
)

// Limits against hostile input.
const (
	// MaxMessage bounds a message a decoder will assemble.
	MaxMessage = 16 << 20
	// MaxFragments bounds seqLen: choosing a mixed part's fragments costs
	// up to O(seqLen²), so a hostile part cannot claim more than this.
	// 4096 fragments of 2000 bytes carry any airlock envelope.
	MaxFragments = 1 << 12
)

// Part is one fountain-coded part (BCR-2020-005 "Multipart URs"): CBOR
// [seqNum, seqLen, messageLen, checksum, data].
type Part struct {
	_          struct{} `cbor:",toarray"`
	SeqNum     uint32
	SeqLen     int
	MessageLen int
	Checksum   uint32
	Data       []byte
}

var (
	partEnc, _ = cbor.CoreDetEncOptions().EncMode()
	partDec, _ = cbor.DecOptions{
		DupMapKey: cbor.DupMapKeyEnforcedAPF, IndefLength: cbor.IndefLengthForbidden,
		TagsMd: cbor.TagsForbidden, MaxNestedLevels: 4, MaxArrayElements: 16,
	}.DecMode()
)

// ErrPart wraps every malformed or inconsistent part.
var ErrPart = errors.New("ur: invalid part")

// CBOR encodes the part.
func (p *Part) CBOR() ([]byte, error) { return partEnc.Marshal(p) }

// ParsePart decodes a part's CBOR strictly.
func ParsePart(b []byte) (*Part, error) {
	var p Part
	if err := partDec.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPart, err)
	}
	again, err := partEnc.Marshal(&p)
	if err != nil || string(again) != string(b) {
		return nil, fmt.Errorf("%w: not in canonical form", ErrPart)
	}
	switch {
	case p.SeqNum == 0:
		return nil, fmt.Errorf("%w: sequence number 0", ErrPart)
	case p.SeqLen < 1 || p.SeqLen > MaxFragments:
		return nil, fmt.Errorf("%w: %d fragments", ErrPart, p.SeqLen)
	case p.MessageLen < 1 || p.MessageLen > MaxMessage:
		return nil, fmt.Errorf("%w: message of %d bytes", ErrPart, p.MessageLen)
	case len(p.Data) == 0 || (p.MessageLen+len(p.Data)-1)/len(p.Data) != p.SeqLen:
		return nil, fmt.Errorf("%w: %d-byte fragments cannot hold %d bytes in %d parts", ErrPart, len(p.Data), p.MessageLen, p.SeqLen)
	}
	return &p, nil
}

// nominalFragmentLength picks the fragment length: the smallest number of
// equal fragments, each at most maxLen, none under minLen.
func nominalFragmentLength(messageLen, minLen, maxLen int) int {
	maxCount := messageLen / minLen
	if maxCount < 1 {
		maxCount = 1
	}
	fragLen := messageLen
	for count := 1; count <= maxCount; count++ {
		fragLen = (messageLen + count - 1) / count
		if fragLen <= maxLen {
			break
		}
	}
	return fragLen
}

func partition(message []byte, fragLen int) [][]byte {
	var out [][]byte
	for i := 0; i < len(message); i += fragLen {
		f := make([]byte, fragLen)
		copy(f, message[i:])
		out = append(out, f)
	}
	return out
}

func xorInto(dst, src []byte) {
	for i := range dst {
		dst[i] ^= src[i]
	}
}

// Encoder produces an endless stream of parts for one message: the first
// seqLen parts are the fragments, the rest mix several (rateless).
type Encoder struct {
	message   []byte
	checksum  uint32
	fragments [][]byte
	seqNum    uint32
}

// NewEncoder splits message into fragments of at most maxFragmentLen bytes
// (and at least minFragmentLen, the reference's 10 by default).
func NewEncoder(message []byte, maxFragmentLen, minFragmentLen, firstSeqNum int) (*Encoder, error) {
	if len(message) == 0 || len(message) > MaxMessage {
		return nil, fmt.Errorf("ur: message of %d bytes outside 1..%d", len(message), MaxMessage)
	}
	if minFragmentLen < 1 || maxFragmentLen < minFragmentLen {
		return nil, fmt.Errorf("ur: fragment lengths %d..%d", minFragmentLen, maxFragmentLen)
	}
	fl := nominalFragmentLength(len(message), minFragmentLen, maxFragmentLen)
	e := &Encoder{message: message, checksum: crc32.ChecksumIEEE(message), fragments: partition(message, fl), seqNum: uint32(firstSeqNum)}
	if len(e.fragments) > MaxFragments {
		return nil, fmt.Errorf("ur: %d fragments exceeds %d", len(e.fragments), MaxFragments)
	}
	return e, nil
}

// SeqLen is the number of fragments.
func (e *Encoder) SeqLen() int { return len(e.fragments) }

// IsSinglePart reports whether one fragment holds the whole message.
func (e *Encoder) IsSinglePart() bool { return len(e.fragments) == 1 }

// NextPart returns the next part.
func (e *Encoder) NextPart() *Part {
	e.seqNum++
	idx := chooseFragments(int(e.seqNum), len(e.fragments), e.checksum)
	data := make([]byte, len(e.fragments[0]))
	for _, i := range idx {
		xorInto(data, e.fragments[i])
	}
	return &Part{SeqNum: e.seqNum, SeqLen: len(e.fragments), MessageLen: len(e.message), Checksum: e.checksum, Data: data}
}

// mixed is a part reduced to the set of fragments it still mixes.
type mixed struct {
	idx  []int // sorted
	data []byte
}

func key(idx []int) string { return fmt.Sprint(idx) }

// Decoder assembles a message from parts received in any order, with any
// lost, repeated or mixed: simple parts fill fragments, mixed parts are
// reduced by known fragments until they become simple.
type Decoder struct {
	seqLen, messageLen int
	checksum           uint32
	fragLen            int
	known              map[int][]byte
	mixed              map[string]*mixed
	received           map[uint32]bool
	queue              []*mixed
	message            []byte
	// Processed counts the parts accepted (repeats included).
	Processed int
}

// ErrInconsistent is returned for a part that belongs to another message.
var ErrInconsistent = errors.New("ur: part belongs to another message")

// Receive feeds one part. It returns an error for a part that does not fit
// the message the first part announced; such a part changes nothing.
func (d *Decoder) Receive(p *Part) error {
	if d.message != nil {
		return nil
	}
	if d.known == nil {
		d.seqLen, d.messageLen, d.checksum, d.fragLen = p.SeqLen, p.MessageLen, p.Checksum, len(p.Data)
		d.known, d.mixed, d.received = map[int][]byte{}, map[string]*mixed{}, map[uint32]bool{}
	}
	if p.SeqLen != d.seqLen || p.MessageLen != d.messageLen || p.Checksum != d.checksum || len(p.Data) != d.fragLen {
		return fmt.Errorf("%w: %d/%d parts of %d bytes, checksum %08x; expected %d/%d, %d bytes, %08x", ErrInconsistent, p.SeqNum, p.SeqLen, p.MessageLen, p.Checksum, p.SeqNum, d.seqLen, d.messageLen, d.checksum)
	}
	d.Processed++
	if d.received[p.SeqNum] {
		return nil
	}
	d.received[p.SeqNum] = true
	idx := chooseFragments(int(p.SeqNum), d.seqLen, d.checksum)
	sort.Ints(idx)
	d.queue = append(d.queue, &mixed{idx: idx, data: append([]byte{}, p.Data...)})
	for len(d.queue) > 0 && d.message == nil {
		m := d.queue[0]
		d.queue = d.queue[1:]
		d.process(m)
	}
	return nil
}

func (d *Decoder) process(m *mixed) {
	// Reduce by every known fragment it mixes.
	var rest []int
	for _, i := range m.idx {
		if f, ok := d.known[i]; ok {
			xorInto(m.data, f)
		} else {
			rest = append(rest, i)
		}
	}
	m.idx = rest
	switch len(m.idx) {
	case 0:
		return
	case 1:
		i := m.idx[0]
		d.known[i] = m.data
		// Reduce the mixed parts that contain i.
		for k, other := range d.mixed {
			if contains(other.idx, i) {
				delete(d.mixed, k)
				d.queue = append(d.queue, other)
			}
		}
		if len(d.known) == d.seqLen {
			d.assemble()
		}
	default:
		if _, dup := d.mixed[key(m.idx)]; dup {
			return
		}
		// Reduce it by, and reduce with it, the mixed parts that are
		// subsets or supersets of it.
		for k, other := range d.mixed {
			switch {
			case isSubset(other.idx, m.idx):
				m = &mixed{idx: difference(m.idx, other.idx), data: xored(m.data, other.data)}
			case isSubset(m.idx, other.idx):
				delete(d.mixed, k)
				d.queue = append(d.queue, &mixed{idx: difference(other.idx, m.idx), data: xored(other.data, m.data)})
			}
		}
		switch len(m.idx) {
		case 0:
			return
		case 1:
			d.queue = append(d.queue, m)
			return
		}
		d.mixed[key(m.idx)] = m
	}
}

func (d *Decoder) assemble() {
	msg := make([]byte, 0, d.seqLen*d.fragLen)
	for i := 0; i < d.seqLen; i++ {
		msg = append(msg, d.known[i]...)
	}
	msg = msg[:d.messageLen]
	if crc32.ChecksumIEEE(msg) != d.checksum {
		// Cannot happen with consistent parts; refuse rather than guess.
		d.known = map[int][]byte{}
		return
	}
	d.message = msg
}

// Complete reports whether the message is assembled.
func (d *Decoder) Complete() bool { return d.message != nil }

// Message returns the assembled message, or nil.
func (d *Decoder) Message() []byte { return d.message }

// Progress is the share of fragments known, 0..1.
func (d *Decoder) Progress() float64 {
	if d.seqLen == 0 {
		return 0
	}
	if d.message != nil {
		return 1
	}
	return float64(len(d.known)) / float64(d.seqLen)
}

// SeqLen is the number of fragments announced (0 before the first part).
func (d *Decoder) SeqLen() int { return d.seqLen }

func contains(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func isSubset(a, b []int) bool {
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}

func difference(a, b []int) []int {
	var out []int
	for _, x := range a {
		if !contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func xored(a, b []byte) []byte {
	out := append([]byte{}, a...)
	xorInto(out, b)
	return out
}
