package envelope

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
}

func signed(t testing.TB) (*Envelope, []byte) {
	t.Helper()
	e, err := New(TypeProposal, []byte{0xa1, 0x01, 0x02})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Sign(testKey(1)); err != nil {
		t.Fatal(err)
	}
	if err := e.Sign(testKey(2)); err != nil {
		t.Fatal(err)
	}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return e, b
}

func TestRoundTripIsByteExact(t *testing.T) {
	e, b := signed(t)
	d, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, again) {
		t.Fatalf("re-encoding changed bytes:\n%x\n%x", b, again)
	}
	if d.IDHex() != e.IDHex() {
		t.Fatal("id changed across round trip")
	}
	for _, k := range []byte{1, 2} {
		if err := d.Verify(testKey(k).Public().(ed25519.PublicKey)); err != nil {
			t.Fatalf("key %d: %v", k, err)
		}
	}
}

func TestAddingSignatureKeepsID(t *testing.T) {
	e, _ := New(TypePolicy, []byte{1, 2, 3})
	before := e.ID()
	if err := e.Sign(testKey(3)); err != nil {
		t.Fatal(err)
	}
	if e.ID() != before {
		t.Fatal("signing changed the artifact id")
	}
}

func TestEveryFlippedByteIsRefused(t *testing.T) {
	_, b := signed(t)
	pub1 := testKey(1).Public().(ed25519.PublicKey)
	pub2 := testKey(2).Public().(ed25519.PublicKey)
	for i := range b {
		for _, mask := range []byte{0x01, 0x80} {
			c := bytes.Clone(b)
			c[i] ^= mask
			d, err := Decode(c)
			if err != nil {
				continue
			}
			if d.Verify(pub1) == nil && d.Verify(pub2) == nil {
				t.Fatalf("byte %d ^ %#x: tampered envelope still verifies for both keys", i, mask)
			}
		}
	}
}

func TestSignatureDoesNotTransferAcrossTypes(t *testing.T) {
	e, _ := New(TypeApproval, []byte{9, 9})
	if err := e.Sign(testKey(4)); err != nil {
		t.Fatal(err)
	}
	e.Type = TypePolicy
	err := e.Verify(testKey(4).Public().(ed25519.PublicKey))
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("got %v, want ErrBadSignature", err)
	}
}

func TestDecodeRefusesNonCanonical(t *testing.T) {
	_, b := signed(t)
	cases := map[string][]byte{
		"trailing byte":       append(bytes.Clone(b), 0x00),
		"indefinite map":      append([]byte{0xbf}, append(bytes.Clone(b[1:]), 0xff)...),
		"empty":               {},
		"not a map":           {0x01},
		"duplicate key":       {0xa2, 0x01, 0x61, 0x61, 0x01, 0x61, 0x62},
		"unknown field":       {0xa3, 0x01, 0x71, 'a', 'i', 'r', 'l', 'o', 'c', 'k', '.', 'p', 'o', 'l', 'i', 'c', 'y', '/', 'v', '1', 0x02, 0x41, 0x01, 0x09, 0x00},
		"long-form length":    {0xa2, 0x01, 0x78, 0x11, 'a', 'i', 'r', 'l', 'o', 'c', 'k', '.', 'p', 'o', 'l', 'i', 'c', 'y', '/', 'v', '1', 0x02, 0x41, 0x01},
		"empty signature set": {0xa3, 0x01, 0x71, 'a', 'i', 'r', 'l', 'o', 'c', 'k', '.', 'p', 'o', 'l', 'i', 'c', 'y', '/', 'v', '1', 0x02, 0x41, 0x01, 0x03, 0x80},
		"unknown type":        {0xa2, 0x01, 0x61, 'x', 0x02, 0x41, 0x01},
		"tagged payload":      {0xa2, 0x01, 0x71, 'a', 'i', 'r', 'l', 'o', 'c', 'k', '.', 'p', 'o', 'l', 'i', 'c', 'y', '/', 'v', '1', 0x02, 0xd8, 0x18, 0x41, 0x01},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(c); !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
	// The canonical form of the last cases is accepted, so the refusals
	// above are about form, not content.
	ok := []byte{0xa2, 0x01, 0x71, 'a', 'i', 'r', 'l', 'o', 'c', 'k', '.', 'p', 'o', 'l', 'i', 'c', 'y', '/', 'v', '1', 0x02, 0x41, 0x01}
	if _, err := Decode(ok); err != nil {
		t.Fatalf("canonical envelope refused: %v", err)
	}
}

func TestDecodeRefusesOversize(t *testing.T) {
	big := make([]byte, MaxSize+1)
	_, err := Decode(big)
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("got %v, want size error", err)
	}
}

func TestSignersRefusesUnknownKey(t *testing.T) {
	e, _ := signed(t)
	pub1 := testKey(1).Public().(ed25519.PublicKey)
	_, err := e.Signers(map[string]ed25519.PublicKey{KeyID(pub1): pub1})
	if err == nil || !strings.Contains(err.Error(), "unknown key") {
		t.Fatalf("got %v, want unknown key error", err)
	}
}

func TestSignTwiceRefused(t *testing.T) {
	e, _ := New(TypePolicy, []byte{1})
	if err := e.Sign(testKey(5)); err != nil {
		t.Fatal(err)
	}
	if err := e.Sign(testKey(5)); err == nil {
		t.Fatal("second signature by the same key accepted")
	}
}

func TestPAEMatchesDSSE(t *testing.T) {
	// The DSSE specification's example: PAE("http://example.com/HelloWorld", "hello world").
	got := string(PAE("http://example.com/HelloWorld", []byte("hello world")))
	want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
	if got != want {
		t.Fatalf("PAE = %q, want %q", got, want)
	}
}

func FuzzDecode(f *testing.F) {
	_, b := signed(f)
	f.Add(b)
	e, _ := New(TypePolicy, []byte{1, 2, 3})
	u, _ := e.Encode()
	f.Add(u)
	f.Add([]byte{0xa2, 0x01, 0x71, 'a', 'i', 'r', 'l', 'o', 'c', 'k', '.', 'p', 'o', 'l', 'i', 'c', 'y', '/', 'v', '1', 0x02, 0x41, 0x01})
	f.Add([]byte{0xbf, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := Decode(in)
		if err != nil {
			return
		}
		out, err := d.Encode()
		if err != nil {
			t.Fatalf("decoded envelope does not encode: %v", err)
		}
		if !bytes.Equal(in, out) {
			t.Fatalf("decode→encode changed bytes:\n in %x\nout %x", in, out)
		}
	})
}
