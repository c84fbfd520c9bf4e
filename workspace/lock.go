package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lockFile is DIR/lock, held (flock) by the one process working in the
// workspace, with that process's id written in it so a second one can say
// who holds it.
type lockFile struct{ f *os.File }

// ErrLocked is returned when another process holds the workspace past the
// wait.
var ErrLocked = errors.New("workspace: locked")

func acquire(dir string, wait time.Duration) (*lockFile, error) {
	if wait == 0 {
		wait = DefaultLockWait
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("workspace: %v", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("workspace: lock %s: %v", dir, err)
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "lock"))
			holder := "another process"
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				holder = fmt.Sprintf("pid %d", pid)
			}
			f.Close()
			return nil, fmt.Errorf("%w: %s is locked by %s (waited %v); nothing was changed", ErrLocked, dir, holder, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &lockFile{f}, nil
}

func (l *lockFile) release() {
	if l == nil || l.f == nil {
		return
	}
	l.f.Truncate(0)
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}
