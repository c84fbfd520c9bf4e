//go:build cgo

package pkcs11

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// Token is a logged-in read/write session on one PKCS#11 token.
//
// A Token is safe for concurrent use: PKCS#11 sessions are not, so every
// call into the module is serialised by a mutex. Open at most one Token per
// physical token in a process and share it.
type Token struct {
	mu        sync.Mutex
	path      string // canonical module path, the registry key
	mod       *module
	ctx       *p11.Ctx
	slot      uint
	label     string
	session   p11.SessionHandle
	closed    bool
	removed   error  // first ErrTokenRemoved seen; every later call fails too
	removedOp string // what we were doing when it was seen
}

// Open loads module (the path of a PKCS#11 shared library), finds the
// initialised token whose label is label, opens a read/write session on it
// and logs in as the normal user with pin.
//
// The PIN is passed to the module and not retained; the caller may wipe it
// as soon as Open returns. It never appears in an error.
//
// Open fails with ErrTokenNotFound when no initialised token has that label,
// ErrWrongPIN when the token rejects the PIN and ErrPINLocked when the PIN is
// locked. The returned Token must be closed with Close.
func Open(module, label string, pin []byte) (*Token, error) {
	if module == "" {
		return nil, errors.New("pkcs11: no module given; pass the path of a PKCS#11 library such as /usr/lib/softhsm/libsofthsm2.so")
	}
	if label == "" {
		return nil, errors.New("pkcs11: no token label given")
	}
	if len(pin) == 0 {
		return nil, fmt.Errorf("pkcs11: empty PIN for token %q", label)
	}
	path := canonicalPath(module)
	m, err := acquireModule(path)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = releaseModule(path)
		}
	}()

	slot, info, err := findSlot(m.ctx, path, label)
	if err != nil {
		return nil, err
	}
	if info.Flags&p11.CKF_USER_PIN_INITIALIZED == 0 {
		return nil, fmt.Errorf("pkcs11: token %q has no user PIN set; initialise it first (e.g. softhsm2-util --init-token, or pkcs11-tool --init-pin)", label)
	}
	if info.Flags&p11.CKF_USER_PIN_LOCKED != 0 {
		return nil, fmt.Errorf("pkcs11: the user PIN of token %q is locked; the security officer must unlock or reset it: %w", label, ErrPINLocked)
	}
	if !m.claimSlot(slot) {
		return nil, fmt.Errorf("pkcs11: token %q is already open in this process; share that *pkcs11.Token (it is safe for concurrent use) instead of opening the token twice", label)
	}
	defer func() {
		if !ok {
			m.releaseSlot(slot)
		}
	}()

	sh, err := m.ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return nil, mapErr(label, "opening a session", err)
	}
	defer func() {
		if !ok {
			_ = m.ctx.CloseSession(sh)
		}
	}()
	if err := m.ctx.Login(sh, p11.CKU_USER, string(pin)); err != nil {
		if rv, isP11 := ckr(err); isP11 && rv == p11.CKR_USER_ALREADY_LOGGED_IN {
			// Someone else in this process logged in; our PIN was never
			// checked, so do not hand out a session on the strength of it.
			return nil, fmt.Errorf("pkcs11: token %q is already logged in by other code in this process, so the PIN could not be checked; refusing to open it: %w", label, err)
		}
		mapped := mapErr(label, "logging in", err)
		if errors.Is(mapped, ErrWrongPIN) {
			if ti, e := m.ctx.GetTokenInfo(slot); e == nil {
				switch {
				case ti.Flags&p11.CKF_USER_PIN_LOCKED != 0:
					return nil, &wrapped{msg: fmt.Sprintf("pkcs11: wrong PIN for token %q, and the PIN is now locked; the security officer must unlock or reset it", label), sentinel: ErrPINLocked, cause: err}
				case ti.Flags&p11.CKF_USER_PIN_FINAL_TRY != 0:
					return nil, &wrapped{msg: fmt.Sprintf("pkcs11: wrong PIN for token %q; one more wrong PIN locks it", label), sentinel: ErrWrongPIN, cause: err}
				}
			}
		}
		return nil, mapped
	}
	ok = true
	return &Token{path: path, mod: m, ctx: m.ctx, slot: slot, label: label, session: sh}, nil
}

// findSlot returns the slot holding the one initialised token labelled label.
func findSlot(ctx *p11.Ctx, path, label string) (uint, p11.TokenInfo, error) {
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, p11.TokenInfo{}, fmt.Errorf("pkcs11: listing slots of module %s: %w", path, err)
	}
	var (
		found []uint
		info  p11.TokenInfo
		seen  []string
	)
	for _, s := range slots {
		ti, err := ctx.GetTokenInfo(s)
		if err != nil || ti.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			continue // vanished meanwhile, or blank
		}
		seen = append(seen, fmt.Sprintf("%q", ti.Label))
		if ti.Label == label {
			found = append(found, s)
			info = ti
		}
	}
	switch len(found) {
	case 0:
		have := "none"
		if len(seen) > 0 {
			sort.Strings(seen)
			have = strings.Join(seen, ", ")
		}
		return 0, info, fmt.Errorf("pkcs11: no initialised token labelled %q in module %s (tokens present: %s); check the label and that the device is plugged in: %w", label, path, have, ErrTokenNotFound)
	case 1:
		return found[0], info, nil
	default:
		return 0, info, fmt.Errorf("pkcs11: %d tokens are labelled %q in module %s; relabel them so the label is unique", len(found), label, path)
	}
}

// Label returns the token label given to Open.
func (t *Token) Label() string { return t.label }

// Close closes the session (which logs the user out) and unloads the module
// if no other Token uses it. It is safe to call more than once. Keys obtained
// from the Token stop working.
func (t *Token) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	var errs []error
	if err := t.ctx.CloseSession(t.session); err != nil && t.removed == nil {
		if mapped := mapErr(t.label, "closing the session", err); !errors.Is(mapped, ErrTokenRemoved) {
			errs = append(errs, mapped) // a session on a vanished token is gone anyway
		}
	}
	t.mod.releaseSlot(t.slot)
	if err := releaseModule(t.path); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func version(v p11.Version) string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Info returns what the device reports about itself.
func (t *Token) Info() (Info, error) {
	var info Info
	err := t.do("reading token information", func(ctx *p11.Ctx, _ p11.SessionHandle) error {
		ti, err := ctx.GetTokenInfo(t.slot)
		if err != nil {
			return err
		}
		si, err := ctx.GetSlotInfo(t.slot)
		if err != nil {
			return err
		}
		li, err := ctx.GetInfo()
		if err != nil {
			return err
		}
		info = Info{
			Label:               ti.Label,
			Manufacturer:        ti.ManufacturerID,
			Model:               ti.Model,
			Serial:              ti.SerialNumber,
			HardwareVersion:     version(ti.HardwareVersion),
			FirmwareVersion:     version(ti.FirmwareVersion),
			LibraryDescription:  li.LibraryDescription,
			LibraryManufacturer: li.ManufacturerID,
			LibraryVersion:      version(li.LibraryVersion),
			SlotDescription:     strings.TrimRight(si.SlotDescription, " \x00"),
		}
		return nil
	})
	return info, err
}

// do runs f with the session while holding the Token's lock, and maps any
// PKCS#11 error. Once the token is found removed the Token stays unusable.
func (t *Token) do(op string, f func(*p11.Ctx, p11.SessionHandle) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fmt.Errorf("pkcs11: token %q: %s: %w", t.label, op, errClosed)
	}
	if t.removed != nil {
		return &wrapped{
			msg:      fmt.Sprintf("pkcs11: token %q is no longer present (removed or reset) while %s; reinsert it, open it again and retry (first noticed while %s)", t.label, op, t.removedOp),
			sentinel: ErrTokenRemoved, cause: t.removed,
		}
	}
	raw := f(t.ctx, t.session)
	err := mapErr(t.label, op, raw)
	if rv, ok := ckr(raw); ok && !errors.Is(err, ErrTokenRemoved) && suspicious(rv) {
		err = t.probe(op, raw, err)
	}
	if errors.Is(err, ErrTokenRemoved) {
		t.removed, t.removedOp = err, op
	}
	return err
}

// suspicious reports whether a PKCS#11 return value may be the symptom of a
// token that vanished under an open session rather than an error of its
// own. SoftHSM2, for one, keeps the slot and session alive when its token
// is deleted and answers CKR_OBJECT_HANDLE_INVALID for the keys that were
// on it, and CKR_GENERAL_ERROR for token queries.
func suspicious(rv uint) bool {
	switch rv {
	case p11.CKR_OBJECT_HANDLE_INVALID, p11.CKR_KEY_HANDLE_INVALID,
		p11.CKR_GENERAL_ERROR, p11.CKR_FUNCTION_FAILED:
		return true
	}
	return false
}

// probe checks, after a suspicious error raw (already mapped to err),
// whether our token is still in its slot with the same label. If not, it
// returns an ErrTokenRemoved error; if the token is there but an object
// handle is stale, the object was deleted and it returns an ErrKeyNotFound
// error; otherwise err unchanged. Called with t.mu held.
func (t *Token) probe(op string, raw, err error) error {
	ti, perr := t.ctx.GetTokenInfo(t.slot)
	if perr != nil || ti.Label != t.label || ti.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
		return &wrapped{
			msg:      fmt.Sprintf("pkcs11: token %q is no longer present (removed or reset) while %s; reinsert it, open it again and retry (%s, and the slot no longer reports the token)", t.label, op, ckrName(raw)),
			sentinel: ErrTokenRemoved, cause: raw,
		}
	}
	if rv, _ := ckr(raw); rv == p11.CKR_OBJECT_HANDLE_INVALID || rv == p11.CKR_KEY_HANDLE_INVALID {
		return &wrapped{
			msg:      fmt.Sprintf("pkcs11: token %q: the key vanished while %s (deleted by another program?); look it up again (%s)", t.label, op, ckrName(raw)),
			sentinel: ErrKeyNotFound, cause: raw,
		}
	}
	return err
}

// findObjects returns the handles of all objects matching tmpl. Call it
// from within do.
func findObjects(ctx *p11.Ctx, sh p11.SessionHandle, tmpl []*p11.Attribute) ([]p11.ObjectHandle, error) {
	if err := ctx.FindObjectsInit(sh, tmpl); err != nil {
		return nil, err
	}
	var all []p11.ObjectHandle
	var ferr error
	for {
		hs, _, err := ctx.FindObjects(sh, 16)
		if err != nil {
			ferr = err
			break
		}
		if len(hs) == 0 {
			break
		}
		all = append(all, hs...)
	}
	if err := ctx.FindObjectsFinal(sh); err != nil && ferr == nil {
		ferr = err
	}
	return all, ferr
}

// attrs reads the given attribute types of o and returns their values by
// type.
func attrs(ctx *p11.Ctx, sh p11.SessionHandle, o p11.ObjectHandle, types ...uint) (map[uint][]byte, error) {
	tmpl := make([]*p11.Attribute, len(types))
	for i, typ := range types {
		tmpl[i] = p11.NewAttribute(typ, nil)
	}
	got, err := ctx.GetAttributeValue(sh, o, tmpl)
	if err != nil {
		return nil, err
	}
	m := make(map[uint][]byte, len(got))
	for _, a := range got {
		m[a.Type] = a.Value
	}
	return m, nil
}

// boolAttr decodes a CK_BBOOL attribute value.
func boolAttr(v []byte) bool { return len(v) == 1 && v[0] != 0 }

// keySpec describes one kind of key pair this package manages.
type keySpec struct {
	name    string // "secp256k1", "Ed25519"
	keyType uint   // CKA_KEY_TYPE
	genMech uint   // key pair generation mechanism
	params  []byte // CKA_EC_PARAMS used when generating
	// paramsOK accepts the CKA_EC_PARAMS encodings that denote this curve.
	paramsOK func([]byte) bool
}

// keyPair is a private key handle plus its public key's CKA_EC_POINT.
type keyPair struct {
	priv  p11.ObjectHandle
	pub   p11.ObjectHandle
	point []byte
}

// generate creates a key pair of kind spec labelled label, refusing with
// ErrKeyExists if any object already has that label.
func (t *Token) generate(spec keySpec, label string) (keyPair, error) {
	if label == "" {
		return keyPair{}, errors.New("pkcs11: empty key label")
	}
	var kp keyPair
	err := t.do("generating a "+spec.name+" key", func(ctx *p11.Ctx, sh p11.SessionHandle) error {
		existing, err := findObjects(ctx, sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, label)})
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			return fmt.Errorf("pkcs11: token %q already holds an object labelled %q; choose another label: %w", t.label, label, ErrKeyExists)
		}
		id := make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			return fmt.Errorf("pkcs11: reading random key id: %w", err)
		}
		pubTmpl := []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, spec.keyType),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, false),
			p11.NewAttribute(p11.CKA_VERIFY, true),
			p11.NewAttribute(p11.CKA_EC_PARAMS, spec.params),
			p11.NewAttribute(p11.CKA_LABEL, label),
			p11.NewAttribute(p11.CKA_ID, id),
		}
		privTmpl := []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, spec.keyType),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, true),
			p11.NewAttribute(p11.CKA_SENSITIVE, true),
			p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
			p11.NewAttribute(p11.CKA_SIGN, true),
			p11.NewAttribute(p11.CKA_DERIVE, false),
			p11.NewAttribute(p11.CKA_LABEL, label),
			p11.NewAttribute(p11.CKA_ID, id),
		}
		pub, priv, err := ctx.GenerateKeyPair(sh, []*p11.Mechanism{p11.NewMechanism(spec.genMech, nil)}, pubTmpl, privTmpl)
		if err != nil {
			return err
		}
		if err := checkPrivate(ctx, sh, priv); err != nil {
			_ = ctx.DestroyObject(sh, priv)
			_ = ctx.DestroyObject(sh, pub)
			if _, isP11 := ckr(err); isP11 {
				return err
			}
			return fmt.Errorf("pkcs11: token %q generated %s key %q with unsafe attributes, destroyed it: %w", t.label, spec.name, label, err)
		}
		a, err := attrs(ctx, sh, pub, p11.CKA_EC_POINT)
		if err != nil {
			_ = ctx.DestroyObject(sh, priv)
			_ = ctx.DestroyObject(sh, pub)
			return err
		}
		kp = keyPair{priv: priv, pub: pub, point: a[p11.CKA_EC_POINT]}
		return nil
	})
	return kp, err
}

// discard removes a freshly generated key pair that failed its self-test
// and returns an error saying so, wrapping cause.
func (t *Token) discard(kind, label string, kp keyPair, cause error) error {
	derr := t.do("destroying a faulty key", func(ctx *p11.Ctx, sh p11.SessionHandle) error {
		return errors.Join(ctx.DestroyObject(sh, kp.priv), ctx.DestroyObject(sh, kp.pub))
	})
	if derr != nil {
		return fmt.Errorf("pkcs11: new %s key %q on token %q failed its self-test and could not be destroyed (%v); delete it by hand before reusing the label: %w", kind, label, t.label, derr, cause)
	}
	return fmt.Errorf("pkcs11: new %s key %q on token %q failed its self-test and was destroyed: %w", kind, label, t.label, cause)
}

// checkPrivate fails unless the private key is a persistent, private,
// signing key that is sensitive and non-extractable and always was.
func checkPrivate(ctx *p11.Ctx, sh p11.SessionHandle, priv p11.ObjectHandle) error {
	a, err := attrs(ctx, sh, priv, p11.CKA_TOKEN, p11.CKA_PRIVATE, p11.CKA_SIGN,
		p11.CKA_SENSITIVE, p11.CKA_EXTRACTABLE, p11.CKA_ALWAYS_SENSITIVE, p11.CKA_NEVER_EXTRACTABLE)
	if err != nil {
		return err
	}
	want := []struct {
		typ  uint
		name string
		val  bool
	}{
		{p11.CKA_TOKEN, "CKA_TOKEN", true},
		{p11.CKA_PRIVATE, "CKA_PRIVATE", true},
		{p11.CKA_SIGN, "CKA_SIGN", true},
		{p11.CKA_SENSITIVE, "CKA_SENSITIVE", true},
		{p11.CKA_EXTRACTABLE, "CKA_EXTRACTABLE", false},
		{p11.CKA_ALWAYS_SENSITIVE, "CKA_ALWAYS_SENSITIVE", true},
		{p11.CKA_NEVER_EXTRACTABLE, "CKA_NEVER_EXTRACTABLE", true},
	}
	for _, w := range want {
		if boolAttr(a[w.typ]) != w.val {
			return fmt.Errorf("pkcs11: private key has %s=%v, want %v", w.name, !w.val, w.val)
		}
	}
	return nil
}

// find looks up the key pair of kind spec labelled label.
func (t *Token) find(spec keySpec, label string) (keyPair, error) {
	if label == "" {
		return keyPair{}, errors.New("pkcs11: empty key label")
	}
	var kp keyPair
	err := t.do("looking up "+spec.name+" key "+fmt.Sprintf("%q", label), func(ctx *p11.Ctx, sh p11.SessionHandle) error {
		privs, err := findObjects(ctx, sh, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, spec.keyType),
			p11.NewAttribute(p11.CKA_LABEL, label),
		})
		if err != nil {
			return err
		}
		switch len(privs) {
		case 0:
			return fmt.Errorf("pkcs11: no %s private key labelled %q on token %q: %w", spec.name, label, t.label, ErrKeyNotFound)
		case 1:
		default:
			return fmt.Errorf("pkcs11: %d %s private keys are labelled %q on token %q; labels must be unique", len(privs), spec.name, label, t.label)
		}
		a, err := attrs(ctx, sh, privs[0], p11.CKA_EC_PARAMS, p11.CKA_ID)
		if err != nil {
			return err
		}
		if !spec.paramsOK(a[p11.CKA_EC_PARAMS]) {
			return fmt.Errorf("pkcs11: key %q on token %q is not a %s key (CKA_EC_PARAMS %x): %w", label, t.label, spec.name, a[p11.CKA_EC_PARAMS], ErrKeyNotFound)
		}
		if err := checkPrivate(ctx, sh, privs[0]); err != nil {
			if _, isP11 := ckr(err); isP11 {
				return err
			}
			return fmt.Errorf("pkcs11: refusing %s key %q on token %q: %w", spec.name, label, t.label, err)
		}
		id := a[p11.CKA_ID]
		pubs, err := findObjects(ctx, sh, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, spec.keyType),
			p11.NewAttribute(p11.CKA_LABEL, label),
			p11.NewAttribute(p11.CKA_ID, id),
		})
		if err != nil {
			return err
		}
		if len(pubs) != 1 {
			return fmt.Errorf("pkcs11: %s key %q on token %q has %d matching public key objects (same label and CKA_ID), want exactly 1", spec.name, label, t.label, len(pubs))
		}
		pa, err := attrs(ctx, sh, pubs[0], p11.CKA_EC_POINT, p11.CKA_EC_PARAMS)
		if err != nil {
			return err
		}
		if !spec.paramsOK(pa[p11.CKA_EC_PARAMS]) {
			return fmt.Errorf("pkcs11: public key %q on token %q is not a %s key (CKA_EC_PARAMS %x)", label, t.label, spec.name, pa[p11.CKA_EC_PARAMS])
		}
		kp = keyPair{priv: privs[0], pub: pubs[0], point: pa[p11.CKA_EC_POINT]}
		return nil
	})
	return kp, err
}

// sign runs one C_SignInit/C_Sign with mech over data using priv.
func (t *Token) sign(op string, mech uint, priv p11.ObjectHandle, data []byte) ([]byte, error) {
	var sig []byte
	err := t.do(op, func(ctx *p11.Ctx, sh p11.SessionHandle) error {
		if err := ctx.SignInit(sh, []*p11.Mechanism{p11.NewMechanism(mech, nil)}, priv); err != nil {
			return err
		}
		var err error
		sig, err = ctx.Sign(sh, data)
		return err
	})
	return sig, err
}

// unwrapOctetString returns the contents of a DER OCTET STRING, or v itself
// if v has exactly rawLen bytes (tokens that omit the wrapping). It returns
// nil if v is neither.
func unwrapOctetString(v []byte, rawLen int) []byte {
	if len(v) == rawLen {
		return v
	}
	// Short-form length suffices for every point this package handles.
	if len(v) == rawLen+2 && v[0] == 0x04 && int(v[1]) == rawLen && rawLen < 0x80 {
		return v[2:]
	}
	return nil
}
