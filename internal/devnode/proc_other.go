//go:build !linux

package devnode

import "os/exec"

// SetProcAttr does nothing here: only Linux has a parent-death signal.
func SetProcAttr(cmd *exec.Cmd) {}
