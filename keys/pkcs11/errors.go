//go:build cgo

package pkcs11

import (
	"fmt"
	"strings"

	p11 "github.com/miekg/pkcs11"
)

// wrapped is an error with its own message that matches both a sentinel and
// the underlying PKCS#11 return value with errors.Is / errors.As.
type wrapped struct {
	msg      string
	sentinel error
	cause    error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() []error {
	if e.sentinel == nil {
		return []error{e.cause}
	}
	return []error{e.sentinel, e.cause}
}

// ckr returns the PKCS#11 return value if err is a bare error from the
// module (not one this package already wrapped).
func ckr(err error) (uint, bool) {
	pe, ok := err.(p11.Error) //nolint:errorlint // bare module errors only
	return uint(pe), ok
}

// ckrName renders a PKCS#11 error as just its CKR_ name, e.g.
// "CKR_SESSION_HANDLE_INVALID", falling back to the full text.
func ckrName(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s[i+2:], "CKR_") {
		return s[i+2:]
	}
	return s
}

// isRemoval reports whether a PKCS#11 return value means the token or our
// session on it is gone.
func isRemoval(rv uint) bool {
	switch rv {
	case p11.CKR_DEVICE_REMOVED, p11.CKR_TOKEN_NOT_PRESENT,
		p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_CLOSED,
		p11.CKR_DEVICE_ERROR, p11.CKR_TOKEN_NOT_RECOGNIZED:
		return true
	}
	return false
}

// mapErr turns a bare error from the PKCS#11 module into one of this
// package's errors; errors this package made are returned unchanged. label
// names the token and op says what we were doing ("signing", "logging
// in", ...). It never sees or prints the PIN.
func mapErr(label, op string, err error) error {
	rv, ok := ckr(err)
	if !ok {
		return err
	}
	switch {
	case rv == p11.CKR_PIN_INCORRECT:
		return &wrapped{
			msg:      fmt.Sprintf("pkcs11: wrong PIN for token %q (%s); repeated wrong PINs may lock the token", label, ckrName(err)),
			sentinel: ErrWrongPIN, cause: err,
		}
	case rv == p11.CKR_PIN_LOCKED:
		return &wrapped{
			msg:      fmt.Sprintf("pkcs11: the user PIN of token %q is locked (%s); the security officer must unlock or reset it", label, ckrName(err)),
			sentinel: ErrPINLocked, cause: err,
		}
	case isRemoval(rv):
		return &wrapped{
			msg:      fmt.Sprintf("pkcs11: token %q is no longer present (removed or reset) while %s; reinsert it, open it again and retry (%s)", label, op, ckrName(err)),
			sentinel: ErrTokenRemoved, cause: err,
		}
	}
	return &wrapped{msg: fmt.Sprintf("pkcs11: token %q: %s failed (%s)", label, op, ckrName(err)), cause: err}
}
