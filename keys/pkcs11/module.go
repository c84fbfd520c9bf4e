//go:build cgo

package pkcs11

import (
	"fmt"
	"path/filepath"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// A PKCS#11 module may be C_Initialize'd only once per process, and
// C_Finalize tears down every session of every caller. So each module is
// loaded once, shared by all Tokens that use it, and finalised when the last
// of them closes.

// module is one loaded and initialised PKCS#11 library.
type module struct {
	ctx  *p11.Ctx
	refs int
	// slots holds the slots on which a Token is currently open. PKCS#11
	// login state is per application and token, not per session, so a second
	// Token on the same slot would silently inherit the first one's login
	// without its PIN being checked; Open refuses that.
	slots map[uint]bool
}

var (
	modulesMu sync.Mutex
	modules   = map[string]*module{}
)

// canonicalPath resolves path so that two spellings of the same library
// (symlinks, relative paths) share one registry entry, as dlopen would.
func canonicalPath(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	if p, err := filepath.Abs(path); err == nil {
		path = p
	}
	return path
}

// acquireModule loads and initialises the module at path, or takes another
// reference on it if it is already loaded, and claims slot-less use of it.
// The caller must call releaseModule exactly once.
func acquireModule(path string) (*module, error) {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m, ok := modules[path]; ok {
		m.refs++
		return m, nil
	}
	ctx := p11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("pkcs11: cannot load module %s (missing file, wrong architecture or unresolved dependencies)", path)
	}
	if err := ctx.Initialize(); err != nil {
		ctx.Destroy()
		if rv, ok := ckr(err); ok && rv == p11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
			return nil, fmt.Errorf("pkcs11: module %s was already initialised by other code in this process; load it only through this package: %w", path, err)
		}
		return nil, fmt.Errorf("pkcs11: cannot initialise module %s: %w", path, err)
	}
	m := &module{ctx: ctx, refs: 1, slots: map[uint]bool{}}
	modules[path] = m
	return m, nil
}

// claimSlot marks slot as in use by a Token; it fails if one already is.
func (m *module) claimSlot(slot uint) bool {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m.slots[slot] {
		return false
	}
	m.slots[slot] = true
	return true
}

// releaseSlot undoes claimSlot.
func (m *module) releaseSlot(slot uint) {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	delete(m.slots, slot)
}

// releaseModule drops a reference taken by acquireModule and finalises and
// unloads the module when it was the last one.
func releaseModule(path string) error {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	m, ok := modules[path]
	if !ok {
		return fmt.Errorf("pkcs11: internal error: module %s released but not loaded", path)
	}
	m.refs--
	if m.refs > 0 {
		return nil
	}
	delete(modules, path)
	err := m.ctx.Finalize()
	m.ctx.Destroy()
	if err != nil {
		return fmt.Errorf("pkcs11: finalising module %s: %w", path, err)
	}
	return nil
}
