package descriptor

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels for what callers branch on. Parse errors wrap them.
var (
	// ErrUnsupported marks valid BIP-380 syntax that this package does not
	// implement: combo, musig, and miniscript.
	ErrUnsupported = errors.New("descriptor: unsupported expression")

	// ErrBadChecksum marks a checksum that is missing where required,
	// malformed, or does not match. The error never states the expected
	// checksum: a checksum copied from an error message proves nothing.
	ErrBadChecksum = errors.New("descriptor: bad checksum")

	// ErrDuplicateKey marks a multisig whose keys repeat, so that fewer
	// signers than its threshold suggests could spend.
	ErrDuplicateKey = errors.New("descriptor: duplicate key")

	// ErrHardenedPublic marks a hardened derivation step below a public
	// extended key, which BIP-32 makes impossible.
	ErrHardenedPublic = errors.New("descriptor: hardened derivation needs a private key")
)

// SyntaxError is an error at a position in the descriptor text.
type SyntaxError struct {
	Offset int    // byte offset in the descriptor (without "#checksum")
	Msg    string // what is wrong there
	Err    error  // a sentinel it wraps, or nil
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("descriptor: at offset %d: %s", e.Offset, e.Msg)
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// errAt returns a SyntaxError at offset off.
func errAt(off int, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// wrapAt returns a SyntaxError at offset off wrapping sentinel.
func wrapAt(off int, sentinel error, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// errAtKey places err, met while checking a key, at the key's offset.
func errAtKey(off int, err error) error {
	return &SyntaxError{Offset: off, Msg: strings.TrimPrefix(err.Error(), "descriptor: "), Err: err}
}

// short abbreviates long key text in messages.
func short(s string) string {
	if len(s) > 40 {
		return s[:16] + "…" + s[len(s)-12:]
	}
	return s
}
