//go:build !failpoints

// Package failpoint marks the places between a command's writes where the
// crash test kills the process. In a normal build Hit does nothing; a
// binary built with -tags failpoints kills itself (SIGKILL) at the point
// named by $AIRLOCK_FAILPOINT, so the test can check that no kill there
// leaves state and log disagreeing or loses an output.
package failpoint

// Hit is a failpoint.
func Hit(name string) {}

// Enabled reports whether failpoints are compiled in.
const Enabled = false
