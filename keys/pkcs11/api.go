package pkcs11

import "errors"

// Sentinel errors. Every error returned by this package that falls into one
// of these classes wraps the sentinel, so callers test with errors.Is.
var (
	// ErrWrongPIN means the token rejected the user PIN (CKR_PIN_INCORRECT).
	ErrWrongPIN = errors.New("pkcs11: wrong PIN")
	// ErrPINLocked means the user PIN is locked after too many wrong tries
	// (CKR_PIN_LOCKED or the token's CKF_USER_PIN_LOCKED flag). Only the
	// security officer can unlock it.
	ErrPINLocked = errors.New("pkcs11: PIN locked")
	// ErrTokenNotFound means no initialised token with the requested label is
	// present in any slot of the module.
	ErrTokenNotFound = errors.New("pkcs11: token not found")
	// ErrKeyNotFound means no key with the requested label and type exists on
	// the token.
	ErrKeyNotFound = errors.New("pkcs11: key not found")
	// ErrKeyExists means a key generation was refused because an object with
	// the requested label already exists on the token.
	ErrKeyExists = errors.New("pkcs11: key already exists")
	// ErrTokenRemoved means the token disappeared (unplugged, deleted, reset)
	// or our session on it was invalidated while in use. The Token is
	// unusable afterwards: Close it, reinsert the device and Open it again.
	ErrTokenRemoved = errors.New("pkcs11: token removed")
)

// errClosed is returned by every operation on a Token after Close.
var errClosed = errors.New("pkcs11: token is closed")

// ErrNoCgo is returned by every token operation of a build without cgo:
// PKCS#11 modules are C libraries, loaded through github.com/miekg/pkcs11.
var ErrNoCgo = errors.New("pkcs11: this airlock was built without cgo (no C compiler), so it cannot load a PKCS#11 module; rebuild with a C compiler (Debian: apt-get install gcc)")

// Info describes the token, its slot and the PKCS#11 library, as reported by
// the device. Versions are "major.minor".
type Info struct {
	Label               string
	Manufacturer        string
	Model               string
	Serial              string
	HardwareVersion     string
	FirmwareVersion     string
	LibraryDescription  string
	LibraryManufacturer string
	LibraryVersion      string
	SlotDescription     string
}
