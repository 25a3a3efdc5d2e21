//go:build !linux

package testenv

import "syscall"

// childProcAttr has no parent-death signal to ask for outside Linux; t.Cleanup is the
// only teardown there.
func childProcAttr() *syscall.SysProcAttr { return nil }
