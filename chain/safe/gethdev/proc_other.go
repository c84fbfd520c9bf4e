//go:build !linux

package gethdev

import "os/exec"

func setProcAttr(cmd *exec.Cmd) {}
