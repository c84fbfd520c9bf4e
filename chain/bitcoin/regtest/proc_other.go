//go:build !linux

package regtest

import "os/exec"

func setProcAttr(cmd *exec.Cmd) {}
