package audit

import (
	"bytes"
	"strconv"
)

// ProofInfo is what an inclusion proof says, read without verifying it
// (VerifyProof verifies).
type ProofInfo struct {
	Origin         string
	Index          int64
	Entry          Event
	Hashes         int
	CheckpointSize int64
	Checkpoint     string // the signed note, as text
}

// IsProof reports whether b starts like an airlock audit proof.
func IsProof(b []byte) bool { return bytes.HasPrefix(b, []byte(proofHeader+"\n")) }

// DescribeProof parses an inclusion proof from Prove and decodes its entry,
// checking the encoding only: not the checkpoint's signature, not the
// hashes.
func DescribeProof(b []byte) (*ProofInfo, error) {
	p, err := parseProof(b)
	if err != nil {
		return nil, err
	}
	ev, err := decode(p.record)
	if err != nil {
		return nil, err
	}
	info := &ProofInfo{Origin: p.origin, Index: p.index, Entry: ev, Hashes: len(p.hashes), Checkpoint: string(p.cp)}
	// The note's second line is the tree size.
	lines := bytes.SplitN(p.cp, []byte("\n"), 3)
	if len(lines) >= 2 {
		info.CheckpointSize, _ = strconv.ParseInt(string(lines[1]), 10, 64)
	}
	return info, nil
}
