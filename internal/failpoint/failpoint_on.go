//go:build failpoints

package failpoint

import (
	"os"
	"syscall"
)

// Hit kills the process with SIGKILL when $AIRLOCK_FAILPOINT names it.
func Hit(name string) {
	if os.Getenv("AIRLOCK_FAILPOINT") == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
}

// Enabled reports whether failpoints are compiled in.
const Enabled = true
