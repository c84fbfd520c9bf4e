package ur

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/airlock-vault/airlock/internal/testvectors"
)

type vectors struct {
	CRC32 []struct {
		UTF8 string `json:"input_utf8"`
		Hex  string `json:"input_hex"`
		Want string `json:"crc32_hex"`
	} `json:"crc32"`
	Bytewords struct {
		Valid []struct {
			Hex      string `json:"input_hex"`
			Standard string `json:"standard"`
			URI      string `json:"uri"`
			Minimal  string `json:"minimal"`
		} `json:"valid"`
		Invalid []struct {
			Style  string `json:"style"`
			Input  string `json:"input"`
			Reason string `json:"reason"`
		} `json:"invalid"`
	} `json:"bytewords"`
	Xoshiro []struct {
		Name string `json:"name"`
		Seed struct {
			String string `json:"string"`
			CRC    string `json:"crc32_of_utf8"`
		} `json:"seed"`
		Operation string `json:"operation"`
		Expected  []int  `json:"expected"`
	} `json:"xoshiro256"`
	Nominal []struct {
		Len, Min, Max, Want int
	} `json:"-"`
	NominalRaw []struct {
		Len  int `json:"message_len"`
		Min  int `json:"min_fragment_len"`
		Max  int `json:"max_fragment_len"`
		Want int `json:"expected"`
	} `json:"find_nominal_fragment_length"`
	Sampler struct {
		Probs    []float64 `json:"probabilities"`
		Expected []int     `json:"expected"`
	} `json:"random_sampler"`
	Shuffle struct {
		Values   []int   `json:"values"`
		Expected [][]int `json:"expected"`
	} `json:"shuffle"`
	Partition struct {
		Min       int      `json:"min_fragment_len"`
		Max       int      `json:"max_fragment_len"`
		Fragments []string `json:"expected_fragments_hex"`
	} `json:"partition"`
	Degree struct {
		SeqLen   int   `json:"seq_len"`
		Expected []int `json:"expected"`
	} `json:"choose_degree"`
	Fragments struct {
		SeqLen   int     `json:"seq_len"`
		Expected [][]int `json:"expected"`
	} `json:"choose_fragments"`
	XOR struct {
		A    string `json:"data1_hex"`
		B    string `json:"data2_hex"`
		Want string `json:"xor_hex"`
	} `json:"xor"`
	Encoder struct {
		Max   int `json:"max_fragment_len"`
		Parts []struct {
			SeqNum int    `json:"seq_num"`
			CBOR   string `json:"cbor_hex"`
		} `json:"parts"`
	} `json:"fountain_encoder"`
	PartCBOR struct {
		SeqNum   uint32 `json:"seq_num"`
		SeqLen   int    `json:"seq_len"`
		MsgLen   int    `json:"message_len"`
		Checksum uint32 `json:"checksum"`
		Data     string `json:"data_hex"`
		Want     string `json:"expected_cbor_hex"`
	} `json:"fountain_part_cbor"`
	Single struct {
		Expected string `json:"expected"`
	} `json:"single_part_ur"`
	Multi struct {
		Max      int      `json:"max_fragment_len"`
		Count    int      `json:"count"`
		Expected []string `json:"expected_parts"`
	} `json:"multi_part_ur"`
}

func load(t testing.TB) *vectors {
	t.Helper()
	var v vectors
	if err := json.Unmarshal(testvectors.Read(t, "ur.json"), &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

// makeMessage is the reference's make_message: n bytes from xoshiro
// seeded with "Wolf".
func makeMessage(n int) []byte { return newXoshiro([]byte("Wolf")).nextData(n) }

func TestCRC32(t *testing.T) {
	for i, c := range load(t).CRC32 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			in := []byte(c.UTF8)
			if c.Hex != "" {
				in, _ = hex.DecodeString(c.Hex)
				if !bytes.Equal(in, makeMessage(len(in))) {
					t.Fatal("make_message does not reproduce the vector's message")
				}
			}
			if got := fmt.Sprintf("%08x", crc32.ChecksumIEEE(in)); got != c.Want {
				t.Fatalf("crc32 %s, want %s", got, c.Want)
			}
		})
	}
}

func TestBytewords(t *testing.T) {
	v := load(t)
	for i, c := range v.Bytewords.Valid {
		t.Run(fmt.Sprintf("valid/%d", i), func(t *testing.T) {
			in, _ := hex.DecodeString(c.Hex)
			for style, want := range map[int]string{Standard: c.Standard, URI: c.URI, Minimal: c.Minimal} {
				if want == "" {
					continue
				}
				if got := EncodeBytewords(in, style); got != want {
					t.Fatalf("style %d: %s, want %s", style, got, want)
				}
				back, err := DecodeBytewords(want, style)
				if err != nil || !bytes.Equal(back, in) {
					t.Fatalf("style %d decode: %x %v", style, back, err)
				}
			}
		})
	}
	styles := map[string]int{"standard": Standard, "uri": URI, "minimal": Minimal}
	for i, c := range v.Bytewords.Invalid {
		t.Run(fmt.Sprintf("invalid/%d/%s", i, c.Reason), func(t *testing.T) {
			if _, err := DecodeBytewords(c.Input, styles[c.Style]); !errors.Is(err, ErrBytewords) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

func TestXoshiro(t *testing.T) {
	for _, c := range load(t).Xoshiro {
		t.Run(c.Name, func(t *testing.T) {
			var x *xoshiro
			if c.Seed.CRC != "" {
				x = newXoshiro(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE([]byte(c.Seed.CRC))))
			} else {
				x = newXoshiro([]byte(c.Seed.String))
			}
			for i, want := range c.Expected {
				var got int
				if strings.HasPrefix(c.Operation, "next_int") {
					got = x.nextInt(1, 10)
				} else {
					got = int(x.next() % 100)
				}
				if got != want {
					t.Fatalf("draw %d: %d, want %d", i, got, want)
				}
			}
		})
	}
}

func TestFountainInternals(t *testing.T) {
	v := load(t)
	for i, c := range v.NominalRaw {
		t.Run(fmt.Sprintf("find_nominal_fragment_length/%d", i), func(t *testing.T) {
			if got := nominalFragmentLength(c.Len, c.Min, c.Max); got != c.Want {
				t.Errorf("%d, want %d", got, c.Want)
			}
		})
	}
	t.Run("random_sampler", func(t *testing.T) {
		x := newXoshiro([]byte("Wolf"))
		s := newSampler(v.Sampler.Probs)
		for i, want := range v.Sampler.Expected {
			if got := s.next(x); got != want {
				t.Fatalf("draw %d: %d, want %d", i, got, want)
			}
		}
	})
	t.Run("shuffle", func(t *testing.T) {
		x := newXoshiro([]byte("Wolf"))
		for i, want := range v.Shuffle.Expected {
			if got := shuffled(v.Shuffle.Values, x); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("shuffle %d: %v, want %v", i, got, want)
			}
		}
	})
	msg := makeMessage(1024)
	fl := nominalFragmentLength(len(msg), v.Partition.Min, v.Partition.Max)
	frags := partition(msg, fl)
	for i, want := range v.Partition.Fragments {
		t.Run(fmt.Sprintf("partition/%d", i), func(t *testing.T) {
			if i >= len(frags) || hex.EncodeToString(frags[i]) != want {
				t.Fatal("fragment differs")
			}
		})
	}
	for i, want := range v.Degree.Expected {
		t.Run(fmt.Sprintf("choose_degree/%d", i+1), func(t *testing.T) {
			x := newXoshiro([]byte(fmt.Sprintf("Wolf-%d", i+1)))
			if got := chooseDegree(v.Degree.SeqLen, x); got != want {
				t.Fatalf("%d, want %d", got, want)
			}
		})
	}
	sum := crc32.ChecksumIEEE(msg)
	for i, want := range v.Fragments.Expected {
		t.Run(fmt.Sprintf("choose_fragments/%d", i+1), func(t *testing.T) {
			got := chooseFragments(i+1, v.Fragments.SeqLen, sum)
			sort.Ints(got)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%v, want %v", got, want)
			}
		})
	}
	t.Run("xor", func(t *testing.T) {
		a, _ := hex.DecodeString(v.XOR.A)
		b, _ := hex.DecodeString(v.XOR.B)
		if hex.EncodeToString(xored(a, b)) != v.XOR.Want {
			t.Fatal("xor")
		}
	})
}

func TestFountainEncoderParts(t *testing.T) {
	v := load(t)
	e, err := NewEncoder(makeMessage(256), v.Encoder.Max, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range v.Encoder.Parts {
		p := e.NextPart()
		t.Run(fmt.Sprintf("fountain_encoder/%d", want.SeqNum), func(t *testing.T) {
			b, _ := p.CBOR()
			if int(p.SeqNum) != want.SeqNum || hex.EncodeToString(b) != want.CBOR {
				t.Fatalf("part %d: %x, want %s", p.SeqNum, b, want.CBOR)
			}
			back, err := ParsePart(b)
			if err != nil || back.SeqNum != p.SeqNum {
				t.Fatalf("part %d does not parse back: %v", p.SeqNum, err)
			}
		})
	}
	c := v.PartCBOR
	data, _ := hex.DecodeString(c.Data)
	b, _ := (&Part{SeqNum: c.SeqNum, SeqLen: c.SeqLen, MessageLen: c.MsgLen, Checksum: c.Checksum, Data: data}).CBOR()
	if hex.EncodeToString(b) != c.Want {
		t.Fatalf("part CBOR %x, want %s", b, c.Want)
	}
}

func TestSinglePartUR(t *testing.T) {
	v := load(t)
	parts, err := Encode(TypeBytes, WrapBytes(makeMessage(50)), 1000, 1)
	if err != nil || len(parts) != 1 || parts[0] != v.Single.Expected {
		t.Fatalf("%v %v, want %s", parts, err, v.Single.Expected)
	}
	var d URDecoder
	if err := d.Receive(strings.ToUpper(parts[0])); err != nil || !d.Complete() {
		t.Fatalf("decode: %v", err)
	}
	got, err := UnwrapBytes(d.Result())
	if err != nil || !bytes.Equal(got, makeMessage(50)) {
		t.Fatal("single-part UR does not decode to the message")
	}
}

func TestMultiPartUR(t *testing.T) {
	v := load(t)
	parts, err := Encode(TypeBytes, WrapBytes(makeMessage(256)), v.Multi.Max, v.Multi.Count)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range v.Multi.Expected {
		t.Run(fmt.Sprintf("multi_part_ur/%d", i+1), func(t *testing.T) {
			if parts[i] != want {
				t.Fatalf("%s, want %s", parts[i], want)
			}
		})
	}
}

// TestDecoderRoundTrip is the reference's test_fountain_decoder and
// test_multipart_ur: 32767 bytes, 1000-byte fragments, from part 100.
func TestDecoderRoundTrip(t *testing.T) {
	msg := makeMessage(32767)
	e, err := NewEncoder(msg, 1000, 10, 100)
	if err != nil {
		t.Fatal(err)
	}
	var d Decoder
	for n := 0; !d.Complete(); n++ {
		if n > 10*e.SeqLen() {
			t.Fatal("decoder did not complete")
		}
		if err := d.Receive(e.NextPart()); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(d.Message(), msg) {
		t.Fatal("decoded message differs")
	}
}

func TestDecoderCompletesWithLossReorderAndRepeats(t *testing.T) {
	msg := makeMessage(10_000)
	parts, err := Encode(TypeCryptoPSBT, WrapBytes(msg), 200, 400)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	var d URDecoder
	for i, p := range parts {
		if r.IntN(4) == 0 {
			continue // 25% lost
		}
		if err := d.Receive(p); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			d.Receive(p) // repeated
		}
		if d.Complete() {
			break
		}
	}
	if !d.Complete() {
		t.Fatal("did not complete")
	}
	got, err := UnwrapBytes(d.Result())
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatal("wrong message")
	}
}

func TestDecoderRefusesForeignAndCorruptParts(t *testing.T) {
	a, _ := Encode(TypeBytes, WrapBytes(makeMessage(500)), 100, 3)
	b, _ := Encode(TypeBytes, WrapBytes(makeMessage(600)), 100, 3)
	c, _ := Encode(TypeCryptoPSBT, WrapBytes(makeMessage(500)), 100, 3)
	var d URDecoder
	if err := d.Receive(a[0]); err != nil {
		t.Fatal(err)
	}
	if err := d.Receive(b[1]); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("part of another message: %v", err)
	}
	if err := d.Receive(c[1]); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("part of another type: %v", err)
	}
	bad := []byte(a[1])
	bad[len(bad)-6] ^= 1
	if err := d.Receive(string(bad)); err == nil {
		t.Fatal("corrupted part accepted")
	}
	trunc := a[1][:len(a[1])-4]
	if err := d.Receive(trunc); err == nil {
		t.Fatal("truncated part accepted")
	}
	if err := d.Receive("ur:bytes/1-3"); err == nil {
		t.Fatal("part without payload accepted")
	}
	if d.Processed() != 1 {
		t.Fatalf("refused parts were counted: %d", d.Processed())
	}
}

func FuzzReceive(f *testing.F) {
	parts, _ := Encode(TypeBytes, WrapBytes(makeMessage(300)), 60, 8)
	for _, p := range parts {
		f.Add(p)
	}
	f.Add("ur:bytes/aeadaolazmjendeoti")
	f.Fuzz(func(t *testing.T, s string) {
		var d URDecoder
		d.Receive(s)
		for _, p := range parts {
			d.Receive(p)
		}
	})
}

func TestRegistryRefusesMalformedItems(t *testing.T) {
	good, _ := (&EthSignRequest{SignData: []byte{1}, DataType: 1, Path: []uint32{0x8000002c}}).CBOR()
	if _, err := ParseEthSignRequest(good); err != nil {
		t.Fatalf("minimal request refused: %v", err)
	}
	bad := map[string][]byte{
		"empty":             {},
		"not a map":         {0x01},
		"no path":           {0xa2, 0x02, 0x41, 0x01, 0x03, 0x01},
		"bad data type":     {0xa3, 0x02, 0x41, 0x01, 0x03, 0x09, 0x05, 0xd9, 0x01, 0x30, 0xa1, 0x01, 0x80},
		"untagged keypath":  {0xa3, 0x02, 0x41, 0x01, 0x03, 0x01, 0x05, 0xa1, 0x01, 0x80},
		"unknown key":       {0xa4, 0x02, 0x41, 0x01, 0x03, 0x01, 0x05, 0xd9, 0x01, 0x30, 0xa1, 0x01, 0x80, 0x18, 0x63, 0x00},
		"short request id":  {0xa4, 0x01, 0xd8, 0x25, 0x41, 0x00, 0x02, 0x41, 0x01, 0x03, 0x01, 0x05, 0xd9, 0x01, 0x30, 0xa1, 0x01, 0x80},
		"odd path elements": {0xa3, 0x02, 0x41, 0x01, 0x03, 0x01, 0x05, 0xd9, 0x01, 0x30, 0xa1, 0x01, 0x81, 0x00},
	}
	for name, b := range bad {
		if _, err := ParseEthSignRequest(b); !errors.Is(err, ErrRegistry) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	if _, err := ParseEthSignature([]byte{0xa1, 0x03, 0x61, 'x'}); !errors.Is(err, ErrRegistry) {
		t.Errorf("signature without signature: %v", err)
	}
}

// TestHostilePartCannotStallTheDecoder: a part claiming the most fragments
// allowed, at a sequence number that mixes many of them, is processed
// quickly; one claiming more is refused outright.
func TestHostilePartCannotStallTheDecoder(t *testing.T) {
	worst, best := 0, 0
	for seq := MaxFragments + 1; seq < MaxFragments+400; seq++ {
		if d := len(chooseFragments(seq, MaxFragments, 1)); d > best {
			worst, best = seq, d
		}
	}
	p := &Part{SeqNum: uint32(worst), SeqLen: MaxFragments, MessageLen: MaxFragments * 10, Checksum: 1, Data: make([]byte, 10)}
	b, _ := p.CBOR()
	start := time.Now()
	var d Decoder
	q, err := ParsePart(b)
	if err != nil {
		t.Fatal(err)
	}
	d.Receive(q)
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("one part of degree %d took %v", best, el)
	}
	p.SeqLen, p.MessageLen = MaxFragments+1, (MaxFragments+1)*10
	b, _ = p.CBOR()
	if _, err := ParsePart(b); !errors.Is(err, ErrPart) {
		t.Fatalf("a part claiming %d fragments: %v", p.SeqLen, err)
	}
}
