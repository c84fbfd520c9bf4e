package workspace

import (
	"bytes"
	"testing"
)

func FuzzParseHead(f *testing.F) {
	f.Add([]byte(Head{Size: 12, Root: [32]byte{1, 2, 3}}.String()))
	f.Add([]byte(Head{}.String()))
	f.Add([]byte("airlock head v1\n-1\n\n"))
	f.Add([]byte("airlock head v1\n01\nAQIDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := parseHead(in)
		if err != nil {
			return
		}
		// A head parses one way only: what is accepted prints back the same.
		if !bytes.Equal([]byte(h.String()), in) {
			t.Fatalf("head %q parses to %+v, which prints as %q", in, h, h.String())
		}
	})
}
