package devnode

import (
	"os/exec"
	"syscall"
)

// SetProcAttr makes the kernel kill the node if the test process dies
// without running its cleanups (e.g. on a test timeout panic). The signal
// follows the starting thread, not the process (go.dev/issue/27505): the
// caller keeps that thread alive until the node exits.
func SetProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
