package gethdev

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill geth if the test process dies without
// running its cleanups (e.g. on a test timeout panic). The signal follows
// the starting thread, not the process (go.dev/issue/27505): Start keeps
// that thread alive until geth exits.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
