package envelope

import (
	"fmt"
	"io"
	"os"
)

// ReadArtifact reads a file airlock takes as an artifact (an envelope, a
// PSBT, a transaction), refusing one larger than MaxSize before reading
// past it.
func ReadArtifact(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxSize)
	}
	return b, nil
}

// ReadFile reads and decodes the envelope in the file at path
// (ReadArtifact, Decode); a decoding error names the file.
func ReadFile(path string) (*Envelope, error) {
	b, err := ReadArtifact(path)
	if err != nil {
		return nil, err
	}
	e, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return e, nil
}
